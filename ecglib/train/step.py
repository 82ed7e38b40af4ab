"""One optimisation step of a fold, as its epoch loop runs it (:mod:`ecglib.train.fit`).

:class:`TrainStep` holds what a fold's step needs (the model and its DDP wrapper, optimiser,
learning-rate schedule, gradient scaler, the trunk's and the task-specific parameters, the
recipe) and runs one step on a batch fetched from the store: move it to the device, append the
augmented copies (``train.augment``), forward (trunk under autocast, head in float32), the
per-vessel BCE of the assessed vessels, uncertainty weighting (``train.loss_weighting``), the
backward with gradient surgery (``train.gradient_surgery``), the optimiser and scheduler steps.
``benchmarks/bench_train_step.py`` times the same object.

**Nothing on the hot path waits for the device.** The running sums the epoch's history row
needs (per-task losses, objective, PCGrad conflicts and steps with one, steps) are accumulated in a float64 tensor
on the training device and read once per epoch; the step itself never calls ``.item()``,
``float()`` or ``.cpu()`` on a tensor. The one host round trip left is PCGrad's own: its
``T x T`` Gram matrix goes to the host for the coefficient bookkeeping
(:func:`ecglib.train.pcgrad.pcgrad_surgery`). On the CPU the sums equal, bit for bit, those
the loop accumulated on the host before (a float32 value widened to float64 is exact).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from ecglib.train import distributed as D
from ecglib.train.augment import with_augmented_copies
from ecglib.train.pcgrad import pcgrad_backward, pcgrad_features_backward
from ecglib.train.uncertainty import per_task_bce

__all__ = ["TrainStep", "SURGERY_VARIANT", "running_sums"]

#: ``train.gradient_surgery`` -> the PCGrad variant it runs.
SURGERY_VARIANT = {"pcgrad": "yu", "pcgrad_authors": "authors", "pcgrad_features": "yu"}


def running_sums(n_tasks: int, device: torch.device | str) -> torch.Tensor:
    """The epoch's running sums, float64 on ``device``: ``[0, T)`` the task losses, ``T`` the
    objective, ``T + 1`` the conflicting task pairs, ``T + 2`` the steps, ``T + 3`` the steps
    with at least one conflicting pair."""
    return torch.zeros(n_tasks + 4, dtype=torch.float64, device=device)


@dataclass
class TrainStep:
    """One step of a fold (module docstring). ``model`` has ``objective_terms(task_losses)``
    (:class:`ecglib.train.fit.TaskModel`); ``wrapped`` is ``model`` or its DDP wrapper, and
    ``wrapped(x)`` returns ``(features, logits)``. ``tasks``: indices of the assessed vessels
    (the logits' columns that are trained)."""

    model: nn.Module
    wrapped: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    shared: list[torch.Tensor]
    others: list[torch.Tensor]
    tasks: list[int]
    surgery: str
    augment: bool
    amp_dtype: torch.dtype | None
    ctx: D.DistContext

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        strength: float,
        aug_gen: torch.Generator,
        pc_gen: torch.Generator,
        sums: torch.Tensor,
    ) -> float:
        """One step on the batch ``(x, y)``, accumulated into ``sums`` (:func:`running_sums`).
        Returns the learning rate the step used."""
        ctx, dev, surgery = self.ctx, self.ctx.device, self.surgery
        x = x.to(dev, non_blocking=True)
        y = y.to(dev, non_blocking=True)
        if self.augment:
            x, y = with_augmented_copies(x, y, generator=aug_gen, strength=strength)
        self.optimizer.zero_grad(set_to_none=True)
        sync = self.wrapped.no_sync() if ctx.distributed and surgery != "none" else nullcontext()
        with sync:
            with torch.autocast(dev.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                features, logits = self.wrapped(x)
            logits = logits.float()
            if len(self.tasks) != logits.shape[1]:
                # a vessel not assessed is not a task; when every vessel is one (the usual
                # case) no gather copies the logits forward and scatters them back
                logits, y = logits[:, self.tasks], y[:, self.tasks]
            task_losses = per_task_bce(logits, y)
            terms = self.model.objective_terms(task_losses)
            # fp16: the gradients of the scaled terms (every surgery is homogeneous in the
            # scale, the authors' 1e-12 aside); the scaler divides the scale out before the step
            conflicts = self.backward(
                self.scaler.scale(terms) if self.scaler.is_enabled() else terms, features, pc_gen
            )
        if ctx.distributed and surgery == "pcgrad_features":
            D.all_reduce_grads_(list(self.model.parameters()), ctx)
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scaler.is_enabled():
            # an overflow skips the step on every rank alike: the gradients are averaged first
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        n = len(self.tasks)
        sums[:n] += task_losses.detach()
        sums[n] += terms.detach().sum()
        sums[n + 1] += conflicts
        sums[n + 2] += 1
        sums[n + 3] += conflicts > 0
        return lr

    def backward(
        self, terms: torch.Tensor, features: torch.Tensor, generator: torch.Generator
    ) -> int:
        """Gradients of one step into ``.grad``; returns the number of conflicting task pairs."""
        surgery = self.surgery
        if surgery == "none":
            terms.sum().backward()
            return 0
        variant = SURGERY_VARIANT[surgery]
        if surgery == "pcgrad_features":
            info = pcgrad_features_backward(
                terms, features, other_params=self.others, generator=generator, variant=variant
            )
            return info.n_conflicts
        if self.ctx.distributed:
            return D.distributed_pcgrad_backward(
                terms, self.shared, self.others, self.ctx, generator=generator, variant=variant
            )
        info = pcgrad_backward(
            terms, self.shared, other_params=self.others, generator=generator, variant=variant
        )
        return info.n_conflicts
