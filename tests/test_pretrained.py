"""Loading ECGFounder checkpoints strictly (never ``strict=False`` as the authors' code did).

Checkpoint format: ECGFounder (Li et al., NEJM AI 2025), github.com/PKUDigitalHealth/ECGFounder:
``{"state_dict": ...}`` with a 150-class ``dense`` head; fine-tuned derivatives are often bare state
dicts, and DistributedDataParallel runs prefix every key with ``module.``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from ecglib.errors import CheckpointError
from ecglib.model import LoadReport, Net1D, build_model, load_pretrained
from ecglib.schema import VESSELS

TINY = dict(
    in_channels=12,
    base_filters=16,
    ratio=1,
    filter_list=[16, 32],
    m_blocks_list=[2, 1],
    kernel_size=16,
    stride=2,
    groups_width=16,
    n_classes=150,
)


@pytest.fixture
def checkpoint() -> OrderedDict:
    """A released-style state dict (150-class head) for the tiny config, with non-trivial BN stats."""
    torch.manual_seed(1)
    donor = Net1D(**TINY)
    state = donor.state_dict()
    for k, v in state.items():
        if k.endswith("running_var"):
            v.uniform_(0.5, 1.5)
        elif k.endswith("running_mean"):
            v.normal_()
        elif k.endswith("num_batches_tracked"):
            v.fill_(1234)
    return state


def _fresh(n_classes: int = 150) -> Net1D:
    torch.manual_seed(2)
    return Net1D(**{**TINY, "n_classes": n_classes})


def _assert_trunk_equal(model: Net1D, state) -> None:
    got = model.state_dict()
    for k, v in state.items():
        if not k.startswith("dense."):
            assert torch.equal(got[k], v), k


# ---- the happy paths --------------------------------------------------------------------------------
@pytest.mark.parametrize("wrap", ["bare", "state_dict", "module", "module_in_state_dict"])
def test_head_replaced_and_trunk_loaded(checkpoint, wrap):
    obj = {
        "bare": checkpoint,
        "state_dict": {"state_dict": checkpoint, "epoch": 3},
        "module": OrderedDict((f"module.{k}", v) for k, v in checkpoint.items()),
        "module_in_state_dict": {"state_dict": {f"module.{k}": v for k, v in checkpoint.items()}},
    }[wrap]
    model = _fresh()
    report = load_pretrained(model, obj)
    assert isinstance(report, LoadReport)
    assert report.head_replaced and report.checkpoint_head_shape == (150, 32)
    assert report.head_shape == (len(VESSELS), 32) and model.n_classes == 4
    assert report.stripped_prefixes == (("module.",) if wrap.startswith("module") else ())
    assert set(report.loaded_keys) == {k for k in checkpoint if not k.startswith("dense.")}
    assert list(model.state_dict())[-2:] == ["dense.weight", "dense.bias"]
    _assert_trunk_equal(model, checkpoint)
    assert model(torch.randn(2, 12, 200)).shape == (2, 4)


def test_loads_from_file_and_keeps_matching_head(checkpoint, tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": checkpoint}, path)
    model = _fresh()
    report = load_pretrained(model, path, n_outputs=150)
    assert not report.head_replaced and report.source == str(path)
    assert report.n_loaded == len(checkpoint)
    for k, v in checkpoint.items():
        assert torch.equal(model.state_dict()[k], v), k
    # n_outputs=None keeps the model's head size, which the checkpoint matches here
    assert not load_pretrained(_fresh(), path, n_outputs=None).head_replaced


def test_fine_tuned_four_output_checkpoint_loads_its_head(checkpoint):
    tuned = _fresh(4)
    load_pretrained(tuned, checkpoint)
    with torch.no_grad():
        tuned.dense.weight.normal_()
    saved = tuned.state_dict()
    model = _fresh()  # a 150-class model gets the fine-tuned 4-logit head, not a random one
    report = load_pretrained(model, saved)
    assert not report.head_replaced and model.n_classes == 4
    assert torch.equal(model.dense.weight, saved["dense.weight"])


def test_reference_checkpoint_head_replaced_rest_identical(ecgfounder_fixtures):
    reference = ecgfounder_fixtures / "ecgfounder_small_reference.json"
    config = json.loads(reference.read_text())["config"]
    path = ecgfounder_fixtures / "ecgfounder_small_reference.pth"
    reference = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    model = Net1D.from_config(config)
    report = load_pretrained(model, path, n_outputs=4)
    assert (
        report.head_replaced
        and report.checkpoint_head_shape == (150, 64)
        and report.head_shape == (4, 64)
    )
    assert report.n_loaded == len(reference) - 2
    _assert_trunk_equal(model, reference)
    assert "loaded strictly" in str(report)


# ---- strictness: every mismatch is named, nothing is loaded -----------------------------------------
def test_extra_key_raises_naming_it(checkpoint):
    bad = OrderedDict(checkpoint)
    bad["stage_list.1.block_list.0.extra.weight"] = torch.zeros(7, 3)
    with pytest.raises(
        CheckpointError,
        match=r"unexpected[\s\S]*stage_list\.1\.block_list\.0\.extra\.weight \[7, 3\]",
    ):
        load_pretrained(_fresh(), bad)


def test_missing_key_raises_naming_it(checkpoint):
    bad = OrderedDict(checkpoint)
    del bad["stage_list.1.block_list.0.conv2.conv.weight"]
    with pytest.raises(
        CheckpointError,
        match=r"missing[\s\S]*stage_list\.1\.block_list\.0\.conv2\.conv\.weight \[32, 16, 16\]",
    ):
        load_pretrained(_fresh(), bad)


def test_misshaped_key_raises_naming_it(checkpoint):
    bad = OrderedDict(checkpoint)
    bad["stage_list.0.block_list.1.se_fc1.weight"] = torch.zeros(9, 16)
    with pytest.raises(
        CheckpointError, match=r"mis-shaped[\s\S]*se_fc1\.weight \[9, 16\] vs \[8, 16\]"
    ):
        load_pretrained(_fresh(), bad)


def test_all_problems_listed_at_once_and_model_untouched(checkpoint):
    bad = OrderedDict((f"module.{k}", v) for k, v in checkpoint.items())
    del bad["module.first_bn.running_var"]
    bad["module.first_conv.conv.weight"] = torch.zeros(16, 1, 16)
    bad["module.head.weight"] = torch.zeros(4, 32)
    model = _fresh()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        load_pretrained(model, {"state_dict": bad})
    message = str(info.value)
    for text in (
        "first_bn.running_var [16]",
        "first_conv.conv.weight [16, 1, 16] vs [16, 12, 16]",
        "head.weight [4, 32]",
    ):
        assert text in message
    assert info.value.missing == ["first_bn.running_var"]
    assert info.value.unexpected == ["head.weight"]
    assert info.value.misshaped == ["first_conv.conv.weight"]
    assert model.n_classes == 150  # head not replaced, nothing loaded
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_head_with_wrong_input_width_is_an_error(checkpoint):
    bad = OrderedDict(checkpoint)
    bad["dense.weight"] = torch.zeros(150, 99)
    with pytest.raises(CheckpointError, match=r"dense\.weight \[150, 99\] vs \[4, 32\]"):
        load_pretrained(_fresh(), bad)


def test_keeping_the_head_requires_a_matching_one(checkpoint):
    with pytest.raises(CheckpointError, match=r"dense\.weight \[150, 32\] vs \[4, 32\]"):
        load_pretrained(_fresh(4), checkpoint, n_outputs=None)
    no_head = OrderedDict((k, v) for k, v in checkpoint.items() if not k.startswith("dense."))
    with pytest.raises(CheckpointError, match=r"missing[\s\S]*dense\.weight[\s\S]*dense\.bias"):
        load_pretrained(_fresh(), no_head)


def test_unreadable_sources(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_pretrained(_fresh(), tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="top-level entries"):
        load_pretrained(_fresh(), {"epoch": 3, "optimizer": {}})
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_pretrained(_fresh(), junk)
    objects = tmp_path / "objects.pth"  # pickled Python objects: refused by the weights-only reader
    torch.save({"state_dict": {}, "where": Path("x")}, objects)
    with pytest.raises(CheckpointError, match=r"objects\.pth: cannot be read as a weights-only"):
        load_pretrained(_fresh(), objects)


# ---- build_model ---------------------------------------------------------------------------------------
def test_build_model_random_and_pretrained(checkpoint, tmp_path):
    random_model = build_model(TINY, None)
    assert isinstance(random_model, Net1D) and random_model.n_classes == 4
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in checkpoint.items()}}, path)
    model = build_model(TINY, path, n_outputs=4)
    assert model.n_classes == 4
    _assert_trunk_equal(model, checkpoint)
    assert build_model({**TINY, "use_bn": False}, str(path), n_outputs=2).dense.out_features == 2
