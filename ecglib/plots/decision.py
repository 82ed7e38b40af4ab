"""Decision curves: net benefit of the model against treat-all and treat-none, per vessel.

Draws the output of :func:`ecglib.metrics.decision.decision_curves`, with the model's
patient-bootstrap band when it has one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecglib.metrics.small_counts import WITHHELD
from ecglib.plots.style import VESSEL_COLOURS, panel_grid


def decision_curve_figure(
    curves: pd.DataFrame,
    vessels: Iterable[str] | None = None,
    *,
    title: str | None = None,
    band_label: str = "95% CI (patient bootstrap)",
) -> Figure:
    """One panel per vessel: model, treat all, treat none over the vessel's threshold range,
    and the model's band when the curves have one.

    ``curves`` is the long table of :func:`~ecglib.metrics.decision.decision_curves` (columns
    ``vessel, threshold, model, treat_all, treat_none, prevalence``; with ``model_lo`` and
    ``model_hi``, the band between them is shaded and labelled ``band_label``). The y axis runs
    from a little below zero to a little above the prevalence (the largest possible net
    benefit), so treat-all's steep negative tail does not flatten the curves. A vessel withheld
    under the small-count policy (a ``withheld`` column, :func:`ecglib.chapters.risk_strata.
    withhold_curves`) gets no model curve, and its panel says why.
    """
    vessels = list(pd.unique(curves["vessel"])) if vessels is None else list(vessels)
    fig, axes = panel_grid(len(vessels), width=3.6, height=3.6)
    for ax, vessel in zip(axes, vessels):
        c = curves[curves["vessel"] == vessel].sort_values("threshold")
        prevalence = float(c["prevalence"].iloc[0])
        x = 100 * c["threshold"]
        colour = VESSEL_COLOURS.get(vessel, "#3b75af")
        if "model_lo" in c.columns and np.isfinite(c["model_lo"]).any():
            ax.fill_between(
                x, c["model_lo"], c["model_hi"], color=colour, alpha=0.2, lw=0, label=band_label
            )
        withheld = str(c[WITHHELD].iloc[0]) if WITHHELD in c.columns else ""
        if withheld:
            # the small-count policy: no model curve, and the panel says why
            ax.text(
                0.5,
                0.5,
                f"AI-ECG model not drawn:\n{withheld}",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                color="#444444",
            )
        else:
            ax.plot(x, c["model"], color=colour, lw=1.6, label="AI-ECG model")
        ax.plot(x, c["treat_all"], color="#888888", lw=1.0, label="treat all")
        ax.plot(x, c["treat_none"], color="#000000", lw=1.0, ls="--", label="treat none")
        ax.set_ylim(-0.25 * prevalence, 1.1 * prevalence)
        ax.set_xlim(x.min(), x.max())
        ax.set_title(f"{vessel} (prevalence {100 * prevalence:.1f}%)")
        ax.set_xlabel("threshold probability (%)")
        ax.set_ylabel("net benefit")
        # below the axes, off the curves and the band
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
