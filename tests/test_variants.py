"""Run variants: the params' variants: overlays, their folders, training, reuse and resume,
reduced-lead inputs and one network per vessel (ecglib.config.Variant, ecglib.train.variants)."""

import dataclasses
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from train_support import TINY_MODEL, tiny_params, write_params_yaml, write_run

from ecglib import schema
from ecglib.config import PROJECT_ROOT, Variant, load_params
from ecglib.data.run_folds import ensure_folds
from ecglib.errors import ConfigError
from ecglib.model import Net1D, PerVesselNets
from ecglib.paths import RunPaths
from ecglib.train import fit as fit_mod
from ecglib.train.checkpoint import load_checkpoint, load_state_strict
from ecglib.train.predict import load_fold_model, predict_probs, read_oof
from ecglib.train.step import TrainStep
from ecglib.train.variants import finished_variants, fit_variant, fit_variant_fold

CI = PROJECT_ROOT / "params" / "ci.yaml"


def params_with(tmp_path: Path, variants) -> Path:
    raw = yaml.safe_load(CI.read_text())
    raw["variants"] = variants
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# ---- the params' variants: section ----------------------------------------------------------------
@pytest.mark.parametrize(
    "section, keys",
    [
        ("folds", {"n_folds": 2}),
        ("data", {"on_bad_ecg": "exclude"}),
        ("signals", {"filter": "ecgfounder"}),  # the ECG store's preprocessing
        ("seed", 3),
        ("demo", {"size": "paper"}),
        ("evaluation", {"n_bootstrap": 10}),
        ("name", "other"),
    ],
)
def test_a_variant_cannot_change_the_data_the_folds_or_the_store(tmp_path, section, keys):
    path = params_with(tmp_path, {"sneaky": {section: keys}})
    with pytest.raises(
        ConfigError, match=rf"variants\.sneaky\.{section}: a variant may overlay only"
    ):
        load_params(path)


@pytest.mark.parametrize(
    "overlay, message",
    [
        (
            {"train": {"gradient_surgry": "none"}},
            r"unknown key\(s\) p\.yaml\.variants\.v\.train\.gradient_surgry",
        ),
        (
            {"train": {"loss_weighting": "learned"}},
            r"variants\.v\.train\.loss_weighting = 'learned'",
        ),
        ({"model": {"input_leads": ["I", "V7"]}}, r"variants\.v\.model\.input_leads"),
        ({"model": {"input_leads": "chest"}}, r"variants\.v\.model\.input_leads = 'chest'"),
        ({"train": {"epochs": "ten"}}, r"variants\.v\.train\.epochs = 'ten': expected int"),
        ({}, r"variants\.v: expected a mapping of sections"),
    ],
)
def test_an_unknown_key_or_bad_value_names_the_variant_and_the_key(tmp_path, overlay, message):
    with pytest.raises(ConfigError, match=message):
        load_params(params_with(tmp_path, {"v": overlay}))


def test_a_variant_is_the_params_with_its_overlay_and_nothing_else(tmp_path):
    params = load_params(
        params_with(
            tmp_path,
            {
                "plain": {"train": {"gradient_surgery": "none", "loss_weighting": "equal"}},
                "limb": {"model": {"input_leads": "limb"}},
            },
        )
    )
    assert [v.name for v in params.variants] == ["plain", "limb"]
    assert params.variants[0].describe() == (
        "train.gradient_surgery = none; train.loss_weighting = equal"
    )
    plain = params.variant("plain")
    assert (plain.train.gradient_surgery, plain.train.loss_weighting) == ("none", "equal")
    assert plain.train.epochs == params.train.epochs and plain.model == params.model
    for same in ("name", "seed", "data", "signals", "folds", "evaluation", "demo", "run_dir"):
        assert getattr(plain, same) == getattr(params, same), same
    assert plain.variants == ()
    assert params.variant("limb").model.input_leads == "limb"
    with pytest.raises(
        ConfigError, match="unknown variant 'nope'; the params declare: plain, limb"
    ):
        params.variant("nope")


def test_a_variant_folder_has_the_layout_of_a_run(tmp_path):
    run = RunPaths(tmp_path / "runs" / "demo")
    v = run.variant("lead_i")
    assert v.root == run.root / "variants" / "lead_i"
    assert v.oof_predictions(2) == v.root / "predictions" / "oof_fold2.csv"
    assert v.train_summary(1) == v.root / "metrics" / "train_fold1.json"
    assert (v.oof_all.name, v.external_mean.name) == ("oof.csv", "external_mean.csv")


def test_the_shipped_variant_lists(tmp_path):
    text = (PROJECT_ROOT / "params" / "paper.yaml").read_text()
    start = text.index("# variants:")
    block = [line[2:] for line in text[start:].splitlines() if line.startswith("# ")]
    raw = yaml.safe_load((PROJECT_ROOT / "params" / "paper.yaml").read_text())
    raw.update(yaml.safe_load("\n".join(block)))
    assert list(raw["variants"]) == [
        "no_pcgrad", "equal_weights", "plain", "no_augment",
        "single_task", "limb_leads", "lead_i", "random_init",
    ]  # fmt: skip
    uncommented = tmp_path / "paper.yaml"
    uncommented.write_text(yaml.safe_dump(raw, sort_keys=False))
    paper = load_params(uncommented)
    assert paper.variant("plain").train.gradient_surgery == "none"
    assert paper.variant("random_init").model.pretrained is None
    demo = load_params(PROJECT_ROOT / "params" / "demo.yaml")
    assert [v.name for v in demo.variants] == [
        "pcgrad", "uncertainty", "augment", "single_task", "limb_leads", "lead_i",
    ]  # fmt: skip
    ci = load_params(CI)
    assert [v.name for v in ci.variants] == ["lead_i", "single_task"]
    assert ci.variant("lead_i").model.input_leads == ("I",)


# ---- training ---------------------------------------------------------------------------------------
def with_variants(params, **overlays):
    return dataclasses.replace(
        params, variants=tuple(Variant(name, overlay) for name, overlay in overlays.items())
    )


def test_a_finished_variant_is_reused_an_interrupted_one_resumes_a_changed_one_retrains(
    tmp_path, monkeypatch
):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=2))
    params = with_variants(params, plain={"train": {"gradient_surgery": "none"}})
    run, paths = RunPaths.of(params), RunPaths.of(params).variant("plain")
    ensure_folds(params, pd.read_csv(run.cohort))
    folds_written = run.folds.stat().st_mtime_ns

    stopped = fit_variant_fold(params, "plain", 0, progress=False, stop_after=1)
    assert not stopped.finished and paths.last_checkpoint(0).exists()
    resumed = fit_variant_fold(params, "plain", 0, progress=False)
    assert resumed.finished and resumed.resumed_after == 1 and not resumed.reused
    assert list(resumed.history["epoch"]) == [1, 2]
    best_written = paths.best_checkpoint(0).stat().st_mtime_ns

    def boom(*args, **kwargs):  # every training step of a fold is a TrainStep call
        raise AssertionError("a finished variant fold must not be retrained")

    monkeypatch.setattr(TrainStep, "__call__", boom)
    again = fit_variant_fold(params, "plain", 0, progress=False)
    assert again.reused and paths.best_checkpoint(0).stat().st_mtime_ns == best_written
    pd.testing.assert_frame_equal(again.oof, resumed.oof, check_dtype=False)
    monkeypatch.undo()

    # the variant wrote only into its own folder and read the run's folds
    assert run.folds.stat().st_mtime_ns == folds_written
    assert not run.train_summary(0).exists() and not run.best_checkpoint(0).exists()
    assert paths.oof_predictions(0).exists() and paths.external_predictions(0).exists()

    changed = with_variants(params, plain={"train": {"gradient_surgery": "none", "lr": 1e-3}})
    retrained = fit_variant_fold(changed, "plain", 0, progress=False)
    assert not retrained.reused and retrained.resumed_after is None


def test_every_fold_of_a_variant_is_pooled_like_the_run(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    params = with_variants(params, eq={"train": {"loss_weighting": "equal"}})
    assert finished_variants(params) == []
    result = fit_variant(params, "eq", progress=False)
    paths = RunPaths.of(params).variant("eq")
    assert result.finished and len(result.folds) == params.folds.n_folds
    pooled = pd.read_csv(paths.oof_all)
    pd.testing.assert_frame_equal(pooled, read_oof(params, paths=paths), check_dtype=False)
    cohort = pd.read_csv(RunPaths.of(params).cohort)
    assert sorted(pooled["row"]) == sorted(cohort.index[cohort["site"] != "external"])
    external = pd.read_csv(paths.external_mean)
    folds = [pd.read_csv(paths.external_predictions(k)) for k in range(3)]
    np.testing.assert_allclose(
        external["p_RCA"], np.mean([f["p_RCA"] for f in folds], axis=0), rtol=1e-6
    )
    assert (external["n_models"] == 3).all()
    assert finished_variants(params) == ["eq"]
    # its settings changed: no longer a finished variant (its folds would retrain)
    changed = with_variants(params, eq={"train": {"loss_weighting": "equal", "lr": 1e-4}})
    assert finished_variants(changed) == []


# ---- reduced leads --------------------------------------------------------------------------------
def first_layer_inputs(monkeypatch) -> list[tuple[bool, torch.Tensor]]:
    """Record what reaches every built network's first convolution (training flag, input)."""
    seen = []
    original = fit_mod.build_model

    def build(*args, **kwargs):
        net = original(*args, **kwargs)
        net.first_conv.register_forward_pre_hook(
            lambda module, inputs: seen.append((net.training, inputs[0].detach().clone()))
        )
        return net

    monkeypatch.setattr(fit_mod, "build_model", build)
    return seen


def test_zeroed_leads_are_zero_at_the_network_input_in_training_and_prediction(
    tmp_path, monkeypatch
):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    params = with_variants(params, limb={"model": {"input_leads": "limb"}})
    seen = first_layer_inputs(monkeypatch)
    fit_variant_fold(params, "limb", 0, progress=False)
    limb = [schema.LEADS.index(x) for x in schema.LIMB_LEADS]
    chest = [j for j in range(12) if j not in limb]
    assert {training for training, _ in seen} == {True, False}  # training and prediction
    for _, x in seen:
        assert x.shape[1] == 12
        assert torch.count_nonzero(x[:, chest]) == 0
        assert torch.count_nonzero(x[:, limb]) > 0

    # the checkpoint is a 12-lead Net1D's state dict (ECGFounder's weights load the same way),
    # and the model read back from it zeroes the same leads
    paths = RunPaths.of(params).variant("limb")
    state = load_checkpoint(paths.best_checkpoint(0))["state_dict"]
    plain = Net1D.from_config(fit_mod.model_config(params))
    load_state_strict(plain, state, "limb best checkpoint")
    model = load_fold_model(params, 0, paths=paths)
    assert model.input_mask == [1] * 6 + [0] * 6
    inputs = []
    model.first_conv.register_forward_pre_hook(lambda m, i: inputs.append(i[0]))
    signals = np.random.default_rng(0).standard_normal((4, 12, 256)).astype(np.float32)
    predict_probs(model, signals, np.arange(4))
    assert torch.count_nonzero(inputs[0][:, chest]) == 0
    assert torch.count_nonzero(inputs[0][:, limb]) > 0


def test_a_single_lead_network_ignores_the_other_leads():
    torch.manual_seed(0)
    config = {**fit_mod.model_config(tiny_params(Path("."))), "input_mask": [1] + [0] * 11}
    net = Net1D.from_config(config, n_classes=4).eval()
    x = torch.randn(3, 12, 256)
    y = x.clone()
    y[:, 1:] = torch.randn(3, 11, 256) * 5
    assert torch.equal(net(x), net(y))
    assert not torch.equal(net(x), net(torch.cat([x[:, :1] * 2, x[:, 1:]], dim=1)))


# ---- one network per vessel -------------------------------------------------------------------------
def test_single_task_trains_independent_networks_that_match_each_vessel_alone(
    tmp_path, monkeypatch
):
    # no dropout: one global random stream would feed the four networks' masks in turn
    model = dataclasses.replace(TINY_MODEL, use_do=False)
    params = dataclasses.replace(tiny_params(tmp_path, epochs=2), model=model)
    params = write_run(tmp_path, params=params)
    overlay = {"train": {"single_task": True}}
    params = with_variants(params, single=overlay, alone=overlay)
    together = fit_variant_fold(params, "single", 0, progress=False)
    paths = RunPaths.of(params)
    net = load_fold_model(params, 0, paths=paths.variant("single"))
    assert isinstance(net, PerVesselNets) and net.outputs == [0, 1, 2, 3]
    pointers = [{p.data_ptr() for p in n.parameters()} for n in net.nets]
    assert all(a.isdisjoint(b) for i, a in enumerate(pointers) for b in pointers[i + 1 :])
    assert together.selection.startswith("each vessel's network at its own best")
    for vessel in ("RCA", "LAD"):
        # the same fold code with this vessel the only task: the vessel trained alone
        monkeypatch.setattr(fit_mod.schema, "assessed_vessels", lambda table, v=vessel: (v,))
        alone = fit_variant_fold(params, "alone", 0, progress=False, force=True)
        monkeypatch.undo()
        col = schema.prob_col(vessel)
        others = [c for c in schema.prob_cols() if c != col]
        assert alone.oof[others].isna().all().all()
        np.testing.assert_allclose(alone.oof[col], together.oof[col], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(
            alone.external[col], together.external[col], rtol=1e-5, atol=1e-7
        )
        assert alone.inner_auc[vessel] == pytest.approx(together.inner_auc[vessel])


def test_single_task_predictions_have_the_run_s_table(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    params = with_variants(params, single={"train": {"single_task": True}})
    result = fit_variant_fold(params, "single", 1, progress=False)
    base = fit_mod.fit_fold(params, 1, progress=False)
    assert list(result.oof.columns) == list(base.oof.columns)
    assert result.oof["row"].tolist() == base.oof["row"].tolist()
    assert math.isnan(result.history["pcgrad_conflicts"].iloc[0])  # no surgery on disjoint nets


# ---- the command line -------------------------------------------------------------------------------
def test_cli_trains_one_fold_of_one_variant_into_its_folder(tmp_path):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    params = with_variants(params, lead_i={"model": {"input_leads": ["I"]}})
    path = write_params_yaml(params, tmp_path / "tiny.yaml")
    assert load_params(path).variants == params.variants
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ecglib.train", str(path), "--variant", "lead_i", "--fold", "1"]
    done = subprocess.run(
        cmd + ["--no-progress"], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"lead_i fold 1: finished", done.stdout)
    root = tmp_path / "runs" / "tiny"
    variant = root / "variants" / "lead_i"
    for name in (
        "metrics/train_fold1.json",
        "metrics/train_fold1.csv",
        "predictions/oof_fold1.csv",
        "predictions/external_fold1.csv",
        "checkpoints/fold1_best.pt",
    ):
        assert (variant / name).is_file(), name
    assert not (root / "metrics" / "train_fold1.json").exists()
    assert not (variant / "predictions" / "oof.csv").exists()  # folds 0 and 2 are not trained
    unknown = subprocess.run(
        [sys.executable, "-m", "ecglib.train", str(path), "--variant", "nope", "--fold", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
    )
    assert unknown.returncode != 0 and "the params declare: lead_i" in unknown.stderr


# ---- the pipeline ---------------------------------------------------------------------------------
def test_run_with_variants_trains_them_after_the_fold_notebooks(tmp_path, monkeypatch):
    from ecglib.report import pipeline

    for name, source in [
        ("00_data.ipynb", 'params = "x"'),
        ("02_train.ipynb", 'params = "x"\nfold = 0'),
        ("13_ablation.ipynb", 'params = "x"'),
    ]:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["parameters"]
        nb.cells = [cell]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, tmp_path / name)
    real_plan = pipeline.plan
    monkeypatch.setattr(
        pipeline, "plan", lambda p, executed: real_plan(p, notebooks=tmp_path, executed=executed)
    )
    events = []

    def execute(source, output, **kwargs):
        events.append(Path(output).name)
        nbformat.write(nbformat.read(source, as_version=4), output)

    monkeypatch.setattr(pipeline.papermill, "execute_notebook", execute)
    monkeypatch.setattr(pipeline, "_train_variants", lambda p: events.append("variants"))
    pipeline.run("params/ci.yaml", build=False, root=tmp_path / "book", variants=True)
    assert events == [
        "00_data.ipynb", "02_train_0.ipynb", "02_train_1.ipynb", "02_train_2.ipynb",
        "variants", "13_ablation.ipynb",
    ]  # fmt: skip
    events.clear()
    pipeline.run("params/ci.yaml", build=False, root=tmp_path / "book")
    assert events == []  # up to date, and no variants without --variants


def test_a_notebook_may_declare_the_run_s_variant_files_as_inputs(tmp_path):
    from ecglib.report import pipeline

    source = tmp_path / "13_x.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["ecglib"] = {"inputs": ["{run}/variants/*/predictions/oof.csv"]}
    nbformat.write(nb, source)
    run = tmp_path / "runs" / "demo [1]"  # glob characters in the folder name are literal
    assert pipeline.declared_inputs(source, run) == []
    for name in ("b", "a"):
        (run / "variants" / name / "predictions").mkdir(parents=True)
        (run / "variants" / name / "predictions" / "oof.csv").write_text("row\n")
    found = pipeline.declared_inputs(source, run)
    assert [p.parent.parent.name for p in found] == ["a", "b"]
    assert pipeline.declared_inputs(source) == []  # no run: nothing to look for
