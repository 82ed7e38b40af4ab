"""One figure style for the whole book, its colours, and saving.

Saving uses the Agg canvas, so batch runs never need a display; every figure is written as PNG
(for the book) and PDF (for the paper).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ecglib import schema

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
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
    """Save as PNG (for the book) and PDF (for the paper) under ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path)
    fig.savefig(folder / f"{name}.pdf")
    return path
