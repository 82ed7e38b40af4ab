"""Predicted probability by stenosis grade: the severity trend per vessel.

If the model tracks disease, a vessel's predicted probability should rise with its ordinal CCTA
grade (0 none, 1 mild, 2 moderate, 3 severe, 4 occluded), not only across the binary cut at
grade 3. :func:`severity_trend` measures the monotone association by Spearman's rank
correlation (``scipy.stats.spearmanr``; ties, which an ordinal grade is full of, get midranks,
and the p-value comes from the t approximation with ``n - 2`` df); :func:`grade_summary`
tabulates the median and interquartile range per grade, the numbers behind the box plots of
:func:`ecglib.plots.severity.severity_boxplot_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ecglib import schema


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


def severity_trend(predictions: pd.DataFrame, vessels: Sequence[str] | None = None) -> pd.DataFrame:
    """Spearman's rho between predicted probability and grade, per vessel.

    Columns: ``vessel, n, grades_present, rho, p_value``. A vessel with a single grade
    present (or constant probabilities) has no rank correlation: rho and p are NaN. Default
    vessels: those the table has labels for (:func:`ecglib.schema.vessels_of`).
    """
    vessels = schema.vessels_of(predictions, vessels)
    rows = []
    for vessel in vessels:
        p, g = _columns(predictions, vessel)
        present = np.unique(g)
        if len(present) < 2 or np.ptp(p) == 0:
            rho, pval = np.nan, np.nan
        else:
            res = stats.spearmanr(p, g)
            rho, pval = float(res.statistic), float(res.pvalue)
        rows.append(
            {
                "vessel": vessel,
                "n": len(p),
                "grades_present": len(present),
                "rho": rho,
                "p_value": pval,
            }
        )
    return pd.DataFrame(rows)


def grade_summary(predictions: pd.DataFrame, vessels: Sequence[str] | None = None) -> pd.DataFrame:
    """Median and IQR of the predicted probability per vessel and grade.

    Columns: ``vessel, grade, grade_name, n, median, q1, q3, mean``; one row per grade of the
    scale (0-4), with ``n = 0`` and NaN statistics for a grade nobody has.
    """
    vessels = schema.vessels_of(predictions, vessels)
    rows = []
    for vessel in vessels:
        p, g = _columns(predictions, vessel)
        for grade, name in schema.GRADES.items():
            x = p[g == grade]
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
                    "median": float(med),
                    "q1": float(q1),
                    "q3": float(q3),
                    "mean": mean,
                }
            )
    return pd.DataFrame(rows)
