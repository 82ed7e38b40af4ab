"""Predicted probability by stenosis grade: the severity trend per vessel.

If the model tracks disease, a vessel's predicted probability should rise with its ordinal CCTA
grade (0 none, 1 mild, 2 moderate, 3 severe, 4 occluded), not only across the binary cut at
grade 3. :func:`severity_trend` measures the monotone association by Spearman's rank
correlation (``scipy.stats.spearmanr``; ties, which an ordinal grade is full of, get midranks);
:func:`grade_summary` tabulates the median and interquartile range per grade, the numbers
behind the box plots of :func:`ecglib.plots.severity.severity_boxplot_figure`.

**Uncertainty on patients.** A patient contributes several ECGs that share the grade and most
of the signal, so scipy's p-value (a t approximation with ``n - 2`` df over ECGs) is too small;
it is not reported. The interval of rho is the percentile interval of the patient bootstrap
(:mod:`ecglib.metrics.resamples`): rho is recomputed on every resample of whole patients,
:func:`spearman_resampled` doing all resamples at once. The cluster-valid test of "no trend" is
whether that ``level`` interval excludes 0 (a two-sided test at ``1 - level`` by inverting the
percentile interval; Davison & Hinkley 1997, sec. 4.4).

References
----------
Spearman C. The proof and measurement of association between two things. Am J Psychol
1904;15:72-101.

Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge University Press
1997, sec. 3.8 (clustered data) and 4.4 (tests from confidence intervals).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ecglib import schema
from ecglib.metrics.resamples import PatientResamples, percentile_interval

__all__ = ["severity_trend", "spearman_resampled", "grade_summary", "TREND_COLUMNS"]

#: Columns of :func:`severity_trend`.
TREND_COLUMNS: tuple[str, ...] = (
    "vessel",
    "n",
    "patients",
    "grades_present",
    "rho",
    "rho_lo",
    "rho_hi",
    "excludes_0",
    "n_boot",
    "n_boot_undefined",
)

# Resamples per block of spearman_resampled: bounds the (block, N) rank arrays to ~2e6 floats.
_BLOCK_ELEMENTS = 2_000_000


def _columns(predictions: pd.DataFrame, vessel: str) -> tuple[np.ndarray, np.ndarray]:
    need = [schema.prob_col(vessel), schema.grade_col(vessel)]
    absent = [c for c in need if c not in predictions.columns]
    if absent:
        raise KeyError(
            f"predictions lack column(s) {absent}; the severity trend needs "
            "p_<vessel> and grade_<vessel>"
        )
    p = predictions[need[0]].to_numpy(dtype=float)
    g = predictions[need[1]].to_numpy(dtype=float)
    bad = ~np.isin(g, list(schema.GRADES)) | ~np.isfinite(p)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{vessel}: row {predictions.index[i]!r} has grade {g[i]:g} and "
            f"probability {p[i]:g}; grades must be 0-4 and probabilities finite "
            f"({int(bad.sum())} such rows)"
        )
    return p, g.astype(int)


def severity_trend(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    *,
    resamples: PatientResamples | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Spearman's rho between predicted probability and grade per vessel, with its patient
    bootstrap interval.

    Columns :data:`TREND_COLUMNS`: ``n`` ECGs, ``patients`` (distinct ``patient`` codes; NaN
    without that column), the grades present, ``rho`` (``scipy.stats.spearmanr`` on the ECGs),
    ``rho_lo``/``rho_hi`` (the ``level`` percentile interval of rho over ``resamples``, the
    rows weighted by :meth:`PatientResamples.weights` of their ``patient`` column),
    ``excludes_0`` (the interval lies wholly above or below 0: the cluster-valid test of "no
    trend" at ``1 - level``), the resamples and those where rho is undefined (one grade or one
    probability drawn: left out of the interval). Without ``resamples`` the interval columns
    are NaN and ``excludes_0`` is False. A vessel with a single grade present (or constant
    probabilities) has no rank correlation: NaN throughout. Default vessels: those the table
    has labels for (:func:`ecglib.schema.vessels_of`).
    """
    vessels = schema.vessels_of(predictions, vessels)
    weights = None
    if resamples is not None:
        if "patient" not in predictions.columns:
            raise KeyError("predictions lack the patient column the patient bootstrap needs")
        weights = resamples.weights(predictions["patient"])
    patients = predictions["patient"].nunique() if "patient" in predictions.columns else np.nan
    rows = []
    for vessel in vessels:
        p, g = _columns(predictions, vessel)
        present = np.unique(g)
        rho = lo = hi = np.nan
        n_boot = n_undefined = 0
        if len(present) >= 2 and np.ptp(p) > 0:
            rho = float(stats.spearmanr(p, g).statistic)
            if weights is not None:
                boot = spearman_resampled(p, g, weights)
                lo, hi = (float(b) for b in percentile_interval(boot, level))
                n_boot, n_undefined = len(boot), int(np.isnan(boot).sum())
        rows.append(
            {
                "vessel": vessel,
                "n": len(p),
                "patients": patients,
                "grades_present": len(present),
                "rho": rho,
                "rho_lo": lo,
                "rho_hi": hi,
                "excludes_0": bool(lo > 0 or hi < 0),
                "n_boot": n_boot,
                "n_boot_undefined": n_undefined,
            }
        )
    return pd.DataFrame(rows, columns=list(TREND_COLUMNS))


def spearman_resampled(x, y, weights) -> np.ndarray:
    """Spearman's rho of ``(x, y)`` in each resample given by frequency ``weights`` ``(B, N)``.

    Equals ``scipy.stats.spearmanr`` on the materialised resample (row ``i`` repeated
    ``w_bi`` times): with frequency weights the midrank of a value is

    .. math::  r_i = \\sum_{j: x_j < x_i} w_j + \\tfrac12 \\big(\\sum_{j: x_j = x_i} w_j + 1\\big),

    and rho is the weighted Pearson correlation of the midranks of ``x`` and ``y``. NaN where a
    resample holds one distinct value of ``x`` or ``y``.

    Hand-written because ``scipy.stats.spearmanr`` takes no weights: through it every resample
    would be materialised and sorted in a Python loop (:func:`~ecglib.metrics.resamples.
    loop_reference`). The order of the values does not depend on the resample, so one sort of
    ``x`` and of ``y`` serves all of them; per resample the midranks are cumulative sums of the
    weights over the sorted ties groups, array operations over a block of resamples.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    w = np.asarray(weights)
    if w.ndim != 2 or w.shape[1] != len(x) or len(y) != len(x):
        raise ValueError(
            f"weights must be (resamples, {len(x)}) for {len(x)} x and {len(y)} y values, "
            f"got shape {w.shape}"
        )
    rank_x, rank_y = _FrequencyMidranks(x), _FrequencyMidranks(y)
    out = np.empty(len(w))
    block = max(1, _BLOCK_ELEMENTS // max(len(x), 1))
    for start in range(0, len(w), block):
        wb = w[start : start + block].astype(float)
        rx, defined_x = rank_x(wb)
        ry, defined_y = rank_y(wb)
        total = wb.sum(axis=1, keepdims=True)
        dx = rx - (wb * rx).sum(axis=1, keepdims=True) / total
        dy = ry - (wb * ry).sum(axis=1, keepdims=True) / total
        cov = (wb * dx * dy).sum(axis=1)
        var = (wb * dx * dx).sum(axis=1) * (wb * dy * dy).sum(axis=1)
        ok = defined_x & defined_y
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + block] = np.where(ok, cov / np.sqrt(np.where(ok, var, 1.0)), np.nan)
    return out


class _FrequencyMidranks:
    """Midranks of fixed values under per-resample frequency weights (one sort, reused)."""

    def __init__(self, values: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        ordered = values[self.order]
        first = np.r_[True, ordered[1:] != ordered[:-1]]
        #: Where each ties group starts in the sorted order.
        self.starts = np.flatnonzero(first)
        #: The ties group of each row, in the rows' own order.
        self.group = np.empty(len(values), dtype=np.intp)
        self.group[self.order] = np.cumsum(first) - 1

    def __call__(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(ranks, defined)``: ``(b, N)`` midranks and, per resample, whether it holds at
        least two distinct values (else the ranks are constant and rho undefined)."""
        totals = np.add.reduceat(w[:, self.order], self.starts, axis=1)  # (b, groups)
        below = np.cumsum(totals, axis=1) - totals
        mid = below + (totals + 1) / 2
        return mid[:, self.group], (totals > 0).sum(axis=1) >= 2


def grade_summary(predictions: pd.DataFrame, vessels: Sequence[str] | None = None) -> pd.DataFrame:
    """Median and IQR of the predicted probability per vessel and grade (descriptive, ECGs).

    Columns: ``vessel, grade, grade_name, n, patients, median, q1, q3, mean``; one row per grade
    of the scale (0-4), with ``n = 0`` and NaN statistics for a grade nobody has. ``n`` counts
    ECGs, ``patients`` the distinct patients among them (NaN without a ``patient`` column).
    """
    vessels = schema.vessels_of(predictions, vessels)
    codes = predictions["patient"].to_numpy() if "patient" in predictions.columns else None
    rows = []
    for vessel in vessels:
        p, g = _columns(predictions, vessel)
        for grade, name in schema.GRADES.items():
            at = g == grade
            x = p[at]
            if x.size:
                q1, med, q3 = np.percentile(x, [25, 50, 75])
                mean = float(x.mean())
            else:
                q1 = med = q3 = mean = np.nan
            rows.append(
                {
                    "vessel": vessel,
                    "grade": grade,
                    "grade_name": name,
                    "n": int(x.size),
                    "patients": len(pd.unique(codes[at])) if codes is not None else np.nan,
                    "median": float(med),
                    "q1": float(q1),
                    "q3": float(q3),
                    "mean": mean,
                }
            )
    return pd.DataFrame(rows)
