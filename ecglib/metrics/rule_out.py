"""A rule-out threshold for a target negative predictive value (NPV), cross-fitted, and what it
does on new patients.

**The threshold** (:func:`npv_threshold`). A score rules a patient out when ``p <= t``. Among
the candidate thresholds (the distinct scores, ties ruled out together) the one chosen is the
**largest** ``t`` whose ruled-out group reaches the target,

.. math::

    t^* = \\max \\{ t : \\mathrm{NPV}(t) \\ge \\mathrm{target} \\}, \\qquad
    \\mathrm{NPV}(t) = \\frac{\\#\\{i : p_i \\le t, y_i = 0\\}}{\\#\\{i : p_i \\le t\\}},

so that as many patients as possible are ruled out at the target NPV (the protocol of Sun et
al., Int J Cardiol Heart Vasc 2025;60:101772: a threshold for a 95% NPV fixed on the development
data, then applied unchanged to the external site). The NPV is not monotone in ``t``; taking
the largest qualifying ``t`` is the usual reading of "the threshold that reaches an NPV of 95%".
When no threshold reaches the target, ``t* = -inf``: nobody is ruled out.

**Cross-fitting** (:func:`crossfit_rule_out`), as :func:`ecglib.metrics.strata.crossfit_strata`
does for the risk strata: each fold's threshold is chosen on the other folds' rows and applied to
its own, so no row's label enters the threshold that rules it out or in.

**What the protocol does** (:func:`rule_out_performance`): the share ruled out, the positives
among them (missed), the prevalence among the ruled out (``1 - NPV``) and among the ruled in,
and the share of all positives missed; the intervals are percentile intervals of patient
resamples (:func:`ecglib.metrics.resamples.weighted_rate`,
:func:`~ecglib.metrics.resamples.percentile_interval`), every proportion a ratio of weighted
sums computed for all resamples at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglib.metrics._inputs import as_binary, same_length
from ecglib.metrics.resamples import percentile_interval, weighted_rate

__all__ = [
    "npv_threshold",
    "ruled_out",
    "crossfit_rule_out",
    "rule_out_performance",
    "PERFORMANCE",
]

#: Tolerance of the NPV comparison (95/100 reaches 0.95 despite binary floating point).
_EPS = 1e-12

#: The proportions of :func:`rule_out_performance`: name -> (events, among) in words.
PERFORMANCE: dict[str, str] = {
    "share_ruled_out": "ruled out, of all",
    "prevalence_ruled_out": "positive, among the ruled out (1 - NPV)",
    "prevalence_ruled_in": "positive, among the ruled in",
    "missed_of_positives": "ruled out, among the positives (1 - sensitivity)",
}


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = as_binary(y)
    p = np.asarray(p, dtype=float).ravel()
    same_length(y=y, p=p)
    if len(y) == 0:
        raise ValueError("no rows to choose a rule-out threshold on")
    if not np.isfinite(p).all():
        i = int(np.flatnonzero(~np.isfinite(p))[0])
        raise ValueError(f"score of row {i} is not finite ({p[i]})")
    return y, p


def npv_threshold(y, p, target: float = 0.95) -> float:
    """The largest score ``t`` with ``NPV(p <= t) >= target`` (module docstring); ``-inf``
    when no threshold reaches ``target``. ``y`` 0/1, ``p`` finite scores."""
    if not 0 < target < 1:
        raise ValueError(f"the NPV target must lie in (0, 1), got {target}")
    y, p = _check(y, p)
    order = np.argsort(p, kind="stable")
    ps, negative = p[order], 1 - y[order]
    # the last position of each distinct score: ties are ruled out together
    last = np.r_[np.flatnonzero(np.diff(ps) > 0), len(ps) - 1]
    n_out = last + 1
    npv = np.cumsum(negative)[last] / n_out
    reach = np.flatnonzero(npv >= target - _EPS)
    return float(ps[last[reach[-1]]]) if reach.size else -np.inf


def ruled_out(p, threshold: float) -> np.ndarray:
    """``p <= threshold`` (boolean), the rows the protocol rules out."""
    return np.asarray(p, dtype=float).ravel() <= threshold


def crossfit_rule_out(y, p, folds, target: float = 0.95) -> tuple[np.ndarray, pd.Series]:
    """Rule-out of out-of-fold scores, each fold's threshold chosen on the *other* folds
    (:func:`npv_threshold`). Returns the ruled-out mask and the threshold of each fold (a
    Series indexed by fold); a fold's own labels never enter its threshold."""
    y, p = _check(y, p)
    folds = np.asarray(folds).ravel()
    same_length(y=y, folds=folds)
    if pd.isna(folds).any():
        raise ValueError(f"{int(pd.isna(folds).sum())} rows have no fold")
    groups = pd.unique(folds)
    if len(groups) < 2:
        raise ValueError("cross-fitting needs at least two folds")
    out = np.zeros(len(y), dtype=bool)
    thresholds = {}
    for g in sorted(groups):
        test = folds == g
        thresholds[g] = npv_threshold(y[~test], p[~test], target)
        out[test] = ruled_out(p[test], thresholds[g])
    return out, pd.Series(thresholds, name="threshold").rename_axis("fold")


def rule_out_performance(y, out, weights, *, level: float = 0.95) -> dict[str, float]:
    """What a rule-out does (:data:`PERFORMANCE`), with percentile intervals of the patient
    resamples ``weights`` (``(B, N)``, one column per row).

    Returns ``n``, ``positives``, ``n_ruled_out``, ``missed`` (positives ruled out),
    ``n_ruled_in``; per proportion of :data:`PERFORMANCE` its estimate and ``_lo``, ``_hi``
    (NaN where undefined: nobody ruled out, nobody ruled in, no positive), and
    ``<name>_undefined``, the resamples where it is undefined (left out of the interval)."""
    y = as_binary(y)
    out = np.asarray(out, dtype=bool).ravel()
    same_length(y=y, ruled_out=out)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(y):
        raise ValueError(f"weights must have shape (resamples, {len(y)}); got {w.shape}")
    ones = np.ones((1, len(y)))
    terms = {
        "share_ruled_out": (out, None),
        "prevalence_ruled_out": (y, out),
        "prevalence_ruled_in": (y, ~out),
        "missed_of_positives": (out, y),
    }
    result: dict[str, float] = {
        "n": len(y),
        "positives": int(y.sum()),
        "n_ruled_out": int(out.sum()),
        "missed": int((y[out] == 1).sum()),
        "n_ruled_in": int((~out).sum()),
    }
    for name, (events, among) in terms.items():
        point = weighted_rate(ones, events, among)[0]
        boot = weighted_rate(w, events, among)
        lo, hi = percentile_interval(boot, level)
        result.update(
            {
                name: float(point),
                f"{name}_lo": float(lo),
                f"{name}_hi": float(hi),
                f"{name}_undefined": int(np.isnan(boot).sum()),
            }
        )
    return result
