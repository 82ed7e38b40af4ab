"""Figures of the "Does the ECG add?" chapter: the cross-vessel AUC matrix and forest plots of
paired AUC differences."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ecglib import schema
from ecglib.plots.style import VESSEL_COLOURS, use_style

__all__ = ["auc_matrix_figure", "difference_forest_figure", "outcome_auc_figure"]


def _matrix_panel(ax, matrix: pd.DataFrame, title: str, *, colorbar: bool) -> None:
    """One heatmap: outcomes down, heads across, each cell its AUC and clustered CI."""
    outcomes = [v for v in schema.VESSELS if v in set(matrix["outcome"])]
    heads = [v for v in schema.VESSELS if v in set(matrix["head"])]
    auc = matrix.pivot(index="outcome", columns="head", values="auc").loc[outcomes, heads]
    low = matrix.pivot(index="outcome", columns="head", values="ci_low").loc[outcomes, heads]
    high = matrix.pivot(index="outcome", columns="head", values="ci_high").loc[outcomes, heads]
    text = np.full(auc.shape, "n/a", dtype=object)
    for i in range(auc.shape[0]):
        for j in range(auc.shape[1]):
            a, lo, hi = auc.iat[i, j], low.iat[i, j], high.iat[i, j]
            if np.isfinite(a):
                text[i, j] = f"{a:.2f}" + (f"\n{lo:.2f}-{hi:.2f}" if np.isfinite(lo) else "")
    sns.heatmap(
        auc.astype(float),
        ax=ax,
        annot=text,
        fmt="",
        cmap="vlag",
        center=0.5,
        vmin=0.0,
        vmax=1.0,
        cbar=colorbar,
        cbar_kws={"label": "AUC"} if colorbar else None,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 7.5},
        square=True,
    )
    for k, v in enumerate(outcomes):  # frame the diagonal: each outcome's own head
        if v in heads:
            j = heads.index(v)
            ax.add_patch(plt.Rectangle((j, k), 1, 1, fill=False, edgecolor="black", lw=1.4))
    ax.set_xlabel("head (predicted probability of)")
    ax.set_ylabel("outcome (severe disease in)")
    ax.set_title(title)
    ax.grid(False)
    ax.tick_params(axis="y", rotation=0)


def auc_matrix_figure(matrix: pd.DataFrame, within: pd.DataFrame | None = None) -> Figure:
    """The cross-vessel AUC matrix (:func:`ecglib.metrics.vessel_specificity.cross_vessel_matrix`)
    as a heatmap, each cell the AUC over its clustered 95% CI, the own head framed; with
    ``within``, a second panel of the same among ECGs with severe disease in another vessel."""
    use_style()
    panels = [(matrix, "all ECGs")]
    if within is not None:
        panels.append((within, "ECGs with severe disease\nin another vessel"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.9), squeeze=False)
    for k, (ax, (table, title)) in enumerate(zip(axes[0], panels)):
        _matrix_panel(ax, table, title, colorbar=k == len(panels) - 1)
    fig.tight_layout()
    return fig


def _interval_rows(rows: pd.DataFrame, group: str, label: str) -> pd.DataFrame:
    """Long form for seaborn: per row its lower bound, estimate and upper bound as three
    values, so that ``estimator="median"`` draws the estimate and ``errorbar=("pi", 100)``
    the interval as given (seaborn computes intervals from data; these are precomputed, the
    clustered ones). A missing bound leaves the point alone, a missing estimate the row out."""
    out = []
    for _, r in rows.iterrows():
        if not np.isfinite(r["diff"]):
            continue
        values = [r["diff"]]
        if np.isfinite(r["diff_low"]) and np.isfinite(r["diff_high"]):
            values += [r["diff_low"], r["diff_high"]]
        out += [{"row": f"{r[group]}: {r[label]}", group: r[group], "value": v} for v in values]
    return pd.DataFrame(out, columns=["row", group, "value"])


def difference_forest_figure(
    table: pd.DataFrame,
    *,
    label: str = "comparison",
    group: str = "vessel",
    panel: str | None = "population",
    xlabel: str = "AUC difference (95% CI, clustered by patient)",
) -> Figure:
    """Forest plot of paired AUC differences: one row per (``group``, ``label``) of ``table``
    with columns ``diff``, ``diff_low``, ``diff_high``, coloured by vessel, a line at 0; one
    panel per value of ``panel`` (None: one panel), sharing the rows. A row without a
    difference is marked "n/a". Drawn with seaborn's ``pointplot`` (:func:`_interval_rows`)."""
    use_style()
    panels = list(dict.fromkeys(table[panel])) if panel else [None]
    keys = list(dict.fromkeys(zip(table[group], table[label])))
    names = [f"{g}: {c}" for g, c in keys]
    palette = {g: VESSEL_COLOURS.get(g, "#555555") for g in dict.fromkeys(table[group])}
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(3.6 * len(panels) + 2.4, 0.28 * len(keys) + 1.0),
        squeeze=False,
        sharey=True,
    )
    for ax, name in zip(axes[0], panels):
        rows = table if name is None else table[table[panel] == name]
        long = _interval_rows(rows, group, label)
        sns.pointplot(
            data=long,
            x="value",
            y="row",
            hue=group,
            order=names,
            palette=palette,
            estimator="median",
            errorbar=("pi", 100),
            orient="h",
            linestyle="none",
            markersize=4,
            capsize=0.2,
            err_kws={"linewidth": 1.0},
            legend=False,
            ax=ax,
        )
        drawn = set(long["row"])
        for k, row in enumerate(names):
            if row not in drawn and row in {f"{g}: {c}" for g, c in zip(rows[group], rows[label])}:
                # at the panel's left edge, clear of the line at 0 and of the other rows' bars
                ax.text(
                    0.01,
                    k,
                    "n/a",
                    transform=ax.get_yaxis_transform(),
                    va="center",
                    ha="left",
                    fontsize=7,
                    color="grey",
                )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("")
        ax.grid(axis="y", visible=False)
        if name is not None:
            ax.set_title(name)
    fig.tight_layout()
    return fig


def outcome_auc_figure(table: pd.DataFrame, outcomes: Sequence[str] | None = None) -> Figure:
    """AUC with its clustered 95% CI per outcome definition (x) and vessel (colour), from
    :func:`ecglib.metrics.outcomes.outcome_auc_table` (columns ``outcome``, ``vessel``,
    ``auc``, ``ci_low``, ``ci_high``); a line at 0.5."""
    use_style()
    outcomes = list(outcomes) if outcomes is not None else list(dict.fromkeys(table["outcome"]))
    vessels = list(dict.fromkeys(table["vessel"]))
    fig, ax = plt.subplots(figsize=(1.3 * len(outcomes) + 2.0, 3.2))
    width = 0.8 / max(len(vessels), 1)
    for j, v in enumerate(vessels):
        rows = table[table["vessel"] == v].set_index("outcome").reindex(outcomes)
        x = np.arange(len(outcomes)) - 0.4 + width * (j + 0.5)
        auc = rows["auc"].to_numpy(dtype=float)
        low = rows["ci_low"].to_numpy(dtype=float)
        high = rows["ci_high"].to_numpy(dtype=float)
        err = np.vstack([auc - low, high - auc])
        err = np.where(np.isfinite(err), err, 0.0)
        ax.errorbar(
            x,
            auc,
            yerr=err,
            fmt="o",
            ms=4,
            capsize=2,
            label=v,
            color=VESSEL_COLOURS.get(v, "black"),
        )
    ax.axhline(0.5, color="black", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(outcomes)))
    names = dict(zip(table["outcome"], table.get("definition", table["outcome"])))
    ax.set_xticklabels([names[o].split(" (")[0] for o in outcomes], fontsize=8)
    ax.set_ylabel("AUC (95% CI, clustered by patient)")
    ax.legend(ncol=len(vessels), loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8)
    fig.tight_layout()
    return fig
