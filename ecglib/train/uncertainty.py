"""Homoscedastic-uncertainty task weighting and per-task losses.

Kendall, Gal & Cipolla, "Multi-task learning using uncertainty to weigh losses for scene geometry
and semantics", CVPR 2018. Each task ``t`` has a learned noise scale ``sigma_t`` and the joint
objective is

    L = sum_t  L_t / (2 sigma_t^2) + log sigma_t .

Like the authors of the coronary study (and Kendall et al.'s own practical advice) we learn
``s_t = log sigma_t^2`` instead of ``sigma_t``, which is unconstrained and numerically stable, and
use the per-task term

    exp(-s_t) L_t + s_t   =   2 * ( L_t / (2 sigma_t^2) + log sigma_t ),

i.e. exactly twice Kendall's term (``exp(-s_t) = 1 / sigma_t^2`` and ``s_t = 2 log sigma_t``). The
factor 2 does not move the optimum in ``s_t`` (``s_t* = log L_t``, weight ``1 / L_t``) and only
rescales gradients, which Adam-type optimisers are invariant to. The task weight applied to
``L_t`` is ``exp(-s_t)``; ``s_t`` starts at 0 (all weights 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UncertaintyWeighting", "per_task_bce"]


class UncertaintyWeighting(nn.Module):
    """Learned task weights ``exp(-s_t)`` with ``s_t = log sigma_t^2`` (Kendall et al. 2018).

    ``forward(task_losses)`` takes the per-task losses ``L`` of shape ``(T,)`` and returns the
    per-task weighted terms ``exp(-s_t) L_t + s_t``, shape ``(T,)``; their sum is the objective.
    They are returned per task (not summed) because PCGrad needs each task's own term; the term of
    task ``t`` is the only one that depends on ``s_t``, so ``s_t`` receives exactly its own task's
    gradient ``1 - exp(-s_t) L_t``.
    """

    def __init__(self, n_tasks: int, init_log_var: float = 0.0):
        super().__init__()
        if n_tasks < 1:
            raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
        #: ``s_t = log sigma_t^2``, one per task.
        self.log_vars = nn.Parameter(torch.full((n_tasks,), float(init_log_var)))

    @property
    def n_tasks(self) -> int:
        return self.log_vars.numel()

    def weights(self) -> torch.Tensor:
        """Task weights (precisions) ``exp(-s_t) = 1 / sigma_t^2``, shape ``(T,)``."""
        return torch.exp(-self.log_vars)

    def sigmas(self) -> torch.Tensor:
        """``sigma_t = exp(s_t / 2)``, shape ``(T,)`` (for logging)."""
        return torch.exp(0.5 * self.log_vars)

    def forward(self, task_losses: torch.Tensor) -> torch.Tensor:
        if task_losses.shape != self.log_vars.shape:
            raise ValueError(
                f"expected {self.n_tasks} task losses of shape ({self.n_tasks},), "
                f"got shape {tuple(task_losses.shape)}"
            )
        return torch.exp(-self.log_vars) * task_losses + self.log_vars

    def extra_repr(self) -> str:
        return f"n_tasks={self.n_tasks}"


def per_task_bce(
    logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-task binary cross-entropy with logits, averaged over the batch: shape ``(T,)``.

    ``L_t = -(1/B) sum_b [ w_t y_bt log sigmoid(z_bt) + (1 - y_bt) log(1 - sigmoid(z_bt)) ]`` with
    ``w_t = pos_weight[t]`` (1 by default). ``logits`` and ``labels`` have shape ``(B, T)``;
    labels are cast to the logits' dtype (0/1 integers are fine).
    """
    if logits.ndim != 2 or logits.shape != labels.shape:
        raise ValueError(
            f"logits and labels must both have shape (batch, tasks), got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}"
        )
    per_elem = F.binary_cross_entropy_with_logits(
        logits, labels.to(logits.dtype), pos_weight=pos_weight, reduction="none"
    )
    return per_elem.mean(dim=0)
