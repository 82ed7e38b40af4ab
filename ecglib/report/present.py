"""How numbers read in the book: estimates with their intervals, p-values.

One place for the formatting rules, so that a chapter's text, its tables and its figure legends
agree (a p-value reads "< 0.001" everywhere, never "0.000").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics.small_counts import WITHHELD

__all__ = ["format_estimate", "format_p", "wide_estimates", "numbers_from"]


def format_estimate(
    value: float, low: float = math.nan, high: float = math.nan, digits: int = 3
) -> str:
    """``"0.794 [0.771-0.816]"``, ``"0.794"`` without bounds, ``"n/a"`` for a missing value.

    Bounds are printed when both are finite; one missing bound prints ``[CI n/a]``.
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    has_low = low is not None and np.isfinite(low)
    has_high = high is not None and np.isfinite(high)
    if has_low and has_high:
        dash = " to " if min(low, high) < 0 else "-"  # "-0.05--0.01" would be unreadable
        return f"{text} [{low:.{digits}f}{dash}{high:.{digits}f}]"
    if has_low or has_high:
        return f"{text} [CI n/a]"
    return text


def format_p(p: float, *, prefix: str | None = None) -> str:
    """A p-value as the book prints it everywhere: ``"< 0.001"``, three decimals below 0.1
    (``"0.043"``), two above (``"0.43"``), ``"n/a"`` when it does not exist. ``prefix="p"``
    gives ``"p < 0.001"``, ``"p = 0.043"``, ``"p = n/a"`` (figure annotations)."""
    if p is None or not np.isfinite(p):
        text, sign = "n/a", "="
    elif p < 0.001:
        text, sign = "0.001", "<"
    else:
        text, sign = (f"{p:.3f}" if p < 0.1 else f"{p:.2f}"), "="
    if prefix:
        return f"{prefix} {sign} {text}"
    return f"< {text}" if sign == "<" else text


def wide_estimates(
    table: pd.DataFrame,
    index: str | Sequence[str],
    value: str = "auc",
    low: str = "ci_low",
    high: str = "ci_high",
    digits: int = 3,
    columns: str = "vessel",
) -> pd.DataFrame:
    """A long table of estimates as text ``0.712 [0.650-0.768]``, one column per ``columns``
    value (vessels in the paper's order), one row per ``index``; a row withheld under the
    small-count policy (:func:`ecglib.metrics.small_counts.withhold`) shows its reason, e.g.
    ``too few events (2)``."""
    # a row withheld under the small-count policy shows why instead of a number
    withheld = table[WITHHELD] if WITHHELD in table.columns else pd.Series("", index=table.index)
    text = table.assign(
        _text=[
            withheld.at[i] or format_estimate(r[value], r[low], r[high], digits)
            for i, r in table.iterrows()
        ]
    )
    wide = text.pivot(index=index, columns=columns, values="_text")
    if columns == "vessel":
        wide = wide[[v for v in schema.VESSELS if v in wide.columns]]
    wide.columns.name = None
    return wide.loc[list(dict.fromkeys(text.set_index(index).index))]


def numbers_from(
    table,
    columns: Sequence[str],
    *,
    prefix: str = "",
    key: str = "vessel",
    rows: Sequence[str] = schema.VESSELS,
    scale: float = 1.0,
) -> dict[str, float]:
    """Glue-ready numbers ``<prefix><column>_<row>`` from a table with one row per ``key``
    value (a column or the index), times ``scale`` (100 for percent). A part that was not
    computed (any non-DataFrame, e.g. a :class:`ecglib.chapters.parts.Skipped`) or an absent
    row gives NaN, so the chapter's text always finds its keys."""
    have = isinstance(table, pd.DataFrame)
    if have and key in table.columns:
        table = table.set_index(key)
    out = {}
    for column in columns:
        for row in rows:
            value = float(table.at[row, column]) if have and row in table.index else math.nan
            out[f"{prefix}{column}_{row}"] = value * scale
    return out
