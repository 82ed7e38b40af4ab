"""The one set-up call at the top of every notebook, and what the page does with a chapter.

``page = setup(params)`` reads the run's params, makes its folders, shows the notices every
page of this run must carry (what model was trained and how it departs from the study, labels
that are not CCTA grades, vessels not assessed), and gives the notebook what it needs besides
the chapter's entry point: the run (:attr:`Page.run`), its paths, its predictions (:attr:`Page.results`, read once),
and the one way to save, glue and show (:meth:`Page.save`, :meth:`Page.glue`,
:meth:`Page.show`, :meth:`Page.figure`, :meth:`Page.publish`).

**Notebook tests.** ``pytest --nbval-lax`` executes the notebooks with their default ``params``
(the demo run). The test session sets :data:`PARAMS_ENV` to ``params/ci.yaml`` and
:func:`setup`, not :func:`ecglib.config.load_params`, obeys it: the override belongs to the
notebooks, so every other reader of a params file reads exactly the file it is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ecglib.chapters.parts import Skipped, skipped_markdown
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams, load_params
from ecglib.paths import RunPaths
from ecglib.report.save import glue_numbers, save

__all__ = [
    "PARAMS_ENV",
    "EXECUTED_ENV",
    "Page",
    "setup",
    "model_notice",
    "label_notices",
    "notice_texts",
]

#: Set by the notebook tests to run every notebook on ``params/ci.yaml`` (module docstring).
PARAMS_ENV = "ECGLIB_PARAMS"
#: Set by the pipeline to the folder the executed notebooks are written to (the book reads the
#: pages from there), so that a page's download links reach the run's files from the page.
EXECUTED_ENV = "ECGLIB_BOOK_EXECUTED"


def model_notice(params: RunParams) -> str:
    """The notice every results chapter shows: what this run trained (network size,
    initialisation, epochs, recipe, the device its folds ran on) and how that departs from the
    study (:func:`ecglib.chapters.framing.model_notice`)."""
    from ecglib.chapters.framing import model_notice as notice

    return notice(params)


def label_notices(params: RunParams) -> list[str]:
    """What every results chapter must say about the run's labels, from its column map: the
    map's own ``notice:`` (e.g. that PTB-XL's labels are ECG-read infarct territories, not CCTA
    grades) and the vessels it does not assess (``not_assessed:``)."""
    from ecglib.data.cohort import ExportMap

    export_map = ExportMap.from_yaml(params.path(params.data.map))
    out = [export_map.notice] if export_map.notice else []
    if export_map.not_assessed:
        names = " and ".join(export_map.not_assessed)
        out.append(
            f"**Not assessed: {names}.** This cohort has no label for the {names} "
            "(`not_assessed` in its column map). The model was trained and is evaluated "
            f"on the other vessels only; every number of the {names} in this book is "
            "nan, and its tables and figures have no row or panel for it."
        )
    return out


def notice_texts(params: RunParams, *, model: bool = True) -> list[str]:
    """:func:`model_notice` (unless ``model=False``, for the pages before training) and
    :func:`label_notices`."""
    return [t for t in (model_notice(params) if model else None, *label_notices(params)) if t]


@dataclass
class Page:
    """A notebook's handle on its run (module docstring)."""

    run: RunParams

    @cached_property
    def paths(self) -> RunPaths:
        return RunPaths.of(self.run).ensure()

    @cached_property
    def results(self) -> RunResults:
        """The run's predictions joined to its cohort (read on first use)."""
        return load_results(self.run)

    def save(self, value: Any, name: str) -> None:
        """Save a Figure (PNG and PDF), a DataFrame (CSV, de-identified) or a mapping (JSON)
        under the run's folders (:func:`ecglib.report.save.save`); a :class:`Skipped` part
        saves nothing."""
        if not isinstance(value, Skipped):
            save(value, self.paths, name)

    def glue(self, numbers: Mapping[str, Any]) -> None:
        """Glue every number for the page's ``{glue:text}`` roles."""
        glue_numbers(numbers)

    def show(self, value: Any, name: str | None = None) -> Any:
        """``value`` for display, saved first under ``name`` when one is given. A
        :class:`Skipped` part displays nothing (:meth:`publish` showed its reason once)."""
        if isinstance(value, Skipped):
            return None
        if name is not None:
            self.save(value, name)
        return value

    def figure(self, name: str, plot: Callable[..., Any], *inputs: Any, **options: Any) -> None:
        """``plot(*inputs, **options)`` saved under ``name``; nothing when an input is a
        :class:`Skipped` part (its reason was shown once by :meth:`publish`). Returns None:
        the notebook's inline backend shows the figure once."""
        if any(isinstance(x, Skipped) for x in (*inputs, *options.values())):
            return None
        self.save(plot(*inputs, **options), name)
        return None

    def publish(self, chapter: Any, *, glue: bool = True):
        """Save every output of a chapter's result (its ``outputs()``: file name -> table,
        mapping or :class:`Skipped`), glue its ``numbers()``, and return the Markdown that
        lists its skipped parts (None when nothing is skipped) for the cell to display."""
        outputs = chapter.outputs() if hasattr(chapter, "outputs") else {}
        for name, value in outputs.items():
            self.save(value, name)
        if glue and hasattr(chapter, "numbers"):
            self.glue(chapter.numbers())
        skipped = list(chapter.skipped()) if hasattr(chapter, "skipped") else []
        return skipped_markdown(skipped)

    def glue_table_links(self, key: str, tables: Mapping[str, str]) -> None:
        """Glue under ``key`` a Markdown list of download links (MyST ``{download}`` roles, for
        the page's ``{glue:md}`` directive with ``:format: myst``) to the run's saved CSV tables
        ``tables`` (file stem -> what it holds) that exist. The links are relative to the
        executed notebook's folder (:data:`EXECUTED_ENV`, else the repository's
        ``book/executed``), where the book reads the page."""
        from IPython.display import Markdown

        from ecglib.config import PROJECT_ROOT

        folder = Path(os.environ.get(EXECUTED_ENV) or PROJECT_ROOT / "book" / "executed")
        lines = []
        for stem, what in tables.items():
            file = self.paths.metrics / f"{stem}.csv"
            if file.is_file():
                target = Path(os.path.relpath(file.resolve(), folder.resolve())).as_posix()
                lines.append(f"- {{download}}`{stem}.csv <{target}>`: {what}")
        text = "\n".join(lines) if lines else "No table of this run has been saved yet."
        glue_numbers({key: Markdown(text)})

    def notices(self, *, model: bool = True):
        """The run's notices as displayable Markdown; None when there is nothing to say."""
        from IPython.display import Markdown

        texts = notice_texts(self.run, model=model)
        return Markdown("\n\n".join(f"> {t}" for t in texts)) if texts else None


def setup(params: str | os.PathLike, *, model: bool = True) -> Page:
    """The run of ``params`` as a :class:`Page`, its folders made, and its notices displayed
    (``model=False`` on the pages before training, which carry no model notice).

    When :data:`PARAMS_ENV` is set (the notebook tests), that params file is read instead, and
    the page says so.
    """
    override = os.environ.get(PARAMS_ENV)
    if override:
        print(f"{PARAMS_ENV} is set: reading {override} instead of {params}")
        params = override
    page = Page(load_params(params))
    page.paths  # noqa: B018 - makes the run's folders
    _display(page.notices(model=model))
    return page


def _display(markdown) -> None:
    if markdown is None:
        return
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    if get_ipython() is not None:
        display(markdown)
