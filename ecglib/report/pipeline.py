"""Run the numbered notebooks of a run with papermill, then build the book.

Each notebook in ``notebooks/`` is executed into ``book/executed/`` (the sources are never
overwritten), in order, with the run's params file injected. A notebook is re-executed only
when something it depends on changed: its own source, the params file, the ecglib sources, the
files it declares in ``metadata.ecglib.inputs``, or any notebook before it. The run stops at the
first failing notebook and shows its error. With ``variants`` the run's variants (params
``variants:``, :mod:`ecglib.train.variants`) are trained once the fold notebooks are done, so
that the chapters after them find every finished variant.

``root`` builds the book somewhere else than the repository root: the book's sources
(:data:`BOOK_SOURCES`) are copied there, the notebooks are executed into ``root/book/executed``
and the HTML goes to ``root/_build/html``. The tests build the ci book that way
(``_build/ci-book``) so that they never overwrite the user's own book.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
import yaml
from tqdm.auto import tqdm

from ecglib.chapters.page import PARAMS_ENV
from ecglib.config import PROJECT_ROOT, load_params
from ecglib.report.save import BOOK_ROOT_ENV

NOTEBOOKS = PROJECT_ROOT / "notebooks"
EXECUTED = PROJECT_ROOT / "book" / "executed"
#: What ``jupyter-book build`` reads besides the executed notebooks (paths relative to the root).
BOOK_SOURCES: tuple[str, ...] = ("_config.yml", "_toc.yml", "book")
_KEY = "ecglib_run_key"
#: The kernels' own log stays at errors: otherwise every notebook prints ipykernel's warning
#: that its local TCP sockets are unencrypted, and `make book` should print progress and results.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class NotebookRun:
    """One papermill execution: a source notebook, its output, and its extra parameters."""

    source: Path
    output: Path
    parameters: dict


def plan(
    params_path: str, notebooks: Path = NOTEBOOKS, executed: Path = EXECUTED
) -> list[NotebookRun]:
    """The executions of a run, in order: every ``NN_*.ipynb``; a notebook with a ``fold``
    parameter runs once per fold."""
    params = load_params(params_path)
    runs = []
    for source in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        declared = papermill.inspect_notebook(str(source))
        if "fold" in declared:
            for fold in range(params.folds.n_folds):
                runs.append(
                    NotebookRun(
                        source,
                        executed / f"{source.stem}_{fold}.ipynb",
                        {"params": params_path, "fold": fold},
                    )
                )
        else:
            runs.append(NotebookRun(source, executed / source.name, {"params": params_path}))
    return runs


def run(
    params_path: str,
    *,
    build: bool = True,
    force: bool = False,
    root: Path = PROJECT_ROOT,
    variants: bool = False,
) -> Path:
    """Execute the run's notebooks (skipping those up to date) and build the book in ``root``;
    returns the book's ``index.html`` (or the executed notebooks' folder without ``build``).
    ``variants``: after the last fold notebook, train every fold of every run variant
    (:func:`ecglib.train.variants.fit_variants`; finished ones are reused)."""
    root = Path(root).resolve()
    if root != PROJECT_ROOT:
        stage_book(root)
    executed = root / "book" / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    runs = plan(params_path, executed=executed)
    run_dir = load_params(params_path).run_dir
    last_fold = max((i for i, r in enumerate(runs) if "fold" in r.parameters), default=-1)
    upstream = _digest(_inputs(params_path))
    bar = tqdm(runs, desc="notebooks", unit="nb")
    for i, item in enumerate(bar):
        if variants and i == last_fold + 1:
            _train_variants(params_path)
        key = hashlib.sha256(
            (
                upstream
                + _digest([item.source, *declared_inputs(item.source, run_dir)])
                + json.dumps(item.parameters, sort_keys=True)
            ).encode()
        ).hexdigest()
        upstream = key  # everything after this notebook depends on it
        bar.set_postfix_str(item.output.name)
        if not force and _stored_key(item.output) == key:
            continue
        start = time.perf_counter()
        try:
            with (
                _without_env(PARAMS_ENV),  # the run's params, whatever a test session set
                _with_env(BOOK_ROOT_ENV, str(root)),  # download links from the book root
            ):
                papermill.execute_notebook(
                    str(item.source),
                    str(item.output),
                    parameters=item.parameters,
                    cwd=str(PROJECT_ROOT),
                    progress_bar=False,
                    kernel_name="python3",
                    extra_arguments=KERNEL_ARGUMENTS,
                )
        except papermill.PapermillExecutionError as exc:
            bar.close()
            trace = _ANSI.sub("", "\n".join(exc.traceback[-3:]))
            raise SystemExit(
                f"\n{item.source.name} failed (executed copy with the error: "
                f"{item.output}):\n{trace}"
            ) from None
        _store_key(item.output, key, item.parameters)
        tqdm.write(f"{item.output.name}: {time.perf_counter() - start:.1f} s")
    if variants and last_fold + 1 >= len(runs):
        _train_variants(params_path)
    return build_book(root) if build else executed


def _train_variants(params_path: str) -> None:
    """Every fold of every variant of the run, in this process (the data notebook and the fold
    notebooks have prepared the run's cohort, store and folds)."""
    from ecglib.train.variants import fit_variants

    params = load_params(params_path)
    if not params.variants:
        tqdm.write(f"{params_path}: no variants: declared (see params/paper.yaml's template)")
        return
    start = time.perf_counter()
    results = fit_variants(params)
    for result in results:
        state = "finished" if result.finished else "not finished"
        tqdm.write(f"variant {result.name} ({result.describe}): {state}")
    tqdm.write(f"variants: {time.perf_counter() - start:.1f} s")


def toc_entries(toc: Path = PROJECT_ROOT / "_toc.yml") -> list[str]:
    """Every ``file`` and ``glob`` of the table of contents, root first."""
    data = yaml.safe_load(toc.read_text())
    entries = [data["root"]]

    def walk(items):
        for item in items or ():
            entries.extend(item[k] for k in ("file", "glob") if k in item)
            walk(item.get("sections"))

    for part in data.get("parts", ()):
        walk(part.get("chapters"))
    walk(data.get("chapters"))
    return entries


def stage_book(root: Path) -> None:
    """Copy the book's sources into ``root``, replacing old copies (a source deleted since is
    deleted there too); the executed notebooks already in ``root/book/executed`` are kept."""
    root.mkdir(parents=True, exist_ok=True)
    for name in BOOK_SOURCES:
        source, target = PROJECT_ROOT / name, root / name
        if source.is_dir():
            if target.is_dir():
                for old in target.iterdir():
                    if old.name != "executed":
                        shutil.rmtree(old) if old.is_dir() else old.unlink()
            shutil.copytree(
                source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("executed", ".*")
            )
        else:
            shutil.copy2(source, target)


def build_book(root: Path = PROJECT_ROOT) -> Path:
    """``jupyter-book build`` of ``root`` (default the repository) into ``root/_build/html``."""
    root = Path(root).resolve()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--keep-going"],
        cwd=root,
    )
    if result.returncode != 0:
        raise SystemExit("jupyter-book build failed; see the log above")
    return root / "_build" / "html" / "index.html"


def _inputs(params_path: str) -> list[Path]:
    """What every notebook depends on: the params file, ecglib's sources and, for a hospital
    export, the export table (the demo export is made from the params, so it adds nothing)."""
    params = load_params(params_path)
    files = [Path(params.source), *sorted((PROJECT_ROOT / "ecglib").rglob("*.py"))]
    table = params.path(params.data.table)
    if params.demo is None and table.exists():
        files.append(table)
    return files


def declared_inputs(source: Path, run_dir: Path | None = None) -> list[Path]:
    """Files a notebook reads besides the run: the glob patterns (relative to the repository) of
    its ``metadata.ecglib.inputs``, e.g. the benchmark appendix's ``runs/bench/*.json``, so that a
    new ``make bench`` re-executes it. ``{run}`` in a pattern stands for the run's folder
    (``run_dir``), e.g. ``{run}/variants/*/predictions/oof.csv`` for a chapter on run variants."""
    patterns = nbformat.read(source, as_version=4).metadata.get("ecglib", {}).get("inputs", [])
    found = []
    for pattern in patterns:
        if "{run}" in pattern:
            if run_dir is None:
                continue
            pattern = pattern.replace("{run}", glob.escape(str(run_dir)))
            found += [Path(p) for p in glob.glob(pattern)]
        else:
            found += list(PROJECT_ROOT.glob(pattern))
    return sorted(p for p in found if p.is_file())


def _digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(
            str(
                file.relative_to(PROJECT_ROOT) if file.is_relative_to(PROJECT_ROOT) else file
            ).encode()
        )
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _stored_key(output: Path) -> str | None:
    if not output.exists():
        return None
    try:
        return nbformat.read(output, as_version=4).metadata.get(_KEY)
    except Exception:  # an unreadable executed copy is simply out of date
        return None


def _store_key(output: Path, key: str, parameters: dict | None = None) -> None:
    """Record the run key and set the executed copy up for reading (:func:`present_cells`). A
    notebook run once per fold names its page after the fold: ``metadata.ecglib.title`` (e.g.
    ``"Training fold {fold}"``) filled with the run's parameters replaces the first ``# ``
    heading, so that the book's table of contents does not list five pages of the same name."""
    nb = nbformat.read(output, as_version=4)
    nb.metadata[_KEY] = key
    title = nb.metadata.get("ecglib", {}).get("title")
    if title:
        _set_title(nb, title.format(**(parameters or {})))
    present_cells(nb)
    nbformat.write(nb, output)


#: Cells a reader of the book does not need: the source's default ``parameters`` and the values
#: papermill injected (the run's params file is named on the manifest page).
_REMOVED = ("parameters", "injected-parameters")


def present_cells(nb) -> None:
    """Tag the executed notebook's cells for the book: the parameter cells are removed; the
    set-up cell (the first other code cell: imports, ``setup`` and the chapter's entry point)
    shows its output (the run's notices, the skipped parts) without its code
    (``remove-input``); every other code cell's input is collapsed behind a "Show code" toggle
    (``hide-input``), so that a collaborator reads text, tables and figures, and can still open
    the one line that made them. A cell already tagged ``remove-input``/``remove-cell`` in the
    source keeps its tag."""
    setup_seen = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in _REMOVED):
            wanted = "remove-cell"
        elif any(t in tags for t in ("remove-cell", "remove-input", "hide-input", "hide-cell")):
            setup_seen = True
            continue
        elif not setup_seen:
            wanted = "remove-input"
        else:
            wanted = "hide-input"
        if wanted != "remove-cell":
            setup_seen = True
        if wanted not in tags:
            tags.append(wanted)


def _set_title(nb, title: str) -> None:
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = f"# {title}"
                cell.source = "\n".join(lines)
                return
    raise ValueError(f"metadata.ecglib.title {title!r} given, but the notebook has no '# ' heading")


@contextlib.contextmanager
def _with_env(name: str, value: str):
    """``name`` set to ``value`` in the environment (which kernels inherit) for the block."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@contextlib.contextmanager
def _without_env(name: str):
    """``name`` removed from the environment (which kernels inherit) for the block."""
    saved = os.environ.pop(name, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[name] = saved
