"""fit_fold: exact resume, every parameter trained, honest epoch selection, reuse."""

import dataclasses
import functools
import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch
from train_support import make_cohort, store_of, tiny_params, write_run

from ecglib import schema
from ecglib.model import build_model
from ecglib.paths import RunPaths
from ecglib.train import fit as fit_mod
from ecglib.train.checkpoint import load_checkpoint
from ecglib.train.data import derive_seed
from ecglib.train.fit import fit_fold, model_config
from ecglib.train.step import TrainStep


def _same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_after_a_crash_ends_exactly_like_an_uninterrupted_run(tmp_path, monkeypatch):
    straight = write_run(tmp_path / "a", params=tiny_params(tmp_path / "a", epochs=3))
    res_a = fit_fold(straight, 1, progress=False)

    crashed = write_run(tmp_path / "b", params=tiny_params(tmp_path / "b", epochs=3))
    calls = {"n": 0}
    real_aucs = fit_mod.vessel_aucs

    def crash_in_epoch_2(labels, probs):  # the inner-split AUCs are computed once per epoch
        calls["n"] += 1
        if calls["n"] == 2:  # epoch 2 trained but not validated nor saved: its work is lost
            raise RuntimeError("simulated crash")
        return real_aucs(labels, probs)

    monkeypatch.setattr(fit_mod, "vessel_aucs", crash_in_epoch_2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_fold(crashed, 1, progress=False)
    assert load_checkpoint(RunPaths.of(crashed).last_checkpoint(1))["epoch"] == 1
    monkeypatch.undo()
    torch.manual_seed(12345)  # the resumed process's global RNG is elsewhere: must not matter
    np.random.seed(7)
    res_b = fit_fold(crashed, 1, progress=False)

    assert res_b.resumed_after == 1 and res_a.resumed_after is None
    pa, pb = RunPaths.of(straight), RunPaths.of(crashed)
    last_a, last_b = load_checkpoint(pa.last_checkpoint(1)), load_checkpoint(pb.last_checkpoint(1))
    _same_state(last_a["model"], last_b["model"])
    _same_state(
        load_checkpoint(pa.best_checkpoint(1))["state_dict"],
        load_checkpoint(pb.best_checkpoint(1))["state_dict"],
    )
    for ka, kb in zip(last_a["optimizer"]["state"].values(), last_b["optimizer"]["state"].values()):
        for name in ka:
            assert torch.equal(torch.as_tensor(ka[name]), torch.as_tensor(kb[name]))
    pd.testing.assert_frame_equal(res_a.oof, res_b.oof)
    pd.testing.assert_frame_equal(res_a.external, res_b.external)
    cols = [c for c in res_a.history.columns if c != "seconds"]
    pd.testing.assert_frame_equal(res_a.history[cols], res_b.history[cols])
    assert res_a.best_epoch == res_b.best_epoch


@pytest.mark.parametrize("surgery", ["pcgrad", "pcgrad_authors", "pcgrad_features", "none"])
def test_one_step_moves_every_trainable_parameter_and_counts_one_bn_batch(tmp_path, surgery):
    # batch larger than the training rows: exactly one optimizer step
    params = write_run(
        tmp_path, params=tiny_params(tmp_path, epochs=1, batch_size=512, gradient_surgery=surgery)
    )
    fit_fold(params, 0, progress=False)
    torch.manual_seed(derive_seed(params.seed, 0, "init"))
    initial = build_model(model_config(params)).state_dict()
    trained = load_checkpoint(RunPaths.of(params).last_checkpoint(0))["model"]
    unused = set(build_model(model_config(params)).unused_parameter_names())
    n_params = 0
    for name, before in initial.items():
        after = trained[f"net.{name}"]
        if name.endswith("num_batches_tracked"):
            expected = 0 if name.rsplit(".", 1)[0] + ".weight" in unused else 1
            assert int(after) == expected, name
        elif name.endswith(("running_mean", "running_var")):
            continue
        elif name in unused:
            assert torch.equal(before, after), f"{name} is never used and must not move"
        else:
            n_params += 1
            assert not torch.equal(before, after), f"{name} did not move"
    assert n_params > 10
    log_vars = trained["weighting.log_vars"]
    assert not torch.equal(log_vars, torch.zeros_like(log_vars)), "uncertainty weights did not move"


def test_epoch_is_chosen_on_the_inner_split_and_the_held_out_fold_is_predicted_once(
    tmp_path, monkeypatch
):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=4))
    predicted = []  # the store rows of every prediction fit_fold makes, in order
    real_predict = fit_mod.predict_probs

    def spy(net, signals, rows, **options):
        predicted.append(np.asarray(rows).copy())
        return real_predict(net, signals, rows, **options)

    # inner-validation AUCs scripted so that epoch 2 is the best one
    scripted = iter([0.55, 0.80, 0.60, 0.70])

    def fake_aucs(labels, probs):
        a = next(scripted)
        return {v: a for v in schema.VESSELS}

    monkeypatch.setattr(fit_mod, "predict_probs", spy)
    monkeypatch.setattr(fit_mod, "vessel_aucs", fake_aucs)
    res = fit_fold(params, 2, progress=False)
    cohort = pd.read_csv(RunPaths.of(params).cohort, dtype={"patient_id": str})
    roles = fit_mod.fold_roles(params, cohort, fit_mod.ensure_folds(params, cohort), 2)
    role_of = dict(zip(store_of(params).rows_for(cohort["ecg_path"]), roles))
    seen = [{role_of[r] for r in rows} for rows in predicted]
    assert seen[:4] == [{"val"}] * 4  # every epoch: inner split only
    assert seen[4:] == [{"test"}, {"external"}]  # then the held-out fold once, the external once
    assert [len(rows) for rows in predicted[4:]] == [
        (roles == "test").sum(),
        (roles == "external").sum(),
    ]
    assert res.best_epoch == 2 and res.inner_macro_auc == pytest.approx(0.80)
    best = load_checkpoint(RunPaths.of(params).best_checkpoint(2))
    assert best["epoch"] == 2
    # the inner split is patient-disjoint from the training rows and from the held-out fold
    by_patient = roles.groupby(cohort["patient_id"]).nunique()
    assert (by_patient == 1).all()


def test_vessel_without_positives_in_the_inner_split_is_nan_and_warned(tmp_path, caplog):
    params = tiny_params(tmp_path, epochs=2)
    write_run(tmp_path, params=params)
    paths = RunPaths.of(params)
    cohort = pd.read_csv(paths.cohort, dtype={"patient_id": str})
    cohort[schema.grade_col("LM")] = 0  # no LM positives anywhere
    cohort.to_csv(paths.cohort, index=False)
    with caplog.at_level(logging.WARNING, logger="ecglib.train.fit"):
        res = fit_fold(params, 0, progress=False)
    assert any("no positive LM ECG" in r.getMessage() for r in caplog.records)
    assert res.history["val_auc_LM"].isna().all()
    others = res.history[[f"val_auc_{v}" for v in ("RCA", "LAD", "LCX")]].mean(axis=1)
    np.testing.assert_allclose(res.history["val_macro_auc"], others)
    assert math.isnan(res.inner_auc["LM"]) and not math.isnan(res.inner_macro_auc)


def test_finished_fold_is_reused_and_changed_settings_retrain(tmp_path, monkeypatch):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    first = fit_fold(params, 0, progress=False)
    assert not first.reused and first.finished

    def boom(*args, **kwargs):  # every training step of a fold is a TrainStep call
        raise AssertionError("a finished fold must not be retrained")

    monkeypatch.setattr(TrainStep, "__call__", boom)
    again = fit_fold(params, 0, progress=False)
    assert again.reused and again.best_epoch == first.best_epoch
    pd.testing.assert_frame_equal(again.oof, first.oof, check_dtype=False)
    with pytest.raises(AssertionError, match="must not be retrained"):  # the spy does see training
        fit_fold(params, 0, progress=False, force=True)
    monkeypatch.undo()
    changed = tiny_params(tmp_path, epochs=1, lr=1e-3)
    retrained = fit_fold(changed, 0, progress=False)
    assert not retrained.reused


def test_stop_after_leaves_a_resumable_fold(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=2))
    part = fit_fold(params, 0, progress=False, stop_after=1)
    assert not part.finished and part.oof is None and len(part.history) == 1
    assert not RunPaths.of(params).oof_predictions(0).exists()
    rest = fit_fold(params, 0, progress=False)
    assert rest.finished and rest.resumed_after == 1 and len(rest.history) == 2


def test_folds_are_computed_once_per_run_over_internal_rows(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    cohort = make_cohort()
    folds = fit_mod.ensure_folds(params, cohort)
    internal = cohort.index[cohort["site"] != "external"]
    assert folds.index.equals(internal) and set(folds) == {0, 1, 2}
    mtime = RunPaths.of(params).folds.stat().st_mtime_ns
    again = fit_mod.ensure_folds(params, cohort)
    assert RunPaths.of(params).folds.stat().st_mtime_ns == mtime
    pd.testing.assert_series_equal(folds, again, check_names=False)


def test_a_vessel_the_cohort_does_not_assess_is_not_a_task(tmp_path, caplog):
    """LM without a grade in any row (a map's ``not_assessed``): three tasks, no LM warning,
    missing LM losses, scales and predictions, and the macro-AUC over the other three."""
    params = tiny_params(tmp_path, epochs=2)
    write_run(tmp_path, params=params)
    paths = RunPaths.of(params)
    cohort = pd.read_csv(paths.cohort, dtype={"patient_id": str})
    cohort[schema.grade_col("LM")] = np.nan
    cohort[schema.label_col("LM")] = np.nan
    cohort.to_csv(paths.cohort, index=False)
    with caplog.at_level(logging.WARNING, logger="ecglib.train.fit"):
        res = fit_fold(params, 0, progress=False)
    assert not any("LM" in r.getMessage() for r in caplog.records)
    others = ["RCA", "LAD", "LCX"]
    for column in ("loss", "sigma", "val_auc"):
        assert res.history[f"{column}_LM"].isna().all(), column
        assert res.history[[f"{column}_{v}" for v in others]].notna().all().all(), column
    np.testing.assert_allclose(
        res.history["val_macro_auc"], res.history[[f"val_auc_{v}" for v in others]].mean(axis=1)
    )
    assert res.oof["p_LM"].isna().all() and res.external["p_LM"].isna().all()
    assert res.oof[[f"p_{v}" for v in others]].notna().all().all()
    best = load_checkpoint(paths.best_checkpoint(0))
    assert best["weighting"]["log_vars"].shape == (3,) and best["vessels"] == others


def _rng_on_meta(value):
    """The RNG states as a GPU-mapped load returns them: not CPU byte tensors (meta here)."""
    if isinstance(value, torch.Tensor):
        return value.to("meta")
    if isinstance(value, dict):
        return {k: _rng_on_meta(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rng_on_meta(v) for v in value)
    return value


def test_resume_reads_the_checkpoint_as_a_gpu_run_must_and_ends_like_an_uninterrupted_run(
    tmp_path, monkeypatch
):
    """The fold trains on ``cpu:0``, standing in for ``cuda:0``: a checkpoint read with
    ``map_location`` = the training device gets its RNG states off the CPU (on ``meta`` here, on
    the GPU there), and ``torch.set_rng_state`` refuses them ("RNG state must be a
    torch.ByteTensor"), which stopped every GPU job restarted after a time limit."""
    gpu = torch.device("cpu", 0)
    real_load = fit_mod.load_checkpoint

    def load_as_on_gpu(path, map_location="cpu"):
        if torch.device(map_location) != gpu:
            return real_load(path, map_location=map_location)
        state = real_load(path, map_location="cpu")  # torch.load knows no cpu:0
        if "rng" in state:
            state["rng"] = _rng_on_meta(state["rng"])
        return state

    monkeypatch.setattr(fit_mod, "load_checkpoint", load_as_on_gpu)
    a, b = tmp_path / "a", tmp_path / "b"
    straight = write_run(a, params=tiny_params(a, epochs=2, device="cpu:0"))
    res_a = fit_fold(straight, 0, progress=False)
    resumed = write_run(b, params=tiny_params(b, epochs=2, device="cpu:0"))
    assert not fit_fold(resumed, 0, progress=False, stop_after=1).finished  # the time limit
    res_b = fit_fold(resumed, 0, progress=False)
    assert res_b.resumed_after == 1 and res_b.finished
    pa, pb = RunPaths.of(straight), RunPaths.of(resumed)
    _same_state(
        load_checkpoint(pa.last_checkpoint(0))["model"],
        load_checkpoint(pb.last_checkpoint(0))["model"],
    )
    pd.testing.assert_frame_equal(res_a.oof, res_b.oof)
    pd.testing.assert_frame_equal(res_a.external, res_b.external)


def test_the_number_of_processes_enters_the_fingerprint(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    cohort = pd.read_csv(RunPaths.of(params).cohort, dtype={"patient_id": str})
    store = store_of(params)
    prints = {n: fit_mod.training_fingerprint(params, cohort, store, 0, n) for n in (1, 2, 4)}
    assert len(set(prints.values())) == 3
    assert prints[1] == fit_mod.training_fingerprint(params, cohort, store, 0)


def test_only_what_trains_the_model_enters_the_fingerprint(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    cohort = pd.read_csv(RunPaths.of(params).cohort, dtype={"patient_id": str})
    store = store_of(params)

    def fingerprint(**sections):
        changed = dataclasses.replace(
            params,
            **{
                name: dataclasses.replace(getattr(params, name), **values)
                for name, values in sections.items()
            },
        )
        return fit_mod.training_fingerprint(changed, cohort, store, 0)

    base = fit_mod.training_fingerprint(params, cohort, store, 0)
    # a results chapter's threshold or the speed settings do not retrain the folds ...
    assert fingerprint(evaluation={"n_bootstrap": 7}) == base
    assert fingerprint(train={"threads": 1, "num_workers": 2}) == base
    assert (
        fit_mod.training_fingerprint(dataclasses.replace(params, name="other"), cohort, store, 0)
        == base
    )
    # ... what the model learns from does
    assert fingerprint(train={"lr": params.train.lr * 2}) != base
    assert fingerprint(model={"kernel_size": params.model.kernel_size + 2}) != base


# a skipped first step makes torch warn that the schedule stepped before the optimiser: it is
# per batch on purpose, skipped or not, as in float32
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
def test_fp16_skips_overflowing_steps_and_resumes_the_scaler_exactly(tmp_path, monkeypatch):
    # a first scale so high that the first steps overflow in fp16: the scaler skips them and
    # backs off, and a resumed fold must continue from the backed-off scale, not the first one
    monkeypatch.setattr(
        torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, init_scale=2.0**24)
    )
    straight = write_run(
        tmp_path / "a", params=tiny_params(tmp_path / "a", epochs=2, precision="fp16")
    )
    res_a = fit_fold(straight, 0, progress=False)
    resumed = write_run(
        tmp_path / "b", params=tiny_params(tmp_path / "b", epochs=2, precision="fp16")
    )
    fit_fold(resumed, 0, progress=False, stop_after=1)
    assert load_checkpoint(RunPaths.of(resumed).last_checkpoint(0))["scaler"]["scale"] < 2.0**24
    res_b = fit_fold(resumed, 0, progress=False)
    assert res_b.resumed_after == 1 and res_b.precision == "fp16"
    assert np.isfinite(res_b.history["train_loss"]).all()
    _same_state(
        load_checkpoint(RunPaths.of(straight).last_checkpoint(0))["model"],
        load_checkpoint(RunPaths.of(resumed).last_checkpoint(0))["model"],
    )
    pd.testing.assert_frame_equal(res_a.oof, res_b.oof)


def test_bf16_on_the_cpu_trains_and_says_so(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1, precision="bf16"))
    res = fit_fold(params, 0, progress=False)
    assert res.precision == "bf16" and np.isfinite(res.history["train_loss"]).all()
    assert json.loads(RunPaths.of(params).train_summary(0).read_text())["precision"] == "bf16"


@pytest.mark.parametrize("surgery", ["pcgrad", "none"])
def test_fold_trainer_runs_the_epochs_fit_fold_runs(tmp_path, surgery):
    # what benchmarks/bench_train_step.py times is the fold's own training, not a copy of it
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=2, gradient_surgery=surgery))
    result = fit_fold(params, 1, progress=False, stop_after=2)
    saved = load_checkpoint(RunPaths.of(params).last_checkpoint(1))
    trainer = fit_mod.fold_trainer(params, 1)
    rows = [trainer.train_epoch(epoch) for epoch in range(2)]
    cols = [c for c in rows[0] if c != "seconds"]
    pd.testing.assert_frame_equal(pd.DataFrame(rows)[cols], result.history[cols])
    _same_state(trainer.model.state_dict(), saved["model"])
    assert math.isnan(rows[0]["pcgrad_conflicts"]) == (surgery == "none")
    assert math.isnan(rows[0]["pcgrad_conflict_steps"]) == (surgery == "none")
    if surgery == "pcgrad":
        # a step with a conflict has between 1 and T(T-1)/2 = 6 conflicting pairs
        for row in rows:
            share, pairs = row["pcgrad_conflict_steps"], row["pcgrad_conflicts"]
            assert 0 <= share <= 1 and share <= pairs <= 6 * share
