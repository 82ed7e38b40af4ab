"""A model's probabilities for real records, described by ST group (no label: not an accuracy).

Real records have no coronary label, so what a model predicts for them is a distribution to
describe, never a performance. :func:`prediction_group` puts each record in its ST group
(:func:`ecglib.real.st_groups.st_group`) or :data:`OTHER`; :func:`prediction_summary` gives per
vessel (and group) the median, quartiles and share at or above a high-risk threshold;
:func:`predicted_vessels` names the vessels that have a probability at all (a vessel whose head
was never trained has none).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.real.st_groups import REFERENCE, ST_CODES

__all__ = [
    "OTHER",
    "PREDICTION_GROUPS",
    "prediction_group",
    "predicted_vessels",
    "prediction_summary",
]

#: The group of a real record in the prediction summaries: its ST group, else this.
OTHER = "other real records"
PREDICTION_GROUPS: tuple[str, ...] = (REFERENCE, *ST_CODES, OTHER)


def prediction_group(predictions: pd.DataFrame) -> pd.Series:
    """Each record's group of :data:`PREDICTION_GROUPS` (its ST group, else :data:`OTHER`)."""
    return (
        predictions["st_group"]
        .astype(object)
        .where(predictions["st_group"].notna(), OTHER)
        .rename("group")
    )


def predicted_vessels(predictions: pd.DataFrame) -> list[str]:
    """The vessels with a probability in ``predictions`` (a vessel the run does not assess has
    none). Real records have no labels, so :func:`ecglib.schema.vessels_of` cannot tell."""
    return [v for v in schema.VESSELS if predictions[schema.prob_col(v)].notna().any()]


def prediction_summary(
    predictions: pd.DataFrame, thresholds: Mapping[str, float], by: str | None = None
) -> pd.DataFrame:
    """Per vessel (and per ``by`` column, or ``by="group"`` for :func:`prediction_group`): n,
    median, quartiles and the share of records at or above the vessel's high-risk threshold. A
    description of the model's outputs, not a performance: these records have no coronary
    labels."""
    if by == "group":
        labels = prediction_group(predictions)
        groups = [
            (name, predictions[labels == name])
            for name in PREDICTION_GROUPS
            if (labels == name).any()
        ]
    elif by is None:
        groups = [("all real records", predictions)]
    else:
        groups = [(str(k), g) for k, g in predictions.groupby(by, dropna=False, sort=False)]
    rows = []
    for name, group in groups:
        for vessel in predicted_vessels(predictions):
            p = group[schema.prob_col(vessel)].to_numpy(dtype=float)
            t = float(thresholds[vessel])
            rows.append(
                {
                    "group": name,
                    "vessel": vessel,
                    "n": len(p),
                    "median": round(float(np.median(p)), 3),
                    "q1": round(float(np.quantile(p, 0.25)), 3),
                    "q3": round(float(np.quantile(p, 0.75)), 3),
                    "threshold": t,
                    "at_or_above_pct": round(100.0 * float((p >= t).mean()), 1),
                }
            )
    return pd.DataFrame(rows)
