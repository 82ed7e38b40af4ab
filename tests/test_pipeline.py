"""The pipeline runner: notebook order, one execution per fold, sources never overwritten."""

import nbformat

from ecglib.report import pipeline


def notebook(path, parameters: str):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("result = params")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_plan_orders_notebooks_and_expands_folds(tmp_path):
    notebook(tmp_path / "01_b.ipynb", 'params = "x"')
    notebook(tmp_path / "00_a.ipynb", 'params = "x"')
    notebook(tmp_path / "02_train.ipynb", 'params = "x"\nfold = 0')
    notebook(tmp_path / "scratch.ipynb", 'params = "x"')  # not numbered: not part of a run
    runs = pipeline.plan("params/demo.yaml", notebooks=tmp_path, executed=tmp_path / "out")
    names = [r.output.name for r in runs]
    assert names == ["00_a.ipynb", "01_b.ipynb"] + [f"02_train_{k}.ipynb" for k in range(5)]
    assert runs[3].parameters == {"params": "params/demo.yaml", "fold": 1}
    assert all(r.output.parent == tmp_path / "out" for r in runs)


def test_shipped_notebooks_are_thin_and_parameterised():
    for source in sorted(pipeline.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(source, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{source.name}: needs exactly one parameters cell"
        assert 'params = "params/demo.yaml"' in tagged[0].source
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert not any(
            line.lstrip().startswith(("def ", "class "))
            for src in code
            for line in src.splitlines()
        ), f"{source.name} defines code: move it to ecglib"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
            f"{source.name}: commit notebooks without outputs"
        )


#: Names a notebook must not call: the decisions they stand for belong in the chapter modules.
WRAPPERS = (
    "run_part",
    "unless_skipped",
    "skipped_markdown",
    "skipped_parts",
    "shown(",
    "own_skip",
    "rounded(",
    "attempt(",
    "evaluation",
    "load_params",
    "RunPaths",
)


def test_every_notebook_makes_one_set_up_call_and_no_skip_wrappers():
    for source in sorted(pipeline.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(source, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert code.count("setup(params") == 1, f"{source.name}: one `page = setup(params)`"
        used = [w for w in WRAPPERS if w in code]
        assert not used, f"{source.name} calls {used}: the chapter module decides that"


def test_the_pipelines_kernels_do_not_see_the_notebook_test_override(monkeypatch):
    from ecglib.chapters.page import PARAMS_ENV

    monkeypatch.setenv(PARAMS_ENV, "params/ci.yaml")
    with pipeline._without_env(PARAMS_ENV):
        import os

        assert PARAMS_ENV not in os.environ
    assert os.environ[PARAMS_ENV] == "params/ci.yaml"


def test_stage_book_copies_the_sources_but_not_the_executed_notebooks(tmp_path):
    (pipeline.EXECUTED).mkdir(parents=True, exist_ok=True)
    pipeline.stage_book(tmp_path)
    for name in pipeline.BOOK_SOURCES:
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "book" / "methods.md").read_text() == (
        pipeline.PROJECT_ROOT / "book" / "methods.md"
    ).read_text()
    assert (tmp_path / "book" / "_ext" / "book_fixes.py").is_file()
    assert not (tmp_path / "book" / "executed").exists()
    # a second staging drops sources deleted since, and keeps the executed notebooks
    (tmp_path / "book" / "deleted_page.md").write_text("# gone")
    (tmp_path / "book" / "executed").mkdir()
    (tmp_path / "book" / "executed" / "00_data.ipynb").write_text("{}")
    pipeline.stage_book(tmp_path)
    assert not (tmp_path / "book" / "deleted_page.md").exists()
    assert (tmp_path / "book" / "executed" / "00_data.ipynb").read_text() == "{}"


def test_declared_inputs_come_from_the_notebook_metadata(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "PROJECT_ROOT", tmp_path)
    (tmp_path / "runs" / "bench").mkdir(parents=True)
    for name in ("b.json", "a.json", "notes.txt"):
        (tmp_path / "runs" / "bench" / name).write_text("{}")
    source = tmp_path / "92_x.ipynb"
    notebook(source, 'params = "x"')
    assert pipeline.declared_inputs(source) == []
    nb = nbformat.read(source, as_version=4)
    nb.metadata["ecglib"] = {"inputs": ["runs/bench/*.json"]}
    nbformat.write(nb, source)
    assert [p.name for p in pipeline.declared_inputs(source)] == ["a.json", "b.json"]
    shipped = nbformat.read(pipeline.NOTEBOOKS / "92_appendix_benchmarks.ipynb", as_version=4)
    assert shipped.metadata["ecglib"]["inputs"] == ["runs/bench/*.json"]


def test_run_inputs_resolve_in_the_runs_folder(tmp_path, monkeypatch):
    from dataclasses import replace

    from ecglib.config import DataParams, RunParams

    monkeypatch.setattr(pipeline, "PROJECT_ROOT", tmp_path)
    params = RunParams(
        name="r", seed=1, data=DataParams(table="x", map="m"), runs_dir=str(tmp_path / "elsewhere")
    )
    found = params.run_dir / "variants" / "v" / "predictions"
    found.mkdir(parents=True)
    (found / "oof_fold0.csv").write_text("row")
    source = tmp_path / "13_x.ipynb"
    notebook(source, 'params = "x"')
    nb = nbformat.read(source, as_version=4)
    nb.metadata["ecglib"] = {"inputs": ["{run}/variants/*/predictions/*.csv"]}
    nbformat.write(nb, source)
    assert pipeline.declared_inputs(source, params.run_dir) == [found / "oof_fold0.csv"]
    other = replace(params, name="other")
    assert pipeline.declared_inputs(source, other.run_dir) == []
    shipped = nbformat.read(pipeline.NOTEBOOKS / "13_ablations.ipynb", as_version=4)
    assert "{run}/variants/*/predictions/*.csv" in shipped.metadata["ecglib"]["inputs"]


def test_a_per_fold_page_is_titled_with_its_fold(tmp_path):
    path = tmp_path / "02_x_3.ipynb"
    notebook(path, 'params = "x"\nfold = 0')
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Intro\n# Training one fold\n\nText"))
    nb.metadata["ecglib"] = {"title": "Training fold {fold}"}
    nbformat.write(nb, path)
    pipeline._store_key(path, "k", {"params": "x", "fold": 3})
    out = nbformat.read(path, as_version=4)
    assert out.cells[0].source == "Intro\n# Training fold 3\n\nText"
    assert out.metadata["ecglib_run_key"] == "k"
    shipped = nbformat.read(pipeline.NOTEBOOKS / "02_train_fold.ipynb", as_version=4)
    assert shipped.metadata["ecglib"]["title"].format(fold=1) == "Training fold 1"


def test_the_book_hides_code_and_removes_the_parameter_and_set_up_code():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('params = "x"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('params = "y"', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("from ecglib.chapters import setup\npage = setup(params)"),
        nbformat.v4.new_code_cell("chapter.table()"),
        nbformat.v4.new_code_cell("secret()", metadata={"tags": ["remove-input"]}),
    ]
    pipeline.present_cells(nb)
    pipeline.present_cells(nb)  # a re-run changes nothing
    tags = [c.metadata.get("tags") for c in nb.cells]
    assert tags == [
        ["parameters", "remove-cell"],
        ["injected-parameters", "remove-cell"],
        None,
        ["remove-input"],  # the set-up cell: its notices stay, its imports go
        ["hide-input"],
        ["remove-input"],
    ]


def test_the_toc_lists_every_executed_chapter():
    """Each numbered notebook reaches the book: its executed copy is named in the toc."""
    entries = pipeline.toc_entries()
    for source in sorted(pipeline.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        stem = f"book/executed/{source.stem}"
        assert any(e == stem or (e.endswith("*") and e.startswith(stem)) for e in entries), stem


def test_the_pipelines_kernels_see_the_book_root_for_their_download_links(monkeypatch):
    import os

    from ecglib.report.save import BOOK_ROOT_ENV

    monkeypatch.delenv(BOOK_ROOT_ENV, raising=False)
    with pipeline._with_env(BOOK_ROOT_ENV, "/somewhere/ci-book"):
        assert os.environ[BOOK_ROOT_ENV] == "/somewhere/ci-book"
    assert BOOK_ROOT_ENV not in os.environ
