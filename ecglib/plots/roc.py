"""ROC curves per vessel with the AUC and its DeLong CI in the legend.

:func:`roc_figure` draws one or more prediction sets (internal out-of-fold, external, the
normal-ECG subset, ...) either one panel per vessel (sets told apart by line style) or all
vessels in one panel (vessels told apart by colour). A set in which a vessel has one class
gets a note in place of its curve, never an invented AUC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ecglib import schema
from ecglib.metrics.roc import OneClassError, delong_auc, roc_points
from ecglib.plots.style import VESSEL_COLOURS, use_style
from ecglib.report.present import format_estimate

#: Line styles of successive prediction sets.
SET_STYLES = ("-", "--", ":", "-.")


def roc_figure(
    sets: pd.DataFrame | Mapping[str, pd.DataFrame],
    vessels: Sequence[str] | None = None,
    *,
    label: str = "internal",
    layout: str = "panels",
    level: float = 0.95,
    ci_method: str = "logit",
    title: str | None = None,
) -> Figure:
    """ROC curves of every vessel, with ``AUC [95% CI]`` (DeLong) in the legend.

    Parameters
    ----------
    sets : a predictions table (``p_<vessel>``, ``y_<vessel>``), or a mapping ``name ->
        table`` for several sets drawn together (e.g. ``{"internal": oof, "external": ext}``).
    vessels : vessels to draw (default: those the first set has labels for,
        :func:`ecglib.schema.vessels_of`).
    label : the set's name when ``sets`` is a single table.
    layout : ``"panels"`` (one panel per vessel; sets by line style) or ``"single"`` (one
        panel; vessels by colour, sets by line style).
    level, ci_method : of the DeLong interval (:func:`ecglib.metrics.roc.auc_ci`).
    """
    if isinstance(sets, pd.DataFrame):
        sets = {label: sets}
    if not sets:
        raise ValueError("no prediction set to draw")
    if len(sets) > len(SET_STYLES):
        raise ValueError(f"at most {len(SET_STYLES)} prediction sets per figure")
    if layout not in ("panels", "single"):
        raise ValueError(f"layout must be 'panels' or 'single', got {layout!r}")
    vessels = schema.vessels_of(next(iter(sets.values())), vessels)
    use_style()
    if layout == "panels":
        fig, axes = plt.subplots(
            1,
            len(vessels),
            figsize=(2.7 * len(vessels), 3.1),
            sharex=True,
            sharey=True,
            squeeze=False,
        )
        axes_of = dict(zip(vessels, axes[0]))
    else:
        fig, ax = plt.subplots(figsize=(4.4, 4.2))
        axes_of = dict.fromkeys(vessels, ax)
    ci_name = f"{level:.0%} CI"
    for (set_name, table), style in zip(sets.items(), SET_STYLES):
        for vessel in vessels:
            ax = axes_of[vessel]
            name = set_name if layout == "panels" else f"{vessel}, {set_name}"
            if len(sets) == 1 and layout == "single":
                name = vessel
            y = table[schema.label_col(vessel)]
            p = table[schema.prob_col(vessel)]
            try:
                res = delong_auc(
                    y, p, level=level, ci_method=ci_method, name=f"{vessel} ({set_name})"
                )
                pts = roc_points(y, p, name=vessel)
            except OneClassError as err:
                ax.plot(
                    [],
                    [],
                    linestyle=style,
                    color=VESSEL_COLOURS.get(vessel, "k"),
                    label=f"{name}: no AUC ({err.positives}/{err.n} positive)",
                )
                continue
            ax.plot(
                pts["fpr"],
                pts["tpr"],
                linestyle=style,
                linewidth=1.4,
                color=VESSEL_COLOURS.get(vessel, "k"),
                label=f"{name}: {format_estimate(res.auc, res.ci_low, res.ci_high)}",
            )
    panels = {id(ax): (vessel, ax) for vessel, ax in axes_of.items()}.values()
    for vessel, ax in panels:
        ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, linestyle=(0, (2, 2)))
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("1 - specificity")
        if layout == "panels":
            ax.set_title(vessel)
        ax.legend(loc="lower right", fontsize=7, title=f"AUC [{ci_name}]", title_fontsize=7)
    next(iter(axes_of.values())).set_ylabel("sensitivity")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
