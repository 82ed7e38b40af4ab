"""Prediction tables: columns, no identifiers, every internal row predicted once, fold means."""

import numpy as np
import pandas as pd
import pytest
import torch
from train_support import store_of, tiny_params, write_run

from ecglib import schema
from ecglib.paths import RunPaths
from ecglib.train.fit import TaskModel, fit_fold
from ecglib.train.predict import (
    join_cohort,
    load_fold_model,
    mean_external,
    predict_mean,
    predict_probs,
    read_oof,
    write_predictions,
)
from ecglib.train.validate import macro_auc, prediction_aucs, vessel_aucs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pred")
    params = write_run(tmp, params=tiny_params(tmp, epochs=1, gradient_surgery="none"))
    results = [fit_fold(params, k, progress=False) for k in range(params.folds.n_folds)]
    return params, results


def test_oof_and_external_files_have_the_right_columns_and_no_identifiers(trained):
    params, results = trained
    paths = RunPaths.of(params)
    cohort = pd.read_csv(paths.cohort, dtype={"patient_id": str})
    internal = set(cohort.index[cohort["site"] != "external"])
    external = set(cohort.index[cohort["site"] == "external"])
    for k, _res in enumerate(results):
        oof = pd.read_csv(paths.oof_predictions(k))
        ext = pd.read_csv(paths.external_predictions(k))
        assert list(oof.columns) == ["row", "fold"] + schema.prob_cols()
        assert list(ext.columns) == ["row"] + schema.prob_cols()
        assert (oof["fold"] == k).all() and set(ext["row"]) == external
        assert oof[schema.prob_cols()].apply(lambda c: c.between(0, 1)).all().all()
        for frame in (oof, ext):  # nothing that identifies a patient or an ECG
            assert not {"patient_id", "ecg_id", "ecg_path", "ccta_id"} & set(frame.columns)
            assert not frame.astype(str).isin(set(cohort["patient_id"])).any().any()
    oof = read_oof(params)
    assert set(oof["row"]) == internal and oof["row"].is_unique
    # every patient's rows are in one fold
    assert (
        oof.assign(p=cohort.loc[oof["row"], "patient_id"].to_numpy()).groupby("p")["fold"].nunique()
        == 1
    ).all()


def test_mean_external_is_the_mean_of_the_fold_probabilities(trained):
    params, _ = trained
    paths = RunPaths.of(params)
    mean = mean_external(params)
    frames = [pd.read_csv(paths.external_predictions(k)).sort_values("row") for k in range(3)]
    want = np.mean([f[schema.prob_cols()].to_numpy() for f in frames], axis=0)
    np.testing.assert_allclose(mean[schema.prob_cols()].to_numpy(), want)
    assert (mean["n_models"] == 3).all()
    assert pd.read_csv(paths.external_mean).shape == mean.shape
    # the same from the models themselves: mean of probabilities
    store = store_of(params)
    cohort = pd.read_csv(paths.cohort)
    rows = mean["row"].to_numpy()
    models = [load_fold_model(params, k) for k in range(3)]
    direct = predict_mean(models, store.signals, store.rows_for(cohort.loc[rows, "ecg_path"]))
    np.testing.assert_allclose(direct, want, rtol=1e-6, atol=1e-7)


def test_join_cohort_and_heldout_aucs(trained):
    params, results = trained
    cohort = pd.read_csv(RunPaths.of(params).cohort)
    joined = join_cohort(results[0].oof, cohort)
    assert set(schema.label_cols()) <= set(joined.columns)
    np.testing.assert_array_equal(joined["y_LAD"], cohort.loc[results[0].oof["row"], "y_LAD"])
    aucs = prediction_aucs(results[0].oof, cohort)
    assert set(aucs) == set(schema.VESSELS) | {"macro"}


def test_write_predictions_refuses_identifiers(tmp_path):
    with pytest.raises(ValueError, match="identifiers"):
        write_predictions(pd.DataFrame({"row": [0], "patient_id": ["P1"]}), tmp_path / "x.csv")


def test_undefined_vessel_auc_is_nan_not_half():
    labels = np.array([[0, 0, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0], [0, 0, 0, 1]])
    probs = np.array(
        [[0.1, 0.2, 0.9, 0.3], [0.8, 0.1, 0.2, 0.7], [0.7, 0.3, 0.6, 0.2], [0.2, 0.4, 0.1, 0.9]]
    )
    aucs = vessel_aucs(labels, probs)
    assert np.isnan(aucs["LM"]) and aucs["RCA"] == 1.0
    assert macro_auc(aucs) == pytest.approx(np.mean([aucs["RCA"], aucs["LAD"], aucs["LCX"]]))
    assert np.isnan(macro_auc({v: float("nan") for v in schema.VESSELS}))


def test_predict_probs_restores_training_mode_and_batches_consistently(trained):
    params, _ = trained
    model = load_fold_model(params, 0).train()
    signals = store_of(params).signals
    rows = np.array([5, 1, 9, 2, 7])
    a = predict_probs(model, signals, rows, batch_size=2)
    b = predict_probs(model, signals, rows, batch_size=64)
    assert model.training
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        model.eval()
        want = torch.sigmoid(model(torch.from_numpy(np.asarray(signals[rows])))).numpy()
    np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)


def test_prediction_computes_the_head_in_float32_as_training_does(trained):
    """Under bf16 autocast (on the CPU here, on a GPU in a real run) the probabilities equal the
    training path's, whose head runs in float32: a bf16 head ties scores and moves AUCs."""
    params, _ = trained
    net = load_fold_model(params, 0)
    signals = store_of(params).signals
    rows = np.arange(40)
    got = predict_probs(net, signals, rows, batch_size=64, amp_dtype=torch.bfloat16)
    x = torch.from_numpy(np.ascontiguousarray(signals[rows], dtype=np.float32))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        _, logits = TaskModel(net, None).eval()(x)
    want = torch.sigmoid(logits.float()).double().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    fp32 = predict_probs(net, signals, rows, batch_size=64)
    assert np.abs(got - fp32).max() > 1e-6  # the autocast did run the trunk in bf16
