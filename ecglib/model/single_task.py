"""One independent network per vessel (params ``train.single_task``), behind Net1D's interface.

:class:`PerVesselNets` holds one :class:`~ecglib.model.net1d.Net1D` with a single logit for each
trained vessel and puts their logits side by side, so that training, prediction and the
prediction tables treat it as the multi-task network: ``(batch, 12, length) -> (batch,
n_classes)`` logits. The networks share no parameter, so the gradient of the summed per-vessel
losses reaching network ``t`` is that of its own loss alone: training them together is training
each vessel alone, on the same batches. An output no network is trained for (a vessel the
cohort does not assess) is a constant 0 logit; the training code writes its predictions as
missing.

:func:`model_from_config` rebuilds either kind of network from a checkpoint's ``model_config``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ecglib.model.net1d import Net1D

__all__ = ["PerVesselNets", "model_from_config"]


class PerVesselNets(nn.Module):
    """``nets[i]`` (a one-logit Net1D) predicts output ``outputs[i]`` of ``n_classes``."""

    def __init__(self, nets: Sequence[Net1D], outputs: Sequence[int], n_classes: int):
        super().__init__()
        outputs = [int(o) for o in outputs]
        if len(nets) != len(outputs) or not nets:
            raise ValueError(f"{len(nets)} networks for outputs {outputs}: one network per output")
        if len(set(outputs)) != len(outputs) or not all(0 <= o < n_classes for o in outputs):
            raise ValueError(f"outputs {outputs} must be distinct and in 0..{n_classes - 1}")
        if any(net.n_classes != 1 for net in nets):
            raise ValueError("every per-vessel network needs exactly one output")
        self.nets = nn.ModuleList(nets)
        self.outputs = outputs
        self.n_classes = int(n_classes)
        self.in_channels = nets[0].in_channels
        self.num_features = sum(net.num_features for net in nets)

    def config(self) -> dict[str, Any]:
        return {
            "single_task": True,
            "outputs": list(self.outputs),
            "n_classes": self.n_classes,
            "net": self.nets[0].config(),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PerVesselNets:
        nets = [Net1D.from_config(config["net"], n_classes=1) for _ in config["outputs"]]
        return cls(nets, config["outputs"], config["n_classes"])

    def forward_features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every network's ``(features, logit)``; the features side by side, the logits in their
        outputs' columns (0 where no network)."""
        parts = [net.forward_features_and_logits(x) for net in self.nets]
        features = torch.cat([f for f, _ in parts], dim=1)
        first = parts[0][1]
        logits = first.new_zeros(first.shape[0], self.n_classes)
        for out, (_, logit) in zip(self.outputs, parts):
            logits[:, out] = logit[:, 0]
        return features, logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features_and_logits(x)[1]

    def unused_parameter_names(self) -> list[str]:
        return [
            f"nets.{i}.{name}"
            for i, net in enumerate(self.nets)
            for name in net.unused_parameter_names()
        ]

    def named_trunk_parameters(
        self, include_unused: bool = False
    ) -> Iterator[tuple[str, nn.Parameter]]:
        for i, net in enumerate(self.nets):
            for name, p in net.named_trunk_parameters(include_unused):
                yield f"nets.{i}.{name}", p

    def trunk_parameters(self, include_unused: bool = False) -> list[nn.Parameter]:
        return [p for net in self.nets for p in net.trunk_parameters(include_unused)]

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for net in self.nets for p in net.head_parameters()]


def model_from_config(config: Mapping[str, Any]) -> Net1D | PerVesselNets:
    """The network a checkpoint's ``model_config`` describes: :class:`PerVesselNets` when it
    says ``single_task``, else :class:`Net1D`."""
    if config.get("single_task"):
        return PerVesselNets.from_config(config)
    return Net1D.from_config(config)
