"""Cumulative incidence by risk group, numbers at risk beneath, log-rank p.

The curves are 1 - Kaplan-Meier, or the Aalen-Johansen estimate when competing events are given
(their log-rank test is then cause-specific: competing events censor). Computation is in
:mod:`ecglib.metrics.survival`. The number-at-risk table is drawn from
:func:`~ecglib.metrics.survival.number_at_risk` (patients followed for at least ``t``), the
same numbers as the book's tables; lifelines' ``add_at_risk_counts`` counts after removing the
patients at ``t`` and would disagree with them at the horizon. :func:`followup_figure` draws a
chapter's follow-up analysis (:class:`ecglib.chapters.incidence.FollowupAnalysis`).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecglib.metrics import survival as surv
from ecglib.plots.style import use_style
from ecglib.report.present import format_p, plural

#: Days in a month on average (365.25 / 12): the time axes are drawn in days, labelled in months.
DAYS_PER_MONTH = 365.25 / 12

#: Colours of the AI risk strata (other group names take the default colour cycle).
STRATUM_COLOURS = {"low": "#2c7bb6", "intermediate": "#e6a117", "high": "#d7191c"}


def cumulative_incidence_figure(
    time,
    event,
    group,
    *,
    horizon: float = 365.0,
    competing=None,
    at_risk_times: Sequence[float] | None = None,
    order: Sequence[str] | None = None,
    ci: bool = True,
    time_label: str = "months since ECG",
    title: str | None = None,
) -> Figure:
    """Cumulative incidence curves per group over ``[0, horizon]`` with a number-at-risk table
    and the log-rank p: 1 - KM, or Aalen-Johansen with ``competing`` (0/1 flags; the y label
    says so and the log-rank test is the cause-specific one).

    Follow-up is censored at ``horizon`` (:func:`~ecglib.metrics.survival.censor_at`) before
    fitting and testing. ``time`` and ``horizon`` are in days; ``at_risk_times`` (days) default
    to whole months (:func:`month_ticks`: 0, 3, 6, 9, 12 for a year), and the x axis is labelled
    in months wherever its ticks are whole months. The y axis is in percent. The legend and the
    log-rank p sit outside the curves and their bands.
    """
    use_style()
    raw_time = time
    time, event = surv.censor_at(raw_time, event, horizon)
    if competing is not None:
        competing = surv.censor_at(raw_time, competing, horizon)[1]
    grid = np.unique(np.concatenate([[0.0], time]))
    curves = surv.cumulative_incidence(time, event, group, grid, competing=competing, order=order)
    groups = list(pd.unique(curves["group"]))
    if at_risk_times is None:
        at_risk_times, tick_labels = month_ticks(horizon)
    else:
        at_risk_times = np.asarray(at_risk_times, dtype=float)
        tick_labels = [f"{t:g}" for t in at_risk_times]
    table = surv.number_at_risk(time, at_risk_times, group, order=groups)
    test = surv.logrank(time, event, group) if len(groups) > 1 else None

    fig, (ax, tab) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(5.5, 3.4 + 0.22 * len(groups)),
        gridspec_kw={"height_ratios": [4.0, 0.45 + 0.22 * len(groups)], "hspace": 0.3},
    )
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {g: STRATUM_COLOURS.get(g, cycle[i % len(cycle)]) for i, g in enumerate(groups)}
    for g, curve in curves.groupby("group", sort=False):
        n = int(np.sum(_of(group, g)))
        ax.step(
            curve["time"],
            100 * curve["cumulative_incidence"],
            where="post",
            color=colours[g],
            lw=1.6,
            label=f"{g} (n = {n:,})",
        )
        if ci:
            ax.fill_between(
                curve["time"],
                100 * curve["ci_lo"],
                100 * curve["ci_hi"],
                step="post",
                color=colours[g],
                alpha=0.15,
                lw=0,
            )
    ax.set_xlim(-0.03 * horizon, 1.03 * horizon)  # room for the table's first/last counts
    ax.set_ylim(bottom=0)
    method = "" if competing is None else ", Aalen-Johansen"
    ax.set_ylabel(f"cumulative incidence (%{method})")
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize=7,
        title="risk group",
        title_fontsize=7,
    )
    if test is not None:
        # above the axes' top right corner, clear of the curves and their bands
        ax.text(
            1.0,
            1.01,
            f"{'log-rank' if competing is None else 'cause-specific log-rank'} "
            f"{format_p(test['p_value'], prefix='p')}",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
        )
    if title:
        ax.set_title(title, loc="left")
    ax.tick_params(labelbottom=False)

    # number-at-risk table: one row per group, one column per time, aligned with the x axis
    tab.set_ylim(len(groups) - 0.5, -0.5)
    tab.set_yticks(range(len(groups)), labels=groups, fontsize=7)
    for ticklabel, g in zip(tab.get_yticklabels(), groups):
        ticklabel.set_color(colours[g])
    for row, g in enumerate(groups):
        for t in at_risk_times:
            tab.text(t, row, f"{int(table.loc[g, t]):,}", ha="center", va="center", fontsize=7)
    tab.set_xticks(at_risk_times, labels=tick_labels)
    tab.set_xlabel(time_label)
    tab.set_title("number at risk", fontsize=7, loc="left")
    tab.grid(False)
    tab.tick_params(axis="y", length=0, pad=14)
    for side in ("left", "right", "top"):
        tab.spines[side].set_visible(False)
    return fig


def month_ticks(horizon: float) -> tuple[np.ndarray, list[str]]:
    """Ticks in whole months over ``[0, horizon]`` days: positions in days and labels in
    months, every 1, 2, 3, 6, 12 or 24 months (the smallest step that gives at most six ticks).
    A tick within a day of the horizon is put at the horizon (a year of 365 days ends at
    "12", not at 365.25 days, where everyone is already censored)."""
    months = horizon / DAYS_PER_MONTH
    step = next(
        (s for s in (1, 2, 3, 6, 12, 24) if months / s <= 5 + 1e-9), 24 * int(np.ceil(months / 120))
    )
    counts = np.arange(0, int(np.floor((horizon + 1.0) / DAYS_PER_MONTH / step)) + 1) * step
    days = np.minimum(counts * DAYS_PER_MONTH, horizon)
    return days, [f"{int(m)}" for m in counts]


def followup_figure(
    followup, *, title: str | None = None, time_label: str = "months since the first CCTA"
) -> Figure:
    """:func:`cumulative_incidence_figure` of a chapter's follow-up analysis: any object with
    ``time``, ``event``, ``group`` (a Categorical, drawn in its categories' order) and
    ``horizon``, and ``competing`` (None without competing events), such as
    :class:`ecglib.chapters.incidence.FollowupAnalysis`."""
    return cumulative_incidence_figure(
        followup.time,
        followup.event,
        followup.group,
        horizon=followup.horizon,
        competing=followup.competing,
        order=[str(c) for c in followup.group.categories],
        time_label=time_label,
        title=title,
    )


def _of(group, g: str) -> np.ndarray:
    """Membership of group ``g`` (the groups as the metrics name them: strings)."""
    return np.array([str(x) for x in np.asarray(group, dtype=object)]) == g


def followup_caption(followup, **_figure_options) -> str:
    """The facts of :func:`followup_figure`'s figure for its caption: patients and events
    within the horizon (in months) overall and per risk group, and the estimator. Takes the
    figure's arguments (its other options are ignored)."""
    groups = [str(c) for c in followup.group.categories]
    member = np.array([str(x) for x in np.asarray(followup.group, dtype=object)])
    event = np.asarray(followup.event).astype(bool)
    per_group = ", ".join(
        f"{g} {plural(int((member == g).sum()), 'patient')}, "
        f"{plural(int(event[member == g].sum()), 'event')}"
        for g in groups
        if (member == g).any()
    )
    months = followup.horizon / DAYS_PER_MONTH
    method = "1 - Kaplan-Meier" if followup.competing is None else "Aalen-Johansen"
    total = int(event.sum())
    return (
        f"{plural(len(member), 'patient')}, {plural(total, 'event')} within "
        f"{months:.0f} months ({method}); by risk group: {per_group}."
    )
