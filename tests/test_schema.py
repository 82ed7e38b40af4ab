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
