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
from ecglib.report.benchmarks import BenchmarkRun, format_value, target_ratios

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
            f"{format_value(row.value, row.unit)} (target {row.target})",
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
