"""Table 1 and the cohort chapter's numbers."""
import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.cohort import cohort_numbers, cohort_table


def _cohort(lm: list) -> pd.DataFrame:
    grades = {"RCA": [3, 0, 0, 3], "LM": lm, "LAD": [4, 3, 0, 0], "LCX": [0, 0, 3, 0]}
    cohort = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], "ccta_id": ["1", "2", "3", "4"],
                           "site": ["internal"] * 4,
                           **{schema.grade_col(v): g for v, g in grades.items()}})
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    return cohort


def test_the_rarest_vessel_is_named_from_the_data():
    numbers = cohort_numbers(_cohort([0, 0, 0, 0]))
    assert numbers["rarest_vessel"] == "LM" and numbers["rarest_prev"] == 0.0
    assert numbers["internal_prev_LAD"] == 50.0


def test_a_vessel_not_assessed_has_no_rows_and_is_never_the_rarest():
    cohort = _cohort([np.nan] * 4)
    numbers = cohort_numbers(cohort)
    assert numbers["rarest_vessel"] == "LCX" and numbers["rarest_prev"] == 25.0
    assert np.isnan(numbers["internal_prev_LM"])
    rows = cohort_table(cohort).index
    assert not any(r.startswith("LM ") for r in rows)
    assert "LAD severe or occluded (grade ≥ 3), n (%)" in rows
