"""How many CPU threads a training process uses: what the job was given, not the whole machine.

PyTorch starts as many intra-op threads as the machine has cores. Several training processes on
one machine (array jobs sharing a cluster node, three folds started at once on a laptop) then
run several times as many busy threads as there are cores, and each process slows down far more
than by the share it lost (OpenMP threads spin while they wait for each other). A process should
use what it was given:

1. ``train.threads`` in the params, when set (a positive integer);
2. ``SLURM_CPUS_PER_TASK`` (SLURM's ``--cpus-per-task``), shared by the processes torchrun starts
   in the task (``LOCAL_WORLD_SIZE``);
3. ``OMP_NUM_THREADS`` (per process by convention; torchrun sets it to 1 unless it is set);
4. the CPUs the process may run on (``os.sched_getaffinity``: ``taskset``, cgroups' cpusets,
   a scheduler's binding), shared by the local processes.

:func:`size_threads` applies the choice with ``torch.set_num_threads`` and says what it chose and
why (the training log and the fold's result show it). On a GPU the count matters less (the host
threads feed the device) but the same rule keeps data loading from crowding out other jobs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ThreadBudget", "thread_budget", "size_threads"]


@dataclass(frozen=True)
class ThreadBudget:
    """The threads one training process uses, and where the number came from."""

    threads: int
    source: str

    def describe(self) -> str:
        noun = "thread" if self.threads == 1 else "threads"
        return f"{self.threads} {noun} ({self.source})"


def thread_budget(
    setting: int | None = None, environ: Mapping[str, str] | None = None
) -> ThreadBudget:
    """The thread count of one training process (module docstring for the order of sources).

    A malformed environment variable (not a positive integer) is an error naming it, rather
    than a silent fall back to the whole machine."""
    env = os.environ if environ is None else environ
    local = _positive(env.get("LOCAL_WORLD_SIZE", "1"), "LOCAL_WORLD_SIZE")
    if setting is not None:
        if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
            raise ValueError(f"train.threads must be a positive integer, got {setting!r}")
        return ThreadBudget(setting, "train.threads")
    if env.get("SLURM_CPUS_PER_TASK"):
        cpus = _positive(env["SLURM_CPUS_PER_TASK"], "SLURM_CPUS_PER_TASK")
        return ThreadBudget(_share(cpus, local), _shared("SLURM_CPUS_PER_TASK", cpus, local))
    if env.get("OMP_NUM_THREADS"):
        return ThreadBudget(_positive(env["OMP_NUM_THREADS"], "OMP_NUM_THREADS"), "OMP_NUM_THREADS")
    cpus = _usable_cpus()
    return ThreadBudget(_share(cpus, local), _shared("the CPUs this process may use", cpus, local))


def size_threads(setting: int | None = None) -> ThreadBudget:
    """Set PyTorch's intra-op thread count from :func:`thread_budget` and return the choice."""
    import torch

    budget = thread_budget(setting)
    torch.set_num_threads(budget.threads)
    return budget


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # macOS and Windows have no affinity call


def _share(cpus: int, local: int) -> int:
    return max(1, cpus // local)


def _shared(what: str, cpus: int, local: int) -> str:
    if local == 1:
        return f"{what}: {cpus}"
    return f"{what}: {cpus}, shared by {local} local processes"


def _positive(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name}={value!r} is not a positive integer")
    return number
