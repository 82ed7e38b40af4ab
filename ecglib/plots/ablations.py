"""The ablation chapter's figure: each variant's paired AUC difference from the full method."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ecglib import schema
from ecglib.plots.style import VESSEL_COLOURS, use_style

__all__ = ["ablation_difference_figure"]

#: The macro row's colour and marker (the vessels keep the book's colours).
MACRO_STYLE = {"color": "black", "marker": "D"}


def ablation_difference_figure(
    table: pd.DataFrame,
    *,
    xlabel: str = "AUC difference, variant - full method (95% CI, clustered by patient)",
) -> Figure:
    """One panel per population (``population``), one row per variant (``variant``), in each
    row a point and interval (``diff``, ``diff_low``, ``diff_high``) per vessel and the macro
    mean (``vessel == "macro"``) side by side; a line at 0 (no difference); the legend outside
    the panels. A difference that does not exist is marked "n/a"; a point without an interval
    is drawn without a bar."""
    use_style()
    panels = list(dict.fromkeys(table["population"]))
    variants = list(dict.fromkeys(table["variant"]))
    present = set(table["vessel"])
    groups = [v for v in schema.VESSELS if v in present] + (["macro"] if "macro" in present else [])
    n = len(variants)
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(3.8 * len(panels) + 1.6, 0.55 * n * max(len(groups), 1) / 3 + 1.4),
        squeeze=False,
        sharey=True,
    )
    offsets = np.linspace(-0.3, 0.3, len(groups)) if len(groups) > 1 else np.zeros(1)
    for ax, population in zip(axes[0], panels):
        rows = table[table["population"] == population]
        for i, name in enumerate(variants):
            y0 = n - 1 - i
            for off, vessel in zip(offsets, groups):
                match = rows[(rows["variant"] == name) & (rows["vessel"] == vessel)]
                if match.empty:
                    continue
                r = match.iloc[0]
                style = (
                    MACRO_STYLE
                    if vessel == "macro"
                    else {"color": VESSEL_COLOURS.get(vessel, "C0"), "marker": "o"}
                )
                if not np.isfinite(r["diff"]):
                    ax.text(0, y0 - off, "n/a", va="center", ha="center", fontsize=6, color="grey")
                    continue
                err = None
                if np.isfinite(r["diff_low"]) and np.isfinite(r["diff_high"]):
                    err = [[r["diff"] - r["diff_low"]], [r["diff_high"] - r["diff"]]]
                ax.errorbar(
                    r["diff"],
                    y0 - off,
                    xerr=err,
                    fmt=style["marker"],
                    color=style["color"],
                    ms=4,
                    capsize=2,
                    lw=1.2 if vessel == "macro" else 0.9,
                )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(population)
        ax.grid(axis="y", visible=False)
        for k in range(n - 1):
            ax.axhline(k + 0.5, color="grey", lw=0.4, alpha=0.5)
    axes[0][0].set_yticks(range(n))
    axes[0][0].set_yticklabels(list(reversed(variants)))
    axes[0][0].set_ylim(-0.6, n - 0.4)
    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker=MACRO_STYLE["marker"] if g == "macro" else "o",
            color=MACRO_STYLE["color"] if g == "macro" else VESSEL_COLOURS.get(g, "C0"),
            label="macro mean" if g == "macro" else g,
        )
        for g in groups
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.supxlabel(xlabel, fontsize=9)  # one label under the panels, which share its meaning
    fig.tight_layout()
    return fig
