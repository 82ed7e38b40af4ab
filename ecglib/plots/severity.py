"""Box plots of the predicted probability by stenosis grade, per vessel, with Spearman's rho and
its patient-bootstrap interval."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecglib import schema
from ecglib.metrics.severity import severity_trend
from ecglib.plots.style import VESSEL_COLOURS, use_style
from ecglib.report.present import format_estimate

#: Short tick labels of the grades (0 none ... 4 occluded).
GRADE_SHORT = {0: "none", 1: "mild", 2: "mod.", 3: "sev.", 4: "occl."}


def severity_boxplot_figure(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    *,
    trend: pd.DataFrame | None = None,
    title: str | None = None,
) -> Figure:
    """Predicted probability by grade (0-4), one panel per vessel, annotated with rho and its
    interval (``ρ = 0.35 [0.28-0.41]``; rho alone when the trend has no interval).

    ``predictions`` holds ``p_<vessel>`` and ``grade_<vessel>``; ``trend`` is
    :func:`ecglib.metrics.severity.severity_trend` (computed without an interval when not
    given: pass the chapter's, which has the patient-bootstrap interval). Boxes show the
    median and IQR, whiskers 1.5 IQR; outliers are not drawn (every ECG is a point in the
    summary table, not here). Each grade's n is printed under its label; a grade nobody has is
    left empty.
    """
    vessels = schema.vessels_of(predictions, vessels)
    if trend is None:
        trend = severity_trend(predictions, vessels)
    trend = trend.set_index("vessel")
    use_style()
    fig, axes = plt.subplots(1, len(vessels), figsize=(2.6 * len(vessels), 3.0), squeeze=False)
    for ax, vessel in zip(axes[0], vessels):
        p = predictions[schema.prob_col(vessel)].to_numpy(dtype=float)
        g = predictions[schema.grade_col(vessel)].to_numpy(dtype=float)
        grades = list(schema.GRADES)
        data = [p[g == k] for k in grades]
        present = [k for k, x in zip(grades, data) if x.size]
        colour = VESSEL_COLOURS.get(vessel, "C0")
        box = ax.boxplot(
            [data[k] for k in present],
            positions=present,
            widths=0.6,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "black", "linewidth": 1.2},
        )
        for patch in box["boxes"]:
            patch.set_facecolor(colour)
            patch.set_alpha(0.45)
        ax.set_xticks(grades)
        ax.set_xticklabels([f"{GRADE_SHORT.get(k, k)}\n{len(data[k])}" for k in grades], fontsize=7)
        ax.set_xlim(-0.6, len(grades) - 0.4)
        # headroom for the annotation above the whiskers
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.2 * (high - low))
        ax.set_title(vessel)
        ax.set_xlabel("CCTA grade (n ECGs)")
        if vessel in trend.index:
            row = trend.loc[vessel]
            text = (
                f"Spearman ρ = {format_estimate(row['rho'], row['rho_lo'], row['rho_hi'], 2)}"
                if np.isfinite(row["rho"])
                # an estimate withheld under the small-count policy says why
                else f"Spearman ρ: {row.get('withheld', '') or 'n/a'}"
            )
            ax.text(0.02, 0.98, text, transform=ax.transAxes, ha="left", va="top", fontsize=7)
    axes[0][0].set_ylabel("predicted probability")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
