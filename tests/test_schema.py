import numpy as np
import pandas as pd
import pytest

from ecglib import schema


def test_column_names_follow_the_vessels():
    assert schema.grade_cols() == ["grade_RCA", "grade_LM", "grade_LAD", "grade_LCX"]
    assert schema.label_col("LAD") == "y_LAD"
    assert schema.prob_col("LM") == "p_LM"
    with pytest.raises(KeyError, match="unknown vessel 'LMCA'"):
        schema.grade_col("LMCA")


def test_binarise_is_severe_or_occluded():
    grades = np.array([[0, 1, 2, 3], [4, 2, 3, 0]])
    assert schema.binarise_grades(grades).tolist() == [[0, 0, 0, 1], [1, 0, 1, 0]]


def test_binarise_dataframe_keeps_the_index():
    df = pd.DataFrame(np.array([[2, 3, 4, 0]]), columns=schema.grade_cols(), index=[7])
    out = schema.binarise_grades(df)
    assert list(out.columns) == schema.label_cols()
    assert out.loc[7].tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize("bad", [np.nan, 5, -1, 2.5])
def test_binarise_refuses_missing_or_off_scale_grades(bad):
    with pytest.raises(ValueError, match="not on the 0-4 scale"):
        schema.binarise_grades(np.array([[0, 0, bad, 0]], dtype=float))


def test_lead_order_is_the_standard_one():
    assert schema.LEADS[:6] == ("I", "II", "III", "aVR", "aVL", "aVF")
    assert schema.LEADS[6:] == tuple(f"V{i}" for i in range(1, 7))


def test_a_vessel_without_a_grade_in_any_row_is_not_assessed():
    df = pd.DataFrame(
        {
            "grade_RCA": [3, 0],
            "grade_LM": [np.nan, np.nan],
            "grade_LAD": [4, 2],
            "grade_LCX": [0, 3],
        }
    )
    out = schema.binarise_grades(df)
    assert list(out.columns) == schema.label_cols()
    assert out["y_LM"].isna().all()
    assert out[["y_RCA", "y_LAD", "y_LCX"]].to_numpy().tolist() == [[1, 1, 0], [0, 0, 1]]
    assert schema.assessed_vessels(out) == ("RCA", "LAD", "LCX")
    assert schema.assessed_vessels(df) == ("RCA", "LAD", "LCX")  # from the grades
    assert schema.vessels_of(out) == ["RCA", "LAD", "LCX"]
    assert schema.vessels_of(out.iloc[:0]) == list(schema.VESSELS)  # no rows: no evidence
    assert schema.vessels_of(out, ["LM"]) == ["LM"]
    thresholds = {"LCX": 0.1, "LM": 0.01, "RCA": 0.15}
    assert schema.assessed_entries(out, thresholds) == {"LCX": 0.1, "RCA": 0.15}


def test_a_vessel_graded_in_some_rows_only_still_raises():
    df = pd.DataFrame(
        {"grade_RCA": [3, 0], "grade_LM": [np.nan, 1], "grade_LAD": [4, 2], "grade_LCX": [0, 3]}
    )
    with pytest.raises(ValueError, match=r"nan\) of LM in row 0 is not on the 0-4 scale"):
        schema.binarise_grades(df)
    with pytest.raises(ValueError, match="no vessel has a grade"):
        schema.binarise_grades(pd.DataFrame({c: [np.nan] for c in schema.grade_cols()}))
