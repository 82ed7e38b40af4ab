"""Where disease is cut: the same predictions evaluated against other outcome definitions.

The network is trained for severe disease (grade >= 3 of the 0-4 CCTA scale,
:data:`ecglib.schema.POSITIVE_GRADE`). Other papers cut elsewhere, so the AUC of the same
predictions is reported for each definition of :data:`OUTCOMES`: the grades counted as positive
and those counted as negative; an ECG whose grade is in neither set is left out of that
definition (e.g. grades 1 and 2 for "grade >= 3 vs grade 0").

**Any vessel.** The patient-level question "does this patient have such disease in any
artery?" is scored by the noisy-OR of the vessels' probabilities,

.. math::

    p_{\\text{any}} = 1 - \\prod_v (1 - p_v),

the probability of at least one diseased vessel if the heads' probabilities were calibrated
and independent given the ECG (the maximum :math:`\\max_v p_v` is the alternative; the two
rank ECGs differently when the heads disagree). Its label is positive when any assessed vessel's
grade is in the positive set, negative when every assessed vessel's grade is in the negative
set, and left out otherwise.

Every AUC is the ECG-level AUC with the clustered DeLong variance (Obuchowski 1997; unit:
patient) and a logit-scale Wald interval (:mod:`ecglib.metrics.clustered_roc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics.clustered_roc import clustered_delong
from ecglib.metrics.roc import OneClassError, auc_ci

__all__ = [
    "ANY_VESSEL",
    "OUTCOME_TABLE_COLUMNS",
    "OUTCOMES",
    "Outcome",
    "any_vessel_score",
    "outcome_auc_table",
    "outcome_labels",
]

#: The ``vessel`` of the any-vessel rows.
ANY_VESSEL = "any vessel"


@dataclass(frozen=True)
class Outcome:
    """An outcome definition: which grades count as positive and which as negative."""

    key: str
    label: str
    positive: frozenset[int]
    negative: frozenset[int]


#: The definitions of the chapter, in its order.
OUTCOMES: tuple[Outcome, ...] = (
    Outcome("ge2", "grade >= 2 (moderate or worse)", frozenset({2, 3, 4}), frozenset({0, 1})),
    Outcome("ge3", "grade >= 3 (severe; trained)", frozenset({3, 4}), frozenset({0, 1, 2})),
    Outcome("eq4", "grade 4 (occluded)", frozenset({4}), frozenset({0, 1, 2, 3})),
    Outcome("ge3_vs_0", "grade >= 3 vs grade 0", frozenset({3, 4}), frozenset({0})),
)

#: Columns of :func:`outcome_auc_table`.
OUTCOME_TABLE_COLUMNS: tuple[str, ...] = (
    "outcome",
    "definition",
    "vessel",
    "n",
    "excluded",
    "positives",
    "negatives",
    "patients",
    "auc",
    "se",
    "ci_low",
    "ci_high",
    "reason",
)


def _grades(grades, name: str) -> np.ndarray:
    g = np.asarray(grades, dtype=float)
    bad = ~np.isin(g, list(schema.GRADES))
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}: grade {float(g[tuple(idx)])!r} at row {int(idx[0])} is not on "
            f"the 0-4 scale ({int(bad.sum())} such values)"
        )
    return g.astype(int)


def outcome_labels(grades, outcome: Outcome, name: str = "grades") -> np.ndarray:
    """Labels of ``outcome`` from grades (N,) or (N, k): 1.0 positive, 0.0 negative, NaN left
    out. With (N, k) grades (the assessed vessels of each row) the any-vessel label: positive
    when any grade is positive, negative when all are negative. Grades off the 0-4 scale or
    missing raise ``ValueError`` naming ``name``."""
    g = _grades(grades, name)
    pos = np.isin(g, list(outcome.positive))
    neg = np.isin(g, list(outcome.negative))
    if g.ndim == 2:
        pos, neg = pos.any(axis=1), neg.all(axis=1)
    out = np.full(pos.shape, np.nan)
    out[neg] = 0.0
    out[pos] = 1.0
    return out


def any_vessel_score(probs, method: str = "noisy-or") -> np.ndarray:
    """The any-vessel score of (N, k) probabilities: ``1 - prod(1 - p)`` (``"noisy-or"``) or
    ``max p`` (``"max"``)."""
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"probs must be (N, k), got shape {p.shape}")
    if method == "noisy-or":
        return 1.0 - np.prod(1.0 - p, axis=1)
    if method == "max":
        return p.max(axis=1)
    raise ValueError(f"unknown any-vessel method {method!r}; expected 'noisy-or' or 'max'")


def _row(outcome: Outcome, vessel: str, y: np.ndarray, score: np.ndarray, clusters, level):
    keep = ~np.isnan(y)
    yk, sk, ck = y[keep].astype(int), score[keep], np.asarray(clusters)[keep]
    row = {
        "outcome": outcome.key,
        "definition": outcome.label,
        "vessel": vessel,
        "n": int(keep.sum()),
        "excluded": int((~keep).sum()),
        "positives": int(yk.sum()),
        "negatives": int((yk == 0).sum()),
        "patients": int(pd.Series(ck).nunique()),
        "reason": "",
    }
    try:
        res = clustered_delong(yk, sk, ck, names=[vessel], cluster_name="patient")
    except OneClassError:
        which = "positive" if row["positives"] == 0 else "negative"
        row["reason"] = f"no {which} ECG under this definition"
        return row
    low, high = auc_ci(res.auc, res.var, level=level)
    row.update(
        auc=float(res.auc[0]),
        se=float(np.sqrt(res.var[0])),
        ci_low=float(low[0]),
        ci_high=float(high[0]),
    )
    if not np.isfinite(res.var[0]):
        row["reason"] = "clustered variance undefined (positives or negatives in one patient)"
    return row


def outcome_auc_table(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    outcomes: Sequence[Outcome] = OUTCOMES,
    *,
    any_vessel: str | None = "noisy-or",
    cluster_col: str = "patient",
    level: float = 0.95,
) -> pd.DataFrame:
    """AUC of every vessel's probability for every outcome definition, and of the any-vessel
    score (``any_vessel``: ``"noisy-or"``, ``"max"`` or None for none) for the any-vessel label
    (module docstring), one row per (outcome, vessel) (:data:`OUTCOME_TABLE_COLUMNS`): the ECGs
    kept and left out, positives, negatives, patients, AUC with its clustered SE and CI. A
    definition with one class among the kept ECGs has NaN estimates and a ``reason``."""
    vessels = schema.vessels_of(predictions, vessels)
    needed = [*schema.prob_cols(vessels), *schema.grade_cols(vessels), cluster_col]
    absent = [c for c in needed if c not in predictions.columns]
    if absent:
        raise KeyError(f"predictions lack column(s) {absent} (outcome definitions need them)")
    clusters = predictions[cluster_col].to_numpy()
    grades = predictions[schema.grade_cols(vessels)].to_numpy()
    probs = predictions[schema.prob_cols(vessels)].to_numpy(dtype=float)
    rows = []
    for outcome in outcomes:
        for j, vessel in enumerate(vessels):
            y = outcome_labels(grades[:, j], outcome, schema.grade_col(vessel))
            rows.append(_row(outcome, vessel, y, probs[:, j], clusters, level))
        if any_vessel is not None:
            y = outcome_labels(grades, outcome, "the grades")
            score = any_vessel_score(probs, any_vessel)
            rows.append(_row(outcome, ANY_VESSEL, y, score, clusters, level))
    return pd.DataFrame(rows, columns=list(OUTCOME_TABLE_COLUMNS))
