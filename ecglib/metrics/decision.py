"""Decision-curve analysis: net benefit of the model against treat-all and treat-none.

At a threshold probability ``pt`` (the risk at which one would refer a patient for CCTA), a
patient is "treated" when ``p >= pt``; with TP and FP counted among the ``n`` patients,

    NB(pt)         = TP/n - FP/n * pt / (1 - pt)
    NB_all(pt)     = prevalence - (1 - prevalence) * pt / (1 - pt)      (treat everybody)
    NB_none(pt)    = 0                                                   (treat nobody)

(Vickers & Elkin, Med Decis Making 2006;26:565; Vickers, van Calster & Steyerberg, BMJ
2016;352:i6). The weight ``pt / (1 - pt)`` is the odds at the threshold: the harm of a false
positive relative to the benefit of a true positive that the threshold implies.

Written by hand because neither scikit-learn nor statsmodels has net benefit, and the formula
is three lines. Threshold ranges are arguments: the LM range must be narrower and lower (its
prevalence is a few percent, the paper's high-risk cut-off 1%); :data:`DEFAULT_THRESHOLD_RANGES`
is a params-style default.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics._inputs import as_binary, as_probability, same_length

#: Threshold-probability ranges (inclusive) per vessel: wide for the common lesions, narrow and
#: low for LM, whose prevalence is a few percent.
DEFAULT_THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "RCA": (0.01, 0.50),
    "LM": (0.001, 0.10),
    "LAD": (0.01, 0.50),
    "LCX": (0.01, 0.50),
}


def threshold_grid(low: float, high: float, n: int = 50) -> np.ndarray:
    """``n`` evenly spaced threshold probabilities from ``low`` to ``high`` (both in (0, 1))."""
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1, got low={low!r}, high={high!r}")
    return np.linspace(low, high, n)


def net_benefit(y, p, thresholds) -> np.ndarray:
    """Net benefit ``TP/n - FP/n * pt/(1-pt)`` of treating ``p >= pt``, for each ``pt``."""
    y, p = as_binary(y), as_probability(p)
    n = same_length(y=y, p=p)
    pt = _check_thresholds(thresholds)
    treat = p[None, :] >= pt[:, None]  # (thresholds, patients)
    tp = (treat & (y[None, :] == 1)).sum(axis=1)
    fp = (treat & (y[None, :] == 0)).sum(axis=1)
    return tp / n - fp / n * pt / (1.0 - pt)


def net_benefit_treat_all(y, thresholds) -> np.ndarray:
    """Net benefit of treating everybody: ``prevalence - (1 - prevalence) * pt/(1-pt)``."""
    y = as_binary(y)
    pt = _check_thresholds(thresholds)
    prevalence = y.mean()
    return prevalence - (1.0 - prevalence) * pt / (1.0 - pt)


def net_benefit_of_rule(y, treat, thresholds) -> np.ndarray:
    """Net benefit of a fixed yes/no strategy (e.g. "refer the AI high-risk stratum") at ``pt``."""
    y, treat = as_binary(y), as_binary(treat, "treat")
    n = same_length(y=y, treat=treat)
    pt = _check_thresholds(thresholds)
    tp, fp = np.sum((treat == 1) & (y == 1)), np.sum((treat == 1) & (y == 0))
    return tp / n - fp / n * pt / (1.0 - pt)


def decision_curve(y, p, thresholds) -> pd.DataFrame:
    """One row per threshold: ``threshold, model, treat_all, treat_none`` (net benefits)."""
    pt = _check_thresholds(thresholds)
    return pd.DataFrame(
        {
            "threshold": pt,
            "model": net_benefit(y, p, pt),
            "treat_all": net_benefit_treat_all(y, pt),
            "treat_none": 0.0,
        }
    )


def decision_curves(
    table: pd.DataFrame,
    ranges: Mapping[str, tuple[float, float]] = DEFAULT_THRESHOLD_RANGES,
    n: int = 50,
) -> pd.DataFrame:
    """:func:`decision_curve` per vessel over its range, long format with a ``vessel`` column.

    Also carries each vessel's ``prevalence`` (the treat-all curve meets zero at
    ``pt = prevalence``). A vessel the table has no labels for (not assessed) is left out.
    """
    parts = []
    for vessel, (low, high) in schema.assessed_entries(table, ranges).items():
        y = as_binary(table[schema.label_col(vessel)], schema.label_col(vessel))
        curve = decision_curve(y, table[schema.prob_col(vessel)], threshold_grid(low, high, n))
        parts.append(curve.assign(vessel=vessel, prevalence=y.mean()))
    return pd.concat(parts, ignore_index=True)


def net_benefit_at(table: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Net benefit of the model, of treating all and of treating none at one threshold
    probability per vessel (e.g. the run's high-risk cut-offs), one row per vessel the table
    assesses: ``vessel, threshold, prevalence, model, treat_all, treat_none``."""
    rows = []
    for vessel, pt in schema.assessed_entries(table, thresholds).items():
        y = table[schema.label_col(vessel)]
        curve = decision_curve(y, table[schema.prob_col(vessel)], [pt])
        rows.append(
            {
                "vessel": vessel,
                "threshold": float(pt),
                "prevalence": float(np.mean(y)),
                "model": float(curve["model"].iloc[0]),
                "treat_all": float(curve["treat_all"].iloc[0]),
                "treat_none": 0.0,
            }
        )
    return pd.DataFrame(rows)


def _check_thresholds(thresholds) -> np.ndarray:
    pt = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if pt.ndim != 1 or not np.all((pt > 0) & (pt < 1)):
        raise ValueError(
            "threshold probabilities must lie strictly between 0 and 1 "
            "(the weight pt/(1-pt) is undefined at 1 and meaningless at 0)"
        )
    return pt
