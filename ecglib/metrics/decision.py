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

**Intervals on patients.** A patient contributes several ECGs, so the uncertainty of a net
benefit comes from the patient bootstrap (:mod:`ecglib.metrics.resamples`). Net benefit is a
weighted mean of per-row contributions,

    NB_b(pt) = sum_i w_bi c_i(pt) / sum_i w_bi,   c_i(pt) = [p_i >= pt] (y_i - (1 - y_i) pt/(1-pt)),

so every resample and every threshold come from one ``(B, N) @ (N, T)`` product
(:func:`net_benefit_resampled`); the interval is the percentile interval over the resamples.
The curves and tables take the run's ``resamples`` and their rows' ``patient`` codes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics._inputs import as_binary, as_probability, same_length
from ecglib.metrics.resamples import PatientResamples, percentile_interval

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


def net_benefit_resampled(y, p, thresholds, weights) -> np.ndarray:
    """``(B, T)`` net benefit of treating ``p >= pt`` in each resample given by the frequency
    ``weights`` ``(B, N)`` (module docstring): the materialised resample's
    :func:`net_benefit`, for all resamples and thresholds from one matrix product."""
    w = _check_weights(weights, len(as_binary(y)))
    return _per_resample(w @ _contributions(y, p, thresholds), w.sum(axis=1, keepdims=True))


def treat_all_resampled(y, thresholds, weights) -> np.ndarray:
    """``(B, T)`` net benefit of treating everybody in each resample (its own prevalence): the
    model that treats every row, through the same product (so where the model treats
    everybody the two agree to the last bit)."""
    y = as_binary(y)
    return net_benefit_resampled(y, np.ones(len(y)), thresholds, weights)


def _contributions(y, p, thresholds) -> np.ndarray:
    """``(N, T)`` per-row terms ``[p_i >= pt] (y_i - (1 - y_i) pt/(1-pt))`` of the net benefit."""
    y, p = as_binary(y), as_probability(p)
    same_length(y=y, p=p)
    pt = _check_thresholds(thresholds)
    treat = p[:, None] >= pt[None, :]
    return treat * (y[:, None] - (1 - y[:, None]) * (pt / (1.0 - pt))[None, :])


def decision_curve(y, p, thresholds, weights=None, *, level: float = 0.95) -> pd.DataFrame:
    """One row per threshold: ``threshold, model, model_lo, model_hi, treat_all, treat_none``
    (net benefits); ``model_lo/hi`` is the ``level`` percentile band of the model's net
    benefit over the resamples of ``weights`` (NaN without them)."""
    pt = _check_thresholds(thresholds)
    lo = hi = np.full(len(pt), np.nan)
    if weights is not None:
        lo, hi = percentile_interval(net_benefit_resampled(y, p, pt, weights), level)
    return pd.DataFrame(
        {
            "threshold": pt,
            "model": net_benefit(y, p, pt),
            "model_lo": lo,
            "model_hi": hi,
            "treat_all": net_benefit_treat_all(y, pt),
            "treat_none": 0.0,
        }
    )


def decision_curves(
    table: pd.DataFrame,
    ranges: Mapping[str, tuple[float, float]] = DEFAULT_THRESHOLD_RANGES,
    n: int = 50,
    *,
    resamples: PatientResamples | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """:func:`decision_curve` per vessel over its range, long format with a ``vessel`` column;
    with ``resamples``, the model's patient-bootstrap band from the rows' ``patient`` codes.

    Also carries each vessel's ``prevalence`` (the treat-all curve meets zero at
    ``pt = prevalence``). A vessel the table has no labels for (not assessed) is left out.
    """
    weights = _table_weights(table, resamples)
    parts = []
    for vessel, (low, high) in schema.assessed_entries(table, ranges).items():
        y = as_binary(table[schema.label_col(vessel)], schema.label_col(vessel))
        curve = decision_curve(
            y, table[schema.prob_col(vessel)], threshold_grid(low, high, n), weights, level=level
        )
        parts.append(curve.assign(vessel=vessel, prevalence=y.mean()))
    return pd.concat(parts, ignore_index=True)


#: Net benefits of :func:`net_benefit_at`, each with ``_lo`` and ``_hi`` columns.
NET_BENEFITS: tuple[str, ...] = ("model", "treat_all", "advantage")


def net_benefit_at(
    table: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    resamples: PatientResamples | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Net benefit of the model, of treating all and of treating none at one threshold
    probability per vessel (e.g. the run's high-risk cut-offs), one row per vessel the table
    assesses: ``vessel, threshold, n, patients, prevalence``, then ``model``, ``treat_all`` and
    ``advantage`` (the model's net benefit minus the better of treating all and treating
    none), each with its ``level`` patient-bootstrap percentile interval (``_lo``, ``_hi``;
    the resamples of ``resamples`` from the rows' ``patient`` codes, NaN without them), and
    ``treat_none`` (0)."""
    weights = _table_weights(table, resamples)
    patients = table["patient"].nunique() if "patient" in table.columns else np.nan
    rows = []
    for vessel, pt in schema.assessed_entries(table, thresholds).items():
        y = as_binary(table[schema.label_col(vessel)], schema.label_col(vessel))
        p = table[schema.prob_col(vessel)]
        model = net_benefit(y, p, [pt])[0]
        treat_all = net_benefit_treat_all(y, [pt])[0]
        row = {
            "vessel": vessel,
            "threshold": float(pt),
            "n": len(y),
            "patients": patients,
            "prevalence": float(np.mean(y)),
        }
        values = {"model": model, "treat_all": treat_all}
        values["advantage"] = model - max(treat_all, 0.0)
        boot = {name: np.full(1, np.nan) for name in NET_BENEFITS}
        if weights is not None:
            boot["model"] = net_benefit_resampled(y, p, [pt], weights)[:, 0]
            boot["treat_all"] = treat_all_resampled(y, [pt], weights)[:, 0]
            boot["advantage"] = boot["model"] - np.maximum(boot["treat_all"], 0.0)
        for name in NET_BENEFITS:
            lo, hi = percentile_interval(boot[name], level)
            row.update(
                {name: float(values[name]), f"{name}_lo": float(lo), f"{name}_hi": float(hi)}
            )
        row["treat_none"] = 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def _table_weights(table: pd.DataFrame, resamples: PatientResamples | None):
    """The ``(B, N)`` resample weights of ``table``'s rows (None without resamples)."""
    return None if resamples is None else resamples.table_weights(table)


def _per_resample(total: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``total / weight``, NaN for a resample that draws none of the rows (weight 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)


def _check_weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"weights must be (resamples, {n}) for {n} rows, got shape {w.shape}")
    return w


def _check_thresholds(thresholds) -> np.ndarray:
    pt = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if pt.ndim != 1 or not np.all((pt > 0) & (pt < 1)):
        raise ValueError(
            "threshold probabilities must lie strictly between 0 and 1 "
            "(the weight pt/(1-pt) is undefined at 1 and meaningless at 0)"
        )
    return pt
