"""Calibration figures: grouped points and a LOWESS curve, with patient-bootstrap intervals.

One panel per vessel; the legend, below each panel, carries the Brier score. Computation is in
:mod:`ecglib.metrics.calibration`; this module only draws, and :func:`calibration_caption` words
the figure's facts (ECGs, events and patients per vessel) for its caption.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ecglib import schema
from ecglib.metrics import calibration as cal
from ecglib.metrics.resamples import PatientResamples, patient_resamples
from ecglib.metrics.small_counts import too_few_text
from ecglib.plots.style import VESSEL_COLOURS, panel_grid


def calibration_axes(
    ax: Axes,
    y,
    p,
    *,
    weights,
    colour: str = "#3b75af",
    label: str = "",
    n_bins: int = 10,
    strategy: str = "quantile",
    frac: float = 2 / 3,
    withheld: str = "",
) -> dict[str, float]:
    """Draw one calibration plot on ``ax``; returns the :func:`calibration_summary` numbers.

    Grouped points (``n_bins`` bins, ``strategy`` quantile = equal-size groups) and the LOWESS
    curve, each with its 95% percentile interval over the patient resamples ``weights``
    (``(B, N)`` row counts; :func:`ecglib.metrics.calibration.calibration_bins` and
    :func:`~ecglib.metrics.calibration.calibration_band`), the identity line, and a histogram of the predictions along the bottom. Axes are zoomed to the range of
    the predictions (LM's are all small). ``withheld`` (the small-count policy's reason, e.g.
    "too few events (2)") draws no LOWESS curve or band, only the grouped points, and says why
    in the legend: a smooth through a handful of events is a drawing of those few patients.
    """
    summary = cal.calibration_summary(y, p)
    bins = cal.calibration_bins(y, p, n_bins=n_bins, strategy=strategy, weights=weights)
    band = None if withheld else cal.calibration_band(y, p, weights=weights, frac=frac)
    p = np.asarray(p, dtype=float)
    top = float(
        min(
            1.0,
            1.15
            * max(np.quantile(p, 0.99), bins["mean_predicted"].max(), bins["observed"].max(), 0.02),
        )
    )
    ax.plot([0, top], [0, top], ls="--", lw=0.8, color="#777777", label="ideal")
    if band is None:
        ax.plot([], [], " ", label=f"no LOWESS curve: {withheld}")
    else:
        ax.fill_between(
            band["predicted"],
            band["lower"],
            band["upper"],
            color=colour,
            alpha=0.2,
            lw=0,
            label="LOWESS 95% patient-bootstrap band",
        )
        ax.plot(
            band["predicted"],
            band["observed"],
            color=colour,
            lw=1.5,
            label=f"{label} LOWESS (Brier {summary['brier']:.3f})".strip(),
        )
    # A bound can miss the estimate by a rounding error (Wilson's for 0 of 56 is 7e-18 in
    # statsmodels), and matplotlib refuses negative error bars: clip at 0.
    # arrays, not Series: matplotlib calls float() on a one-bin Series, which pandas deprecates
    predicted, observed = bins["mean_predicted"].to_numpy(), bins["observed"].to_numpy()
    ax.errorbar(
        predicted,
        observed,
        yerr=[
            np.clip(observed - bins["observed_lo"].to_numpy(), 0.0, None),
            np.clip(bins["observed_hi"].to_numpy() - observed, 0.0, None),
        ],
        fmt="o",
        ms=3.5,
        color=colour,
        ecolor=colour,
        elinewidth=0.8,
        capsize=2,
        label=f"{len(bins)} {'quantile' if strategy == 'quantile' else 'equal-width'} "
        "bins (95% CI)",
    )
    hist = ax.twinx()
    hist.hist(p, bins=40, range=(0, top), color=colour, alpha=0.25)
    hist.set_ylim(0, hist.get_ylim()[1] * 5)  # keep the histogram in the bottom fifth
    hist.set_axis_off()
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed proportion")
    # below the axes, never over a bin or the curve
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7)
    return summary


def calibration_figure(
    table: pd.DataFrame,
    vessels: Iterable[str] | None = None,
    *,
    resamples: PatientResamples | None = None,
    group_col: str | None = "patient",
    n_boot: int = 200,
    seed: int = 0,
    n_bins: int = 10,
    strategy: str = "quantile",
    title: str | None = None,
    min_events: int | None = None,
) -> Figure:
    """One calibration panel per vessel from the ``y_<vessel>``/``p_<vessel>`` columns.

    The LOWESS band is drawn from ``resamples`` (the run's shared patient resamples of the
    population ``table`` belongs to), each row weighted by the draws of its patient in
    ``table[group_col]``. Without ``resamples`` the figure draws its own ``n_boot`` from
    ``seed`` over the patients of ``group_col``; ``group_col=None`` says explicitly that every
    row is its own patient. A ``group_col`` the table does not have raises, so the band never
    falls back to resampling ECGs unnoticed. ``min_events`` (the run's small-count threshold,
    :mod:`ecglib.metrics.small_counts`): a vessel with fewer positive (or negative) rows gets
    no LOWESS curve (:func:`calibration_axes`'s ``withheld``).
    """
    vessels = schema.vessels_of(table, vessels)
    if group_col is not None and group_col not in table.columns:
        raise KeyError(
            f"the table has no {group_col!r} column to resample patients by; pass "
            "group_col=None if every row is a patient of its own"
        )
    patients = np.arange(len(table)) if group_col is None else table[group_col].to_numpy()
    if resamples is None:
        resamples = patient_resamples(patients, n_boot, seed=seed)
    weights = resamples.weights(patients)
    fig, axes = panel_grid(len(vessels), width=3.6, height=3.4)
    for ax, vessel in zip(axes, vessels):
        y = table[schema.label_col(vessel)]
        positives = int((y == 1).sum())
        withheld = (
            too_few_text(positives, len(y) - positives, min_events)
            if min_events is not None
            else ""
        )
        calibration_axes(
            ax,
            y,
            table[schema.prob_col(vessel)],
            withheld=withheld,
            colour=VESSEL_COLOURS[vessel],
            label=vessel,
            weights=weights,
            n_bins=n_bins,
            strategy=strategy,
        )
        ax.set_title(f"{vessel} (n = {len(table):,})")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def calibration_caption(
    table: pd.DataFrame,
    vessels: Iterable[str] | None = None,
    *,
    group_col: str | None = "patient",
    **_figure_options,
) -> str:
    """The facts of :func:`calibration_figure`'s figure for its caption: the ECGs (and
    patients) it draws and, per vessel, the events (positive ECGs) its bins and curve rest on,
    e.g. ``"557 ECGs of 300 patients; events: RCA 85, LM 4, ..."``. Takes the figure's
    arguments (its other options are ignored)."""
    vessels = schema.vessels_of(table, vessels)
    head = f"{len(table):,} ECGs"
    if group_col is not None and group_col in table.columns:
        head += f" of {table[group_col].nunique():,} patients"
    events = ", ".join(f"{v} {int((table[schema.label_col(v)] == 1).sum()):,}" for v in vessels)
    return f"{head}; events (positive ECGs) per vessel: {events}."
