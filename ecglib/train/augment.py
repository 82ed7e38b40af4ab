"""Online ECG augmentation, batched on the input's device, with an epoch-decaying strength.

The coronary study (Xiao et al., arXiv:2512.05136, and its code) trains on batches that hold each
original ECG and one augmented copy. Per sample, with probability ``p * strength`` each:

=============  ====  ===================================================================
transform       p    what
=============  ====  ===================================================================
roll           0.8   circular shift in time by an integer in ``[-0.1 L, 0.1 L]``
scale          0.8   multiply all leads by one factor ``~ U[0.9, 1.1]``
noise          0.5   add Gaussian noise, std ``0.02 * strength``, clipped to ``+-0.1``
occlusion      0.3   zero one contiguous segment (all leads) of ``2-10 %`` of the length
=============  ====  ===================================================================

applied in this order. The strength decays with the epoch ``e`` of ``E`` as

    strength(e) = 0.5 + 0.25 (1 + cos(pi e / E)),   1.0 at e = 0, 0.5 at e = E,

which is what the paper's text and the authors' code do. The paper's printed Eq. 3 would decay
to 0 instead; we follow the text and the code (the book says so).

Everything is vectorised over the batch (no Python loop over samples or time) and all randomness
comes from the ``torch.Generator`` passed in. For speed on a GPU pass a generator on that device;
a CPU generator works too (the random numbers are then drawn on the CPU and copied).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["AugmentConfig", "augment_strength", "augment_batch", "with_augmented_copies"]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings; the defaults are the study's."""

    #: roll: largest shift as a fraction of the length
    max_shift: float = 0.10
    #: scale: factor range
    scale_low: float = 0.9
    scale_high: float = 1.1
    #: noise: standard deviation at strength 1 (it scales with the strength), and its clip
    noise_std: float = 0.02
    noise_clip: float = 0.1
    #: occlusion: segment length as a fraction of the length
    occlusion_min: float = 0.02
    occlusion_max: float = 0.10
    #: probabilities at strength 1 (multiplied by the strength)
    p_roll: float = 0.8
    p_scale: float = 0.8
    p_noise: float = 0.5
    p_occlude: float = 0.3

    def __post_init__(self) -> None:
        for name in ("p_roll", "p_scale", "p_noise", "p_occlude"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")
        if not 0.0 <= self.max_shift < 1.0:
            raise ValueError(f"max_shift must be in [0, 1), got {self.max_shift}")
        if not 0.0 < self.occlusion_min <= self.occlusion_max < 1.0:
            raise ValueError(
                "need 0 < occlusion_min <= occlusion_max < 1, got "
                f"{self.occlusion_min}, {self.occlusion_max}"
            )
        if self.scale_low > self.scale_high or self.noise_std < 0 or self.noise_clip < 0:
            raise ValueError("need scale_low <= scale_high and non-negative noise_std, noise_clip")

    def occlusion_lengths(self, length: int) -> tuple[int, int]:
        """Smallest and largest occluded segment, in samples, for a signal of ``length``."""
        lo = max(1, math.ceil(self.occlusion_min * length - 1e-9))
        hi = max(lo, math.floor(self.occlusion_max * length + 1e-9))
        return lo, min(hi, length)


def augment_strength(epoch: int | float, n_epochs: int) -> float:
    """``0.5 + 0.25 (1 + cos(pi e / E))``: 1.0 at epoch 0, decaying to 0.5 at epoch ``E``.

    (The paper's printed Eq. 3 would reach 0 at ``E``; its text and code reach 0.5, as here.)
    """
    if n_epochs < 1:
        raise ValueError(f"n_epochs must be >= 1, got {n_epochs}")
    if not 0 <= epoch <= n_epochs:
        raise ValueError(f"epoch must be in [0, {n_epochs}], got {epoch}")
    return 0.5 + 0.25 * (1.0 + math.cos(math.pi * epoch / n_epochs))


def _uniform(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device)


def augment_batch(
    x: torch.Tensor,
    *,
    generator: torch.Generator,
    strength: float = 1.0,
    config: AugmentConfig = AugmentConfig(),
) -> torch.Tensor:
    """An augmented copy of a batch ``x`` of shape ``(B, leads, L)`` (the input is not modified).

    Each sample independently gets each transform with probability ``p * strength`` (table in the
    module docstring). The same number of random numbers is drawn whatever is applied, so a
    seeded ``generator`` gives the same result for the same batch shape.
    """
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, leads, length), got {tuple(x.shape)}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    c = config
    n, _, length = x.shape
    dev = x.device

    def draw(p: float) -> torch.Tensor:  # Bernoulli(p * strength) per sample
        return (_uniform(n, generator) < p * strength).to(dev)

    # roll: out[t] = x[(t - shift) mod L], one integer shift per sample (torch.roll semantics)
    max_shift = int(math.floor(c.max_shift * length))
    do_roll = draw(c.p_roll)
    shift = torch.randint(
        -max_shift, max_shift + 1, (n,), generator=generator, device=generator.device
    ).to(dev)
    shift = torch.where(do_roll, shift, torch.zeros_like(shift))
    t = torch.arange(length, device=dev)
    idx = (t.unsqueeze(0) - shift.unsqueeze(1)).remainder(length)  # (B, L)
    out = x.gather(-1, idx.unsqueeze(1).expand_as(x))

    # scale: one factor per sample, all leads alike (keeps the leads' relationships)
    do_scale = draw(c.p_scale)
    factor = c.scale_low + (c.scale_high - c.scale_low) * _uniform(n, generator).to(dev, x.dtype)
    factor = torch.where(do_scale, factor, torch.ones_like(factor))
    out = out * factor.view(n, 1, 1)

    # noise: the noise itself is clipped (not the signal), so no sample moves by more than the clip
    do_noise = draw(c.p_noise)
    noise = torch.randn(x.shape, generator=generator, device=generator.device).to(dev, x.dtype)
    noise = (noise * (c.noise_std * strength)).clamp_(-c.noise_clip, c.noise_clip)
    out = out + noise * do_noise.to(x.dtype).view(n, 1, 1)

    # occlusion: one contiguous segment per sample, length uniform in [lo, hi] samples
    do_occ = draw(c.p_occlude)
    lo, hi = c.occlusion_lengths(length)
    seg = torch.randint(lo, hi + 1, (n,), generator=generator, device=generator.device).to(dev)
    start = (_uniform(n, generator).to(dev) * (length - seg + 1)).floor().long()
    start = torch.minimum(start, length - seg)  # guards u -> 1 rounding
    hole = (t.unsqueeze(0) >= start.unsqueeze(1)) & (t.unsqueeze(0) < (start + seg).unsqueeze(1))
    hole = hole & do_occ.unsqueeze(1)
    out = out.masked_fill(hole.unsqueeze(1), 0.0)
    return out


def with_augmented_copies(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    generator: torch.Generator,
    strength: float = 1.0,
    config: AugmentConfig = AugmentConfig(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training batch of the study: ``[x; augment(x)]`` of shape ``(2B, leads, L)`` and the
    labels duplicated, ``[y; y]`` (originals first, copy ``b + B`` is sample ``b`` augmented)."""
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}")
    x_aug = augment_batch(x, generator=generator, strength=strength, config=config)
    return torch.cat([x, x_aug], dim=0), torch.cat([y, y], dim=0)
