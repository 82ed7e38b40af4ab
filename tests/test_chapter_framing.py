"""ecglib.chapters.framing: what a run trained, worded from its params and fold summaries."""

import json
from dataclasses import replace

import pytest

from conftest import CI_PARAMS
from ecglib.chapters import framing
from ecglib.config import ModelParams, load_params
from ecglib.errors import DataError
from ecglib.paths import RunPaths
from ecglib.train.fit import model_config


def _run(tmp_path, path="params/demo.yaml"):
    return replace(load_params(path), runs_dir=str(tmp_path))


def _summaries(run, devices):
    paths = RunPaths.of(run).ensure()
    for k, (device, world) in devices.items():
        paths.train_summary(k).write_text(json.dumps({"device": device, "world_size": world}))


def test_parameter_counts_match_the_allocated_network_and_ecgfounders_size():
    import torch

    from ecglib.model import Net1D

    run = load_params(CI_PARAMS)
    allocated = Net1D.from_config(model_config(run))
    assert framing.parameter_count(run.model) == sum(p.numel() for p in allocated.parameters())
    # ECGFounder's released Net1D is about 30.7 million parameters with a 150-class head; ours
    # has 4 logits: 1024 x 146 + 146 weights and biases fewer than the released 30.8 million.
    study = framing.parameter_count(ModelParams())
    assert 30.6e6 < study < 30.7e6
    assert study + 1024 * 146 + 146 == pytest.approx(30.82e6, rel=1e-3)
    assert not torch.is_tensor(study)


def test_the_demo_says_random_initialisation_its_size_epochs_recipe_and_device(tmp_path):
    run = _run(tmp_path)
    _summaries(run, {k: ("cpu", 1) for k in range(run.folds.n_folds)})
    f = framing.analyse(run)
    sentence = f.sentence()
    assert "from random initialisation" in sentence and "fine-tun" not in sentence
    assert f"{f.n_parameters:,} parameters" in sentence and 70_000 < f.n_parameters < 80_000
    assert f"for {run.train.epochs} epochs per fold" in sentence
    assert "equal task weights, no gradient surgery and no augmentation" in sentence
    assert sentence.endswith("on the CPU.")
    assert framing.size_words(f.n_parameters) == "76 thousand"
    assert "random initialisation instead of the pretrained" in f.consequence()
    notice = f.notice()
    assert notice.startswith("**What was trained.**") and "`model.pretrained`" in notice


def test_a_run_with_pretrained_weights_says_fine_tuned_from_ecgfounder(tmp_path):
    run = _run(tmp_path, "params/paper.yaml")
    run = replace(run, model=replace(run.model, pretrained="weights/ecgfounder.pth"))
    _summaries(run, {0: ("cuda:0", 1), 1: ("cuda:0", 1), 2: ("cuda:0", 4)})
    f = framing.analyse(run)
    assert "fine-tuned ECGFounder's Net1D of 30,669,364 parameters" in f.sentence()
    assert "random" not in f.notice()
    assert f.differences() == [] and f.consequence() == "The run follows the study's set-up."
    # Folds on different devices are named per fold; unfinished folds are left out.
    assert f.device() == "cuda:0 (folds 0, 1), 4 x cuda:0 (fold 2)"
    assert f.settings_table().loc["initial weights"].tolist() == ["ECGFounder checkpoint"] * 2


def test_no_finished_fold_says_so_and_a_broken_summary_is_named(tmp_path):
    run = _run(tmp_path)
    assert "no fold has finished training yet" in framing.analyse(run).sentence()
    RunPaths.of(run).ensure().train_summary(2).write_text("{not json")
    with pytest.raises(DataError, match="train_fold2.json"):
        framing.fold_devices(run)


def test_the_settings_table_sets_the_study_beside_the_run(tmp_path):
    run = _run(tmp_path)
    table = framing.analyse(run).settings_table()
    assert list(table.columns) == ["the study (paper)", "this run (demo)"]
    assert table.loc["epochs per fold"].tolist() == ["100", str(run.train.epochs)]
    assert table.loc["gradient surgery"].tolist() == ["PCGrad", "no gradient surgery"]
    assert (
        table.loc["parameters", "the study (paper)"]
        == f"{framing.parameter_count(ModelParams()):,}"
    )


def test_rates_read_as_a_paper_prints_them():
    from ecglib.chapters.framing import _rate

    assert [_rate(x) for x in (3e-5, 0.003, 5e-4, 2.5e-5, 0.0)] == [
        "3 × 10⁻⁵",
        "0.003",
        "0.0005",
        "2.5 × 10⁻⁵",
        "0",
    ]
