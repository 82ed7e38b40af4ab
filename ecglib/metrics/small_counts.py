"""The small-count policy: estimates on too few events are withheld, not printed.

An AUC, its interval, a calibration curve or a test computed on a handful of positive (or
negative) ECGs is dominated by one or two patients: with 2 positives the AUC has only two
ranks to order, and a clustered DeLong interval estimated from 3 patients can look precise
while meaning nothing. Below the run's threshold (``report.min_events`` of the params, passed
in here as ``min_events``: metrics know no params) the estimate is withheld everywhere the book
shows it (tables, text, figure legends) and replaced by :func:`too_few_text`, e.g.
``"too few events (2)"``.

The count that decides is the smaller class: positives (events) or negatives (non-events).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "too_few",
    "too_few_text",
    "withhold",
    "withhold_groups",
    "withheld_list",
    "withheld_reason",
    "WITHHELD",
    "AUC_ESTIMATES",
]

#: The column :func:`withhold` adds: the display text of a withheld row, "" otherwise.
WITHHELD = "withheld"
#: The estimate columns of an AUC table (:data:`ecglib.metrics.roc.AUC_TABLE_COLUMNS`) that a
#: withheld row loses.
AUC_ESTIMATES: tuple[str, ...] = ("auc", "se", "ci_low", "ci_high")


def _count(value) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def too_few(positives, negatives, min_events: int) -> bool:
    """True when ``positives`` or ``negatives`` is below ``min_events`` (a count that is
    missing, NaN, decides nothing: an estimate that does not exist is not "withheld")."""
    if min_events < 1:
        raise ValueError(f"min_events must be at least 1, got {min_events}")
    counts = [_count(positives), _count(negatives)]
    return any(np.isfinite(c) and c < min_events for c in counts)


def too_few_text(positives, negatives, min_events: int) -> str:
    """``"too few events (2)"`` when the positives are below ``min_events`` (the fewer of the
    two classes decides when both are), ``"too few non-events (3)"`` when only the negatives
    are; ``""`` when neither is."""
    if not too_few(positives, negatives, min_events):
        return ""
    pos, neg = _count(positives), _count(negatives)
    if np.isfinite(pos) and pos < min_events and not (np.isfinite(neg) and neg < pos):
        return f"too few events ({int(pos)})"
    return f"too few non-events ({int(neg)})"


def withhold(
    table: pd.DataFrame,
    min_events: int,
    estimates: Sequence[str] = AUC_ESTIMATES,
    *,
    positives: str = "positives",
    negatives: str = "negatives",
    total: str | None = None,
) -> pd.DataFrame:
    """A copy of ``table`` whose rows with too few ``positives`` or ``negatives``
    (:func:`too_few`) have NaN in every ``estimates`` column present, and a :data:`WITHHELD`
    column with :func:`too_few_text` ("" for the rows kept). Counts stay: they say why.

    A table that counts its rows and their positives but not the negatives names the rows'
    column as ``total`` (e.g. ``"n"``): the negatives are then ``total - positives``."""
    needed = (positives, negatives) if total is None else (positives, total)
    for name in needed:
        if name not in table.columns:
            raise KeyError(f"withhold needs the count column {name!r}; the table has {list(table)}")
    out = table.copy()
    pos = out[positives].to_numpy(dtype=float)
    neg = (
        out[negatives].to_numpy(dtype=float)
        if total is None
        else out[total].to_numpy(dtype=float) - pos
    )
    text = [too_few_text(p, n, min_events) for p, n in zip(pos, neg)]
    out[WITHHELD] = text
    mask = np.array([bool(t) for t in text], dtype=bool)
    for column in estimates:
        if column in out.columns and mask.any():
            out[column] = out[column].astype(float)
            out.loc[mask, column] = math.nan
    return out


def withheld_list(table: pd.DataFrame, label: Sequence[str]) -> list[str]:
    """``"<label columns joined> (<text>)"`` for every withheld row of a :func:`withhold`
    table, e.g. ``["LM, external (too few events (2))"]``: the text's list of what it does not
    report."""
    if WITHHELD not in table.columns:
        return []
    rows = table[table[WITHHELD].astype(bool)]
    return [f"{', '.join(str(r[c]) for c in label)} ({r[WITHHELD]})" for _, r in rows.iterrows()]


def withhold_groups(
    table: pd.DataFrame,
    counts: pd.DataFrame,
    min_events: int,
    estimates: Sequence[str],
    *,
    key: str = "vessel",
) -> pd.DataFrame:
    """:func:`withhold` for a table with several rows per group (strata of a vessel, points of
    a curve) whose counts belong to the group, not the row: ``counts`` has one row per ``key``
    value with ``positives`` and ``negatives``; every row of a group with too few loses its
    ``estimates`` and carries the group's reason. A group absent from ``counts`` is kept."""
    missing = [c for c in (key, "positives", "negatives") if c not in counts.columns]
    if missing:
        raise KeyError(f"withhold_groups needs the count columns {missing}; got {list(counts)}")
    index = counts.set_index(key)
    merged = table.assign(
        _positives=table[key].map(index["positives"]), _negatives=table[key].map(index["negatives"])
    )
    out = withhold(merged, min_events, estimates, positives="_positives", negatives="_negatives")
    return out.drop(columns=["_positives", "_negatives"])


def withheld_reason(row) -> str:
    """The reason a row of a :func:`withhold` table is withheld, ``""`` when it is shown; ``row``
    is a Series or dict (``row.get``) or a named tuple from ``itertuples`` (an attribute)."""
    value = row.get(WITHHELD, "") if hasattr(row, "get") else getattr(row, WITHHELD, "")
    return value if isinstance(value, str) else ""
