"""Per-vessel AUCs for model selection, honest about vessels whose AUC is undefined.

A vessel without positive (or without negative) ECGs in the evaluated rows has no ROC curve: its
AUC is NaN here, and the macro mean is taken over the vessels whose AUC is defined. The authors'
code skipped such vessels silently and returned 0 when none was defined; scikit-learn raises. A
vessel is never counted as 0.5.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ecglib import schema

__all__ = ["vessel_aucs", "macro_auc", "undefined_vessels", "prediction_aucs"]

log = logging.getLogger(__name__)


def undefined_vessels(labels: np.ndarray) -> list[str]:
    """Vessels whose labels (``(n, 4)``, :data:`~ecglib.schema.VESSELS` order) hold one class only."""
    labels = np.asarray(labels)
    return [v for j, v in enumerate(schema.VESSELS) if len(np.unique(labels[:, j])) < 2]


def vessel_aucs(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """ROC AUC per vessel; NaN where the labels hold a single class."""
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=float)
    if labels.shape != probs.shape or labels.ndim != 2 or labels.shape[1] != len(schema.VESSELS):
        raise ValueError(
            f"labels and probs must both have shape (n, {len(schema.VESSELS)}), got "
            f"{labels.shape} and {probs.shape}"
        )
    out = {}
    for j, vessel in enumerate(schema.VESSELS):
        y = labels[:, j]
        out[vessel] = (
            float(roc_auc_score(y, probs[:, j])) if len(np.unique(y)) == 2 else float("nan")
        )
    return out


def macro_auc(aucs: dict[str, float]) -> float:
    """Mean of the defined per-vessel AUCs; NaN when none is defined."""
    values = [a for a in aucs.values() if not np.isnan(a)]
    return float(np.mean(values)) if values else float("nan")


def prediction_aucs(predictions: pd.DataFrame, cohort: pd.DataFrame) -> dict[str, float]:
    """Per-vessel AUCs and ``macro`` of a predictions table (``row``, ``p_<vessel>``) against the
    cohort's labels (rows joined on the cohort table's row). Undefined vessels are NaN and logged."""
    labels = schema.binarise_grades(cohort.loc[predictions["row"].to_numpy()]).to_numpy()
    aucs = vessel_aucs(labels, predictions[schema.prob_cols()].to_numpy())
    missing = [v for v, a in aucs.items() if np.isnan(a)]
    if missing:
        log.warning(
            "AUC undefined (one class only) for %s; left out of the macro mean", ", ".join(missing)
        )
    return {**aucs, "macro": macro_auc(aucs)}
