"""Net1D is ECGFounder's network: same state dict as the released checkpoint, same outputs.

Reference: ECGFounder (Li et al., NEJM AI 2025) and its published ``net1d.py``
(github.com/PKUDigitalHealth/ECGFounder). The fixtures in ``shared/fixtures/ecgfounder`` were made
with the published definition; tests that need them skip when the folder is absent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ecglib.errors import ConfigError
from ecglib.model import Net1D, load_pretrained, same_padding
from ecglib.model.net1d import Conv1dSame, MaxPool1dSame

TINY = dict(
    in_channels=12,
    base_filters=16,
    ratio=1,
    filter_list=[16, 32, 48],
    m_blocks_list=[2, 1, 2],
    kernel_size=16,
    stride=2,
    groups_width=16,
    n_classes=150,
)


def _spec(fixtures: Path) -> dict:
    return json.loads((fixtures / "ecgfounder_12lead_state_dict_spec.json").read_text())


# ---- numerical identity with the published network ---------------------------------------------
@pytest.mark.parametrize("use_bn", [False, True])
def test_reproduces_published_logits(ecgfounder_fixtures, use_bn):
    reference = ecgfounder_fixtures / "ecgfounder_small_reference.json"
    config = json.loads(reference.read_text())["config"]
    io = np.load(ecgfounder_fixtures / "ecgfounder_small_reference_io.npz")
    model = Net1D.from_config(config, use_bn=use_bn)
    report = load_pretrained(
        model, ecgfounder_fixtures / "ecgfounder_small_reference.pth", n_outputs=150
    )
    assert not report.head_replaced and report.n_loaded == len(model.state_dict())
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(io["x"])).numpy()
    expected = io[f"logits_use_bn_{str(use_bn).lower()}"]
    assert logits.shape == expected.shape == (3, 150)
    assert np.abs(logits - expected).max() < 1e-5


# ---- state-dict compatibility with the released 12-lead checkpoint ------------------------------
def test_full_size_state_dict_equals_released_spec(ecgfounder_fixtures):
    spec = _spec(ecgfounder_fixtures)
    with torch.device("meta"):
        model = Net1D.from_config(spec["config"])
    got = [
        [k, list(v.shape), str(v.dtype).removeprefix("torch.")]
        for k, v in model.state_dict().items()
    ]
    assert len(got) == len(spec["state_dict"]) == 509
    assert [k for k, _, _ in got] == [k for k, _, _ in spec["state_dict"]]  # keys and order
    assert got == spec["state_dict"]  # shapes and dtypes
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == spec["n_parameters"] == 30_819_014
    # use_bn / use_do do not change the state dict
    with torch.device("meta"):
        plain = Net1D.from_config(spec["config"], use_bn=False, use_do=False)
    assert [[k, list(v.shape)] for k, v in plain.state_dict().items()] == [
        [k, s] for k, s, _ in got
    ]


def test_full_size_forward_on_cpu():
    config = dict(
        in_channels=12,
        base_filters=64,
        ratio=1,
        filter_list=[64, 160, 160, 400, 400, 1024, 1024],
        m_blocks_list=[2, 2, 2, 3, 3, 4, 4],
        kernel_size=16,
        stride=2,
        groups_width=16,
        n_classes=150,
    )
    model = Net1D.from_config(config).eval()
    assert sum(p.numel() for p in model.parameters()) == 30_819_014
    with torch.no_grad():
        features = model.forward_features(torch.randn(1, 12, 5000))
    assert features.shape == (1, 1024)
    assert model.forward_head(features).shape == (1, 150)


# ---- timm-style interface ----------------------------------------------------------------------
def test_forward_features_head_and_reset_classifier():
    torch.manual_seed(0)
    model = Net1D(**TINY).eval()
    x = torch.randn(2, 12, 700)
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 48) and model.num_features == 48
        logits = model.forward_head(features)
        assert logits.shape == (2, 150)
        assert torch.equal(model(x), logits)

    trunk_before = {
        k: v.clone() for k, v in model.state_dict().items() if not k.startswith("dense.")
    }
    model.reset_classifier(4)
    assert model.n_classes == 4 and model.config()["n_classes"] == 4
    assert tuple(model.dense.weight.shape) == (4, 48) and tuple(model.dense.bias.shape) == (4,)
    assert list(model.state_dict())[-2:] == ["dense.weight", "dense.bias"]
    with torch.no_grad():
        assert model(x).shape == (2, 4)
        assert torch.equal(model.forward_features(x), features)  # trunk untouched
    for k, v in trunk_before.items():
        assert torch.equal(model.state_dict()[k], v)


def test_reset_classifier_keeps_device_and_dtype():
    model = Net1D(**TINY).double()
    model.reset_classifier(3)
    assert model.dense.weight.dtype == torch.float64
    with torch.device("meta"):
        meta = Net1D(**TINY)
    meta.reset_classifier(4)
    assert meta.dense.weight.device.type == "meta"


def test_config_round_trip_and_validation():
    model = Net1D.from_config({**TINY, "verbose": False})  # the published kwarg is tolerated
    again = Net1D.from_config(model.config())
    assert [(k, v.shape) for k, v in again.state_dict().items()] == [
        (k, v.shape) for k, v in model.state_dict().items()
    ]
    with pytest.raises(ConfigError, match="filters"):
        Net1D.from_config({**TINY, "filters": [1]})
    partial = dict(TINY)
    del partial["groups_width"]
    with pytest.raises(ConfigError, match="groups_width"):
        Net1D.from_config(partial)
    with pytest.raises(ValueError, match="equal length"):
        Net1D(**{**TINY, "m_blocks_list": [1, 1]})


def test_rejects_wrong_input_shape():
    model = Net1D(**TINY)
    with pytest.raises(ValueError, match=r"\(batch, 12, length\)"):
        model(torch.randn(2, 5000, 12))
    with pytest.raises(ValueError):
        model(torch.randn(12, 5000))


# ---- the "same" padding and the shortcut --------------------------------------------------------
@pytest.mark.parametrize("length", [1, 2, 15, 16, 17, 625, 5000, 5001])
@pytest.mark.parametrize("kernel_size,stride", [(16, 2), (16, 1), (1, 1), (3, 3)])
def test_same_padding_gives_ceil_length(length, kernel_size, stride):
    left, right = same_padding(length, kernel_size, stride)
    assert 0 <= right - left <= 1
    conv = Conv1dSame(1, 1, kernel_size, stride)
    assert conv(torch.zeros(1, 1, length)).shape[-1] == math.ceil(length / stride)
    pool = MaxPool1dSame(stride)
    assert pool(torch.zeros(1, 1, length)).shape[-1] == math.ceil(length / stride)


def test_same_padding_matches_published_formula():
    # p = max(0, (ceil(L/s) - 1) * s + k - L), p // 2 left, rest right
    assert same_padding(5000, 16, 2) == (7, 7)
    assert same_padding(625, 16, 2) == (7, 8)
    assert same_padding(10, 1, 1) == (0, 0)


def test_shortcut_max_pool_pads_with_zeros():
    # published quirk: the pool's "same" padding is zeros, so an odd tail becomes max(x, 0)
    x = torch.tensor([[[-1.0, -2.0, -3.0]]])
    assert MaxPool1dSame(2)(x).tolist() == [[[-1.0, 0.0]]]


def test_time_axis_shrinks_by_two_per_stage_and_stem():
    model = Net1D(**TINY)
    lengths = []
    hooks = [
        s.register_forward_hook(lambda m, i, o: lengths.append(o.shape[-1]))
        for s in model.stage_list
    ]
    model(torch.randn(1, 12, 1001))
    for h in hooks:
        h.remove()
    assert lengths == [math.ceil(1001 / 2 ** (i + 2)) for i in range(3)]


def test_widening_shortcut_zero_pads_channels_evenly():
    torch.manual_seed(0)
    model = Net1D(**TINY).eval()
    block = model.stage_list[1].block_list[0]  # 16 -> 32 channels, downsampling
    assert (block.in_channels, block.out_channels, block.stride) == (16, 32, 2)
    with torch.no_grad():  # zero the residual branch: the block returns its shortcut
        block.se_fc2.bias.fill_(-1e4)
        x = torch.randn(1, 16, 10)
        out = block(x)
    assert torch.all(out[:, :8] == 0) and torch.all(out[:, 24:] == 0)
    assert torch.allclose(out[:, 8:24], torch.nn.functional.max_pool1d(x, 2), atol=1e-6)


# ---- gradients (what PCGrad needs) ----------------------------------------------------------------
@pytest.mark.parametrize("use_bn", [True, False])
def test_every_used_parameter_receives_a_gradient(use_bn):
    torch.manual_seed(0)
    model = Net1D(**{**TINY, "n_classes": 4}, use_bn=use_bn).train()
    model(torch.randn(2, 12, 300)).sum().backward()
    no_grad = {n for n, p in model.named_parameters() if p.grad is None}
    zero_grad = {n for n, p in model.named_parameters() if p.grad is not None and not p.grad.any()}
    assert not zero_grad
    # the published network never uses the first block's bn1 (and no BN at all with use_bn=False)
    assert no_grad == set(model.unused_parameter_names())
    expected = {"stage_list.0.block_list.0.bn1.weight", "stage_list.0.block_list.0.bn1.bias"}
    if use_bn:
        assert no_grad == expected
    else:
        assert expected < no_grad and all(".bn" in n or n.startswith("first_bn.") for n in no_grad)


def test_trunk_and_head_parameters_partition_the_model():
    model = Net1D(**{**TINY, "n_classes": 4})
    head_names = [n for n, _ in model.named_head_parameters()]
    assert head_names == ["dense.weight", "dense.bias"]
    assert [id(p) for p in model.head_parameters()] == [
        id(model.dense.weight),
        id(model.dense.bias),
    ]
    all_trunk = model.trunk_parameters(include_unused=True)
    assert len(all_trunk) + 2 == len(list(model.parameters()))
    used_trunk = model.trunk_parameters()
    assert len(used_trunk) == len(all_trunk) - len(model.unused_parameter_names())
    # per-task gradients of the shared trunk, as PCGrad takes them: no allow_unused needed
    logits = model(torch.randn(2, 12, 300))
    grads = torch.autograd.grad(logits[:, 0].sum(), used_trunk, retain_graph=True)
    assert all(g is not None and g.shape == p.shape for g, p in zip(grads, used_trunk))
    assert sum(int(g.any()) for g in grads) == len(used_trunk)


def test_dropout_only_in_training_with_use_do():
    torch.manual_seed(0)
    x = torch.randn(2, 12, 300)
    model = Net1D(**TINY)
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout 0.5 active
    model.eval()
    assert torch.equal(model(x), model(x))
    no_do = Net1D(**TINY, use_bn=False, use_do=False).train()
    assert torch.equal(no_do(x), no_do(x))
