"""Which artery? Each vessel's head against each vessel's label, clustered by patient.

The network has one output (head) per vessel. Whether those outputs are *vessel-specific* or
behave like one "any disease" score is not visible in the per-vessel AUC: a head that only
scores overall coronary disease still separates its own vessel's disease, because disease in
one vessel goes with disease in the others. Two views tell them apart:

* the **cross-vessel matrix** (:func:`cross_vessel_matrix`): the AUC of every head ``h``
  against every vessel's label ``v`` (rows: outcome vessel, columns: head). A vessel-specific
  head is highest on its own row; an "any disease" head is about as high on every row. For each
  outcome, each other head is compared with the outcome's own head by the paired clustered
  difference ``AUC(own) - AUC(head)`` (:mod:`ecglib.metrics.auc_contrasts`);
* the **vessel-specific AUC** (``within_other_disease=True``): the same, restricted to the ECGs
  whose CCTA shows severe disease (label 1, grade >= 3) in at least one *other* vessel. There
  every ECG has coronary disease, so a score of disease in general cannot separate the
  vessel's positives from its negatives (its AUC falls to about 0.5), while a head that sees
  the vessel's own territory still can. The restriction is on the ECG's own CCTA (the labels
  are per examination): "patients with disease in another vessel" at the time of that CCTA.

All AUCs are ECG-level Mann-Whitney statistics with the clustered DeLong variance (Obuchowski
1997; patient as the unit) and a logit-scale Wald interval; differences have the normal
interval and two-sided p of the clustered paired test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics.auc_contrasts import clustered_auc_contrasts
from ecglib.metrics.roc import OneClassError

__all__ = ["MATRIX_COLUMNS", "cross_vessel_matrix", "other_vessel_disease"]

#: Columns of :func:`cross_vessel_matrix`.
MATRIX_COLUMNS: tuple[str, ...] = (
    "outcome",
    "head",
    "own",
    "population",
    "n",
    "positives",
    "patients",
    "auc",
    "se",
    "ci_low",
    "ci_high",
    "own_minus_head",
    "diff_low",
    "diff_high",
    "p_value",
    "reason",
)

ALL = "all ECGs"
OTHER = "ECGs with severe disease in another vessel"


def other_vessel_disease(
    predictions: pd.DataFrame, vessel: str, vessels: Sequence[str]
) -> np.ndarray:
    """Boolean mask of the rows whose label is 1 in at least one vessel of ``vessels`` other
    than ``vessel`` (severe disease elsewhere on the ECG's own CCTA)."""
    others = [w for w in vessels if w != vessel]
    if not others:
        return np.zeros(len(predictions), dtype=bool)
    labels = predictions[schema.label_cols(others)].to_numpy(dtype=float)
    return (labels == 1).any(axis=1)


def cross_vessel_matrix(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    *,
    within_other_disease: bool = False,
    cluster_col: str = "patient",
    level: float = 0.95,
) -> pd.DataFrame:
    """AUC of every vessel's head against every vessel's label (module docstring).

    ``predictions`` holds ``p_<vessel>``, ``y_<vessel>`` and ``cluster_col`` for the
    ``vessels`` (default: those the table assesses). One row per (outcome, head)
    (:data:`MATRIX_COLUMNS`), outcomes and heads in the paper's order: ``own`` marks the
    diagonal; ``own_minus_head`` is ``AUC(outcome's own head) - AUC(head)`` on the same ECGs
    with its clustered paired interval and p (NaN on the diagonal). With
    ``within_other_disease`` each outcome's rows are restricted to the ECGs with severe
    disease in another vessel (:func:`other_vessel_disease`). An outcome whose (restricted)
    rows hold one class has NaN estimates and a ``reason``.
    """
    vessels = schema.vessels_of(predictions, vessels)
    needed = [*schema.prob_cols(vessels), *schema.label_cols(vessels), cluster_col]
    absent = [c for c in needed if c not in predictions.columns]
    if absent:
        raise KeyError(
            f"predictions lack column(s) {absent}: the cross-vessel matrix needs p_<vessel>, "
            f"y_<vessel> and the patient column {cluster_col!r}"
        )
    population = OTHER if within_other_disease else ALL
    rows = []
    for outcome in vessels:
        mask = (
            other_vessel_disease(predictions, outcome, vessels)
            if within_other_disease
            else np.ones(len(predictions), dtype=bool)
        )
        table = predictions.loc[mask]
        y = table[schema.label_col(outcome)].to_numpy()
        base = {
            "outcome": outcome,
            "population": population,
            "n": int(mask.sum()),
            "positives": int(np.sum(y == 1)),
            "patients": int(table[cluster_col].nunique()),
        }
        try:
            contrasts = clustered_auc_contrasts(
                y,
                table[schema.prob_cols(vessels)].to_numpy(dtype=float),
                table[cluster_col].to_numpy(),
                list(vessels),
                reference=outcome,
                level=level,
                cluster_name=cluster_col,
            )
        except OneClassError:
            which = "positive" if base["positives"] == 0 else "negative"
            reason = f"no {which} ECG for the {outcome} among the {population}"
            for head in vessels:
                rows.append({**base, "head": head, "own": head == outcome, "reason": reason})
            continue
        for c in contrasts.itertuples(index=False):
            reason = (
                ""
                if np.isfinite(c.se)
                else (
                    "clustered variance undefined (positives or negatives in fewer than two patients)"
                )
            )
            rows.append(
                {
                    **base,
                    "head": c.score,
                    "own": c.score == outcome,
                    "auc": c.auc,
                    "se": c.se,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "own_minus_head": c.diff,
                    "diff_low": c.diff_low,
                    "diff_high": c.diff_high,
                    "p_value": c.p_value,
                    "reason": reason,
                }
            )
    out = pd.DataFrame(rows, columns=list(MATRIX_COLUMNS))
    out["reason"] = out["reason"].fillna("")
    return out
