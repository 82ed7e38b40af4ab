"""A rule-out threshold for a target negative predictive value (NPV), a rule-in threshold for a
target positive predictive value (PPV), both cross-fitted, and what they do on new patients.

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

**The rule-in threshold** (:func:`ppv_threshold`) mirrors it: a score rules a patient in when
``p >= t``, and the threshold is the **smallest** ``t`` whose ruled-in group reaches the PPV
target,

.. math::

    t^* = \\min \\{ t : \\mathrm{PPV}(t) \\ge \\mathrm{target} \\}, \\qquad
    \\mathrm{PPV}(t) = \\frac{\\#\\{i : p_i \\ge t, y_i = 1\\}}{\\#\\{i : p_i \\ge t\\}},

so that as many patients as possible are ruled in at the target PPV; ``t* = +inf`` (nobody
ruled in) when no threshold reaches it.

**Cross-fitting** (:func:`crossfit_rule_out`, :func:`crossfit_rule_in`), as
:func:`ecglib.metrics.strata.crossfit_strata` does for the risk strata: each fold's threshold is chosen on the other folds' rows and applied to
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
    "ppv_threshold",
    "ruled_in",
    "crossfit_rule_in",
    "rule_in_performance",
    "RULE_IN_PERFORMANCE",
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

#: The proportions of :func:`rule_in_performance`: name -> (events, among) in words.
RULE_IN_PERFORMANCE: dict[str, str] = {
    "share_ruled_in": "ruled in, of all",
    "prevalence_ruled_in": "positive, among the ruled in (PPV)",
    "prevalence_not_ruled_in": "positive, among those not ruled in",
    "positives_ruled_in": "ruled in, among the positives (sensitivity)",
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
    return _crossfit(y, p, folds, lambda yy, pp: npv_threshold(yy, pp, target), ruled_out)


def ppv_threshold(y, p, target: float = 0.5) -> float:
    """The smallest score ``t`` with ``PPV(p >= t) >= target`` (module docstring); ``+inf``
    when no threshold reaches ``target``. ``y`` 0/1, ``p`` finite scores."""
    if not 0 < target < 1:
        raise ValueError(f"the PPV target must lie in (0, 1), got {target}")
    y, p = _check(y, p)
    order = np.argsort(-p, kind="stable")
    ps, positive = p[order], y[order]
    # the last position of each distinct score from the top: ties are ruled in together
    last = np.r_[np.flatnonzero(np.diff(ps) < 0), len(ps) - 1]
    ppv = np.cumsum(positive)[last] / (last + 1)
    reach = np.flatnonzero(ppv >= target - _EPS)
    return float(ps[last[reach[-1]]]) if reach.size else np.inf


def ruled_in(p, threshold: float) -> np.ndarray:
    """``p >= threshold`` (boolean), the rows the protocol rules in."""
    return np.asarray(p, dtype=float).ravel() >= threshold


def crossfit_rule_in(y, p, folds, target: float = 0.5) -> tuple[np.ndarray, pd.Series]:
    """Rule-in of out-of-fold scores, each fold's threshold chosen on the *other* folds
    (:func:`ppv_threshold`), as :func:`crossfit_rule_out`. Returns the ruled-in mask and each
    fold's threshold."""
    return _crossfit(y, p, folds, lambda yy, pp: ppv_threshold(yy, pp, target), ruled_in)


def rule_in_performance(y, ruled, weights, *, level: float = 0.95) -> dict[str, float]:
    """What a rule-in does (:data:`RULE_IN_PERFORMANCE`), with percentile intervals of the
    patient resamples ``weights`` (``(B, N)``), as :func:`rule_out_performance`: ``n``,
    ``positives``, ``n_ruled_in``, ``true_positives`` (positives ruled in), and per proportion
    its estimate, ``_lo``, ``_hi`` and ``_undefined``."""
    y = as_binary(y)
    ruled = np.asarray(ruled, dtype=bool).ravel()
    same_length(y=y, ruled_in=ruled)
    terms = {
        "share_ruled_in": (ruled, None),
        "prevalence_ruled_in": (y, ruled),
        "prevalence_not_ruled_in": (y, ~ruled),
        "positives_ruled_in": (ruled, y),
    }
    result: dict[str, float] = {
        "n": len(y),
        "positives": int(y.sum()),
        "n_ruled_in": int(ruled.sum()),
        "true_positives": int((y[ruled] == 1).sum()),
    }
    return result | _proportions(terms, weights, len(y), level)


def _crossfit(y, p, folds, choose, apply) -> tuple[np.ndarray, pd.Series]:
    """Each fold's rows selected by ``apply(p, t)`` at the threshold ``t = choose(y, p)`` of the
    other folds' rows: the cross-fitting of :func:`crossfit_rule_out` and
    :func:`crossfit_rule_in`."""
    y, p = _check(y, p)
    folds = _folds(folds, len(y))
    selected = np.zeros(len(y), dtype=bool)
    thresholds = {}
    for g in sorted(pd.unique(folds)):
        test = folds == g
        thresholds[g] = choose(y[~test], p[~test])
        selected[test] = apply(p[test], thresholds[g])
    return selected, pd.Series(thresholds, name="threshold").rename_axis("fold")


def _folds(folds, n: int) -> np.ndarray:
    folds = np.asarray(folds).ravel()
    if len(folds) != n:
        raise ValueError(f"{len(folds)} folds for {n} rows")
    if pd.isna(folds).any():
        raise ValueError(f"{int(pd.isna(folds).sum())} rows have no fold")
    if len(pd.unique(folds)) < 2:
        raise ValueError("cross-fitting needs at least two folds")
    return folds


def _proportions(terms: dict, weights, n: int, level: float) -> dict[str, float]:
    """Each ``(events, among)`` proportion with its resampled percentile interval."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"weights must have shape (resamples, {n}); got {w.shape}")
    ones = np.ones((1, n))
    result: dict[str, float] = {}
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
    return result | _proportions(terms, weights, len(y), level)
