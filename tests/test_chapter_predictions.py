"""ecglib.chapters.predictions: the run's predictions joined to the cohort, without identifiers."""

import numpy as np
import pandas as pd
import pytest
from chapter_support import N_FOLDS, make_cohort, write_run

from ecglib import schema
from ecglib.chapters import predictions as results
from ecglib.errors import DataError, MissingInputError
from ecglib.paths import RunPaths
from ecglib.report.save import IDENTIFYING_COLUMNS
from ecglib.train.predict import predictions_frame


def test_cohort_keys_rank_exams_and_ecgs_without_identifiers():
    cohort = make_cohort()
    keys = results.cohort_keys(cohort)
    assert list(keys.columns) == ["patient", "exam", "exam_order", "ecg_order"]
    assert keys["patient"].nunique() == cohort["patient_id"].nunique()
    assert keys["exam"].nunique() == cohort["ccta_id"].nunique()
    for _exam, group in cohort.groupby("ccta_id"):
        k = keys.loc[group.index]
        latest = group["ecg_time"].idxmax()
        assert k.loc[latest, "ecg_order"] == 1
        assert sorted(k["ecg_order"]) == list(range(1, len(group) + 1))
    for _patient, group in cohort.groupby("patient_id"):
        first = group.loc[group["ccta_time"] == group["ccta_time"].min()].index
        assert (keys.loc[first, "exam_order"] == 1).all()
        assert keys.loc[group.index, "exam_order"].max() == group["ccta_id"].nunique()


def test_join_results_carries_labels_covariates_keys_and_no_identifier():
    cohort = make_cohort()
    preds = predictions_frame(np.array([3, 0, 5]), np.full((3, 4), 0.2), fold=1)
    joined = results.join_results(preds, cohort)
    assert joined["row"].tolist() == [3, 0, 5]
    assert joined["y_LAD"].tolist() == cohort.loc[[3, 0, 5], "y_LAD"].tolist()
    assert joined["age"].tolist() == cohort.loc[[3, 0, 5], "age"].tolist()
    assert {"patient", "exam", "exam_order", "ecg_order", "followup_days"} <= set(joined.columns)
    assert not set(IDENTIFYING_COLUMNS) & set(joined.columns)
    assert not joined.astype(str).isin(set(cohort["patient_id"])).any().any()
    with pytest.raises(DataError, match="not in the cohort"):
        results.join_results(predictions_frame(np.array([len(cohort)]), np.zeros((1, 4))), cohort)


def test_load_results_pools_folds_and_averages_external(tmp_path):
    cohort = make_cohort()
    params = write_run(tmp_path, cohort)
    res = results.load_results(params)
    internal = cohort.index[cohort["site"] == "internal"]
    assert sorted(res.oof["row"]) == list(internal) and res.folds == [0, 1, 2]
    assert set(res.fold(1)["fold"]) == {1}
    assert res.external is not None and res.n_fold_models == N_FOLDS
    assert sorted(res.external["row"]) == list(cohort.index[cohort["site"] == "external"])
    paths = RunPaths.of(params)
    frames = [pd.read_csv(paths.external_predictions(k)).sort_values("row") for k in range(3)]
    want = np.mean([f[schema.prob_cols()].to_numpy() for f in frames], axis=0)
    got = res.external.sort_values("row")[schema.prob_cols()].to_numpy()
    np.testing.assert_allclose(got, want)
    normal = res.normal_ecg()
    assert (normal["normal_ecg"] == 1).all() and len(normal) == (res.oof["normal_ecg"] == 1).sum()
    assert res.skipped == {}


def test_load_results_without_external_site_skips_it(tmp_path):
    cohort = make_cohort(n_external=0).drop(columns=["normal_ecg"])
    res = results.load_results(write_run(tmp_path, cohort))
    assert res.external is None and res.n_fold_models == 0
    assert "no external site" in res.skipped["external"]
    with pytest.raises(MissingInputError, match="no external site"):
        res.require_external()
    with pytest.raises(MissingInputError, match="normal"):
        res.normal_ecg()


def test_load_results_refuses_stale_or_missing_predictions(tmp_path):
    cohort = make_cohort()
    params = write_run(tmp_path, cohort)
    paths = RunPaths.of(params)
    # a cohort with one more internal row than was predicted
    extra = cohort.iloc[[0]].assign(ecg_id="E9999", ecg_path="/x/E9999.npy")
    pd.concat([cohort, extra], ignore_index=True).to_csv(paths.cohort, index=False)
    with pytest.raises(DataError, match="do not match"):
        results.load_results(params)
    cohort.to_csv(paths.cohort, index=False)
    paths.external_predictions(2).unlink()
    with pytest.raises(DataError, match="no predictions"):
        results.load_results(params)
