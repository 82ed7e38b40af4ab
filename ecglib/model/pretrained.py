"""Load ECGFounder weights strictly, replacing the 150-class head by one logit per vessel.

ECGFounder (Li et al., "An electrocardiogram foundation model built on over 10 million recordings
with external evaluation across multiple domains", NEJM AI 2025) publishes ``12_lead_ECGFounder.pth``,
a dict whose ``state_dict`` entry holds the :class:`~ecglib.model.net1d.Net1D` weights with a
150-class ``dense`` head. The authors' fine-tuning code (``finetune_model.py``) and the coronary
study's code dropped ``dense.*`` and called ``load_state_dict(..., strict=False)``, so a renamed or
mis-shaped layer would have silently stayed at its random initialisation. Here every key except a
head that is being replaced must match, and anything else raises a
:class:`~ecglib.errors.CheckpointError` that lists all the offending keys with their shapes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ecglib.errors import CheckpointError
from ecglib.model.checkpoint_io import load_checkpoint
from ecglib.model.net1d import Net1D
from ecglib.schema import VESSELS

__all__ = ["LoadReport", "load_pretrained", "build_model"]

log = logging.getLogger(__name__)

#: Prefixes added by wrappers around a model when it was saved: DistributedDataParallel /
#: DataParallel (``module.``) and ``torch.compile`` (``_orig_mod.``). Stripped when *every* key has one.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
#: Entries of a checkpoint dict that may hold the state dict.
STATE_DICT_ENTRIES = ("state_dict", "model_state_dict")

PathOrState = str | os.PathLike | Mapping[str, Any]


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_pretrained` did.

    ``loaded_keys``: the checkpoint entries copied into the model (state-dict names, in model
    order); ``head_replaced``: whether the checkpoint's head was dropped and a new one initialised;
    ``checkpoint_head_shape`` / ``head_shape``: ``dense.weight`` in the checkpoint / in the model
    afterwards; ``stripped_prefixes``: wrapper prefixes removed from the keys; ``source``: the file,
    or ``"<state dict>"``.
    """

    source: str
    loaded_keys: tuple[str, ...]
    head_replaced: bool
    checkpoint_head_shape: tuple[int, ...]
    head_shape: tuple[int, ...]
    stripped_prefixes: tuple[str, ...] = ()

    @property
    def n_loaded(self) -> int:
        return len(self.loaded_keys)

    def summary(self) -> str:
        head = (
            f"head {self.checkpoint_head_shape} replaced by a new {self.head_shape}"
            if self.head_replaced
            else f"head {self.head_shape} loaded"
        )
        prefix = f", stripped {list(self.stripped_prefixes)}" if self.stripped_prefixes else ""
        return f"{self.source}: {self.n_loaded} tensors loaded strictly, {head}{prefix}"

    def __str__(self) -> str:
        return self.summary()


def load_pretrained(
    model: Net1D,
    path_or_state: PathOrState,
    *,
    n_outputs: int | None = len(VESSELS),
    map_location: str | torch.device = "cpu",
) -> LoadReport:
    """Load ECGFounder weights into ``model`` strictly and give it an ``n_outputs`` head.

    ``path_or_state``: a ``.pth`` file (read weights-only by
    :func:`~ecglib.model.checkpoint_io.load_checkpoint`), or an already
    loaded object: a checkpoint dict holding ``state_dict`` (or ``model_state_dict``), or a bare
    state dict. Keys prefixed ``module.`` (DistributedDataParallel) or ``_orig_mod.``
    (``torch.compile``) are stripped when every key carries the prefix.

    The head (``dense.*``): when the checkpoint's ``dense.weight`` has the target shape
    ``(n_outputs, num_features)`` it is loaded like every other tensor; when only its number of
    outputs differs (the released 150 classes against the 4 vessels) it is dropped and
    ``model.reset_classifier(n_outputs)`` initialises a new one. ``n_outputs=None`` keeps the
    model's current head size, which the checkpoint must then match.

    Everything else loads strictly. Any missing, unexpected or mis-shaped key (a head with the
    wrong input width or a lone ``dense.bias`` included) raises :class:`CheckpointError` listing
    every one with its shapes, before the model is touched. Never ``strict=False``.
    """
    source = str(path_or_state) if isinstance(path_or_state, (str, os.PathLike)) else "<state dict>"
    state = _read_state_dict(path_or_state, map_location, source)
    state, stripped = _strip_wrapper_prefixes(state)

    head = Net1D.head_name
    w_key, b_key = f"{head}.weight", f"{head}.bias"
    n_out = model.n_classes if n_outputs is None else int(n_outputs)
    if n_out < 1:
        raise ValueError(f"n_outputs must be a positive number of logits, got {n_outputs}")

    # expected shapes after the head has its target size
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected[w_key] = (n_out, model.num_features)
    expected[b_key] = (n_out,)

    ckpt_w = state.get(w_key)
    ckpt_head_shape = tuple(ckpt_w.shape) if isinstance(ckpt_w, torch.Tensor) else ()
    # the checkpoint's head is dropped (not loaded) when only its number of classes differs
    replace_head = (
        n_outputs is not None
        and isinstance(ckpt_w, torch.Tensor)
        and isinstance(state.get(b_key), torch.Tensor)
        and ckpt_w.ndim == 2
        and ckpt_w.shape[1] == model.num_features
        and state[b_key].shape == (ckpt_w.shape[0],)
        and ckpt_head_shape != expected[w_key]
    )
    to_load = {k: v for k, v in state.items() if not (replace_head and k in (w_key, b_key))}

    missing = [
        k for k in expected if k not in to_load and not (replace_head and k in (w_key, b_key))
    ]
    unexpected = [k for k in to_load if k not in expected]
    not_tensors = [k for k in to_load if k in expected and not isinstance(to_load[k], torch.Tensor)]
    misshaped = [
        k
        for k in to_load
        if k in expected and k not in not_tensors and tuple(to_load[k].shape) != expected[k]
    ]
    if missing or unexpected or misshaped or not_tensors:
        raise _mismatch_error(
            source, model, expected, to_load, missing, unexpected, misshaped, not_tensors, n_out
        )

    if replace_head or model.n_classes != n_out:
        model.reset_classifier(n_out)
    full = dict(to_load)
    if replace_head:  # the new head's own tensors, so that the load itself is strict
        full[w_key], full[b_key] = model.dense.weight.detach(), model.dense.bias.detach()
    model.load_state_dict(full, strict=True)

    report = LoadReport(
        source=source,
        loaded_keys=tuple(k for k in model.state_dict() if k in to_load),
        head_replaced=replace_head,
        checkpoint_head_shape=ckpt_head_shape,
        head_shape=tuple(model.dense.weight.shape),
        stripped_prefixes=stripped,
    )
    log.info("%s", report)
    return report


def build_model(
    config: Mapping[str, Any],
    pretrained: str | os.PathLike | None = None,
    n_outputs: int = len(VESSELS),
    *,
    map_location: str | torch.device = "cpu",
) -> Net1D:
    """A :class:`Net1D` from ``config`` with an ``n_outputs`` head (one logit per vessel).

    ``config`` holds the constructor arguments (see :meth:`Net1D.from_config`); its ``n_classes``
    is the pretraining head's and is overridden by ``n_outputs``. ``pretrained=None`` gives a
    randomly initialised network (seed torch first for a reproducible one); a path loads that
    checkpoint through :func:`load_pretrained` (strictly; the report is logged).
    """
    model = Net1D.from_config(config, n_classes=n_outputs)
    if pretrained is not None:
        load_pretrained(model, pretrained, n_outputs=n_outputs, map_location=map_location)
    return model


# --------------------------------------------------------------------------------------------
def _read_state_dict(path_or_state: PathOrState, map_location: Any, source: str) -> dict[str, Any]:
    """The state dict of a checkpoint file (read by :func:`load_checkpoint`) or loaded object."""
    if isinstance(path_or_state, (str, os.PathLike)):
        obj: Any = load_checkpoint(path_or_state, map_location=map_location)
    else:
        obj = path_or_state
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{source}: expected a state dict or a dict holding one, got {type(obj).__name__}"
        )
    for entry in STATE_DICT_ENTRIES:
        if isinstance(obj.get(entry), Mapping):
            return dict(obj[entry])
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj)
    raise CheckpointError(
        f"{source}: neither a state dict (tensor values) nor a dict with one of {list(STATE_DICT_ENTRIES)}; "
        f"top-level entries: {sorted(map(str, obj))[:20]}"
    )


def _strip_wrapper_prefixes(state: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    stripped: list[str] = []
    changed = True
    while changed and state:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                stripped.append(prefix)
                changed = True
    return state, tuple(stripped)


def _shape(v: Any) -> str:
    return str(list(v.shape)) if isinstance(v, torch.Tensor) else type(v).__name__


def _mismatch_error(
    source: str,
    model: Net1D,
    expected: dict[str, tuple[int, ...]],
    got: dict[str, Any],
    missing: list[str],
    unexpected: list[str],
    misshaped: list[str],
    not_tensors: list[str],
    n_out: int,
) -> CheckpointError:
    lines = [f"{source} does not match Net1D({_describe(model)}, head -> {n_out} outputs):"]
    # each kind of mismatch: a heading, then one line per key with the shape(s) that disagree
    kinds = (
        (missing, "missing key(s)", lambda k: list(expected[k])),
        (unexpected, "unexpected key(s)", lambda k: _shape(got[k])),
        (
            misshaped,
            "mis-shaped key(s) (checkpoint vs model)",
            lambda k: f"{_shape(got[k])} vs {list(expected[k])}",
        ),
        (not_tensors, "key(s) that are not tensors", lambda k: _shape(got[k])),
    )
    for keys, heading, shape in kinds:
        if keys:
            lines.append(f"  {len(keys)} {heading}:")
            lines += [f"    {k} {shape(k)}" for k in keys]
    lines.append("Nothing was loaded; check the model config against the checkpoint.")
    err = CheckpointError("\n".join(lines))
    err.missing, err.unexpected, err.misshaped = list(missing), list(unexpected), list(misshaped)  # type: ignore[attr-defined]
    return err


def _describe(model: Net1D) -> str:
    c = model.config()
    return (
        f"in_channels={c['in_channels']}, base_filters={c['base_filters']}, "
        f"filter_list={c['filter_list']}, m_blocks_list={c['m_blocks_list']}"
    )
