"""ecglib.metrics.rf_cl: the 2024 ESC risk-factor-weighted clinical likelihood, against the
published model's worked example and the guideline's printed table."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from ecglib import schema
from ecglib.errors import MissingInputError
from ecglib.metrics.rf_cl import (
    ESC_2024_TABLE,
    TABLE_AGE_BANDS,
    rf_cl,
    rf_cl_category,
    rf_cl_table,
    rf_cl_table_lookup,
    risk_factor_count,
    risk_factor_group,
)


def test_the_worked_example_of_the_published_model():
    # pretestcad's calculate_winther_2020_rf_cl_ptp example: a 40-year-old man without chest
    # pain or dyspnoea (the non-anginal group) and no risk factor -> 0.01414985
    assert rf_cl(40, "male", "non-anginal", 0)[0] == pytest.approx(0.01414985, abs=5e-9)


def test_a_hand_computed_case_with_every_interaction():
    # a 65-year-old woman with typical angina and 4 risk factors (group 3), term by term
    logit = -9.5260 + 0.0844 * 65 + 2.7112 + 1.4940 * 3 - 0.0187 * 65 - 0.0131 * 65 * 3
    logit += -0.2799 * 3
    assert rf_cl(65, "female", "typical", 4)[0] == pytest.approx(expit(logit), rel=1e-12)
    # atypical angina and dyspnoea are the same (reference) group
    assert rf_cl(65, "female", "atypical", 2)[0] == rf_cl(65, "female", "dyspnoea", 3)[0]


def test_the_printed_table_is_the_model_at_the_band_midpoints():
    """The guideline's Figure 4 tabulates the model: each cell within one percentage point of
    the equation at the band's midpoint age (35, 45, 55, 65, 75)."""
    symptom_of = {"0-1": "non-anginal", "2": "atypical", "3": "typical"}
    count_of = {"0-1": 0, "2-3": 2, "4-5": 4}
    mid = {"30-39": 35, "40-49": 45, "50-59": 55, "60-69": 65, "70-80": 75}
    rows = ESC_2024_TABLE
    model = 100 * rf_cl(
        rows["age_band"].map(mid),
        rows["sex"],
        rows["symptom_group"].map(symptom_of),
        rows["rf_group"].map(count_of),
    )
    assert len(rows) == 90
    assert np.abs(model - rows["rf_cl_percent"].to_numpy()).max() < 1.0


def test_the_table_lookup_reads_the_printed_cells():
    # men 70-80 with typical angina: 44, 44, 45% for 0-1, 2-3, 4-5 risk factors
    out = rf_cl_table_lookup([72, 80, 75], ["male"] * 3, ["typical"] * 3, [1, 3, 5])
    np.testing.assert_array_equal(out, [44, 44, 45])
    # women 30-39, symptom score 0-1 and 0-1 risk factors: 0%; outside 30-80: NaN
    out = rf_cl_table_lookup([30, 29, 81], ["female"] * 3, ["non-anginal"] * 3, [0, 0, 0])
    assert out[0] == 0 and np.isnan(out[1:]).all()
    assert list(TABLE_AGE_BANDS) == ["30-39", "40-49", "50-59", "60-69", "70-80"]


def test_risk_factor_groups_and_counts():
    np.testing.assert_array_equal(risk_factor_group([0, 1, 2, 3, 4, 5]), [1, 1, 2, 2, 3, 3])
    with pytest.raises(ValueError, match="0-5"):
        risk_factor_group([6])
    table = pd.DataFrame({rf: [1, 0, 1] for rf in schema.RISK_FACTORS})
    table.loc[2, "diabetes"] = np.nan
    np.testing.assert_array_equal(risk_factor_count(table).to_numpy(), [5, 0, np.nan])
    table.loc[1, "smoking"] = 2
    with pytest.raises(ValueError, match="smoking of row 1 is 2, not 0 or 1"):
        risk_factor_count(table)


def test_categories_include_their_upper_bounds():
    cats = rf_cl_category([0.05, 0.0501, 0.15, 0.1501, np.nan])
    assert list(cats.astype(object)[:4]) == ["very low", "low", "low", "moderate"]
    assert pd.isna(cats[4])


def test_the_cohort_table_says_why_a_value_is_missing():
    cohort = pd.DataFrame(
        {
            "age": [40, 60, np.nan],
            "sex": ["male", "female", "male"],
            "symptom": ["non-anginal", None, "typical"],
            **{rf: [0, 1, 1] for rf in schema.RISK_FACTORS},
        }
    )
    out = rf_cl_table(cohort)
    assert out.at[0, "rf_cl"] == pytest.approx(0.01414985, abs=5e-9)
    assert list(out["reason"]) == [None, "symptom missing", "age missing"]
    assert out["rf_cl"].isna().tolist() == [False, True, True]
    with pytest.raises(MissingInputError, match="diabetes"):
        rf_cl_table(cohort.drop(columns="diabetes"))
    with pytest.raises(ValueError, match="symptom 'chest pain' of row 0"):
        rf_cl([50], ["male"], ["chest pain"], [1])
