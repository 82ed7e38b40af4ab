"""Operating points at fixed probability thresholds: sensitivity, specificity, PPV, NPV with CIs.

A patient is *high risk* for a vessel when ``p >= threshold`` (the paper's ">= 15%"). At that
cut-off, with TP, FP, TN, FN counted on the data at hand,

    sensitivity = TP / (TP + FN)        specificity = TN / (TN + FP)
    PPV         = TP / (TP + FP)        NPV         = TN / (TN + FN)

each with a binomial confidence interval from
:func:`statsmodels.stats.proportion.proportion_confint`: Wilson's score interval (``wilson``,
Wilson 1927; the default: good coverage without being as conservative as the exact interval)
or the exact Clopper-Pearson interval (``clopper-pearson``, Clopper & Pearson 1934; statsmodels
calls it ``beta``). A proportion whose denominator is zero (no high-risk patient, say) is NaN,
not 0. Those binomial intervals treat every row as independent: they suit a table with one row
per patient. When a patient contributes several ECGs, :func:`operating_points_bootstrap` gives
the same estimates with patient-bootstrap percentile intervals from the run's shared resamples
(:mod:`ecglib.metrics.resamples`), every resample at once: each of the four proportions is a
ratio of weighted sums, e.g. for resample ``b`` with row weights ``w_bi``

    sensitivity_b = sum_i w_bi 1[p_i >= t] y_i / sum_i w_bi y_i

(:func:`ecglib.metrics.resamples.weighted_rate`), the sensitivity of the materialised resample.

The paper's high-risk thresholds (>= 15% for RCA, LAD and LCX, after the 2019 ESC pre-test
probability cut-off; >= 1% for LM, ten times its 0.1% population prevalence) are
:data:`PAPER_HIGH_RISK_THRESHOLDS`, a params-style mapping that every function takes as an
argument, so a run can change them in one place.

**What a per-vessel 15% is, against the guideline's 15%** (:func:`cutoffs_against_obstructive`).
The ESC 2019 threshold is a patient-level pre-test probability of *obstructive* CAD (a stenosis
of at least 50% in any vessel; grade >= :data:`OBSTRUCTIVE_GRADE` in the cohort map). A vessel's
label is a severe stenosis or occlusion (>= 70%) of that one artery, which is obstructive CAD,
so for a calibrated model ``P(obstructive) >= P(this vessel severe) >= t`` for every ECG at or
above a vessel's cut-off ``t``: a flagged ECG is in the guideline's testing range. The converse
does not hold: an ECG below every vessel's cut-off can carry a higher probability of obstructive
CAD (moderate stenoses, several vessels), so "not high risk" is no rule-out. The function puts
both sides on the data: the rate of obstructive CAD among the ECGs flagged for each vessel and
among those flagged for none.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ecglib import schema
from ecglib.metrics._inputs import as_binary, as_probability, require_columns, same_length
from ecglib.metrics.resamples import percentile_interval, weighted_rate

#: The paper's high-risk cut-offs per vessel (probability; a patient is high risk at >=).
PAPER_HIGH_RISK_THRESHOLDS: dict[str, float] = {"RCA": 0.15, "LM": 0.01, "LAD": 0.15, "LCX": 0.15}

#: A vessel is obstructive in the ESC pre-test probability's sense from this grade on (at least
#: 50%: "moderate" on the cohort map's scale, :data:`ecglib.schema.GRADES`).
OBSTRUCTIVE_GRADE = 2

#: The four proportions of an operating point: name -> (event, denominator) as functions of the
#: label ``y`` and the flag ``high`` (boolean arrays).
PROPORTIONS = {
    "sensitivity": (lambda y, high: high, lambda y, high: y),
    "specificity": (lambda y, high: ~high, lambda y, high: ~y),
    "ppv": (lambda y, high: y, lambda y, high: high),
    "npv": (lambda y, high: ~y, lambda y, high: ~high),
}

#: CI methods accepted, mapped to statsmodels' names.
CI_METHODS = {"wilson": "wilson", "clopper-pearson": "beta", "beta": "beta"}


def proportion_ci(
    count, nobs, *, method: str = "wilson", alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proportion ``count / nobs`` with its ``1 - alpha`` CI (statsmodels ``proportion_confint``).

    Returns ``(estimate, lower, upper)`` as float arrays; entries with ``nobs == 0`` are NaN.
    """
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; expected one of {sorted(CI_METHODS)}")
    count = np.atleast_1d(np.asarray(count, dtype=float))
    nobs = np.atleast_1d(np.asarray(nobs, dtype=float))
    count, nobs = np.broadcast_arrays(count, nobs)
    est = np.full(count.shape, np.nan)
    lo, hi = est.copy(), est.copy()
    ok = nobs > 0
    if ok.any():
        est[ok] = count[ok] / nobs[ok]
        lo[ok], hi[ok] = proportion_confint(
            count[ok], nobs[ok], alpha=alpha, method=CI_METHODS[method]
        )
    return est, lo, hi


def high_risk(p, threshold: float) -> np.ndarray:
    """Boolean array: ``p >= threshold`` (a probability exactly at the cut-off is high risk)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability, got {threshold!r}")
    return as_probability(p) >= threshold


def confusion_counts(y, predicted) -> dict[str, int]:
    """TP, FP, TN, FN of binary predictions against binary labels."""
    y = as_binary(y)
    pred = as_binary(predicted, "predicted")
    same_length(y=y, predicted=pred)
    return {
        "tp": int(np.sum((pred == 1) & (y == 1))),
        "fp": int(np.sum((pred == 1) & (y == 0))),
        "tn": int(np.sum((pred == 0) & (y == 0))),
        "fn": int(np.sum((pred == 0) & (y == 1))),
    }


def operating_point(
    y, p, threshold: float, *, method: str = "wilson", alpha: float = 0.05
) -> dict[str, float]:
    """Sensitivity, specificity, PPV and NPV (with CIs) of ``p >= threshold``.

    Returns a flat dict: ``threshold, n, n_pos, tp, fp, tn, fn, high_risk_share`` and for each
    of ``sensitivity, specificity, ppv, npv`` the estimate and ``<name>_lo``, ``<name>_hi``.
    """
    y = as_binary(y)
    p = as_probability(p)
    same_length(y=y, p=p)
    c = confusion_counts(y, high_risk(p, threshold))
    share = float(np.mean(p >= threshold)) if len(y) else np.nan
    out: dict[str, float] = {
        "threshold": float(threshold),
        "n": len(y),
        "n_pos": int(y.sum()),
        **c,
        "high_risk_share": share,
    }
    for name, num, den in (
        ("sensitivity", c["tp"], c["tp"] + c["fn"]),
        ("specificity", c["tn"], c["tn"] + c["fp"]),
        ("ppv", c["tp"], c["tp"] + c["fp"]),
        ("npv", c["tn"], c["tn"] + c["fn"]),
    ):
        est, lo, hi = proportion_ci(num, den, method=method, alpha=alpha)
        out[name], out[f"{name}_lo"], out[f"{name}_hi"] = float(est[0]), float(lo[0]), float(hi[0])
    return out


def operating_points(
    table: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    method: str = "wilson",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`operating_point` for every vessel in ``thresholds``, one row per vessel.

    ``table`` holds the ``y_<vessel>`` and ``p_<vessel>`` columns (:mod:`ecglib.schema`);
    ``thresholds`` maps vessel -> cut-off, e.g. :data:`PAPER_HIGH_RISK_THRESHOLDS` or the run's
    params. A vessel the table has no labels for (not assessed) is left out. The binomial
    intervals assume independent rows (one row per patient); with several ECGs per patient use
    :func:`operating_points_bootstrap`.
    """
    rows = []
    for vessel, threshold in schema.assessed_entries(table, thresholds).items():
        point = operating_point(
            table[schema.label_col(vessel)],
            table[schema.prob_col(vessel)],
            threshold,
            method=method,
            alpha=alpha,
        )
        rows.append({"vessel": vessel, **point})
    return pd.DataFrame(rows).set_index("vessel")


def operating_points_bootstrap(
    table: pd.DataFrame, thresholds: Mapping[str, float], weights, *, level: float = 0.95
) -> pd.DataFrame:
    """:func:`operating_points` with patient-bootstrap percentile intervals.

    ``weights`` is ``(B, N)``, the count of each row of ``table`` in each of the run's shared
    patient resamples (:meth:`ecglib.metrics.resamples.PatientResamples.weights`). The counts and
    estimates are :func:`operating_points`'; ``<name>_lo``/``<name>_hi`` are the ``level``
    percentile interval of the proportion over the resamples, all vessels and resamples at once
    (module docstring). A resample where a proportion has no denominator (no high-risk ECG
    drawn, say) leaves it out; ``<name>_undefined`` counts those, ``n_boot`` the resamples.
    """
    points = operating_points(table, thresholds)
    w = np.asarray(weights)
    if w.ndim != 2 or w.shape[1] != len(table):
        raise ValueError(
            f"weights must be (n_boot, {len(table)}) resample counts of the table's rows, "
            f"got shape {w.shape}"
        )
    vessels = points.index.tolist()
    y = table[schema.label_cols(vessels)].to_numpy(dtype=float) == 1
    high = table[schema.prob_cols(vessels)].to_numpy(dtype=float) >= points["threshold"].to_numpy()
    for name, (event, among) in PROPORTIONS.items():
        values = weighted_rate(w, event(y, high), among=among(y, high))
        points[f"{name}_lo"], points[f"{name}_hi"] = percentile_interval(values, level)
        points[f"{name}_undefined"] = np.isnan(values).sum(axis=0)
    points["n_boot"] = len(w)
    return points


def cutoffs_against_obstructive(
    table: pd.DataFrame,
    thresholds: Mapping[str, float],
    weights,
    *,
    min_grade: int = OBSTRUCTIVE_GRADE,
    level: float = 0.95,
) -> pd.DataFrame:
    """The per-vessel cut-offs against the guideline's outcome, obstructive CAD in any vessel
    (module docstring).

    One row per assessed vessel: ``threshold``, ``prevalence`` (share of rows with the vessel's
    own label), ``flagged`` (rows at or above the cut-off) and ``flagged_share``, ``ppv`` (the
    vessel's own label among them) and ``obstructive`` (share with grade >= ``min_grade``,
    default :data:`OBSTRUCTIVE_GRADE`, in any assessed vessel among them) with its patient-bootstrap
    percentile interval ``obstructive_lo``/``obstructive_hi`` (``weights`` as for
    :func:`operating_points_bootstrap`). A last row ``none`` holds the rows below every
    vessel's cut-off. The overall obstructive share is the ``obstructive`` of a row ``all``.
    """
    entries = schema.assessed_entries(table, thresholds)
    vessels = list(entries)
    require_columns(table, schema.grade_cols(vessels), "the obstructive-CAD outcome")
    grades = table[schema.grade_cols(vessels)].to_numpy(dtype=float)
    if np.isnan(grades).any():
        row, col = np.argwhere(np.isnan(grades))[0]
        raise ValueError(f"row {row} has no {schema.grade_cols(vessels)[col]}")
    obstructive = (grades >= min_grade).any(axis=1)
    y = table[schema.label_cols(vessels)].to_numpy(dtype=float) == 1
    p = np.column_stack(
        [as_probability(table[schema.prob_col(v)], schema.prob_col(v)) for v in vessels]
    )
    high = p >= np.array(list(entries.values()))
    groups = np.column_stack([high, ~high.any(axis=1), np.ones(len(table), bool)])
    w = np.asarray(weights)
    values = weighted_rate(w, np.repeat(obstructive[:, None], groups.shape[1], 1), among=groups)
    lo, hi = percentile_interval(values, level)
    n = groups.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "threshold": [*entries.values(), np.nan, np.nan],
                "prevalence": [*y.mean(axis=0), np.nan, np.nan],
                "flagged": n,
                "flagged_share": n / len(table),
                "ppv": [*((y & high).sum(axis=0) / high.sum(axis=0)), np.nan, np.nan],
                "obstructive": (obstructive[:, None] & groups).sum(axis=0) / n,
                "obstructive_lo": lo,
                "obstructive_hi": hi,
            },
            index=pd.Index([*vessels, "none", "all"], name="vessel"),
        )
    return out
