"""The benchmarks appendix's figure: each targeted figure against its target, on one scale.

A target is an upper bound (``<= 120 s``) or a lower bound (``>= 20x``); :func:`ecglib.report.benchmarks.
target_ratios` turns both into the share of the target used (measured / limit, or limit /
measured), so that one log axis shows them all with the target at 1 and "met" to its left.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecglib.plots.style import legend_outside, use_style
from ecglib.report.benchmarks import BenchmarkRun, format_target, format_value, target_ratios

MET_COLOURS = {True: "#3b75af", False: "#c44e52"}
#: Ratios are drawn within these limits (exactness checks can be 1e-8 of their tolerance).
CLIP = (1e-4, 1e2)


def benchmark_target_figure(bench: BenchmarkRun | pd.DataFrame) -> Figure:
    """Horizontal bars, one per headline figure with a bound as target: the share of the target
    used, on a log axis (1 = the target; left of it the target is met), labelled with the
    measured value and the target. A run without targeted figures gives a figure saying so."""
    use_style()
    headlines = bench.headlines if isinstance(bench, BenchmarkRun) else bench
    ratios = target_ratios(headlines)
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.42 * max(len(ratios), 1)))
    if ratios.empty:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no figure of this run has a target", ha="center", va="center")
        return fig
    y = np.arange(len(ratios))[::-1]
    shown = ratios["ratio"].clip(*CLIP)
    colours = [
        MET_COLOURS.get(bool(m), "#999999") if m is not None else "#999999" for m in ratios["met"]
    ]
    ax.barh(y, shown, left=CLIP[0], color=colours, height=0.6)
    ax.axvline(1.0, color="#333333", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(CLIP[0], min(CLIP[1], max(10.0, 30.0 * float(shown.max()))))
    labels = [
        textwrap.shorten(f"{b.removeprefix('bench_')}: {f}", 70, placeholder="...")
        for b, f in zip(ratios["benchmark"], ratios["figure"])
    ]
    ax.set_yticks(y, labels, fontsize=7)
    for yi, x, row in zip(y, shown, ratios.itertuples(index=False)):
        ax.text(
            x * 1.15,
            yi,
            f"{format_value(row.value, row.unit)} (target {format_target(row.target)})",
            va="center",
            fontsize=7,
        )
    ax.set_xlabel(
        "share of the target used: measured / limit, or limit / measured for a "
        "lower bound (log; < 1: met)"
    )
    ax.grid(axis="y", visible=False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in MET_COLOURS.values()]
    legend_outside(ax, handles=handles, labels=["met", "not met"], fontsize=7)  # off the bars
    return fig


def train_step_figure(table: pd.DataFrame) -> Figure:
    """The training-throughput benchmark (:func:`ecglib.report.benchmarks.train_step_table`),
    one row per configuration. Left: the median training step of the fold (fetch from the
    store, augmentation, forward, weighting, backward with surgery, optimiser) beside its floor
    (forward and the unavoidable backward passes on a batch in memory), in ms per training ECG,
    labelled with the fold's ECGs per second. Right: their ratio against the target (line)."""
    use_style()
    n = len(table)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(7.5, 1.2 + 0.55 * max(n, 1)), sharey=True, width_ratios=(3, 2)
    )
    y = np.arange(n)[::-1]
    per_ecg = table["batch_size"].to_numpy(dtype=float)
    fold = table["fold_step_ms"].to_numpy(dtype=float) / per_ecg
    floor = table["floor_step_ms"].to_numpy(dtype=float) / per_ecg
    h = 0.38
    left.barh(y + h / 2, fold, height=h, color="#3b75af", label="fold's step")
    left.barh(y - h / 2, floor, height=h, color="#a6a6a6", label="floor")
    for yi, value, rate in zip(y, fold, table["ecgs_per_second"]):
        left.text(value * 1.02, yi + h / 2, f"{rate:,.0f} ECG/s", va="center", fontsize=7)
    left.set_xlim(0, 1.35 * float(np.nanmax(np.r_[fold, floor])))
    clock = "CPU time" if (table["clock"] == "cpu").all() else "wall time"
    threads = int(table["threads"].iloc[0])
    left.set_xlabel(f"ms per training ECG (median {clock}, {threads} thread{'s' * (threads != 1)})")
    left.set_yticks(y, [textwrap.fill(label, 24) for label in table["label"]], fontsize=7)
    left.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=2, fontsize=7, frameon=False)
    left.grid(axis="y", visible=False)

    colours = [MET_COLOURS[bool(m)] for m in table["met"]]
    right.barh(y, table["ratio"] - 1.0, left=1.0, color=colours, height=0.6)
    target = float(table["target"].iloc[0])
    right.axvline(target, color="#333333", lw=1, ls="--")
    right.axvline(1.0, color="#999999", lw=0.8)
    right.text(target, y.max() + 0.55, f"target {target:g}", ha="center", fontsize=7)
    for yi, ratio in zip(y, table["ratio"]):
        right.text(max(ratio, 1.0) + 0.005, yi, f"{ratio:.3f}", va="center", fontsize=7)
    hi = max(target, float(table["ratio"].max()))
    lo = min(1.0, float(table["ratio"].min()))  # noise can put a ratio just below 1
    right.set_xlim(lo - 0.1 * (hi - lo), hi + 0.3 * (hi - lo))
    right.set_ylim(y.min() - 0.6, y.max() + 0.9)
    right.set_xlabel("fold's step / floor")
    right.grid(axis="y", visible=False)
    return fig
