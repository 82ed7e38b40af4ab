"""Batches of ECGs and labels straight from the memory-mapped store.

:class:`EcgDataset` maps a position ``i`` to the store row of cohort row ``rows[i]`` and its four
labels; it fetches whole batches at once (``__getitems__``: one fancy-indexed read of the memory
map per batch instead of one per ECG). The training order comes from a
:class:`~torch.utils.data.DistributedSampler` seeded from the run's seed and the fold
(:func:`derive_seed`), reshuffled per epoch with ``set_epoch`` (its generator is seeded with
``seed + epoch``), so the order of every epoch is a function of (seed, fold, epoch) alone: a
resumed run sees the same batches as an uninterrupted one, and under torchrun every process gets
its own disjoint shard. In a single process the sampler is the same object with one replica.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = ["EcgDataset", "derive_seed", "train_loader", "collate_batched"]

#: Purposes of the seeds derived from the run's seed (stable codes; never renumber).
_PURPOSES = {"init": 1, "order": 2, "augment": 3, "pcgrad": 4, "dropout": 5}


def derive_seed(seed: int, fold: int, purpose: str, *extra: int) -> int:
    """A 31-bit seed for ``purpose`` from the run's seed, the fold and ``extra`` integers (epoch,
    rank), through NumPy's ``SeedSequence`` (independent streams for different inputs)."""
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}; expected one of {sorted(_PURPOSES)}")
    entropy = [int(seed), int(fold), _PURPOSES[purpose], *map(int, extra)]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint32)[0] >> 1)


class EcgDataset(Dataset):
    """ECGs ``signals[rows[i]]`` (float32, ``(12, L)``) with labels ``labels[i]`` (float32, ``(4,)``).

    ``signals``: the store's array, or the path of its ``signals.npy`` (opened memory-mapped, and
    re-opened in each DataLoader worker instead of being pickled). Items are ``(x, y, i)``.
    """

    def __init__(
        self, signals: np.ndarray | str | os.PathLike, rows: np.ndarray, labels: np.ndarray
    ):
        self._path = None if isinstance(signals, np.ndarray) else Path(signals)
        self._signals = signals if isinstance(signals, np.ndarray) else None
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.float32)
        if self.labels.ndim != 2 or self.labels.shape[0] != len(self.rows):
            raise ValueError(
                f"labels must have shape ({len(self.rows)}, T), got {self.labels.shape}"
            )

    @property
    def signals(self) -> np.ndarray:
        if self._signals is None:
            self._signals = np.load(self._path, mmap_mode="r")
        return self._signals

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        x = torch.from_numpy(np.array(self.signals[self.rows[i]], dtype=np.float32))
        return x, torch.from_numpy(self.labels[i]), torch.tensor(i)

    def __getitems__(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        x = torch.from_numpy(np.ascontiguousarray(self.signals[self.rows[idx]], dtype=np.float32))
        return x, torch.from_numpy(self.labels[idx]), torch.from_numpy(idx)

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._path is not None:
            state["_signals"] = None  # workers re-open the memory map
        return state


def collate_batched(batch):
    """``__getitems__`` already returns a batch; single items are stacked."""
    if isinstance(batch, tuple):
        return batch
    xs, ys, idx = zip(*batch)
    return torch.stack(xs), torch.stack(ys), torch.stack(idx)


def train_loader(
    dataset: EcgDataset,
    *,
    batch_size: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """Shuffled batches of ``batch_size`` ECGs for one process; call
    ``loader.sampler.set_epoch(epoch)`` before each epoch. The last batch may be smaller; under
    several processes the sampler pads the shards to equal length (PyTorch's convention)."""
    sampler = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False
    )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_batched,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )
