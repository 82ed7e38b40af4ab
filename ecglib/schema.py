"""The one place that names the study's vessels, grades, leads and derived columns.

Every other module asks this one for a column name instead of spelling it, and
:func:`binarise_grades` is the only code in the project that turns a stenosis grade
into a label (the authors' code had six binarisers that disagreed on "moderate").
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

#: The four major coronary arteries, in the paper's order.
VESSELS: tuple[str, ...] = ("RCA", "LM", "LAD", "LCX")

#: Ordinal CCTA stenosis grade scale.
GRADES: dict[int, str] = {0: "none", 1: "mild", 2: "moderate", 3: "severe", 4: "occluded"}

#: A vessel is positive when its grade is at least this (severe stenosis or occlusion).
POSITIVE_GRADE = 3

#: Standard 12-lead order, the order ECGFounder was trained with.
LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)

#: Sampling rate and length of the model input (10 s at 500 Hz).
FS = 500
N_SAMPLES = 5000

#: Canonical cohort-table columns that every export must provide (through its column map).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "patient_id", "ecg_id", "ecg_path", "ecg_time", "ccta_time",
)
#: Canonical columns that an export may provide.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "ccta_id", "site", "age", "sex", "ecg_diagnosis", "normal_ecg", "symptom",
    "followup_days", "followup_event",
)

#: Symptom categories for the 2019 ESC pre-test probability.
SYMPTOMS: tuple[str, ...] = ("typical", "atypical", "non-anginal", "dyspnoea")
SEXES: tuple[str, ...] = ("male", "female")


def grade_col(vessel: str) -> str:
    """Column holding a vessel's ordinal grade (0-4)."""
    _check_vessel(vessel)
    return f"grade_{vessel}"


def label_col(vessel: str) -> str:
    """Column holding a vessel's binary label (grade >= 3)."""
    _check_vessel(vessel)
    return f"y_{vessel}"


def prob_col(vessel: str) -> str:
    """Column holding a vessel's predicted probability."""
    _check_vessel(vessel)
    return f"p_{vessel}"


def grade_cols(vessels: Iterable[str] = VESSELS) -> list[str]:
    return [grade_col(v) for v in vessels]


def label_cols(vessels: Iterable[str] = VESSELS) -> list[str]:
    return [label_col(v) for v in vessels]


def prob_cols(vessels: Iterable[str] = VESSELS) -> list[str]:
    return [prob_col(v) for v in vessels]


def binarise_grades(grades: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
    """Binary labels from ordinal grades: ``y = 1[grade >= 3]`` (severe or occluded).

    A DataFrame is read through its ``grade_<vessel>`` columns and returned as a DataFrame of
    ``y_<vessel>`` columns on the same index; an array of shape (n, 4) in :data:`VESSELS` order
    returns an int8 array. Missing or out-of-scale grades raise: a label is never guessed.
    """
    if isinstance(grades, pd.DataFrame):
        values = grades[grade_cols()].to_numpy(dtype=float)
        return pd.DataFrame(_binarise(values), index=grades.index, columns=label_cols())
    return _binarise(np.asarray(grades, dtype=float))


def _binarise(values: np.ndarray) -> np.ndarray:
    if values.ndim != 2 or values.shape[1] != len(VESSELS):
        raise ValueError(f"grades must have shape (n, {len(VESSELS)}), got {values.shape}")
    bad = ~np.isin(values, list(GRADES))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"grade {values[row, col]!r} of {VESSELS[col]} in row {row} is not on the 0-4 scale "
            f"({bad.sum()} such values); binarise only validated grades"
        )
    return (values >= POSITIVE_GRADE).astype(np.int8)


def _check_vessel(vessel: str) -> None:
    if vessel not in VESSELS:
        raise KeyError(f"unknown vessel {vessel!r}; expected one of {VESSELS}")
