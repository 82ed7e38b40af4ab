# The project's commands. `make book` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PARAMS ?= params/demo.yaml

.PHONY: setup book run test lab bench ablations clean

setup: $(STAMP)

# torch is pinned to 2.13.0 in pyproject.toml; on this CPU machine pip takes the CPU build from
# local disk. On a GPU machine install the CUDA build of the same version first (README).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,lab]'
	touch $@

## Run the pipeline on $(PARAMS) (default: the demo cohort) and build the HTML book in _build/html.
book: $(STAMP)
	$(PY) -m ecglib run $(PARAMS)

## Execute the notebooks only (no book).
run: $(STAMP)
	$(PY) -m ecglib run $(PARAMS) --no-book

## The run, then every fold of every run variant of $(PARAMS) (its variants:), then the book.
ablations: $(STAMP)
	$(PY) -m ecglib run $(PARAMS) --variants

## Unit tests and the notebooks with tiny parameters (params/ci.yaml).
test: $(STAMP)
	$(PY) -m pytest --nbval-lax

## JupyterLab on the project's kernel.
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name ecglib --display-name "Python (ecglib)"
	$(VENV)/bin/jupyter lab

## Benchmarks: one run of every benchmarks/bench_*.py into runs/bench (the book's appendix shows it).
bench: $(STAMP)
	$(PY) -m ecglib.report.benchmarks --out runs/bench

clean:
	rm -rf _build book/executed runs
