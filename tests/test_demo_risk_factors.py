"""The demo's risk factors (family history, smoking, dyslipidaemia, hypertension, diabetes): drawn
from their own stream, so that every other value of the cohort is what it was without them; as
common and as predictive as in CCTA referral cohorts; read through the column map as 0/1."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from ecglib import schema
from ecglib.data.cohort import ExportMap, apply_map, apply_rules
from ecglib.demo import EXPORT_COLUMNS, make_demo_cohort
from ecglib.demo import cohort as demo_cohort
from ecglib.demo.cohort import RISK_FACTOR_MODELS
from ecglib.errors import DataError
from ecglib.metrics.baselines import clinical_baseline
from ecglib.metrics.outcomes import any_vessel_score

COLUMNS = [f.column for f in RISK_FACTOR_MODELS]
KEYS = [f.key for f in RISK_FACTOR_MODELS]
DEMO_MAP = "params/maps/demo_export.yaml"


@pytest.fixture(scope="module")
def paper():
    return make_demo_cohort("paper", seed=0)


@pytest.fixture(scope="module")
def canonical(paper):
    export_map = ExportMap.from_yaml(DEMO_MAP)
    cohort, _ = apply_rules(apply_map(paper.table.astype(str), export_map), export_map)
    return cohort


def test_the_export_has_the_five_factors_as_yes_no_per_patient(paper):
    assert [f.key for f in RISK_FACTOR_MODELS] == list(schema.RISK_FACTORS)
    assert set(COLUMNS) <= set(EXPORT_COLUMNS)
    table = paper.table
    for column in COLUMNS:
        assert set(table[column]) == {"yes", "no"}
        assert (table.groupby("Patient ID")[column].nunique() == 1).all()


def test_prevalences_and_association_with_disease_are_those_of_ccta_cohorts(paper):
    truth = paper.truth
    first = truth[~truth["patient_id"].duplicated() & (truth["site"] == "internal")]
    ranges = {
        "family_history": (0.25, 0.45),
        "smoking": (0.30, 0.55),
        "dyslipidaemia": (0.35, 0.55),
        "hypertension": (0.40, 0.60),
        "diabetes": (0.08, 0.22),
    }
    diseased = (first[schema.grade_cols()] >= 2).any(axis=1).to_numpy()
    for key, (low, high) in ranges.items():
        present = first[key].to_numpy()
        assert low < present.mean() < high, key
        # each factor is commoner with obstructive disease, by a CCTA cohort's odds ratio (1.2-3)
        a, b = present[diseased].mean(), present[~diseased].mean()
        odds_ratio = (a / (1 - a)) / (b / (1 - b))
        assert 1.2 < odds_ratio < 3.0, (key, odds_ratio)


def test_another_risk_factor_stream_changes_nothing_else(monkeypatch):
    base = make_demo_cohort("small", seed=3)
    stream = demo_cohort.RISK_FACTOR_STREAM
    monkeypatch.setattr(demo_cohort, "RISK_FACTOR_STREAM", stream + 1)
    other = make_demo_cohort("small", seed=3)
    rest = [c for c in EXPORT_COLUMNS if c not in COLUMNS]
    pd.testing.assert_frame_equal(base.table[rest], other.table[rest])
    pd.testing.assert_frame_equal(base.truth.drop(columns=KEYS), other.truth.drop(columns=KEYS))
    np.testing.assert_array_equal(base.params.planted_mv, other.params.planted_mv)
    assert not base.table[COLUMNS].equals(other.table[COLUMNS])  # the stream is what draws them
    monkeypatch.undo()
    again = make_demo_cohort("small", seed=3)
    pd.testing.assert_frame_equal(base.table[COLUMNS], again.table[COLUMNS])


def test_the_map_reads_them_as_0_1(paper, canonical):
    for key in KEYS:
        assert set(canonical[key].unique()) == {0.0, 1.0}
    # the rows the after-CCTA rule keeps, in order: the same answers as the export's text
    kept = paper.table.set_index("ECG ID").loc[canonical["ecg_id"]]
    for f in RISK_FACTOR_MODELS:
        np.testing.assert_array_equal(
            canonical[f.key].to_numpy(), (kept[f.column] == "yes").to_numpy(float)
        )


def _clinical_auc(cohort: pd.DataFrame, columns) -> float:
    """Patient-level AUC (first ECG of each patient) of the cross-fitted clinical baseline's
    noisy-OR any-vessel score for obstructive disease (grade >= 2) in any vessel."""
    internal = cohort[cohort["site"] == "internal"].reset_index(drop=True)
    folds = np.zeros(len(internal), dtype=int)
    for k, (_, held) in enumerate(GroupKFold(5).split(internal, groups=internal["patient_id"])):
        folds[held] = k
    internal["fold"] = folds
    fitted = clinical_baseline(internal, columns=columns)
    score = any_vessel_score(fitted.oof[schema.prob_cols()].to_numpy())
    label = (internal[schema.grade_cols()] >= 2).any(axis=1).to_numpy()
    first = ~internal["patient_id"].duplicated().to_numpy()
    return roc_auc_score(label[first], score[first])


def test_the_clinical_baseline_discriminates_as_in_ccta_cohorts(canonical):
    with_factors = _clinical_auc(canonical, ("age", "sex", "symptom", *schema.RISK_FACTORS))
    without = _clinical_auc(canonical, ("age", "sex", "symptom"))
    assert 0.60 <= with_factors <= 0.75
    assert with_factors > without + 0.01  # the risk factors add what they add in real cohorts


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", 1.0), ("No", 0.0), ("1", 1.0), ("0", 0.0), ("1.0", 1.0), ("TRUE", 1.0), ("", np.nan)],
)
def test_yes_no_spellings(value, expected):
    from conftest import export_row

    raw = pd.DataFrame([export_row(0, Smoking=value)])
    out = apply_map(raw, ExportMap.from_yaml(DEMO_MAP))
    np.testing.assert_equal(out.at[0, "smoking"], expected)


@pytest.mark.parametrize("value", ["maybe", "2", "-1", "ex-smoker"])
def test_a_bad_risk_factor_value_names_the_record_and_column(value):
    from conftest import export_row

    raw = pd.DataFrame([export_row(0), export_row(1, Diabetes=value)])
    with pytest.raises(DataError, match=rf"E001.*diabetes '{value}' is not yes/no or 1/0"):
        apply_map(raw, ExportMap.from_yaml(DEMO_MAP))
