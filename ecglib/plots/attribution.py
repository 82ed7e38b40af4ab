"""Figures of the attribution analysis (interpretability chapter): functions returning a Figure.

- :func:`attribution_heatmap_figure`: one vessel's 12 leads x beat time map of the integrated
  gradients folded onto the beat (|attribution| or the net, signed attribution), wave
  boundaries marked;
- :func:`attribution_heatmaps_figure`: the same for every vessel, one row per vessel, one column
  per kind of map (|IG| and net IG side by side);
- :func:`planted_vs_found_figure`: per vessel, every lead's rank by each method (waveform
  difference, attribution) in the ST-T window, the planted leads outlined, and the region each
  method ranks first: what was planted next to what was found;
- :func:`difference_heatmaps_figure`: the chapter's panel of
  :func:`ecglib.plots.waveforms.difference_heatmap_figure`, one row per vessel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ecglib.model.attribution import BeatAttribution
from ecglib.plots.style import VESSEL_COLOURS, use_style
from ecglib.plots.waveforms import (
    difference_heatmap_figure,
    lead_time_axes,
    lead_time_image,
    mark_wave_boundaries,
)
from ecglib.schema import LEADS
from ecglib.signals.waveforms import WaveformComparison

KIND_LABELS: dict[str, str] = {
    "abs": "|IG| (x record mean)",
    "net": "net IG (x record mean |IG|)",
}
PLANTED_COLOUR = "#c44e52"


def _empty(ax, message: str) -> None:
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=8,
        color="#666666",
        wrap=True,
    )


def attribution_heatmap_figure(
    attr: BeatAttribution,
    *,
    kind: str = "net",
    ax=None,
    title: str | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Figure:
    """Leads (rows, :data:`~ecglib.schema.LEADS` order) x beat time of one vessel's attribution.

    ``kind="net"``: the mean signed attribution in a diverging scale centred on 0 (red: towards
    high risk); ``kind="abs"``: the mean |attribution| in a sequential scale. Pass ``ax`` to draw
    into an existing axes; its figure is returned.
    """
    if kind not in KIND_LABELS:
        raise ValueError(f"kind must be one of {tuple(KIND_LABELS)}, got {kind!r}")
    fig, ax = lead_time_axes(ax)
    if attr.n_included == 0:
        _empty(ax, f"{attr.vessel}: no attributed ECG could be cut into beats")
        return fig
    heat = attr.heatmap(signed=kind == "net")
    if kind == "net":  # diverging, centred on 0
        limit = float(np.nanmax(np.abs(heat))) if vmax is None else float(vmax)
        cmap, vmin = "RdBu_r", -limit
    else:
        limit = float(np.nanmax(heat)) if vmax is None else float(vmax)
        cmap, vmin = "magma_r", 0.0
    image = lead_time_image(
        ax, heat, attr.time_s, attr.fs, attr.leads, cmap=cmap, vmin=vmin, vmax=limit
    )
    if attr.delineation is not None:  # dark and on top: the heat map hides lines behind it
        mark_wave_boundaries(
            ax, attr.delineation, attr.time_s, colour="#444444", zorder=3, label_y=1.01
        )
    if colorbar:
        fig.colorbar(image, ax=ax, label=KIND_LABELS[kind], shrink=0.9)
    ax.set_title(
        title
        if title is not None
        else f"{attr.vessel}: {attr.n_included:,} high-risk true positive ECG(s)",
        fontsize=9,
        pad=12,
    )
    return fig


def attribution_heatmaps_figure(
    maps: Mapping[str, BeatAttribution | None],
    *,
    kinds: Sequence[str] = ("abs", "net"),
    notes: Mapping[str, str] | None = None,
) -> Figure:
    """One row per vessel, one column per kind of map (``"abs"``, ``"net"``). A vessel without
    attribution (None, or no ECG with beats) gets an empty panel saying so (``notes[vessel]``
    when given)."""
    use_style()
    vessels = list(maps)
    fig, axes = plt.subplots(
        len(vessels), len(kinds), figsize=(4.2 * len(kinds), 2.6 * len(vessels)), squeeze=False
    )
    for row, vessel in enumerate(vessels):
        attr = maps[vessel]
        for col, kind in enumerate(kinds):
            ax = axes[row, col]
            if attr is None or attr.n_included == 0:
                reason = (notes or {}).get(vessel) or "no high-risk true positive to attribute"
                _empty(ax, f"{vessel}: {reason}")
                continue
            attribution_heatmap_figure(
                attr,
                kind=kind,
                ax=ax,
                title=(f"{vessel}, {KIND_LABELS[kind].split(' (')[0]} (n = {attr.n_included:,})"),
            )
            if row < len(vessels) - 1:
                ax.set_xlabel("")
    fig.tight_layout()
    return fig


def planted_vs_found_figure(lead_ranks: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """Per vessel (one panel each): every lead's rank (1 = most different / most attributed, in the
    ST-T window) by each method, planted leads outlined, and each method's top region.

    ``lead_ranks``: :func:`ecglib.chapters.interpretability_planted.lead_rank_table` (vessel, method, lead, rank,
    planted); ``summary``: :func:`ecglib.chapters.interpretability_planted.planted_vs_found` (for the planted region and
    each method's found region and recall@k).
    """
    use_style()
    vessels = list(dict.fromkeys(summary["vessel"]))
    methods = list(dict.fromkeys(summary["method"]))
    height = 0.75 + 0.5 * len(vessels) * len(methods) + 0.4
    fig, axes = plt.subplots(len(vessels), 1, figsize=(7.2, height), squeeze=False)
    cmap = plt.get_cmap("Blues_r")
    for ax, vessel in zip(axes[:, 0], vessels):
        rows = summary[summary["vessel"] == vessel].set_index("method")
        ranks = np.full((len(methods), len(LEADS)), np.nan)
        sub = lead_ranks[lead_ranks["vessel"] == vessel]
        for i, method in enumerate(methods):
            m = sub[sub["method"] == method].set_index("lead")["rank"]
            for j, lead in enumerate(LEADS):
                if lead in m.index:
                    ranks[i, j] = m[lead]
        ax.imshow(
            np.where(np.isnan(ranks), len(LEADS) + 4, ranks),
            aspect="auto",
            cmap=cmap,
            vmin=1,
            vmax=len(LEADS) + 4,
            interpolation="nearest",
        )
        for i in range(len(methods)):
            for j in range(len(LEADS)):
                text = "" if np.isnan(ranks[i, j]) else f"{int(ranks[i, j])}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if ranks[i, j] <= 4 else "#222222",
                )
        planted = [lead.strip() for lead in str(rows["planted_leads"].iloc[0]).split(",")]
        for lead in planted:
            j = LEADS.index(lead)
            ax.add_patch(
                Rectangle(
                    (j - 0.5, -0.5), 1, len(methods), fill=False, edgecolor=PLANTED_COLOUR, lw=1.6
                )
            )
        labels = []
        for method in methods:
            r = rows.loc[method]
            if r["found_wave"]:
                labels.append(f"{method}\n(top: {r['found_wave']}; recall {r['recall_at_k']:.2f})")
            else:
                labels.append(f"{method}\n(not available)")
        ax.set_yticks(range(len(methods)), labels, fontsize=7)
        ax.set_xticks(range(len(LEADS)), LEADS, fontsize=7)
        ax.tick_params(length=0)
        ax.grid(False)
        ax.set_title(
            f"{vessel}: planted {rows['region'].iloc[0]} ({', '.join(planted)}), "
            f"{rows['planted_segment'].iloc[0]}",
            fontsize=9,
            loc="left",
            color=VESSEL_COLOURS.get(vessel, "k"),
        )
    fig.text(
        0.99,
        0.003,
        "numbers: rank of the lead in the ST-T window (1 = first); outlined: planted leads",
        ha="right",
        va="bottom",
        fontsize=7,
        color="#555555",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def difference_heatmaps_figure(
    comparisons: Mapping[str, WaveformComparison | None], *, notes: Mapping[str, str] | None = None
) -> Figure:
    """:func:`ecglib.plots.waveforms.difference_heatmap_figure` for every vessel, one row each, on
    one colour scale (the largest |difference| of all), so that effects compare across vessels. A
    vessel without a comparison gets an empty panel saying why (``notes[vessel]``)."""
    use_style()
    vessels = list(comparisons)
    fig, axes = plt.subplots(len(vessels), 1, figsize=(6.8, 2.7 * len(vessels)), squeeze=False)
    present = [c for c in comparisons.values() if c is not None]
    vmax = max((float(np.nanmax(np.abs(c.diff))) for c in present), default=1.0)
    for ax, vessel in zip(axes[:, 0], vessels):
        cmp = comparisons[vessel]
        if cmp is None:
            _empty(ax, f"{vessel}: {(notes or {}).get(vessel) or 'no comparison'}")
            continue
        difference_heatmap_figure(
            cmp,
            ax=ax,
            vmax=vmax,
            title=(
                f"{vessel}: {cmp.names[0]} (n = {cmp.n[0]:,}) \u2212 {cmp.names[1]} (n = {cmp.n[1]:,}); "
                f"outlined: q < {cmp.alpha:g}"
            ),
        )
        if ax is not axes[-1, 0]:
            ax.set_xlabel("")
    fig.tight_layout()
    return fig
