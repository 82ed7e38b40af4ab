"""Thread sizing of a training process (ecglib.train.threads)."""

import os

import pytest
import torch

from ecglib.train.threads import size_threads, thread_budget


def test_the_params_setting_wins():
    budget = thread_budget(3, {"SLURM_CPUS_PER_TASK": "8", "OMP_NUM_THREADS": "2"})
    assert (budget.threads, budget.source) == (3, "train.threads")
    with pytest.raises(ValueError, match="train.threads"):
        thread_budget(0, {})


def test_a_slurm_task_is_shared_by_the_processes_torchrun_starts_in_it():
    assert thread_budget(None, {"SLURM_CPUS_PER_TASK": "8"}).threads == 8
    budget = thread_budget(None, {"SLURM_CPUS_PER_TASK": "8", "LOCAL_WORLD_SIZE": "4"})
    assert budget.threads == 2
    assert budget.describe() == "2 threads (SLURM_CPUS_PER_TASK: 8, shared by 4 local processes)"
    # SLURM before OMP: torchrun sets OMP_NUM_THREADS=1 by itself
    both = {"SLURM_CPUS_PER_TASK": "6", "OMP_NUM_THREADS": "1", "LOCAL_WORLD_SIZE": "3"}
    assert thread_budget(None, both).threads == 2


def test_omp_num_threads_is_per_process_and_the_affinity_is_the_fallback():
    assert thread_budget(None, {"OMP_NUM_THREADS": "1", "LOCAL_WORLD_SIZE": "4"}).threads == 1
    budget = thread_budget(None, {})
    assert budget.threads == len(os.sched_getaffinity(0))
    assert "CPUs this process may use" in budget.source


def test_a_malformed_variable_is_named():
    with pytest.raises(ValueError, match="SLURM_CPUS_PER_TASK='eight'"):
        thread_budget(None, {"SLURM_CPUS_PER_TASK": "eight"})
    with pytest.raises(ValueError, match="LOCAL_WORLD_SIZE"):
        thread_budget(None, {"LOCAL_WORLD_SIZE": "0"})


def test_size_threads_sets_torch():
    before = torch.get_num_threads()
    try:
        assert size_threads(1).describe() == "1 thread (train.threads)"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
