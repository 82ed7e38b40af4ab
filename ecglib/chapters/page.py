"""The one set-up call at the top of every notebook, and what the page does with a chapter.

``page = setup(params)`` reads the run's params, makes its folders, shows the notices every
page of this run must carry (a model trained from random weights, labels that are not CCTA
grades, vessels not assessed), and gives the notebook what it needs besides the chapter's entry
point: the run (:attr:`Page.run`), its paths, its predictions (:attr:`Page.results`, read once),
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
from ecglib.report.save import glue_figure, glue_numbers, save

__all__ = ["PARAMS_ENV", "Page", "setup", "random_init_notice", "label_notices", "notice_texts"]

#: Set by the notebook tests to run every notebook on ``params/ci.yaml`` (module docstring).
PARAMS_ENV = "ECGLIB_PARAMS"


def random_init_notice(params: RunParams) -> str | None:
    """The notice every results chapter shows when the model was not initialised from the
    pretrained ECGFounder weights (``model.pretrained: null``); None when it was."""
    if params.model.pretrained is not None:
        return None
    return (
        "**Random initialisation.** This run trained the network from random weights "
        "(`model.pretrained: null`), not by fine-tuning the pretrained ECGFounder "
        "checkpoint as the study does. Its numbers describe a model trained from scratch on "
        "this run's cohort; they do not show what fine-tuning ECGFounder achieves. Set "
        "`model.pretrained` to the checkpoint's path to run the study's method."
    )


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
    """:func:`random_init_notice` (unless ``model=False``, for the pages before training) and
    :func:`label_notices`."""
    return [t for t in (random_init_notice(params) if model else None, *label_notices(params)) if t]


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
        the numbered figure says why it is empty; its caption is glued as the same message.
        Returns None: the figure is shown once, where the page's directive places it.
        """
        import matplotlib.pyplot as plt

        from ecglib.plots.style import figure_alt, save_figure

        key = glue_name or name
        skipped = [x for x in (*inputs, *options.values()) if isinstance(x, Skipped)]
        if skipped:
            glue_numbers({key: skipped[0]})
            if caption is not None:
                glue_numbers({f"{key}_caption": skipped[0].message})
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
