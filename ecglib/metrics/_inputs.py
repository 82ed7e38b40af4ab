"""Input checks shared by the evaluation metrics (private).

Every metric validates its inputs here, so that a bad input fails with a message that says
what is wrong instead of a silently wrong number. :class:`MissingInputError` marks an input
that a chapter needs and the cohort does not have (no symptoms, no follow-up): a notebook
catches it and prints "this chapter is skipped because <reason>".
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ecglib.errors import MissingInputError


def as_binary(y, name: str = "y") -> np.ndarray:
    """``y`` as an int array of 0/1; NaN or other values raise (a label is never guessed)."""
    arr = np.asarray(y, dtype=float).ravel()
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be 0/1 without missing values; position {i} holds "
            f"{arr[i]!r} ({int(bad.sum())} such values)"
        )
    return arr.astype(np.int64)


def as_probability(p, name: str = "p") -> np.ndarray:
    """``p`` as a float array in [0, 1]; NaN or out-of-range values raise."""
    arr = np.asarray(p, dtype=float).ravel()
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; position {i} holds "
            f"{arr[i]!r} ({int(bad.sum())} such values)"
        )
    return arr


def same_length(**arrays: np.ndarray) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    return next(iter(lengths.values()))


def require_columns(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`MissingInputError` when a column is absent or holds no value at all."""
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise MissingInputError(f"the cohort has no {', '.join(absent)} column ({what} needs it)")
    empty = [c for c in columns if table[c].isna().all()]
    if empty:
        raise MissingInputError(
            f"no row of the cohort has a value in {', '.join(empty)} ({what} needs it)"
        )


def cluster_members(groups, n: int) -> list[np.ndarray]:
    """Row indices of each cluster (e.g. patient) for the cluster bootstrap."""
    g = np.asarray(groups, dtype=object).ravel()
    if len(g) != n:
        raise ValueError(f"groups has {len(g)} entries for {n} rows")
    if pd.isna(g).any():
        raise ValueError(f"{int(pd.isna(g).sum())} rows have no group (patient id)")
    codes, _ = pd.factorize(g)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, bounds)


def cluster_resample(rng: np.random.Generator, members: list[np.ndarray]) -> np.ndarray:
    """Row indices of one cluster-bootstrap resample: clusters drawn with replacement, each
    with all its rows (Davison & Hinkley 1997, sec. 3.8)."""
    chosen = rng.integers(0, len(members), len(members))
    return np.concatenate([members[c] for c in chosen])
