"""How chapter 07's tables and sentences read: the cut-offs, the strata with their event rates,
what the strata achieve against their targets, the net benefit at the high-risk cut-offs, and
the sentences that say where the model's advantage lies and which vessels the small-count
policy left unchecked. Pure formatting of what :mod:`ecglib.chapters.risk_strata` computed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglib.metrics.decision import NET_BENEFITS
from ecglib.metrics.small_counts import withheld_reason
from ecglib.metrics.strata import PERFORMANCE
from ecglib.report.present import format_estimate

__all__ = [
    "cutoff_display",
    "strata_display",
    "performance_display",
    "net_benefit_display",
    "advantage_sentence",
    "not_checked_sentence",
]


#: Reader's names of :func:`thresholds_table`'s columns (and the fold column when present).
_CUTOFF_COLUMNS = {
    "vessel": "vessel",
    "fold": "held-out fold",
    "lower": "lower cut-off",
    "upper": "upper cut-off",
    "sensitivity_target": "sens. target",
    "specificity_target": "spec. target",
    "fit_sensitivity": "sens. (fitting set)",
    "fit_specificity": "spec. (fitting set)",
    "n_fit": "ECGs (fitting set)",
    "n_fit_pos": "positives (fitting set)",
    "collapsed": "one cut-off",
}


def cutoff_display(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A cut-off table for reading: named columns, rounded values, integer counts, "yes"/"no"
    for a pair of cut-offs that collapsed into one (both targets met at one cut-off), no index
    column."""
    out = table[[c for c in _CUTOFF_COLUMNS if c in table.columns]].copy()
    for column in ("lower", "upper", "fit_sensitivity", "fit_specificity"):
        out[column] = out[column].map(lambda x: f"{x:.{digits}f}")
    for column in ("sensitivity_target", "specificity_target"):
        out[column] = out[column].map(lambda x: f"{x:.2f}")
    for column in ("n_fit", "n_fit_pos"):
        out[column] = out[column].map(lambda x: f"{int(x):,}")
    out["collapsed"] = out["collapsed"].map({True: "yes", False: "no"})
    if "fold" in out:
        out["fold"] = out["fold"].astype(int)
    keys = [c for c in ("vessel", "fold") if c in out.columns]
    return out.rename(columns=_CUTOFF_COLUMNS).set_index([_CUTOFF_COLUMNS[k] for k in keys])


def strata_display(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A :func:`~ecglib.metrics.strata.vessel_strata_summary` for reading: per vessel and
    stratum the ECGs (share), their patients, events, and the event rate with its interval
    (its method in the page's text)."""
    if summary.empty:
        return summary
    out = summary[["vessel", "stratum"]].copy()
    out["ECGs (share)"] = [f"{int(r.n)} ({100 * r.share:.1f}%)" for r in summary.itertuples()]
    out["patients"] = summary["patients"].astype(int)
    out["events"] = summary["events"].astype(int)
    withheld = [withheld_reason(r) for r in summary.itertuples()]
    out["event rate [95% CI]"] = [
        w or format_estimate(r.event_rate, r.event_rate_lo, r.event_rate_hi, digits)
        for w, r in zip(withheld, summary.itertuples())
    ]
    out["share of all events"] = [
        w or (f"{100 * x:.1f}%" if np.isfinite(x) else "n/a")
        for w, x in zip(withheld, summary["share_of_events"])
    ]
    return out.set_index(["vessel", "stratum"])


def performance_display(perf: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """A :func:`~ecglib.metrics.strata.strata_performance` table for reading: the ECGs and
    patients, each proportion with its interval (its method in the page's text) and the
    targets beside the achieved values."""
    out = pd.DataFrame(index=perf["vessel"])
    out.index.name = None
    out["ECGs"] = perf["n"].astype(int).to_numpy()
    out["patients"] = perf["patients"].astype(int).to_numpy()
    labels = dict(
        zip(
            PERFORMANCE,
            ("sensitivity (not low)", "specificity (not high)", "NPV of low", "PPV of high"),
        )
    )
    for name, label in labels.items():
        out[label] = [
            (withheld_reason(r) if pd.isna(r[name]) else "")
            or format_estimate(r[name], r[f"{name}_lo"], r[f"{name}_hi"], digits)
            for _, r in perf.iterrows()
        ]
        target = f"{name}_target"
        if target in perf.columns:
            out[f"{label}: target"] = perf[target].map(lambda t: f"{t:.2f}").to_numpy()
    return out


def net_benefit_display(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A :func:`~ecglib.metrics.decision.net_benefit_at` table for reading: per vessel the
    threshold, ECGs, patients, prevalence, and the net benefits with their intervals."""
    out = pd.DataFrame(index=table["vessel"].to_numpy())
    out["threshold"] = [f"{100 * t:g}%" for t in table["threshold"]]
    out["ECGs"] = table["n"].astype(int).to_numpy()
    out["patients"] = table["patients"].astype(int).to_numpy()
    out["prevalence"] = [f"{100 * x:.1f}%" for x in table["prevalence"]]
    labels = dict(zip(NET_BENEFITS, ("model", "treat all", "model − best of treat all / none")))
    for name, label in labels.items():
        out[f"{label} [95% CI]"] = [
            format_estimate(r[name], r[f"{name}_lo"], r[f"{name}_hi"], digits)
            for _, r in table.iterrows()
        ]
    return out


def advantage_sentence(table: pd.DataFrame) -> str:
    """Where the model's advantage over the better of treating all and treating none at the
    high-risk cut-off (:func:`~ecglib.metrics.decision.net_benefit_at`) has an interval wholly
    above 0, wholly below, or around 0, as a sentence."""
    if table.empty or table["advantage_lo"].isna().all():
        return "No vessel has an interval for the model's advantage."
    lo, hi = table["advantage_lo"], table["advantage_hi"]
    groups = (
        (table["vessel"][lo > 0], "lies above 0 (the model does better than both defaults)"),
        (table["vessel"][hi < 0], "lies below 0 (a default does better than the model)"),
        (table["vessel"][(lo <= 0) & (hi >= 0)], "includes 0"),
    )
    parts = [f"{text} for the {_join(list(v))}" for v, text in groups if len(v)]
    return "At the high-risk cut-offs, the interval of the advantage " + "; it ".join(parts) + "."


def not_checked_sentence(withheld: list[str], what: str) -> str | None:
    """The sentence for vessels a check skipped under the small-count policy, or None."""
    if not withheld:
        return None
    return (
        f"Not shown or checked among the {what}, under the run's small-count policy "
        f"(report.min_events): {_join(withheld)}."
    )


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
