"""The one reader of checkpoint files: weights-only, every error naming the file.

Both the pretrained ECGFounder weights (:func:`ecglib.model.pretrained.load_pretrained`) and the
training checkpoints (:mod:`ecglib.train.checkpoint`, resume and the best epoch's model) are read
here. ``torch.load(..., weights_only=True)`` unpickles only tensors, numbers, strings and the
containers holding them, so opening a checkpoint from elsewhere cannot run code (plain
``torch.load`` unpickles arbitrary Python objects). A file that needs more is refused with a
:class:`~ecglib.errors.CheckpointError` naming it; the caller may load a *trusted* file itself
with ``weights_only=False``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ecglib.errors import CheckpointError

__all__ = ["load_checkpoint"]


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """The dict stored in the checkpoint file ``path``, read with ``torch.load(weights_only=True)``.

    Tensors are mapped to ``map_location``. Raises :class:`~ecglib.errors.CheckpointError` naming
    the file when it does not exist, cannot be read weights-only (corrupt, truncated, or holding
    Python objects other than tensors, numbers, strings and containers), or does not hold a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise CheckpointError(
            f"{path}: cannot be read as a weights-only checkpoint ({type(exc).__name__}: {exc}). "
            "If the file is trusted and holds other Python objects, load it yourself with "
            "torch.load(..., weights_only=False) and pass the resulting dict."
        ) from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(obj).__name__}")
    return obj
