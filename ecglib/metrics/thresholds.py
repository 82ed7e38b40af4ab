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
not 0.

The paper's high-risk thresholds (>= 15% for RCA, LAD and LCX, after the 2019 ESC pre-test
probability cut-off; >= 1% for LM, ten times its 0.1% population prevalence) are
:data:`PAPER_HIGH_RISK_THRESHOLDS`, a params-style mapping that every function takes as an
argument, so a run can change them in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ecglib import schema
from ecglib.metrics._inputs import as_binary, as_probability, same_length

#: The paper's high-risk cut-offs per vessel (probability; a patient is high risk at >=).
PAPER_HIGH_RISK_THRESHOLDS: dict[str, float] = {"RCA": 0.15, "LM": 0.01, "LAD": 0.15, "LCX": 0.15}

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
    params. A vessel the table has no labels for (not assessed) is left out.
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
