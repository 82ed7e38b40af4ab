"""The ECGFounder backbone and its pretrained weights.

:class:`Net1D` is ECGFounder's network (Li et al., "An electrocardiogram foundation model built on
over 10 million recordings with external evaluation across multiple domains", NEJM AI 2025;
github.com/PKUDigitalHealth/ECGFounder, ``net1d.py``), state-dict compatible with the released
checkpoint; :func:`load_pretrained` loads such a checkpoint strictly and swaps the 150-class head
for one logit per vessel; :func:`build_model` does both from a config. :func:`load_checkpoint` is
the one weights-only reader of checkpoint files (pretrained weights and training checkpoints).
:class:`PerVesselNets` is one independent Net1D per vessel behind the same interface (params
``train.single_task``); :func:`model_from_config` rebuilds either from a checkpoint.
"""

from ecglib.model.checkpoint_io import load_checkpoint
from ecglib.model.net1d import Net1D, same_padding
from ecglib.model.pretrained import LoadReport, build_model, load_pretrained
from ecglib.model.single_task import PerVesselNets, model_from_config

__all__ = [
    "Net1D",
    "LoadReport",
    "PerVesselNets",
    "model_from_config",
    "build_model",
    "load_checkpoint",
    "load_pretrained",
    "same_padding",
]
