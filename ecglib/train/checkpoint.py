"""Checkpoints written atomically, read weights-only, and the random-number states they carry.

A checkpoint is first written to a temporary file beside its target, flushed to disk, and then
moved over the target with ``os.replace`` (atomic on POSIX and Windows): a run killed while saving
leaves the previous checkpoint intact, never a truncated one. Files are read by
:func:`load_checkpoint`, the project's one checkpoint reader
(:func:`ecglib.model.checkpoint_io.load_checkpoint`, ``torch.load(weights_only=True)``, shared
with the pretrained weights), so everything in them is plain data: tensors, numbers, strings,
lists, tuples and dicts (the NumPy and Python RNG states are converted to such).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglib.errors import CheckpointError
from ecglib.model.checkpoint_io import load_checkpoint

__all__ = ["save_atomic", "load_checkpoint", "rng_state", "set_rng_state", "load_state_strict"]


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` via a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_state_strict(module: torch.nn.Module, state: dict, what: str) -> None:
    """``module.load_state_dict(state, strict=True)``, the error listing every offending key."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or misshaped:
        lines = [f"{what} does not match the model:"]
        lines += [f"  missing {k} {list(own[k].shape)}" for k in missing]
        lines += [f"  unexpected {k} {list(state[k].shape)}" for k in unexpected]
        lines += [
            f"  mis-shaped {k}: {list(state[k].shape)} vs {list(own[k].shape)}" for k in misshaped
        ]
        raise CheckpointError("\n".join(lines))
    module.load_state_dict(state, strict=True)


# --------------------------------------------------------------------------------------------
# random-number states
# --------------------------------------------------------------------------------------------
def rng_state(device: torch.device | str | None = None) -> dict:
    """The global RNG states: torch's CPU generator, the CUDA generator of ``device`` (this
    process's GPU; none on the CPU), NumPy's legacy global and Python's. Every tensor is a CPU
    byte tensor (``torch.cuda.get_rng_state`` returns one too)."""
    device = torch.device(device) if device is not None else None
    on_gpu = device is not None and device.type == "cuda"
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": torch.get_rng_state(),
        "cuda": [torch.cuda.get_rng_state(device)] if on_gpu else [],
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict, device: torch.device | str | None = None) -> None:
    """Restore what :func:`rng_state` captured: torch's CPU generator, NumPy's and Python's, and,
    when ``device`` is a GPU, its generator from the one CUDA state saved (a checkpoint holds
    one per process, so a resumed job may see any number of GPUs).

    Read the checkpoint to the CPU (``map_location="cpu"``): ``torch.set_rng_state`` accepts
    only a CPU byte tensor, and a state mapped to a GPU is refused. Training does not depend on
    these states (each epoch reseeds every stream from the run's seed, fold, epoch and rank);
    they are restored so that code outside those seeded streams continues as it would have."""
    torch.set_rng_state(state["torch"])
    device = torch.device(device) if device is not None else None
    if state.get("cuda") and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"][0], device)
    npst = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": npst["bit_generator"],
            "state": {"key": npst["key"].numpy().astype(np.uint32), "pos": npst["pos"]},
            "has_gauss": npst["has_gauss"],
            "gauss": npst["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
