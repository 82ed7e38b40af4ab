"""Batched ECG augmentation and its strength schedule."""

from __future__ import annotations

import math

import pytest
import torch

from ecglib.train.augment import (
    AugmentConfig,
    augment_batch,
    augment_strength,
    with_augmented_copies,
)

ONLY = dict(p_roll=0.0, p_scale=0.0, p_noise=0.0, p_occlude=0.0)


def only(name: str, **kw) -> AugmentConfig:
    return AugmentConfig(**{**ONLY, name: 1.0, **kw})


def batch(n=32, leads=12, length=1000, seed=0):
    return torch.randn(n, leads, length, generator=torch.Generator().manual_seed(seed)) + 3.0


def test_strength_schedule():
    assert augment_strength(0, 100) == 1.0
    assert math.isclose(augment_strength(100, 100), 0.5)
    assert math.isclose(augment_strength(50, 100), 0.75)
    values = [augment_strength(e, 20) for e in range(21)]
    assert all(a > b for a, b in zip(values, values[1:]))  # strictly decaying
    assert min(values) >= 0.5  # never to 0, unlike the paper's printed Eq. 3
    with pytest.raises(ValueError):
        augment_strength(101, 100)
    with pytest.raises(ValueError):
        augment_strength(0, 0)


def test_shapes_and_copies():
    x = batch(8)
    y = torch.randint(0, 2, (8, 4))
    xx, yy = with_augmented_copies(x, y, generator=torch.Generator().manual_seed(0))
    assert xx.shape == (16, 12, 1000) and yy.shape == (16, 4)
    assert torch.equal(xx[:8], x) and torch.equal(yy[:8], y) and torch.equal(yy[8:], y)
    assert not torch.equal(xx[8:], x)
    assert xx.dtype == x.dtype and xx.device == x.device
    x64 = x.double()
    assert augment_batch(x64, generator=torch.Generator()).dtype == torch.float64
    with pytest.raises(ValueError):
        augment_batch(x[0], generator=torch.Generator())
    with pytest.raises(ValueError):
        with_augmented_copies(x, y[:3], generator=torch.Generator())


def test_determinism_and_input_untouched():
    x = batch()
    x0 = x.clone()
    a = augment_batch(x, generator=torch.Generator().manual_seed(42), strength=0.8)
    b = augment_batch(x, generator=torch.Generator().manual_seed(42), strength=0.8)
    c = augment_batch(x, generator=torch.Generator().manual_seed(43), strength=0.8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, x0)


def test_zero_strength_is_identity():
    x = batch()
    assert torch.equal(
        augment_batch(x, generator=torch.Generator().manual_seed(0), strength=0.0), x
    )


def test_roll_is_a_per_sample_circular_shift_within_10_percent():
    x = batch(n=64, length=500)
    out = augment_batch(x, generator=torch.Generator().manual_seed(1), config=only("p_roll"))
    shifts = []
    for b in range(x.shape[0]):
        found = [s for s in range(-50, 51) if torch.equal(out[b], torch.roll(x[b], s, dims=-1))]
        assert len(found) == 1, b
        shifts.append(found[0])
    assert len(set(shifts)) > 10 and max(map(abs, shifts)) <= 50


def test_scale_range():
    x = batch(n=256, length=50)
    out = augment_batch(x, generator=torch.Generator().manual_seed(2), config=only("p_scale"))
    factor = out[:, 0, 0] / x[:, 0, 0]
    assert torch.allclose(out, x * factor.view(-1, 1, 1), rtol=1e-6)  # one factor per sample
    assert factor.min() >= 0.9 - 1e-6 and factor.max() <= 1.1 + 1e-6
    assert factor.max() - factor.min() > 0.15


def test_noise_std_and_clip():
    x = batch(n=16, length=2000)
    out = augment_batch(
        x, generator=torch.Generator().manual_seed(3), strength=0.5, config=only("p_noise")
    )
    noisy = (out != x).any(-1).any(-1)  # p = 1.0 * strength: about half of the samples
    assert 0 < int(noisy.sum()) < x.shape[0]
    assert abs(float((out - x)[noisy].std()) - 0.02 * 0.5) < 5e-4  # std scales with strength
    # a huge std shows the clip at +-0.1
    out = augment_batch(
        x, generator=torch.Generator().manual_seed(3), config=only("p_noise", noise_std=5.0)
    )
    d = out - x
    assert d.abs().max() <= 0.1 + 1e-6
    assert (d.abs() > 0.0999).float().mean() > 0.9


def test_occlusion_one_segment_of_2_to_10_percent():
    length = 1000
    x = batch(n=200, length=length)
    out = augment_batch(x, generator=torch.Generator().manual_seed(4), config=only("p_occlude"))
    zero = (out == 0).all(dim=1)  # (B, L): all leads zeroed together
    changed = (out != x).any(dim=1)
    assert torch.equal(zero, changed)
    lengths = []
    for b in range(x.shape[0]):
        idx = torch.nonzero(zero[b]).flatten()
        assert len(idx) > 0
        assert int(idx[-1] - idx[0]) + 1 == len(idx)  # contiguous
        lengths.append(len(idx))
    assert min(lengths) >= 20 and max(lengths) <= 100
    assert max(lengths) - min(lengths) > 50  # the length varies over the range


def test_probabilities_scale_with_strength():
    x = batch(n=4000, leads=1, length=50)
    for strength in (1.0, 0.5):
        out = augment_batch(
            x,
            generator=torch.Generator().manual_seed(5),
            strength=strength,
            config=only("p_scale", p_scale=0.8),
        )
        rate = float((out != x).any(-1).any(-1).float().mean())
        assert abs(rate - 0.8 * strength) < 0.03
