"""Epoch selection of the single-task networks (params ``train.single_task``): each vessel's own.

One network per vessel trained alone would keep the epoch with its own vessel's best
inner-validation AUC, not the one with the best macro-AUC of four networks. So
:class:`PerVesselSelection` keeps, for each network of a
:class:`~ecglib.model.single_task.PerVesselNets`, the weights of the epoch with its vessel's best
inner AUC, and the fold's best checkpoint holds those weights side by side. A vessel whose inner
AUC is undefined at every epoch (one class in the split) keeps its last epoch, as the
multi-task fold does when its macro-AUC is undefined throughout.
"""

from __future__ import annotations

import math

import torch

from ecglib import schema
from ecglib.model.single_task import PerVesselNets

__all__ = ["PerVesselSelection"]


class PerVesselSelection:
    """The best epoch of every vessel's network so far, and the model state assembling them."""

    def __init__(self, net: PerVesselNets):
        self.net = net
        self.vessels = [schema.VESSELS[t] for t in net.outputs]
        self.epochs: dict[str, int] = {}
        self.aucs: dict[str, float] = {}
        self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}

    def _keep(self, i: int) -> None:
        for k, v in self.net.nets[i].state_dict().items():
            self.state[f"nets.{i}.{k}"] = v.detach().clone()

    def update(self, epoch: int, aucs: dict[str, float]) -> bool:
        """Keep every network whose vessel's inner AUC beats its best so far; True if any."""
        changed = False
        for i, vessel in enumerate(self.vessels):
            auc = aucs.get(vessel, math.nan)
            if math.isnan(auc) or (vessel in self.aucs and auc <= self.aucs[vessel]):
                continue
            self._keep(i)
            self.epochs[vessel], self.aucs[vessel] = epoch, float(auc)
            changed = True
        return changed

    def fill_unselected(self, epoch: int) -> list[str]:
        """The vessels no epoch was chosen for keep ``epoch``'s (the last) network; returns them."""
        missing = [v for v in self.vessels if v not in self.epochs]
        for vessel in missing:
            self._keep(self.vessels.index(vessel))
            self.epochs[vessel], self.aucs[vessel] = epoch, math.nan
        return missing

    def best(self) -> dict:
        """The fold's ``best`` record: the latest chosen epoch, the mean of the chosen AUCs
        (NaN ones left out), each vessel's AUC and epoch (``vessel_epochs``)."""
        defined = [a for a in self.aucs.values() if not math.isnan(a)]
        return {
            "epoch": max(self.epochs.values(), default=0),
            "macro": sum(defined) / len(defined) if defined else math.nan,
            "aucs": dict(self.aucs),
            "vessel_epochs": dict(self.epochs),
        }

    def restore(self, best: dict, state: dict[str, torch.Tensor]) -> None:
        """Resume: the ``best`` record and the best checkpoint's state saved with it."""
        self.epochs = {v: int(e) for v, e in best.get("vessel_epochs", {}).items()}
        self.aucs = {v: float(best["aucs"][v]) for v in self.epochs}
        self.state = {k: v.detach().clone() for k, v in state.items()}

    def describe(self) -> str:
        return ", ".join(f"{v} {self.epochs[v]}" for v in self.vessels if v in self.epochs)
