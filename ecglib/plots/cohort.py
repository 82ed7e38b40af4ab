"""The data and cohort chapters' figures (00 and 01): the exclusion flow, age and sex by site,
and the stenosis grades by vessel and site."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ecglib import schema
from ecglib.plots.style import use_style

__all__ = ["exclusion_flow_figure", "age_sex_figure", "prevalence_figure"]


def exclusion_flow_figure(flow: pd.DataFrame) -> Figure:
    """The exclusion flow as boxes: rows remaining after each rule, excluded rows beside them.

    ``flow`` is :meth:`ecglib.data.cohort.ExclusionReport.table` (step, excluded, remaining; a
    ``kind`` column, as :func:`ecglib.data.prepare.exclusion_flow` adds, is not drawn).
    """
    use_style()
    steps = flow.to_dict("records")
    fig, ax = plt.subplots(figsize=(6.5, 1.0 + 0.9 * len(steps)))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(-len(steps), 0.8)
    box = dict(boxstyle="round,pad=0.4", facecolor="#eef3f8", edgecolor="#3b75af")
    side = dict(boxstyle="round,pad=0.3", facecolor="#fbeee6", edgecolor="#ef8636")
    ax.text(
        3,
        0,
        f"ECG-CCTA pairs in the export\nn = {steps[0]['remaining']:,}",
        ha="center",
        va="center",
        bbox=box,
    )
    y = 0
    for step in steps[1:]:
        y -= 1
        ax.annotate(
            "",
            xy=(3, y + 0.3),
            xytext=(3, y + 0.7),
            arrowprops=dict(arrowstyle="->", color="#555555"),
        )
        ax.text(
            7.4,
            y + 0.5,
            f"excluded: {step['step']}\nn = {step['excluded']:,}",
            ha="center",
            va="center",
            fontsize=8,
            bbox=side,
        )
        last = step is steps[-1]
        label = "analysed ECG-CCTA pairs" if last else "remaining"
        ax.text(3, y, f"{label}\nn = {step['remaining']:,}", ha="center", va="center", bbox=box)
    return fig


def age_sex_figure(cohort: pd.DataFrame, by: str = "site") -> Figure:
    """Age at ECG by site and sex: the distribution shift between sites at a glance."""
    use_style()
    sites = [s for s in ("internal", "external") if s in set(cohort[by])]
    fig, axes = plt.subplots(
        1, len(sites), figsize=(3.3 * len(sites), 2.6), sharex=True, squeeze=False
    )
    for ax, site in zip(axes[0], sites):
        group = cohort[cohort[by] == site]
        for sex, colour in (("male", "#3b75af"), ("female", "#c44e52")):
            ax.hist(
                group.loc[group["sex"] == sex, "age"],
                bins=range(20, 101, 5),
                alpha=0.6,
                color=colour,
                label=sex,
            )
        ax.set_title(f"{site} (ECGs: {len(group):,})")
        ax.set_xlabel("age at ECG (years)")
    axes[0][0].set_ylabel("ECGs")
    axes[0][0].legend()
    return fig


def prevalence_figure(cohort: pd.DataFrame, by: str = "site") -> Figure:
    """Share of CCTA exams per grade and vessel, by site (stacked bars); a vessel the cohort
    does not assess has no bar."""
    use_style()
    vessels = list(schema.assessed_vessels(cohort))
    exams = cohort.drop_duplicates("ccta_id")
    sites = [s for s in ("internal", "external") if s in set(exams[by])]
    fig, axes = plt.subplots(
        1, len(sites), figsize=(3.3 * len(sites), 2.6), sharey=True, squeeze=False
    )
    colours = plt.get_cmap("Reds")([0.15, 0.35, 0.55, 0.75, 0.95])
    for ax, site in zip(axes[0], sites):
        group = exams[exams[by] == site]
        bottom = pd.Series(0.0, index=vessels)
        for (grade, name), colour in zip(schema.GRADES.items(), colours):
            share = pd.Series(
                {v: 100.0 * (group[schema.grade_col(v)] == grade).mean() for v in vessels}
            )
            ax.bar(share.index, share, bottom=bottom, color=colour, label=name)
            bottom += share
        ax.set_title(f"{site} (CCTA exams: {len(group):,})")
    axes[0][0].set_ylabel("% of CCTA exams")
    axes[0][-1].legend(title="grade", bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig
