"""Learning curves of one fold, from its per-epoch metrics table."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecglib import schema
from ecglib.plots.style import VESSEL_COLOURS, use_style

__all__ = ["learning_curves_figure"]


def learning_curves_figure(
    history: pd.DataFrame, best_epoch: int | None = None, title: str | None = None
) -> Figure:
    """Four panels by epoch: per-vessel training loss (BCE), learned task scales ``sigma_t``,
    learning rate (and augmentation strength), and inner-validation AUC per vessel with the
    macro mean; a dashed line marks ``best_epoch``. ``history``: ``metrics/train_fold{k}.csv``."""
    use_style()
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 5.0), sharex=True)
    (ax_loss, ax_sigma), (ax_lr, ax_auc) = axes
    e = history["epoch"].to_numpy()
    marker = "o" if len(e) <= 30 else None
    for v in schema.VESSELS:
        if history[f"loss_{v}"].isna().all():
            continue  # a vessel the cohort does not assess is not a task
        colour = VESSEL_COLOURS[v]
        ax_loss.plot(e, history[f"loss_{v}"], color=colour, marker=marker, ms=3, label=v)
        ax_sigma.plot(e, history[f"sigma_{v}"], color=colour, marker=marker, ms=3, label=v)
        ax_auc.plot(
            e, history[f"val_auc_{v}"], color=colour, marker=marker, ms=3, lw=1, alpha=0.8, label=v
        )
    ax_auc.plot(
        e, history["val_macro_auc"], color="black", marker=marker, ms=3, lw=2, label="macro"
    )
    ax_auc.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax_loss.set_title("training loss per vessel (BCE)")
    sigmas = history.filter(like="sigma_").to_numpy(dtype=float)
    learned = not np.allclose(sigmas[np.isfinite(sigmas)], 1.0)
    ax_sigma.set_title(
        r"task scale $\sigma_t$ (uncertainty weighting)"
        if learned
        else "task weights: equal (no uncertainty weighting)"
    )
    ax_auc.set_title("inner-validation AUC (epoch selection)")
    ax_auc.set_ylim(0.3, 1.0)
    ax_lr.plot(e, history["lr"], color="#3b75af", marker=marker, ms=3, label="learning rate")
    ax_lr.set_title("learning rate (last step of the epoch)")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    if "augment_strength" in history and np.nanmax(history["augment_strength"].to_numpy()) > 0:
        twin = ax_lr.twinx()
        twin.plot(
            e, history["augment_strength"], color="#ef8636", ls="--", label="augmentation strength"
        )
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("augmentation strength", color="#ef8636")
        twin.grid(False)
    for ax in (ax_lr, ax_auc):
        ax.set_xlabel("epoch")
    # one legend for the vessels' colours (the same in every panel), below the panels, off
    # the curves
    handles, labels = ax_auc.get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=7
    )
    if best_epoch:
        for ax in axes.flat:
            ax.axvline(best_epoch, color="grey", ls="--", lw=1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
