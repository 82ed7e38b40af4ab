"""Device, precision and the multi-process (DistributedDataParallel) helpers.

One code path serves a single process and ``torchrun --nproc_per_node N``: :func:`setup` reads
torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``), starts
the process group (``nccl`` on CUDA, ``gloo`` on the CPU) and picks the device; in a single
process it starts nothing and every collective below is the identity.

**One process group per job.** ``python -m ecglib.train`` starts the group before its loop over
folds and destroys it after (:func:`process_group`); :func:`setup`, which
:func:`~ecglib.train.fit.fit_fold` calls, joins a running group and never destroys it. A group
re-created in the same torchrun job reuses the store keys its predecessor left behind (the
default group's prefix restarts at 0), so a process can read a stale gloo address and connect to
a socket that is gone: "Connection refused", or one rank in ``barrier`` and the other in
``init_process_group`` for ever.

**Devices.** Under torchrun each process takes its local GPU, ``cuda:LOCAL_RANK`` (``auto`` and a
bare ``cuda``); a ``train.device`` naming one GPU (``cuda:1``) is an error there, since it would
put every process on that one GPU. ``cpu`` runs every process on the CPU (gloo).

**Precision** (``train.precision``, :func:`autocast_dtype`): ``fp32``; ``bf16`` autocast for the
trunk; ``fp16`` autocast with a gradient scaler (:mod:`ecglib.train.fit`); ``auto`` = bf16 on a
GPU that computes it natively (Ampere and later), fp32 elsewhere: on the CPU, and on GPUs such
as the V100 or T4 that would emulate bf16 slowly. The head always runs in float32
(:meth:`ecglib.model.Net1D.forward_features_and_logits`).

**Batches.** ``train.batch_size`` is the *global* batch: each of ``N`` processes takes
``batch_size / N`` ECGs per step (:func:`per_process_batch`), and the sampler deals the shards so
that step ``s`` of ``N`` processes sees the same ECGs as step ``s`` of one process. With the
gradients averaged across processes the optimiser then takes the same steps on the same batches
as in one process, with the same learning rate and warm-up. What differs: batch-norm statistics
are computed per process (over ``batch_size / N`` ECGs), the augmentation and dropout streams
are seeded per rank, and when the training rows are not a multiple of ``N`` the sampler repeats
up to ``N - 1`` of them per epoch.

**PCGrad and DDP.** DDP averages gradients across processes with hooks that fire when ``backward``
accumulates a parameter's ``.grad``. PCGrad takes each task's gradient with
``torch.autograd.grad``, which never accumulates, so DDP would average nothing and every process
would step with its own local surgery. Averaging the *projected* gradients afterwards would not
help either: the surgery is non-linear, so the mean of per-process surgeries is not the surgery of
the global gradients. :func:`distributed_pcgrad_backward` therefore all-reduces (averages) the
``(T, P)`` matrix of per-task trunk gradients *before* the surgery, so that every process projects
the gradients of the global batch, with the same random visiting order (a generator seeded alike
on every rank), and writes the same update; the task-specific parameters (head, uncertainty
weights) get their averaged plain gradients. The training loop runs these steps inside
``ddp.no_sync()`` so that DDP neither expects nor performs its own reduction, and it uses DDP's
standard path for ``gradient_surgery: none``.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from ecglib.errors import ConfigError
from ecglib.train.pcgrad import (
    AUTHORS_EPS,
    pcgrad_coefficients,
    pcgrad_orders,
    pcgrad_weights,
    task_gradient_matrix,
)

__all__ = [
    "DistContext",
    "setup",
    "teardown",
    "process_group",
    "choose_device",
    "autocast_dtype",
    "per_process_batch",
    "all_reduce_mean_",
    "all_reduce_grads_",
    "broadcast_buffers_",
    "gather_rows",
    "barrier",
    "distributed_pcgrad_backward",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size, device, and whether it started the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    started_group: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0 writes every file; the other ranks only compute."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def choose_device(
    preference: str = "auto", local_rank: int = 0, *, distributed: bool = False
) -> torch.device:
    """``auto``: ``cuda:<local_rank>`` when CUDA is available, else the CPU; otherwise the named
    device (``cpu``, ``cuda``, ``cuda:1``; a bare ``cuda`` means the local GPU). ``distributed``
    (under torchrun): a device naming one GPU is refused (module docstring)."""
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(preference)
    if device.type == "cuda":
        if distributed and device.index is not None:
            raise ConfigError(
                f"train.device is {preference!r}, but under torchrun every process takes its own "
                f"local GPU (this one: cuda:{local_rank}); {preference!r} would put every process "
                "on one GPU. Set train.device to auto or cuda, and choose the GPUs with "
                "CUDA_VISIBLE_DEVICES."
            )
        if not torch.cuda.is_available():
            raise RuntimeError(f"train.device is {preference!r} but CUDA is not available here")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``train.precision`` on ``device`` (``None``: float32, no autocast).

    ``auto`` takes bf16 only on a GPU that computes it natively: emulated bf16 (V100, T4) is
    slower than float32, and on the CPU float32 keeps a single-process run's numbers unchanged."""
    if precision == "auto":
        native = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if native else None
    dtypes = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        raise ConfigError(
            f"train.precision = {precision!r}: expected one of auto, {', '.join(dtypes)}"
        )
    return dtypes[precision]


def per_process_batch(batch_size: int, world_size: int) -> int:
    """Each process's share of the global ``train.batch_size``; an indivisible batch is an error
    (uneven shares would weigh the ECGs of the smaller shares more in the averaged gradient)."""
    if batch_size < 1 or batch_size % world_size:
        raise ConfigError(
            f"train.batch_size = {batch_size} is the global batch, to be shared by the "
            f"{world_size} processes, and {batch_size} is not a multiple of {world_size}: "
            f"choose a multiple of {world_size}, e.g. "
            f"{max(world_size, batch_size // world_size * world_size)}"
        )
    return batch_size // world_size


def setup(preference: str = "auto") -> DistContext:
    """Join the process group, or start it under torchrun when this process has none, and choose
    the device. A group started here lives until :func:`teardown` or the end of the process,
    never just for one fold (module docstring)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        device = choose_device(preference, local, distributed=world > 1)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return DistContext(rank, world, local, device, started_group=False)
    if world <= 1:
        return DistContext(device=choose_device(preference, 0))
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    device = choose_device(preference, local, distributed=True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world
    )
    atexit.register(_destroy_at_exit)
    return DistContext(rank, world, local, device, started_group=True)


def _destroy_at_exit() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def teardown(ctx: DistContext) -> None:
    """Destroy the process group if :func:`setup` started it: once, at the end of the job."""
    if ctx.started_group and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group(preference: str = "auto") -> Iterator[DistContext]:
    """The job's one process group (none in a single process), around a loop over folds."""
    ctx = setup(preference)
    try:
        yield ctx
    finally:
        teardown(ctx)


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def all_reduce_mean_(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """In-place mean over the processes (identity in a single process)."""
    if ctx.distributed:
        dist.all_reduce(tensor)
        tensor.div_(ctx.world_size)
    return tensor


def all_reduce_grads_(params: Sequence[torch.Tensor], ctx: DistContext) -> None:
    """Average ``.grad`` over the processes, as one flat buffer. A parameter without a gradient
    on some rank counts as zero there and gets one if any rank has it."""
    if not ctx.distributed:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    have = torch.tensor([p.grad is not None for p in params], dtype=torch.uint8, device=ctx.device)
    dist.all_reduce(have, op=dist.ReduceOp.MAX)
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    )
    all_reduce_mean_(flat, ctx)
    for p, h, chunk in zip(params, have.tolist(), flat.split([p.numel() for p in params])):
        if h:
            p.grad = chunk.view_as(p).clone()


def broadcast_buffers_(module: torch.nn.Module, ctx: DistContext, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every process, so that all
    ranks evaluate the model rank 0 saves."""
    if ctx.distributed:
        for buf in module.buffers():
            dist.broadcast(buf, src)


def gather_rows(values: np.ndarray, positions: np.ndarray, n: int, ctx: DistContext) -> np.ndarray:
    """Reassemble an ``(n, ...)`` array from every rank's ``values`` at ``positions``."""
    if not ctx.distributed:
        out = np.empty((n,) + values.shape[1:], dtype=values.dtype)
        out[positions] = values
        return out
    parts: list = [None] * ctx.world_size
    dist.all_gather_object(parts, (positions, values))
    out = np.empty((n,) + values.shape[1:], dtype=values.dtype)
    for pos, val in parts:
        out[pos] = val
    return out


def distributed_pcgrad_backward(
    task_losses: torch.Tensor,
    shared_params: Sequence[torch.Tensor],
    other_params: Sequence[torch.Tensor],
    ctx: DistContext,
    *,
    generator: torch.Generator | None,
    variant: str = "yu",
) -> int:
    """PCGrad on the gradients of the *global* batch (module docstring); returns the number of
    conflicting task pairs.

    In a single process this equals :func:`ecglib.train.pcgrad.pcgrad_backward` (same building
    blocks, same order of operations); with several, every process writes the same ``.grad``.
    Accumulates into ``.grad`` like ``backward()`` (zero the gradients first).
    """
    shared = [p for p in shared_params if p.requires_grad]
    others = [p for p in other_params if p.requires_grad]
    losses = (
        list(task_losses.unbind(0)) if isinstance(task_losses, torch.Tensor) else list(task_losses)
    )
    orders = pcgrad_orders(len(losses), variant=variant, generator=generator)
    grads, used, other_grads = task_gradient_matrix(losses, shared, other_params=others)
    if ctx.distributed:
        all_reduce_mean_(grads, ctx)
        flags = torch.tensor(
            used + [g is not None for g in other_grads], dtype=torch.uint8, device=grads.device
        )
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        used = [bool(f) for f in flags[: len(shared)].tolist()]
        other_used = [bool(f) for f in flags[len(shared) :].tolist()]
        if others:
            flat = torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1)
                    for p, g in zip(others, other_grads)
                ]
            )
            all_reduce_mean_(flat, ctx)
            other_grads = [
                chunk.view_as(p).clone() if u else None
                for p, u, chunk in zip(others, other_used, flat.split([p.numel() for p in others]))
            ]
    gram = grads @ grads.T
    coef, _ = pcgrad_coefficients(gram, orders, eps=AUTHORS_EPS if variant == "authors" else 0.0)
    weights = pcgrad_weights(coef, variant)
    update = weights.to(grads.dtype).to(grads.device) @ grads
    for p, u, chunk in zip(shared, used, update.split([p.numel() for p in shared])):
        if u:
            g = chunk.view_as(p)
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.add_(g)
    for p, g in zip(others, other_grads):
        if g is not None:
            if p.grad is None:
                p.grad = g.clone(memory_format=torch.contiguous_format)
            else:
                p.grad.add_(g)
    upper = torch.triu(torch.ones_like(gram, dtype=torch.bool), 1)
    return int(((gram < 0) & upper).sum())
