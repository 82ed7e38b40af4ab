"""Vectorised bootstrap of the AUC: all resamples at once, one-class resamples counted.

A bootstrap resample is represented by its **counts**: ``counts[b, i]`` is how often
observation ``i`` is drawn in resample ``b`` (an index matrix ``(B, N)`` converts with
:func:`indices_to_counts`). With counts, the AUC of every resample follows from one sort of the
*original* scores (Mann-Whitney with ties as 1/2):

.. math::

    2U_b = \\sum_{i \\in \\text{pos}} c_{bi} \\left( C_b(<s_i) + C_b(\\le s_i) \\right),
    \\qquad \\hat A_b = \\frac{2U_b}{2 P_b N_b},

where ``C_b(< s)`` is the resample's number of negatives scoring below ``s`` (a cumulative sum
of the negatives' counts in score order, read at ``searchsorted`` positions), ``P_b`` and
``N_b`` its numbers of positives and negatives. The whole computation is integer arithmetic
on ``(B, N)`` arrays (exact), one division per resample: no per-resample sort, no Python loop.
:func:`auc_loop_sklearn` is the reference (``sklearn.metrics.roc_curve`` + ``auc`` per
resample) that the tests and ``benchmarks/bench_metrics.py`` compare against.

**One-class resamples.** A resample without positives (or negatives) has no AUC. It is
returned as NaN, *counted* (``n_one_class``), reported in every table, and warned about; the
percentile CI is taken over the remaining resamples (it is then conditional on both classes
being present). The authors' code dropped such resamples silently. To avoid them, use
``stratified=True``: positives are resampled among the positives and negatives among the
negatives, so every resample keeps the observed class counts (pROC's default
``boot.stratified = TRUE``; Carpenter & Bithell 2000 on stratified resampling). Stratification
conditions on the observed prevalence, which slightly narrows the interval; for a rare class
(LM: a handful of positives) it is the only way to get a usable bootstrap at all.

**Clustered data.** A patient may contribute several ECGs. ``groups`` (e.g. ``patient_id``)
resamples whole patients with all their ECGs (the cluster bootstrap; Davison & Hinkley 1997,
sec. 3.8), which respects the within-patient correlation that the plain bootstrap and the
DeLong variance ignore.

**Interval.** The percentile interval: the ``(1 - level) / 2`` and ``(1 + level) / 2``
quantiles of the resampled AUCs (``numpy.percentile``, linear interpolation; Efron & Tibshirani
1993, ch. 13).

References
----------
Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall 1993.

Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge University Press
1997.

Carpenter J, Bithell J. Bootstrap confidence intervals: when, which, what? A practical guide for
medical statisticians. Stat Med 2000;19:1141-64.

One module on purpose: the resampling engine (patient-grouped index draws shared by every
metric of a run) and the per-vessel tables built on it are one algorithm.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import auc as sk_auc
from sklearn.metrics import roc_curve

from ecglib import schema
from ecglib.metrics._inputs import as_binary
from ecglib.metrics.roc import OneClassError, _require, fast_auc


@dataclass(frozen=True)
class BootstrapAUC:
    """AUC with a bootstrap percentile CI and the bookkeeping of its resamples."""

    auc: float
    ci_low: float
    ci_high: float
    n: int
    positives: int
    n_boot: int
    n_valid: int
    n_one_class: int
    level: float
    stratified: bool
    clustered: bool
    aucs: np.ndarray = field(repr=False)

    def as_dict(self) -> dict:
        """The scalars (without the resampled AUCs)."""
        return {
            k: getattr(self, k)
            for k in (
                "auc",
                "ci_low",
                "ci_high",
                "n",
                "positives",
                "n_boot",
                "n_valid",
                "n_one_class",
                "level",
                "stratified",
                "clustered",
            )
        }


# ------------------------------------------------------------------------------------------
# resamples
# ------------------------------------------------------------------------------------------
def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _check_n_boot(n_boot: int) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    return int(n_boot)


def resample_indices(n: int, n_boot: int = 1000, *, seed=0, strata=None) -> np.ndarray:
    """Bootstrap index matrix ``(n_boot, n)``: row ``b`` lists the observations of resample b.

    ``strata`` (length ``n``, e.g. the 0/1 labels) resamples within each stratum, keeping its
    size: position ``i`` of a row is always filled from the stratum of observation ``i``.
    """
    n_boot = _check_n_boot(n_boot)
    rng = _rng(seed)
    if n < 1:
        raise ValueError("cannot resample an empty sample")
    if strata is None:
        return rng.integers(0, n, size=(n_boot, n), dtype=np.intp)
    strata = np.asarray(strata)
    if strata.shape != (n,):
        raise ValueError(f"strata must have length {n}, got shape {strata.shape}")
    out = np.empty((n_boot, n), dtype=np.intp)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        out[:, members] = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
    return out


def indices_to_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """``(B, N)`` int64 counts of each observation in each resample, from an index matrix."""
    indices = np.asarray(indices)
    if indices.ndim != 2:
        raise ValueError(f"indices must be a (B, size) matrix, got shape {indices.shape}")
    n_boot = indices.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"indices must lie in [0, {n})")
    flat = (indices + (np.arange(n_boot, dtype=np.intp) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)


def counts_to_indices(counts_row: np.ndarray) -> np.ndarray:
    """Indices of one resample from its counts (sorted; the AUC does not depend on order)."""
    counts_row = np.asarray(counts_row)
    return np.repeat(np.arange(len(counts_row)), counts_row)


def cluster_counts(groups, n_boot: int = 1000, *, seed=0) -> np.ndarray:
    """Counts ``(n_boot, N)`` of a cluster bootstrap: whole groups (patients) are resampled.

    Each resample draws as many groups as there are, with replacement; every observation of a
    drawn group enters as often as its group was drawn.
    """
    n_boot = _check_n_boot(n_boot)
    rng = _rng(seed)
    codes, uniques = pd.factorize(pd.Series(groups), use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError("groups hold missing values; every observation needs a group")
    n_groups = len(uniques)
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups), dtype=np.intp)
    per_group = indices_to_counts(draws, n_groups)
    return per_group[:, codes]


# ------------------------------------------------------------------------------------------
# AUC of every resample
# ------------------------------------------------------------------------------------------
def _validate(y, score, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    yb = as_binary(y, f"y of {name}")
    s = np.asarray(score, dtype=float).ravel()
    if len(s) != len(yb):
        raise ValueError(f"{name}: y has {len(yb)} values but the score has {len(s)}")
    if not np.isfinite(s).all():
        i = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"score of {name} must be finite; position {i} holds {s[i]}")
    return yb.astype(bool), s


#: Resamples processed per block: small blocks keep the (block, N) work arrays in cache.
CHUNK = 64


class _Order:
    """One sort of the original data, shared by all resamples.

    Observations are reordered as [negatives by ascending score, then positives];
    ``lo``/``hi`` are the numbers of negatives strictly below / below-or-tied with each
    positive (``searchsorted`` in the sorted negatives).
    """

    def __init__(self, yb: np.ndarray, s: np.ndarray):
        pos = np.flatnonzero(yb)
        neg = np.flatnonzero(~yb)
        neg = neg[np.argsort(s[neg], kind="stable")]
        self.n = len(s)
        self.n_neg = len(neg)
        self.order = np.concatenate([neg, pos])
        self.position = np.empty(self.n, dtype=np.intp)
        self.position[self.order] = np.arange(self.n)
        self.lo = np.searchsorted(s[neg], s[pos], side="left")
        self.hi = np.searchsorted(s[neg], s[pos], side="right")
        self.ties = not np.array_equal(self.lo, self.hi)
        self.one_class = len(pos) == 0 or len(neg) == 0

    def auc(self, counts: np.ndarray) -> np.ndarray:
        """AUCs of a block of resamples whose counts are already in :attr:`order`."""
        block = counts.shape[0]
        cum = np.zeros((block, self.n_neg + 1), dtype=np.int64)
        np.cumsum(counts[:, : self.n_neg], axis=1, out=cum[:, 1:])
        cp = counts[:, self.n_neg :]
        below = cum[:, self.lo]  # C(< s_i)
        if self.ties:
            below += cum[:, self.hi]  # + C(<= s_i)
        else:
            below *= 2  # no ties: C(<= s_i) == C(< s_i)
        two_u = np.einsum("bi,bi->b", cp, below)
        n_pos = cp.sum(axis=1)
        n_neg = cum[:, -1]
        out = np.full(block, np.nan)
        ok = (n_pos > 0) & (n_neg > 0)
        out[ok] = two_u[ok] / (2.0 * n_pos[ok] * n_neg[ok])
        return out


def auc_from_indices(y, score, indices: np.ndarray, *, chunk: int = CHUNK) -> np.ndarray:
    """AUC of each resample of an index matrix ``(B, N)``; NaN where a resample has one class.

    Vectorised (module docstring): the indices are mapped to positions in the sorted order
    (a lookup in an N-table), counted per resample with one ``bincount`` per block of
    ``chunk`` resamples, and turned into AUCs with a cumulative sum and two gathers.
    """
    yb, s = _validate(y, score)
    indices = np.asarray(indices)
    if indices.ndim != 2:
        raise ValueError(f"indices must be a (B, size) matrix, got shape {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= len(s)):
        raise ValueError(f"indices must lie in [0, {len(s)})")
    ordering = _Order(yb, s)
    n_boot, n = indices.shape[0], ordering.n
    out = np.full(n_boot, np.nan)
    if ordering.one_class:
        return out
    for start in range(0, n_boot, chunk):
        keys = ordering.position[indices[start : start + chunk]]
        block = keys.shape[0]
        keys += (np.arange(block, dtype=np.intp) * n)[:, None]
        counts = np.bincount(keys.ravel(), minlength=block * n).reshape(block, n)
        out[start : start + block] = ordering.auc(counts)
    return out


def auc_from_counts(y, score, counts: np.ndarray, *, chunk: int = CHUNK) -> np.ndarray:
    """AUC of each resample given its counts ``(B, N)``; NaN where a resample has one class.

    Same kernel as :func:`auc_from_indices`, for resamples that are not rectangular index
    matrices (the cluster bootstrap).
    """
    yb, s = _validate(y, score)
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(s):
        raise ValueError(f"counts must have shape (B, {len(s)}), got {counts.shape}")
    ordering = _Order(yb, s)
    out = np.full(counts.shape[0], np.nan)
    if ordering.one_class:
        return out
    for start in range(0, counts.shape[0], chunk):
        block = np.take(counts[start : start + chunk], ordering.order, axis=1)
        out[start : start + block.shape[0]] = ordering.auc(block.astype(np.int64, copy=False))
    return out


def auc_loop_sklearn(y, score, indices) -> np.ndarray:
    """Reference: ``roc_curve`` + ``auc`` of scikit-learn for each resample, in a Python loop.

    ``indices`` is an index matrix or a sequence of index arrays. One-class resamples give NaN
    (checked before calling scikit-learn). Slow; for tests and the benchmark.
    """
    yb, s = _validate(y, score)
    yi = yb.astype(np.int64)
    out = np.full(len(indices), np.nan)
    for b, idx in enumerate(indices):
        yy = yi[idx]
        positives = int(yy.sum())
        if positives == 0 or positives == len(yy):
            continue
        fpr, tpr, _ = roc_curve(yy, s[idx])
        out[b] = sk_auc(fpr, tpr)
    return out


def percentile_ci(aucs: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite entries of ``aucs`` (NaN when there are none)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    valid = np.asarray(aucs, dtype=float)
    valid = valid[np.isfinite(valid)]
    if valid.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(valid, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return float(low), float(high)


# ------------------------------------------------------------------------------------------
# the user-facing functions
# ------------------------------------------------------------------------------------------
def bootstrap_auc(
    y,
    score,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed=0,
    stratified: bool = False,
    groups=None,
    name: str = "score",
) -> BootstrapAUC:
    """AUC with a percentile bootstrap CI from ``n_boot`` resamples, computed all at once.

    Parameters
    ----------
    y, score : labels (0/1) and scores of the N predictions.
    n_boot : number of resamples (the paper: 1,000).
    level : confidence level.
    seed : int or ``numpy.random.Generator`` (use the run's seed).
    stratified : resample positives and negatives separately (no one-class resamples).
    groups : optional cluster labels (e.g. patient ids) for a cluster bootstrap; not with
        ``stratified``.
    name : what to call the score in errors and warnings (e.g. the vessel).

    Returns
    -------
    BootstrapAUC with the point AUC (on the full data), the interval, ``n_valid`` and
    ``n_one_class`` (resamples without one of the classes: NaN in ``aucs``, counted, warned
    about, left out of the interval).
    """
    yb, s = _validate(y, score, name)
    positives = int(yb.sum())
    if positives in (0, len(yb)):
        raise OneClassError(name, positives, len(yb))
    n_boot = _check_n_boot(n_boot)
    if groups is not None and stratified:
        raise ValueError("choose either stratified or clustered (groups) resampling, not both")
    if groups is not None:
        if len(groups) != len(yb):
            raise ValueError(f"groups has {len(groups)} values for {len(yb)} predictions")
        aucs = auc_from_counts(yb, s, cluster_counts(groups, n_boot, seed=seed))
    else:
        idx = resample_indices(len(yb), n_boot, seed=seed, strata=yb if stratified else None)
        aucs = auc_from_indices(yb, s, idx)
    return _summarise(
        yb, s, aucs, level=level, name=name, stratified=stratified, clustered=groups is not None
    )


def bootstrap_vessel_table(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed=0,
    stratified: bool = False,
    group_col: str | None = None,
) -> pd.DataFrame:
    """Bootstrap AUC CIs per vessel, one row per vessel.

    Without stratification every vessel is evaluated on the *same* resamples of the rows
    (ECGs), drawn once. ``group_col`` (e.g. ``"patient_id"``) resamples patients instead.
    Columns: ``vessel, n, positives, auc, ci_low, ci_high, n_boot, n_valid, n_one_class,
    stratified, clustered``.
    """
    vessels = schema.vessels_of(predictions, vessels)
    _require(predictions, schema.prob_cols(vessels) + schema.label_cols(vessels))
    n = len(predictions)
    rng = _rng(seed)
    if group_col is not None and stratified:
        raise ValueError("choose either stratified or clustered (group_col) resampling, not both")
    shared_counts = shared_indices = None
    if group_col is not None:
        shared_counts = cluster_counts(predictions[group_col].to_numpy(), n_boot, seed=rng)
    elif not stratified:
        shared_indices = resample_indices(n, n_boot, seed=rng)
    rows = []
    for vessel in vessels:
        yb, s = _validate(
            predictions[schema.label_col(vessel)], predictions[schema.prob_col(vessel)], vessel
        )
        positives = int(yb.sum())
        if positives in (0, n):
            raise OneClassError(vessel, positives, n)
        if shared_counts is not None:
            aucs = auc_from_counts(yb, s, shared_counts)
        elif shared_indices is not None:
            aucs = auc_from_indices(yb, s, shared_indices)
        else:
            aucs = auc_from_indices(yb, s, resample_indices(n, n_boot, seed=rng, strata=yb))
        result = _summarise(
            yb,
            s,
            aucs,
            level=level,
            name=vessel,
            stratified=stratified,
            clustered=group_col is not None,
        )
        rows.append({"vessel": vessel, **result.as_dict()})
    columns = [
        "vessel",
        "n",
        "positives",
        "auc",
        "ci_low",
        "ci_high",
        "n_boot",
        "n_valid",
        "n_one_class",
        "stratified",
        "clustered",
    ]
    return pd.DataFrame(rows)[columns]


def _summarise(
    yb: np.ndarray,
    s: np.ndarray,
    aucs: np.ndarray,
    *,
    level: float,
    name: str,
    stratified: bool,
    clustered: bool,
) -> BootstrapAUC:
    n_one_class = int(np.isnan(aucs).sum())
    if n_one_class:
        warnings.warn(
            f"{name}: {n_one_class} of {len(aucs)} bootstrap resamples hold one class "
            "and have no AUC; the CI uses the other "
            f"{len(aucs) - n_one_class} (consider stratified=True)",
            RuntimeWarning,
            stacklevel=3,
        )
    low, high = percentile_ci(aucs, level)
    return BootstrapAUC(
        auc=float(fast_auc(yb, s)),
        ci_low=low,
        ci_high=high,
        n=len(yb),
        positives=int(yb.sum()),
        n_boot=len(aucs),
        n_valid=len(aucs) - n_one_class,
        n_one_class=n_one_class,
        level=level,
        stratified=stratified,
        clustered=clustered,
        aucs=aucs,
    )
