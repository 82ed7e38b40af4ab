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

__all__ = ["format_estimate", "format_p", "wide_estimates"]


def format_estimate(value: float, low: float = math.nan, high: float = math.nan,
                    digits: int = 3) -> str:
    """``"0.794 [0.771-0.816]"``, ``"0.794"`` without bounds, ``"n/a"`` for a missing value.

    Bounds are printed when both are finite; one missing bound prints ``[CI n/a]``.
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    has_low = low is not None and np.isfinite(low)
    has_high = high is not None and np.isfinite(high)
    if has_low and has_high:
        dash = " to " if min(low, high) < 0 else "-"      # "-0.05--0.01" would be unreadable
        return f"{text} [{low:.{digits}f}{dash}{high:.{digits}f}]"
    if has_low or has_high:
        return f"{text} [CI n/a]"
    return text
