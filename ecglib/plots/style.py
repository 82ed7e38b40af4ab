"""One figure style for the whole book, its colours, and saving.

Saving uses the Agg canvas, so batch runs never need a display; every figure is written as PNG
(for the book, :data:`PNG_DPI`) and PDF (for the paper) by :func:`save_figure`, the one place that
saves figures; :func:`figure_alt` says in words what a figure shows, for the image's alt text.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ecglib import schema

#: Resolution of the PNG the book shows (the PDF is vector).
PNG_DPI = 200

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}
#: One colour per vessel, used in every chapter.
VESSEL_COLOURS = dict(zip(schema.VESSELS, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")))
SITE_COLOURS = {"internal": "#3b75af", "external": "#ef8636"}


def use_style() -> None:
    matplotlib.rcParams.update(STYLE)


def panel_grid(
    n_panels: int, *, width: float, height: float, max_columns: int = 2
) -> tuple[Figure, list[Axes]]:
    """A figure of ``n_panels`` panels (e.g. one per vessel), ``width`` x ``height`` inches each,
    filled row by row in at most ``max_columns`` columns; the book's style applied.

    Returns the figure and its first ``n_panels`` axes; the cells left over in the last row are
    switched off, so that an odd number of panels leaves no empty frame.
    """
    use_style()
    ncols = min(max_columns, n_panels)
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    cells = list(axes.flat)
    for ax in cells[n_panels:]:
        ax.set_axis_off()
    return fig, cells[:n_panels]


def save_figure(fig: Figure, folder: str | Path, name: str) -> Path:
    """Save as ``<name>.png`` (:data:`PNG_DPI`, for the book) and ``<name>.pdf`` (for the
    paper) under ``folder``; returns the PNG's path. The figure stays open (the caller closes
    it: :meth:`ecglib.chapters.page.Page.figure` reads its alt text first)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=PNG_DPI, bbox_inches="tight")
    fig.savefig(folder / f"{name}.pdf", bbox_inches="tight")
    return path


def legend_outside(ax: Axes, **options) -> None:
    """The axes' legend to the right of its data area, so that it never covers a curve or a
    bin (``options`` go to :meth:`~matplotlib.axes.Axes.legend`)."""
    options = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, **options}
    ax.legend(**options)


def _text(artist) -> str:
    """The artist's text on one line, mathtext as plain words (``$\\sigma_t$`` -> ``sigma_t``)."""
    if artist is None:
        return ""
    return " ".join(artist.get_text().replace("$", "").replace("\\", "").split())


def figure_alt(fig: Figure) -> str:
    """What ``fig`` shows, in words, from its own artists: the figure's title and number of
    panels, then per panel its title, what is plotted against what (the axis labels) and its
    legend entries with their numbers (e.g. each curve's AUC), then the figure's legends.

    Used as the image's alt text, so that a reader without the image learns what it shows;
    computed from the figure, so it never names a file and always matches what is drawn.
    """
    # a panel: an axes with its axis drawn, or one without (a diagram, a table) that holds text
    panels, seen = [], set()
    for ax in fig.axes:
        where = tuple(np.round(ax.get_position().bounds, 4))
        if ax.get_visible() and (ax.axison or ax.texts) and where not in seen:
            panels.append(ax)  # a twin axes (a second y scale) is part of its panel
            seen.add(where)
    suptitle = getattr(fig, "_suptitle", None)
    parts = [_text(suptitle)] if suptitle is not None and _text(suptitle) else []
    parts.append("one panel" if len(panels) == 1 else f"{len(panels)} panels")
    for ax in panels:
        name = next((_text(t) for t in (ax.title, ax._left_title, ax._right_title) if _text(t)), "")
        xl, yl = _text(ax.xaxis.label), _text(ax.yaxis.label)
        texts = [_text(t) for t in ax.texts if _text(t)]
        if ax.axison:
            bits = [" against ".join(x for x in (yl, xl) if x)] if (xl or yl) else []
            # a few annotations (a test's p, a correlation) are what the panel reports; many
            # are a table's cells
            if 0 < len(texts) <= 4:
                bits.append(", ".join(texts))
        else:  # a diagram says what it shows in its text
            bits = ["; ".join(texts[:12])] if texts else []
        bits += _legend_words(ax.get_legend())
        if name or bits:
            parts.append(": ".join(x for x in (name, "; ".join(bits)) if x))
    for legend in fig.legends:
        parts += _legend_words(legend)
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def _legend_words(legend) -> list[str]:
    if legend is None:
        return []
    entries = [_text(t) for t in legend.get_texts() if _text(t)]
    if not entries:
        return []
    head = _text(legend.get_title()) or "legend"
    return [f"{head}: " + ", ".join(entries)]
