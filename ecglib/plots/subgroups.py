"""Forest plot of subgroup AUCs with their CIs, one panel per vessel.

Input is :func:`ecglib.metrics.subgroups.subgroup_auc_table`: AUCs over each subgroup's ECGs
with the 95% CI clustered by patient. Each variable (age, sex, ECG-CCTA interval) is a block of
rows headed by its name and the raw and Holm-adjusted p-values of the subgroup difference
(clustered z-test, shared patients' covariance included); a subgroup without an AUC shows
"n/a" instead of a point.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecglib.metrics.subgroups import COLUMNS, VARIABLE_LABELS
from ecglib.plots.style import VESSEL_COLOURS, use_style
from ecglib.report.present import format_p

#: The columns of :func:`~ecglib.metrics.subgroups.subgroup_auc_table` that the plot draws: all
#: but the standard errors and the difference test's details (only its p-values are shown).
_NOT_DRAWN = ("se", "positive_patients", "reference", "shared_patients", "auc_diff", "se_diff", "z")
_NEEDED = tuple(c for c in COLUMNS if c not in _NOT_DRAWN)


def subgroup_forest_figure(
    table: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    *,
    reference_line: float = 0.5,
    title: str | None = None,
) -> Figure:
    """Forest plot: AUC and CI (clustered by patient) per subgroup (rows) and vessel (panels).

    Row labels give the subgroup and its numbers of ECGs and patients; each panel prints the
    positives per subgroup at the right margin and the difference test's raw and
    Holm-adjusted p-values on the variable's header (:func:`p_text`).
    """
    absent = [c for c in _NEEDED if c not in table.columns]
    if absent:
        raise KeyError(f"table lacks column(s) {absent}; pass subgroup_auc_table's output")
    if vessels is None:
        vessels = list(dict.fromkeys(table["vessel"]))
    vessels = list(vessels)
    variables = list(dict.fromkeys(table["variable"]))
    # layout: a header row per variable, then its subgroups
    layout: list[tuple[str, str | None]] = []
    for variable in variables:
        layout.append((variable, None))
        subs = table.loc[table["variable"] == variable, "subgroup"]
        layout.extend((variable, s) for s in dict.fromkeys(subs))
    y_of = {key: -i for i, key in enumerate(layout)}
    lows = pd.concat([table["ci_low"], table["auc"]]).dropna()
    x_low = min(0.3, float(lows.min()) - 0.02) if len(lows) else 0.3
    use_style()
    fig, axes = plt.subplots(
        1,
        len(vessels),
        figsize=(2.3 * len(vessels) + 1.6, 0.9 + 0.28 * len(layout)),
        sharey=True,
        squeeze=False,
    )
    for ax, vessel in zip(axes[0], vessels):
        colour = VESSEL_COLOURS.get(vessel, "k")
        rows = table[table["vessel"] == vessel]
        for _, r in rows.iterrows():
            y = y_of[(r["variable"], r["subgroup"])]
            if np.isfinite(r["auc"]):
                has_ci = np.isfinite(r["ci_low"])
                if has_ci:
                    ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colour, linewidth=1.4)
                # a hollow marker: AUC without a CI (a single positive or negative)
                ax.plot(
                    r["auc"],
                    y,
                    marker="s",
                    markersize=4.5,
                    color=colour,
                    markerfacecolor=colour if has_ci else "white",
                )
            else:
                # at the panel's left edge, clear of the reference line; an AUC withheld
                # under the small-count policy says so, not "n/a"
                ax.text(
                    0.02,
                    y,
                    "too few events" if r.get("withheld", "") else "n/a",
                    transform=ax.get_yaxis_transform(),
                    ha="left",
                    va="center",
                    fontsize=7,
                    color="0.4",
                )
            ax.text(
                1.03,
                y,
                f"{int(r['positives'])}",
                transform=ax.get_yaxis_transform(),
                ha="left",
                va="center",
                fontsize=6.5,
                color="0.35",
                clip_on=False,
            )
        for variable in variables:
            tested = rows[(rows["variable"] == variable) & rows["p_value"].notna()]
            text = "; ".join(p_text(r.p_value, r.p_holm) for r in tested.itertuples())
            ax.text(
                0.02,
                y_of[(variable, None)],
                text,
                transform=ax.get_yaxis_transform(),
                ha="left",
                va="center",
                fontsize=7,
                style="italic",
                # the reference line passes behind the text, not through it
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.8},
                zorder=3,
            )
        ax.axvline(reference_line, color="0.6", linewidth=0.8, linestyle=(0, (2, 2)))
        ax.set_title(vessel)
        ax.text(
            1.03,
            1.0,
            "pos.",
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize=6.5,
            color="0.35",
        )
        ax.set_xlim(x_low, 1.0)
        ax.set_xlabel("AUC")
        ax.grid(axis="y", visible=False)
    counts = table.drop_duplicates(["variable", "subgroup"]).set_index(["variable", "subgroup"])
    labels = [
        VARIABLE_LABELS.get(v, v)
        if s is None
        else f"   {s}  ({int(counts.at[(v, s), 'n']):,} ECGs, "
        f"{int(counts.at[(v, s), 'patients']):,} pts)"
        for v, s in layout
    ]
    axes[0][0].set_yticks(list(y_of.values()))
    axes[0][0].set_yticklabels(labels)
    for tick, (_, s) in zip(axes[0][0].get_yticklabels(), layout):
        if s is None:
            tick.set_fontweight("bold")
    axes[0][0].set_ylim(-len(layout) + 0.4, 0.6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def p_text(p: float, p_holm: float) -> str:
    """A comparison's p-values as the figure prints them: ``p = 0.043, Holm 0.52``
    (:func:`ecglib.report.present.format_p`)."""
    return f"{format_p(p, prefix='p')}, Holm {format_p(p_holm)}"
