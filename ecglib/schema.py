"""The one place that names the study's vessels, grades, leads and derived columns.

Every other module asks this one for a column name instead of spelling it, and
:func:`binarise_grades` is the only code in the project that turns a stenosis grade
into a label (the authors' code had six binarisers that disagreed on "moderate").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

import numpy as np
import pandas as pd

_V = TypeVar("_V")

#: The four major coronary arteries, in the paper's order.
VESSELS: tuple[str, ...] = ("RCA", "LM", "LAD", "LCX")

#: Ordinal CCTA stenosis grade scale.
GRADES: dict[int, str] = {0: "none", 1: "mild", 2: "moderate", 3: "severe", 4: "occluded"}

#: A vessel is positive when its grade is at least this (severe stenosis or occlusion).
POSITIVE_GRADE = 3

#: Standard 12-lead order, the order ECGFounder was trained with.
LEADS: tuple[str, ...] = (
    "I",
    "II",
    "III",
    "aVR",
    "aVL",
    "aVF",
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "V6",
)

#: The six limb leads (Einthoven's and the augmented ones): a limb-lead ECG has no chest lead.
LIMB_LEADS: tuple[str, ...] = LEADS[:6]


def input_leads(spec: str | Iterable[str]) -> tuple[str, ...]:
    """The leads a model sees (params ``model.input_leads``), in :data:`LEADS` order: ``all``,
    ``limb`` (:data:`LIMB_LEADS`) or the leads named."""
    if isinstance(spec, str):
        if spec == "all":
            return LEADS
        if spec == "limb":
            return LIMB_LEADS
        raise ValueError(f"input leads {spec!r}: expected all, limb or a list of lead names")
    names = list(spec)
    unknown = [n for n in names if n not in LEADS]
    if unknown or not names:
        raise ValueError(f"input leads {names}: unknown {unknown}; leads are {', '.join(LEADS)}")
    return tuple(lead for lead in LEADS if lead in names)


#: Sampling rate and length of the model input (10 s at 500 Hz).
FS = 500
N_SAMPLES = 5000

#: Canonical cohort-table columns that every export must provide (through its column map).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "ecg_id",
    "ecg_path",
    "ecg_time",
    "ccta_time",
)
#: Canonical columns that an export may provide.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "ccta_id",
    "site",
    "age",
    "sex",
    "ecg_diagnosis",
    "normal_ecg",
    "symptom",
    "followup_days",
    "followup_event",
    # 1 when the follow-up ended with a competing event (e.g. death without the outcome), 0
    # otherwise; needs followup_event, and never 1 together with it.
    "followup_competing",
    # The five risk factors of the risk-factor-weighted clinical likelihood (RISK_FACTORS):
    # 1 present, 0 absent, missing not recorded.
    "family_history",
    "smoking",
    "dyslipidaemia",
    "hypertension",
    "diabetes",
)

#: The risk factors of the 2024 ESC risk-factor-weighted clinical likelihood (Winther et al.,
#: JACC 2020): family history of premature coronary artery disease, smoking (current or past),
#: dyslipidaemia, hypertension, diabetes. Canonical 0/1 columns of these names.
RISK_FACTORS: tuple[str, ...] = (
    "family_history",
    "smoking",
    "dyslipidaemia",
    "hypertension",
    "diabetes",
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

    The one exception is a vessel **not assessed** in a cohort (a column map's
    ``not_assessed:``, :mod:`ecglib.data.cohort`): in a DataFrame whose ``grade_<vessel>`` is missing
    in *every* row, that vessel's labels are all missing (float NaN) instead of an error. A
    vessel graded in some rows and not in others still raises.
    """
    if isinstance(grades, pd.DataFrame):
        assessed = [v for v in VESSELS if grades[grade_col(v)].notna().any()]
        if not assessed:
            raise ValueError("no vessel has a grade in any row: nothing to binarise")
        values = grades[grade_cols(assessed)].to_numpy(dtype=float)
        labels = pd.DataFrame(
            _binarise(values, assessed), index=grades.index, columns=label_cols(assessed)
        )
        for vessel in VESSELS:
            if vessel not in assessed:
                labels[label_col(vessel)] = np.nan
        return labels[label_cols()]
    return _binarise(np.asarray(grades, dtype=float))


def assessed_vessels(table: pd.DataFrame) -> tuple[str, ...]:
    """The vessels a table has labels for, in :data:`VESSELS` order.

    A vessel is assessed when its ``y_<vessel>`` column (or, in a table without labels, its
    ``grade_<vessel>`` column) has a value in at least one row. A cohort whose column map
    declares a vessel ``not_assessed`` (PTB-XL has no left-main proxy, for example) has that
    vessel's labels missing in every row, and training, evaluation and the book leave it out.
    """
    out = []
    for vessel in VESSELS:
        col = label_col(vessel) if label_col(vessel) in table else grade_col(vessel)
        if col not in table:
            raise KeyError(f"the table has neither {label_col(vessel)} nor {grade_col(vessel)}")
        if table[col].notna().any():
            out.append(vessel)
    return tuple(out)


def _binarise(values: np.ndarray, vessels: tuple[str, ...] | list[str] = VESSELS) -> np.ndarray:
    if values.ndim != 2 or values.shape[1] != len(vessels):
        raise ValueError(f"grades must have shape (n, {len(vessels)}), got {values.shape}")
    bad = ~np.isin(values, list(GRADES))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"grade {values[row, col]!r} of {vessels[col]} in row {row} is not on the 0-4 scale "
            f"({bad.sum()} such values); binarise only validated grades"
        )
    return (values >= POSITIVE_GRADE).astype(np.int8)


def _check_vessel(vessel: str) -> None:
    if vessel not in VESSELS:
        raise KeyError(f"unknown vessel {vessel!r}; expected one of {VESSELS}")


def vessels_of(table: pd.DataFrame, vessels: Iterable[str] | None = None) -> list[str]:
    """``vessels`` when given, else the vessels ``table`` has labels for
    (:func:`assessed_vessels`; all four for a table without rows): the default vessel list of
    every metric, table and figure, so that a vessel the cohort does not assess has no AUC,
    threshold, row or panel anywhere."""
    if vessels is not None:
        return list(vessels)
    if len(table) == 0:
        return list(VESSELS)
    return list(assessed_vessels(table))


def assessed_entries(table: pd.DataFrame, per_vessel: Mapping[str, _V]) -> dict[str, _V]:
    """The entries of a per-vessel mapping (thresholds, strata targets, curve ranges: the run's
    params name all four vessels) for the vessels ``table`` has labels for
    (:func:`vessels_of`), in the mapping's order."""
    keep = vessels_of(table)
    return {v: x for v, x in per_vessel.items() if v in keep}
