"""Figures of the real-ECG chapter: functions returning a matplotlib Figure.

- :func:`yield_figure`: the outcome of every real record (averaged, or the stage and reason that
  stopped it) per source database or rhythm, as stacked horizontal bars;
- :func:`st_grid_figure`, :func:`st_difference_figure`: the interpretability chapter's 12-lead
  grid and difference figures for an ST group vs the sinus-rhythm-only records;
- :func:`real_predictions_figure`: the distribution of the run's predicted probabilities for the
  real records, per vessel, by ST group, beside the run's own out-of-fold predictions. The real
  records have **no coronary labels**: the figure describes the model's outputs, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ecglib import schema
from ecglib.plots.style import VESSEL_COLOURS, legend_outside, use_style
from ecglib.plots.waveforms import difference_figure, waveform_grid_figure
from ecglib.real.prediction_groups import PREDICTION_GROUPS, predicted_vessels, prediction_group
from ecglib.real.st_groups import StComparison

#: Colours of the outcomes of :func:`yield_figure` ("averaged" first, then the exclusions).
AVERAGED_COLOUR = "#3b75af"
EXCLUSION_COLOURS = ("#c44e52", "#ef8636", "#f2c14e", "#8c564b", "#9467bd", "#7f7f7f", "#e377c2")


def yield_figure(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Stacked bars of :func:`ecglib.real.beat_yield.yield_table` (without its total row): records per
    group by outcome, the yield printed at each bar's end."""
    use_style()
    data = table.drop(index="total", errors="ignore")
    outcomes = [c for c in data.columns if c not in ("records", "yield_pct")]
    outcomes = ["averaged", *[c for c in outcomes if c != "averaged"]]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.38 * len(data)))
    left = np.zeros(len(data))
    y = np.arange(len(data))
    for i, outcome in enumerate(outcomes):
        values = data[outcome].to_numpy(dtype=float)
        colour = (
            AVERAGED_COLOUR
            if outcome == "averaged"
            else EXCLUSION_COLOURS[(i - 1) % len(EXCLUSION_COLOURS)]
        )
        ax.barh(y, values, left=left, color=colour, label=outcome, height=0.7)
        left += values
    for yi, (total, pct) in enumerate(zip(data["records"], data["yield_pct"])):
        ax.text(total, yi, f"  {pct:.0f}%", va="center", fontsize=7)
    ax.set_yticks(y, [str(i) for i in data.index])
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.set_xlim(0, 1.12 * max(float(data["records"].max()), 1.0))
    legend_outside(ax, fontsize=7)  # right of the bars, never over them
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def st_grid_figure(st: StComparison) -> Figure:
    """:func:`~ecglib.plots.waveforms.waveform_grid_figure` of an ST comparison, titled."""
    cmp = st.comparison
    return waveform_grid_figure(
        cmp, title=f"{cmp.names[0]} vs {cmp.names[1]}: average beats (real records)"
    )


def st_difference_figure(st: StComparison) -> Figure:
    """:func:`~ecglib.plots.waveforms.difference_figure` of an ST comparison, titled."""
    cmp = st.comparison
    return difference_figure(cmp, title=f"{cmp.names[0]} \u2212 {cmp.names[1]} (real records)")


#: Tick labels of the prediction groups (the full names are in the chapter's text and legend).
SHORT_LABELS: dict[str, str] = {
    "sinus rhythm only": "sinus\nonly",
    "ST depression": "ST\ndepr.",
    "ST elevation": "ST\nelev.",
    "other real records": "other",
}


def real_predictions_figure(
    predictions: pd.DataFrame,
    *,
    reference: pd.DataFrame | None = None,
    thresholds: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Predicted probability per vessel (one panel each): box (median, IQR; whiskers 1.5 IQR)
    and points per group of :data:`PREDICTION_GROUPS`, and, given ``reference`` (``p_*``
    columns, e.g. the run's out-of-fold predictions), that distribution first, in grey. A dashed
    line marks each vessel's high-risk threshold when ``thresholds`` is given."""
    use_style()
    groups = prediction_group(predictions)
    labels, datasets = [], []
    if reference is not None and len(reference):
        labels.append(f"run's\ncohort\n{len(reference):,}")
        datasets.append(reference)
    for name in PREDICTION_GROUPS:
        members = predictions[groups == name]
        if len(members):
            labels.append(f"{SHORT_LABELS.get(name, name)}\n{len(members):,}")
            datasets.append(members)
    vessels = predicted_vessels(predictions)  # a vessel the run does not assess has no panel
    fig, axes = plt.subplots(1, len(vessels), figsize=(2.9 * len(vessels), 3.4), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only
    offset = 1 if reference is not None and len(reference) else 0
    for ax, vessel in zip(axes[0], vessels):
        col = schema.prob_col(vessel)
        values = [d[col].to_numpy(dtype=float) for d in datasets]
        positions = np.arange(len(values))
        box = ax.boxplot(
            values,
            positions=positions,
            widths=0.55,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "black", "linewidth": 1.1},
        )
        for i, patch in enumerate(box["boxes"]):
            patch.set_facecolor("#bbbbbb" if i < offset else VESSEL_COLOURS.get(vessel, "C0"))
            patch.set_alpha(0.45)
        for i, v in enumerate(values):
            if i < offset:
                continue
            ax.scatter(
                i + rng.uniform(-0.18, 0.18, v.size),
                v,
                s=5,
                color="#333333",
                alpha=0.5,
                lw=0,
                zorder=3,
            )
        if thresholds is not None and vessel in thresholds:
            ax.axhline(float(thresholds[vessel]), color="#c44e52", lw=0.8, ls="--")
        ax.set_xticks(positions, labels, fontsize=6)
        ax.set_title(vessel)
        ax.set_ylim(bottom=0)
    axes[0][0].set_ylabel("predicted probability")
    handles = (
        [Patch(color="#bbbbbb", alpha=0.6, label="run's cohort: out-of-fold predictions")]
        if offset
        else []
    )
    handles.append(
        Patch(
            color="#888888",
            alpha=0.6,
            label="real records (n under each box): sinus rhythm only, ST depression,"
            " ST elevation, other",
        )
    )
    if thresholds is not None:
        handles.append(
            Line2D([], [], color="#c44e52", lw=0.8, ls="--", label="the run's high-risk threshold")
        )
    fig.legend(
        handles=handles,
        loc="lower center",
        fontsize=7,
        ncol=len(handles),
        bbox_to_anchor=(0.5, -0.01),
    )
    fig.suptitle(
        title or "Predicted probabilities for real ECGs (no coronary labels: not an accuracy)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
