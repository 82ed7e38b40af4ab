"""One set of patient resamples, shared by every bootstrap interval of a run.

A patient contributes several ECGs that share the label and most of the signal, so an interval
that treats ECGs as independent is too narrow (issue 13; the clustered AUC of
:mod:`ecglib.metrics.clustered_roc`). For statistics without a clustered closed form
(sensitivity, PPV, calibration slope, net benefit, NRI, ...) the book uses the **cluster
bootstrap**: whole patients are drawn with replacement, each with all their ECGs (Davison &
Hinkley 1997, sec. 3.8; Field & Welsh 2007).

**Shared resamples.** A run draws its resamples once per population (the internal out-of-fold
predictions, the external ones): :func:`patient_resamples` gives ``counts[b, k]``, how often
patient ``k`` is drawn in resample ``b``. Every statistic of every chapter is computed on the same
resamples, so intervals of related quantities (sensitivity and specificity, two thresholds' net
benefits) are jointly consistent, and a subset (a vessel's labelled rows, a subgroup, the normal
ECGs) reuses its patients' draws (its size varies across resamples, as it does in the
population).

**Weights, not copies.** A resample is never materialised: :meth:`PatientResamples.weights`
turns the patient counts into ``(B, N)`` row weights (each row weighted by its patient's count),
and a statistic that is a ratio of sums becomes matrix products, all resamples at once:

.. math::

    \\hat\\theta_b = \\frac{\\sum_i w_{bi} a_i}{\\sum_i w_{bi} d_i}
    \\qquad \\text{(e.g. sensitivity: } a_i = y_i \\hat y_i,\\ d_i = y_i).

Materialising resample ``b`` (:func:`resample_rows`: each row repeated ``w_bi`` times) gives the
same value; :func:`loop_reference` does that per resample and is what the tests and
``benchmarks/bench_metrics.py`` compare the vectorised statistics against.

**Interval.** The percentile interval of the resampled values (:func:`percentile_interval`);
a resample where the statistic is undefined (no positive patient drawn) is NaN, counted, and
left out of the quantiles (the interval is then conditional on it being defined).

References
----------
Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge University Press
1997, sec. 3.8.

Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 2007;69:369-90.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "PatientResamples",
    "patient_resamples",
    "percentile_interval",
    "weighted_rate",
    "weighted_mean",
    "resample_rows",
    "loop_reference",
]


@dataclass(frozen=True)
class PatientResamples:
    """``n_boot`` cluster-bootstrap resamples of a population's patients (module docstring)."""

    #: The population's patient codes, sorted (column ``k`` of :attr:`counts`).
    patients: np.ndarray
    #: ``(n_boot, n_patients)`` draws of each patient in each resample (each row sums to K).
    counts: np.ndarray = field(repr=False)
    seed: int

    @property
    def n_boot(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_patients(self) -> int:
        return int(self.counts.shape[1])

    def weights(self, patient) -> np.ndarray:
        """``(n_boot, N)`` weight of each row (its patient's count) in each resample.

        ``patient`` is the rows' patient codes; a code that is not in the population raises,
        since its rows would silently never be drawn."""
        codes = np.asarray(patient).ravel()
        if pd.isna(codes).any():
            raise ValueError(f"{int(pd.isna(codes).sum())} rows have no patient code")
        position = np.searchsorted(self.patients, codes)
        position = np.clip(position, 0, len(self.patients) - 1)
        unknown = self.patients[position] != codes
        if unknown.any():
            raise ValueError(
                f"{int(unknown.sum())} rows belong to patients outside the resampled population "
                f"(first: patient code {codes[unknown][0]}); draw the resamples from the table "
                "these rows come from"
            )
        return self.counts[:, position]

    def table_weights(self, table: pd.DataFrame, column: str = "patient") -> np.ndarray:
        """:meth:`weights` of ``table``'s rows, from its patient-code column."""
        if column not in table.columns:
            raise KeyError(
                f"the table lacks the {column!r} column the patient bootstrap needs "
                "(join the predictions with ecglib.chapters.predictions.join_results)"
            )
        return self.weights(table[column])

    def describe(self, level: float = 0.95) -> str:
        """The interval's method as tables and captions state it."""
        return f"{100 * level:.0f}% percentile, patient bootstrap ({self.n_boot:,} resamples)"


def patient_resamples(patient, n_boot: int = 1000, *, seed: int = 0) -> PatientResamples:
    """Draw ``n_boot`` cluster-bootstrap resamples of the patients in ``patient``.

    Each resample draws as many patients as there are, uniformly with replacement
    (``numpy.random.default_rng(seed)``), so the same codes and seed give the same resamples.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    codes = np.asarray(patient).ravel()
    if codes.size == 0:
        raise ValueError("cannot resample an empty population")
    if pd.isna(codes).any():
        raise ValueError(f"{int(pd.isna(codes).sum())} rows have no patient code")
    patients = np.unique(codes)
    k = len(patients)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(int(n_boot), k))
    offsets = (np.arange(int(n_boot)) * k)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=int(n_boot) * k)
    return PatientResamples(
        patients=patients, counts=counts.reshape(int(n_boot), k).astype(np.int32), seed=int(seed)
    )


def percentile_interval(values, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 of resampled ``values`` (``(B,)`` or ``(B, m)``).

    NaN resamples (statistic undefined there) are left out; an all-NaN column gives NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    v = np.asarray(values, dtype=float)
    q = np.array([(1 - level) / 2, (1 + level) / 2]) * 100
    defined = ~np.isnan(v)
    if defined.all():
        lo, hi = np.percentile(v, q, axis=0)
    else:
        with np.errstate(all="ignore"):
            lo, hi = _nanpercentile(v, q)
    return lo, hi


def _nanpercentile(v: np.ndarray, q: np.ndarray):
    with warnings.catch_warnings():
        # An all-NaN column is an undefined statistic, returned as NaN on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(v, q, axis=0)


def weighted_rate(weights: np.ndarray, events, among=None) -> np.ndarray:
    """``sum_i w_bi e_i a_i / sum_i w_bi a_i`` per resample: a proportion among the rows where
    ``among`` is true (all rows when None); NaN where a resample has no such row.

    ``events`` and ``among`` may be ``(N,)`` (one proportion) or ``(N, m)`` (m at once, e.g.
    one column per threshold)."""
    w = np.asarray(weights, dtype=float)
    e = np.asarray(events, dtype=float)
    a = np.ones_like(e) if among is None else np.asarray(among, dtype=float)
    if a.shape != e.shape:
        a = np.broadcast_to(a.reshape(a.shape + (1,) * (e.ndim - a.ndim)), e.shape)
    if e.shape[0] != w.shape[1]:
        raise ValueError(f"weights cover {w.shape[1]} rows but the events have {e.shape[0]}")
    num = w @ (e * a)
    den = w @ a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def weighted_mean(weights: np.ndarray, values) -> np.ndarray:
    """``sum_i w_bi v_i / sum_i w_bi`` per resample (``values`` ``(N,)`` or ``(N, m)``)."""
    return weighted_rate(weights, values)


def resample_rows(weights_row) -> np.ndarray:
    """Row indices of one resample (each row repeated its weight times), for loop references."""
    w = np.asarray(weights_row)
    return np.repeat(np.arange(len(w)), w)


def loop_reference(
    statistic: Callable[[pd.DataFrame], float], table: pd.DataFrame, weights: np.ndarray
) -> np.ndarray:
    """The statistic of each resample computed the slow way: materialise the resample's rows
    (:func:`resample_rows`) and call ``statistic`` on them. NaN where it raises ValueError
    (undefined on that resample). The reference the vectorised statistics are tested against."""
    out = np.full(len(weights), np.nan)
    for b, row in enumerate(np.asarray(weights)):
        try:
            out[b] = statistic(table.iloc[resample_rows(row)])
        except ValueError:
            # Undefined on this resample (e.g. no positive drawn): NaN, as documented.
            out[b] = np.nan
    return out
