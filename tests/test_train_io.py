"""Checkpoints written atomically, RNG states, seeds and the data order."""

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ecglib.errors import CheckpointError
from ecglib.model import checkpoint_io
from ecglib.train import checkpoint
from ecglib.train.checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from ecglib.train.data import EcgDataset, derive_seed, train_loader


def test_save_atomic_replaces_whole_files_and_keeps_the_old_one_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_atomic({"epoch": 1, "w": torch.ones(3)}, path)
    assert load_checkpoint(path)["epoch"] == 1

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(OSError):
        save_atomic({"epoch": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1  # the previous checkpoint survives
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")


def test_resume_reads_checkpoints_with_the_one_weights_only_reader(tmp_path):
    assert load_checkpoint is checkpoint_io.load_checkpoint  # the pretrained weights' reader too
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint file not found"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save(torch.ones(2), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match=r"tensor\.pt: expected a dict, got Tensor"):
        load_checkpoint(tmp_path / "tensor.pt")
    # a pickled Python object is refused (weights-only), naming the file
    torch.save({"epoch": 1, "when": Path("x")}, tmp_path / "objects.pt")
    with pytest.raises(CheckpointError, match=r"objects\.pt: cannot be read as a weights-only"):
        load_checkpoint(tmp_path / "objects.pt")


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    save_atomic({"rng": rng_state()}, tmp_path / "r.pt")
    want = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9)
    np.random.seed(9)
    random.seed(9)
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and got[2] == want[2]


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(1, 0, "order") == derive_seed(1, 0, "order")
    seeds = {
        derive_seed(1, f, p, e) for f in range(3) for p in ("order", "augment") for e in range(3)
    }
    assert len(seeds) == 18
    with pytest.raises(ValueError):
        derive_seed(1, 0, "nope")


def test_data_order_depends_only_on_seed_and_epoch_and_shards_are_disjoint():
    signals = np.arange(20 * 12 * 4, dtype=np.float32).reshape(20, 12, 4)
    ds = EcgDataset(signals, rows=np.arange(20)[::-1], labels=np.zeros((20, 4)))
    x, y, i = ds.__getitems__([0, 3])
    assert torch.equal(x[1], torch.from_numpy(signals[16])) and i.tolist() == [0, 3]

    def order(seed, epoch, rank=0, world=1):
        loader = train_loader(ds, batch_size=6, seed=seed, rank=rank, world_size=world)
        loader.sampler.set_epoch(epoch)
        torch.manual_seed(epoch * 1000 + 17)  # the global RNG must not matter
        return torch.cat([b[2] for b in loader]).tolist()

    assert order(5, 0) == order(5, 0) and order(5, 0) != order(5, 1) != order(6, 1)
    assert sorted(order(5, 2)) == list(range(20))
    shard0, shard1 = order(5, 2, 0, 2), order(5, 2, 1, 2)
    assert not set(shard0) & set(shard1) and len(shard0) == len(shard1) == 10


def test_rng_restore_sets_this_process_gpu_only(monkeypatch):
    """A checkpoint holds one CUDA state per process, restored into the process's own GPU, so a
    job resumed with fewer GPUs visible than at save time restores no device that is gone."""
    calls = []
    monkeypatch.setattr(
        torch.cuda, "set_rng_state", lambda state, device="cuda": calls.append((state, device))
    )

    def set_all(states):
        raise AssertionError("set_rng_state_all sets every saved GPU, visible or not")

    monkeypatch.setattr(torch.cuda, "set_rng_state_all", set_all)
    state = rng_state("cpu")
    assert state["cuda"] == []  # a CPU process saves no CUDA state
    set_rng_state(state, "cpu")
    state["cuda"] = [torch.full((16,), 7, dtype=torch.uint8)]  # saved by the process on GPU 1
    set_rng_state(state, "cpu")
    assert calls == []
    set_rng_state(state, torch.device("cuda", 1))
    assert len(calls) == 1 and calls[0][1] == torch.device("cuda", 1)
    assert torch.equal(calls[0][0], state["cuda"][0])
