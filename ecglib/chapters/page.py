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
from typing import Any

from ecglib.chapters.parts import Skipped, skipped_markdown
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams, load_params
from ecglib.paths import RunPaths
from ecglib.report.save import (
    download_links,
    download_target,
    glue_figure,
    glue_numbers,
    save,
)

__all__ = [
    "PARAMS_ENV",
    "Page",
    "setup",
    "register_tables",
    "model_notice",
    "label_notices",
    "notice_texts",
]

#: Set by the notebook tests to run every notebook on ``params/ci.yaml`` (module docstring).
PARAMS_ENV = "ECGLIB_PARAMS"


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
            "missing (an em dash), and its tables and figures have no row or panel for it."
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

    def save(self, value: Any, name: str) -> list:
        """Save a Figure (PNG and PDF), a DataFrame (CSV, de-identified) or a mapping (JSON)
        under the run's folders (:func:`ecglib.report.save.save`) and return the files
        written; a :class:`Skipped` part saves nothing."""
        if isinstance(value, Skipped):
            return []
        return save(value, self.paths, name)

    def downloads(self, files, *, label: str = "Download"):
        """Markdown links that offer ``files`` (saved by :meth:`save`) for download beside
        the page's table or figure (:func:`ecglib.report.save.download_links`); None without
        files."""
        from IPython.display import Markdown

        text = download_links(list(files), label=label)
        return Markdown(text) if text else None

    def glue(self, numbers: Mapping[str, Any]) -> None:
        """Glue every number for the page's ``{glue:text}`` roles."""
        glue_numbers(numbers)

    def show(self, value: Any, name: str | None = None) -> Any:
        """``value`` for display, saved first under ``name`` when one is given. A
        :class:`Skipped` part displays nothing (:meth:`publish` showed its reason once)."""
        if isinstance(value, Skipped):
            return None
        if name is not None:
            _display(self.downloads(self.save(value, name)))
        return value

    def figure(
        self,
        name: str,
        plot: Callable[..., Any],
        *inputs: Any,
        caption: Callable[..., str] | str | None = None,
        glue_name: str | None = None,
        **options: Any,
    ) -> None:
        """The page's one way to make a figure: ``plot(*inputs, **options)`` saved under
        ``name`` (PNG at 200 dpi and PDF, :func:`ecglib.plots.style.save_figure`), glued as
        ``name`` with its alt text (:func:`ecglib.plots.style.figure_alt`, what the figure
        shows, computed from it) for the page's ``{glue:figure}`` directive, and closed.
        ``glue_name`` glues it under another key than its file name (e.g. the training page's
        ``learning_curves``, saved once per fold).

        ``caption`` (a string, or a function called with the same inputs and options) is glued
        as ``<name>_caption`` for the directive's caption (``{glue:text}``). When an input is a
        :class:`Skipped` part nothing is drawn and ``name`` is glued as that part's message, so
        the numbered figure says why it is empty; its caption is glued as "Not drawn: " and the
        same message.
        Returns None: the figure is shown once, where the page's directive places it.
        """
        import matplotlib.pyplot as plt

        from ecglib.plots.style import figure_alt, save_figure

        key = glue_name or name
        skipped = [x for x in (*inputs, *options.values()) if isinstance(x, Skipped)]
        if skipped:
            glue_numbers({key: skipped[0]})
            if caption is not None:
                # the caption stops claiming what the fixed part of it describes
                glue_numbers({f"{key}_caption": f"Not drawn: {skipped[0].message}"})
            return None
        fig = plot(*inputs, **options)
        try:
            png = save_figure(fig, self.paths.figures, name)
            alt = figure_alt(fig)
        finally:
            plt.close(fig)
        glue_figure(key, png, alt)
        if caption is not None:
            text = caption(*inputs, **options) if callable(caption) else caption
            glue_numbers({f"{key}_caption": text})
        pdf = png.with_suffix(".pdf")
        _display(self.downloads([pdf] if pdf.exists() else [png]))
        return None

    def publish(self, chapter: Any, *, glue: bool = True):
        """Save every output of a chapter's result (its ``outputs()``: file name -> table,
        mapping or :class:`Skipped`), glue its ``numbers()``, and return the Markdown that
        lists its skipped parts (None when nothing is skipped) for the cell to display."""
        outputs = chapter.outputs() if hasattr(chapter, "outputs") else {}
        files = []
        for name, value in outputs.items():
            files += self.save(value, name)
        _display(self.downloads(files, label="This chapter's tables"))
        if glue and hasattr(chapter, "numbers"):
            self.glue(chapter.numbers())
        skipped = list(chapter.skipped()) if hasattr(chapter, "skipped") else []
        return skipped_markdown(skipped)

    def glue_table_links(self, key: str, tables: Mapping[str, str]) -> None:
        """Glue under ``key`` a Markdown list of download links (MyST ``{download}`` roles, for
        the page's ``{glue:md}`` directive with ``:format: myst``) to the run's saved CSV tables
        ``tables`` (file stem -> what it holds) that exist, with the targets of every other
        download link of the book (:func:`ecglib.report.save.download_target`)."""
        from IPython.display import Markdown

        lines = []
        for stem, what in tables.items():
            file = self.paths.metrics / f"{stem}.csv"
            if file.is_file():
                lines.append(f"- {{download}}`{stem}.csv <{download_target(file)}>`: {what}")
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
    register_tables()
    _display(page.notices(model=model))
    return page


def register_tables() -> None:
    """Make :func:`ecglib.report.present.render_table` the HTML of every DataFrame (and
    Series) the notebook displays, so that every chapter's tables read the same way without
    each formatting its own. Nothing outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    shell = get_ipython()
    if shell is None:
        return
    import pandas as pd

    from ecglib.report.present import render_table

    html = shell.display_formatter.formatters["text/html"]
    html.for_type(pd.DataFrame, render_table)
    html.for_type(pd.Series, lambda s: render_table(s.to_frame()))


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
