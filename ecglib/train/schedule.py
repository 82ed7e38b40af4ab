"""Learning-rate schedule of the study: linear warm-up, then cosine decay to a floor.

With ``S`` optimizer steps in the whole run, ``W = floor(warmup_fraction * S)`` warm-up steps and
the floor ``m = final_lr_fraction`` (the paper: ``W = 10 %`` of the steps, ``m = 0.01``), the
learning rate after ``s`` optimizer steps (the one the step ``s + 1`` uses) is ``lr_peak * f(s)``:

    f(s) = s / W                                            for s < W   (linear warm-up from 0)
    f(s) = m + (1 - m) * (1 + cos(pi * min(1, (s - W) / (S - W)))) / 2      for s >= W

so ``f(W) = 1`` (the peak, reached after the first 10 % of the steps) and ``f(S) = m`` (1 % of the
peak after the last step). This is the authors' ``build_warmup_cosine_scheduler``
(github.com/shunxio/AnyECG-CCTA, ``train.py``), including ``W = int(0.1 * S)``; with ``W = 0`` there
is no warm-up and the decay starts at the peak. It is a :class:`torch.optim.lr_scheduler.LambdaLR`,
stepped once per optimizer step, so its state (the step count) goes into the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["warmup_steps", "warmup_cosine_factor", "warmup_cosine_scheduler"]


def warmup_steps(total_steps: int, warmup_fraction: float) -> int:
    """``W = floor(warmup_fraction * S)``, the number of warm-up steps."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0.0 <= warmup_fraction <= 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1], got {warmup_fraction}")
    return int(warmup_fraction * total_steps + 1e-9)


def warmup_cosine_factor(
    total_steps: int, warmup_fraction: float = 0.1, final_fraction: float = 0.01
) -> Callable[[int], float]:
    """The multiplier ``f(s)`` of the peak learning rate (formula in the module docstring)."""
    if not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"final_fraction must be in [0, 1], got {final_fraction}")
    n_warm = warmup_steps(total_steps, warmup_fraction)
    n_decay = max(1, total_steps - n_warm)

    def factor(step: int) -> float:
        if step < n_warm:
            return step / n_warm
        progress = min(1.0, (step - n_warm) / n_decay)
        return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def warmup_cosine_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_fraction: float = 0.1,
    final_fraction: float = 0.01,
) -> LambdaLR:
    """A ``LambdaLR`` with :func:`warmup_cosine_factor`; call ``step()`` after every optimizer step."""
    return LambdaLR(optimizer, warmup_cosine_factor(total_steps, warmup_fraction, final_fraction))
