"""Chapter 09, events after the ECG by AI risk group: cumulative incidence over the horizon.

:func:`analyse` computes the page, internal and external. The unit is the patient, one row each:
the index ECG of the patient's first CCTA (the latest ECG before it), followed from that CCTA
(:func:`followup_cohort`), in the AI risk group of that ECG (the patient-level stratum of
chapter 07's held-out strata, :func:`ecglib.chapters.risk_strata.ai_patient_stratum`). Per group
the cumulative incidence at the run's horizon (:mod:`ecglib.metrics.survival`) beside the
authors' events / n, with the log-rank test of the groups and a trend test across the ordered
groups (:func:`trend_test`: a Cox model with the group's rank 0, 1, 2 as covariate and the
patient-clustered robust variance; with one row per patient it is the robust sandwich
variance of independent patients); per vessel, the patients at or above the run's high-risk
cut-off against the others.

**Competing risks** (:func:`competing_sentence`). When the cohort has the optional
``followup_competing`` flag (the follow-up ended with a competing event, e.g. death without the
outcome), the cumulative incidence is the Aalen-Johansen estimate (Aalen & Johansen 1978), and
1 - Kaplan-Meier with the competing events censored is shown beside it; the tests then compare
the cause-specific hazards. Without it the cumulative incidence is 1 - Kaplan-Meier (Kaplan &
Meier 1958) and the page says that competing risks are not modelled. A cohort without
follow-up columns has no such analysis: that part is :class:`~ecglib.chapters.parts.Skipped`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.risk_strata import ai_patient_stratum, index_ecgs, vessel_strata
from ecglib.config import RunParams
from ecglib.metrics import survival
from ecglib.metrics._inputs import require_columns
from ecglib.metrics.small_counts import too_few_text
from ecglib.metrics.strata import STRATA
from ecglib.report.present import format_estimate, format_p, plural

__all__ = [
    "CumulativeIncidence",
    "FollowupAnalysis",
    "analyse",
    "followup_analysis",
    "followup_numbers",
    "followup_cohort",
    "trend_test",
    "competing_sentence",
    "vessel_groups",
    "incidence_by_vessel",
    "incidence_display",
    "by_vessel_display",
    "tests_display",
    "FOLLOWUP_NUMBER_KEYS",
    "TREND_KEYS",
]

#: What :func:`trend_test` returns (numbers; NaN when the ratio is not estimable) besides
#: its ``reason`` (empty when estimable).
TREND_KEYS = ("hr", "ci_lo", "ci_hi", "coef", "se", "z", "p_value", "n", "events", "n_clusters")


@dataclass(frozen=True, repr=False)
class FollowupAnalysis:
    """Cumulative incidence by AI risk group over a horizon (:func:`followup_analysis`); the
    input of :func:`ecglib.plots.survival.followup_figure`."""

    #: Per patient: follow-up censored at the horizon, event within it, AI risk group.
    time: np.ndarray
    event: np.ndarray
    group: pd.Categorical
    horizon: float
    #: Patients in the analysis, and index ECGs without follow-up.
    n_patients: int
    n_without_followup: int
    #: Per group: n, events, censored, cumulative incidence with CI, events / n (and, with
    #: competing events, their number and 1 - KM with them censored).
    summary: pd.DataFrame
    logrank: Mapping[str, float]
    #: Per vessel: at or above the high-risk threshold against the rest.
    by_vessel: pd.DataFrame
    #: Per patient: a competing event within the horizon; None when the cohort has no
    #: ``followup_competing`` (competing risks not modelled).
    competing: np.ndarray | None = None
    #: The Cox trend test across the ordered groups (:func:`trend_test`).
    trend: Mapping[str, float | str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """The cumulative-incidence estimator: Aalen-Johansen with competing events, else
        1 - Kaplan-Meier."""
        return "1 - Kaplan-Meier" if self.competing is None else "Aalen-Johansen"

    def numbers(self, prefix: str) -> dict[str, float | str]:
        """Glue-ready numbers (:data:`FOLLOWUP_NUMBER_KEYS`; incidences in percent), keys
        starting with ``prefix``: ``{group}_cif`` (with ``_lo``, ``_hi``) the chapter's
        estimate, ``{group}_km`` 1 - Kaplan-Meier (competing events censored; the same number
        without them), p-values also as text (:func:`ecglib.report.present.format_p`), and the
        sentences of the page (``*_text``: :func:`incidence_sentences`, :func:`trend_sentence`)
        that read right whichever groups have patients."""
        s = self.summary
        trend = self.trend
        out: dict[str, float | str] = {
            "patients": self.n_patients,
            "no_followup": self.n_without_followup,
            "events": int(np.sum(self.event)),
            "competing": math.nan if self.competing is None else int(np.sum(self.competing)),
            "horizon": self.horizon,
            "logrank_p": self.logrank.get("p_value", math.nan),
            # "p = 0.17", or why no test was made (read after "Log-rank test: ")
            "logrank_p_text": (
                f"not made ({self.logrank['reason']})"
                if self.logrank.get("reason")
                else format_p(self.logrank.get("p_value", math.nan), prefix="p")
            ),
            "trend_hr": trend.get("hr", math.nan),
            "trend_hr_lo": trend.get("ci_lo", math.nan),
            "trend_hr_hi": trend.get("ci_hi", math.nan),
            "trend_p": trend.get("p_value", math.nan),
            "trend_p_text": format_p(trend.get("p_value", math.nan)),
            "trend_text": trend_sentence(trend),
            **incidence_sentences(self),
        }
        km = "one_minus_km" if "one_minus_km" in s.columns else "cumulative_incidence"
        for g in STRATA:
            present = g in s.index
            for col, key in (
                ("n", "n"),
                ("events", "events"),
                ("cumulative_incidence", "cif"),
                ("ci_lo", "cif_lo"),
                ("ci_hi", "cif_hi"),
                (km, "km"),
                ("naive_events_over_n", "naive"),
            ):
                value = float(s.at[g, col]) if present else math.nan
                percent = key.startswith(("cif", "km", "naive"))
                out[f"{g}_{key}"] = 100 * value if percent else value
        return {f"{prefix}{k}": v for k, v in out.items()}

    def __repr__(self) -> str:
        return (
            f"cumulative incidence ({self.method}) over {self.horizon:g} days: "
            f"{self.n_patients} patients, {int(np.sum(self.event))} events"
        )


#: The keys of :meth:`FollowupAnalysis.numbers` (without prefix), NaN (texts too) when the
#: part is skipped.
FOLLOWUP_NUMBER_KEYS = (
    "patients",
    "no_followup",
    "events",
    "competing",
    "horizon",
    "logrank_p",
    "logrank_p_text",
    "trend_hr",
    "trend_hr_lo",
    "trend_hr_hi",
    "trend_p",
    "trend_p_text",
    "trend_text",
    "incidence_text",
    "naive_text",
    "competing_events_text",
    *[
        f"{g}_{k}"
        for g in STRATA
        for k in ("n", "events", "cif", "cif_lo", "cif_hi", "km", "naive")
    ],
)


@dataclass(frozen=True)
class CumulativeIncidence:
    """What chapter 09 shows (:func:`analyse`)."""

    #: The internal (held-out strata) and external analyses; Skipped when the input is missing.
    internal: FollowupAnalysis | Skipped
    external: FollowupAnalysis | Skipped
    #: Vessels left out of the AI stratum (no cross-fitted cut-offs), and why.
    not_fitted: tuple[Skipped, ...] = ()

    def summary_table(self, cohort: str = "internal") -> pd.DataFrame | None:
        """Per AI risk group of ``cohort`` for reading (:func:`incidence_display`); None when
        that part is skipped."""
        part = self._part(cohort)
        return None if isinstance(part, Skipped) else incidence_display(part)

    def by_vessel_table(self) -> pd.DataFrame | None:
        """Internal, per vessel, high risk against not (:func:`by_vessel_display`); None when
        skipped."""
        return None if isinstance(self.internal, Skipped) else by_vessel_display(self.internal)

    def tests_table(self) -> pd.DataFrame:
        """Internal and external, for reading: the log-rank test and the Cox trend test
        (:func:`tests_display`)."""
        return tests_display({"internal": self.internal, "external": self.external})

    def numbers(self) -> dict[str, float | str]:
        return (
            followup_numbers(self.internal, "int_")
            | followup_numbers(self.external, "ext_")
            | {"competing_text": competing_sentence(self.internal, self.external)}
        )

    def outputs(self) -> dict[str, object]:
        # The old page saved the internal summary after displaying it, and the display renamed
        # the index it shared with the summary: the file's first column is "AI risk group"
        # (the external file's, saved before its display, is "group"). Kept so that the saved
        # files do not change.
        internal = _field(self.internal, "summary")
        if not isinstance(internal, Skipped):
            internal = internal.rename_axis("AI risk group")
        return {
            "cumulative_incidence_internal": internal,
            "cumulative_incidence_by_vessel_internal": _field(self.internal, "by_vessel"),
            "cumulative_incidence_external": _field(self.external, "summary"),
            "cumulative_incidence": self.numbers(),
        }

    def skipped(self) -> list[Skipped]:
        return [*skipped_of([self.internal]), *self.not_fitted, *skipped_of([self.external])]

    def _part(self, cohort: str) -> FollowupAnalysis | Skipped:
        if cohort not in ("internal", "external"):
            raise ValueError(f"cohort must be 'internal' or 'external', got {cohort!r}")
        return self.internal if cohort == "internal" else self.external


def analyse(run: RunParams, results: RunResults | None = None) -> CumulativeIncidence:
    """Chapter 09 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    strata = vessel_strata(run, results)
    thresholds = run.evaluation.high_risk_thresholds
    horizon = run.evaluation.followup_horizon_days
    return CumulativeIncidence(
        internal=attempt(
            "The cumulative-incidence analysis",
            followup_analysis,
            results.oof,
            strata.internal,
            thresholds,
            horizon=horizon,
            min_events=run.report.min_events,
        ),
        external=attempt(
            "The external cumulative-incidence analysis",
            followup_analysis,
            strata.external_predictions,
            strata.external,
            thresholds,
            horizon=horizon,
            min_events=run.report.min_events,
        ),
        not_fitted=tuple(strata.not_fitted_parts(" (left out of the AI stratum)")),
    )


def followup_analysis(
    predictions: pd.DataFrame,
    vessel_strata: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    horizon: float,
    min_events: int | None = None,
) -> FollowupAnalysis:
    """Cumulative incidence of events by AI risk group, one patient each.

    The unit is the patient, followed from the first CCTA (:func:`followup_cohort`; its index
    ECG is the latest ECG before that CCTA). The risk group is the patient-level AI stratum of
    that ECG (:func:`~ecglib.chapters.risk_strata.ai_patient_stratum` of ``vessel_strata``,
    per-ECG strata on the predictions' index); ``by_vessel`` compares, per vessel, the patients
    at or above ``thresholds`` (the run's high-risk cut-offs) with the others. Follow-up is
    censored at ``horizon``. The cumulative incidence is Aalen-Johansen when the cohort has
    ``followup_competing``, else 1 - Kaplan-Meier; the log-rank test and :func:`trend_test`
    (competing events censored: cause-specific hazards). Raises :class:`MissingInputError`
    without follow-up. ``min_events`` (the run's small-count threshold): with fewer events (or
    event-free patients) over the horizon, no test is made and ``reason`` says why
    (:func:`ecglib.metrics.small_counts.too_few_text`).
    """
    cohort = followup_cohort(predictions)
    n_index = len(index_ecgs(predictions, "patient"))
    group = ai_patient_stratum(vessel_strata.loc[cohort.index])
    raw_time = cohort[survival.TIME_COL]
    time, event = survival.censor_at(raw_time, cohort[survival.EVENT_COL], horizon)
    competing = None
    if survival.COMPETING_COL in cohort.columns:
        competing = survival.censor_at(raw_time, cohort[survival.COMPETING_COL], horizon)[1]
    summary = survival.incidence_summary(time, event, group, horizon=horizon, competing=competing)
    present = pd.unique(np.asarray(group, dtype=object))
    test = (
        survival.logrank(time, event, np.asarray(group, dtype=object))
        if len(present) > 1
        else {"p_value": math.nan, "test_statistic": math.nan, "df": 0, "n_groups": len(present)}
    )
    trend = trend_test(time, event, group, cohort["patient"].to_numpy())
    by_vessel = incidence_by_vessel(cohort, thresholds, horizon=horizon)
    n_events = int(np.sum(event))
    withheld = (
        too_few_text(n_events, len(event) - n_events, min_events) if min_events is not None else ""
    )
    if withheld:  # the small-count policy: no test on a handful of events
        test = {k: math.nan for k in ("p_value", "test_statistic")} | {
            "df": 0,
            "n_groups": len(present),
            "reason": withheld,
        }
        trend = {k: math.nan for k in TREND_KEYS} | {"reason": withheld}
        by_vessel = by_vessel.assign(logrank_p=math.nan, reason=withheld)
    return FollowupAnalysis(
        time=time,
        event=event,
        group=group,
        horizon=float(horizon),
        n_patients=len(cohort),
        n_without_followup=n_index - len(cohort),
        summary=summary,
        logrank=test,
        by_vessel=by_vessel,
        competing=competing,
        trend=trend,
    )


def trend_test(time, event, group: pd.Categorical, patients) -> dict[str, float | str]:
    """The Cox trend test across the ordered groups: the group's rank (its code in the
    categories' order: low 0, intermediate 1, high 2) as one covariate, the variance clustered
    by ``patients`` (:func:`ecglib.metrics.survival.cox_trend`). When the ratio is not
    estimable (one group, no event, every event in the highest group ...) every number is NaN
    and ``reason`` says why."""
    try:
        out: dict[str, float | str] = survival.cox_trend(
            time, event, np.asarray(group.codes, dtype=float), cluster=patients
        )
    except ValueError as error:  # cox_trend's "not estimable" (inputs are checked before)
        return {k: math.nan for k in TREND_KEYS} | {"reason": str(error)}
    return out | {"reason": ""}


def trend_sentence(trend: Mapping[str, float | str], digits: int = 2) -> str:
    """The trend test as the text reads it: ``"hazard ratio 1.52 [1.10-2.10] per step up the
    risk groups, p = 0.011"``, or why it is not estimable."""
    if not trend:
        return "n/a"
    if not np.isfinite(trend.get("hr", math.nan)):
        return f"not estimable ({trend.get('reason') or 'no result'})"
    hr = format_estimate(trend["hr"], trend["ci_lo"], trend["ci_hi"], digits)
    return (
        f"hazard ratio {hr} per step up the risk groups, {format_p(trend['p_value'], prefix='p')}"
    )


def incidence_sentences(analysis: FollowupAnalysis, digits: int = 1) -> dict[str, str]:
    """The per-group results as the page's sentences, groups without patients named as such:
    ``incidence_text`` (the cumulative incidence with its 95% CI and the patients of each
    group), ``naive_text`` (events / n) and ``competing_events_text`` (the competing events and
    what 1 - Kaplan-Meier, which censors them, would have said; without the column, that they
    are not recorded)."""
    s = analysis.summary
    present = [g for g in STRATA if g in s.index]
    absent = [g for g in STRATA if g not in s.index]

    def pct(x: float) -> str:
        return f"{100 * x:.{digits}f}%" if np.isfinite(x) else "not estimable"

    cif = []
    for g in present:
        lo, hi = s.at[g, "ci_lo"], s.at[g, "ci_hi"]
        if s.at[g, "events"] == 0:
            ci = "no events"  # the Greenwood interval collapses to 0-0: no interval to show
        elif np.isfinite(lo + hi):
            ci = f"95% CI {100 * lo:.{digits}f}-{pct(hi)}"
        else:
            ci = "CI n/a"
        cif.append(
            f"{pct(s.at[g, 'cumulative_incidence'])} ({ci}) in the {_label(g)} group "
            f"({plural(int(s.at[g, 'n']), 'patient')})"
        )
    missing = f"; no patient is in the {' or '.join(_label(g) for g in absent)} group"
    naive = [f"{pct(s.at[g, 'naive_events_over_n'])} ({g})" for g in present]
    if analysis.competing is None:
        competing = "Competing events are not recorded in this cohort."
    else:
        km = [f"{pct(s.at[g, 'one_minus_km'])} ({g})" for g in present]
        n = int(np.sum(analysis.competing))
        whose = "1 patient's" if n == 1 else f"{n:,} patients'"
        competing = (
            f"{whose} follow-up ended with a competing event within the horizon; "
            f"1 - Kaplan-Meier, which censors them, would have said {_and(km)}."
        )
    return {
        "incidence_text": _and(cif) + (missing if absent else ""),
        "naive_text": _and(naive),
        "competing_events_text": competing,
    }


def _label(group: str) -> str:
    return f"{group}-risk" if group in ("low", "high") else group


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def followup_numbers(analysis: FollowupAnalysis | Skipped, prefix: str) -> dict[str, float | str]:
    """:meth:`FollowupAnalysis.numbers`, or NaN for every key (the texts too) when the
    analysis was skipped (so the chapter's text always finds its keys)."""
    if isinstance(analysis, FollowupAnalysis):
        return analysis.numbers(prefix)
    return {f"{prefix}{k}": math.nan for k in FOLLOWUP_NUMBER_KEYS}


def competing_sentence(*analyses: FollowupAnalysis | Skipped) -> str | float:
    """How the page handles competing risks, from the first analysis that was computed: with
    ``followup_competing`` Aalen-Johansen, else the statement
    that competing risks are not modelled and what that does to 1 - Kaplan-Meier. NaN, like
    every number of a skipped part, when no analysis was computed."""
    done = [a for a in analyses if isinstance(a, FollowupAnalysis)]
    if not done:
        return math.nan
    if done[0].competing is None:
        return (
            "The cohort has no competing-event column (followup_competing), so competing "
            "risks are not modelled: the cumulative incidence is 1 - Kaplan-Meier, which treats "
            "a patient whose follow-up ended with a competing event (such as death without the "
            "outcome) as censored, as if still at risk, and so overestimates the incidence when "
            "competing events occur."
        )
    return (
        "The cohort records competing events (followup_competing: the follow-up ended with "
        "another event, such as death without the outcome; the counts are with each cohort's "
        "results). The cumulative incidence is therefore the Aalen-Johansen estimate (Aalen & "
        "Johansen 1978), which counts these patients as no longer at risk of the outcome "
        "instead of censoring them; the tables show 1 - Kaplan-Meier with the competing events "
        "censored beside it, which is what ignoring them would report (never lower). The "
        "log-rank and trend tests compare the cause-specific hazards of the outcome (a "
        "competing event censors)."
    )


def followup_cohort(predictions: pd.DataFrame) -> pd.DataFrame:
    """The index ECGs with a follow-up time and event (one per patient: the ECG of the first
    CCTA, from which follow-up starts). Raises :class:`MissingInputError` when the cohort has no
    follow-up at all; patients without follow-up are left out (their number is the difference
    to :func:`~ecglib.chapters.risk_strata.index_ecgs`).

    ``followup_competing`` is kept when the cohort has it (in any row): every patient with
    follow-up must then have it, 0 or 1, and not 1 together with an event (``ValueError``
    naming how many); a column without any value is dropped (competing risks not recorded).
    """
    index = index_ecgs(predictions, "patient")
    columns = (survival.TIME_COL, survival.EVENT_COL)
    require_columns(index, columns, "the cumulative-incidence analysis")
    known = index.dropna(subset=list(columns))
    survival.followup_arrays(known)  # raises on negative times or non-0/1 events
    competing = survival.COMPETING_COL
    if competing in known.columns and predictions[competing].isna().all():
        known = known.drop(columns=competing)
    if competing in known.columns:
        missing = known[competing].isna()
        if missing.any():
            raise ValueError(
                f"{int(missing.sum())} of {len(known)} patients with follow-up lack "
                f"{competing}: whether their follow-up ended with a competing event is unknown"
            )
        survival.competing_flags(known[competing], known[survival.EVENT_COL])
    return known


def vessel_groups(predictions: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Per vessel ``high risk`` (p at or above the vessel's threshold) or ``not high risk``."""
    return pd.DataFrame(
        {
            v: np.where(predictions[schema.prob_col(v)] >= t, "high risk", "not high risk")
            for v, t in schema.assessed_entries(predictions, thresholds).items()
        },
        index=predictions.index,
    )


def incidence_by_vessel(
    followup: pd.DataFrame, thresholds: Mapping[str, float], *, horizon: float
) -> pd.DataFrame:
    """Per vessel, patients at or above its high-risk threshold against the others: patients,
    events, the cumulative incidence at ``horizon`` of both groups (Aalen-Johansen when
    ``followup`` has ``followup_competing``, else 1 - Kaplan-Meier) and the log-rank p (NaN,
    with a reason, when one group is empty)."""
    time, event = survival.censor_at(
        followup[survival.TIME_COL], followup[survival.EVENT_COL], horizon
    )
    competing = None
    if survival.COMPETING_COL in followup.columns:
        competing = survival.censor_at(
            followup[survival.TIME_COL], followup[survival.COMPETING_COL], horizon
        )[1]
    groups = vessel_groups(followup, thresholds)
    rows = []
    for vessel in groups.columns:
        g = groups[vessel].to_numpy()
        row = {"vessel": vessel, "threshold": float(thresholds[vessel])}
        summary = survival.incidence_summary(
            time,
            event,
            g,
            horizon=horizon,
            competing=competing,
            order=["not high risk", "high risk"],
        )
        for name in ("not high risk", "high risk"):
            key = name.replace(" ", "_")
            if name in summary.index:
                s = summary.loc[name]
                row.update(
                    {
                        f"n_{key}": int(s["n"]),
                        f"events_{key}": int(s["events"]),
                        f"incidence_{key}": float(s["cumulative_incidence"]),
                    }
                )
            else:
                row.update({f"n_{key}": 0, f"events_{key}": 0, f"incidence_{key}": math.nan})
        if len(summary) == 2:
            row["logrank_p"] = survival.logrank(time, event, g)["p_value"]
            row["reason"] = ""
        else:
            row["logrank_p"] = math.nan
            row["reason"] = "one group is empty: no test"
        rows.append(row)
    return pd.DataFrame(rows)


def incidence_display(analysis: FollowupAnalysis, digits: int = 1) -> pd.DataFrame:
    """The per-group summary for reading: patients, events (and competing events) and censored
    before the horizon, the cumulative incidence (%, with CI; the column names the estimator),
    with competing events also 1 - Kaplan-Meier with them censored, and the authors' events / n
    (%)."""
    s = analysis.summary
    out = pd.DataFrame(index=s.index.copy())  # naming the index must not rename the summary's
    out["patients"] = s["n"].astype(int)
    out["events"] = s["events"].astype(int)
    if "competing_events" in s.columns:
        out["competing events"] = s["competing_events"].astype(int)
    out["censored before the horizon"] = s["censored_before_horizon"].astype(int)
    out[f"{analysis.method}, % [95% CI]"] = [
        # no events: the interval collapses to 0-0, which is no interval
        f"{0:.{digits}f} (no events)"
        if r.events == 0
        else format_estimate(100 * r.cumulative_incidence, 100 * r.ci_lo, 100 * r.ci_hi, digits)
        for r in s.itertuples()
    ]
    if "one_minus_km" in s.columns:
        out["1 - Kaplan-Meier (competing events censored), %"] = [
            _percent(x, digits) for x in s["one_minus_km"]
        ]
    out["events / n, % (the authors' estimate)"] = [
        _percent(x, digits) for x in s["naive_events_over_n"]
    ]
    out.index.name = "AI risk group"
    return out


def _percent(x: float, digits: int) -> str:
    """A proportion as a percentage number for a table cell; "not estimable" when missing."""
    return f"{100 * x:.{digits}f}" if np.isfinite(x) else "not estimable"


def by_vessel_display(analysis: FollowupAnalysis, digits: int = 1) -> pd.DataFrame:
    """Per vessel, high risk against not high risk: patients, events, the cumulative incidence
    (%) at the horizon (1 - KM or Aalen-Johansen, as the column says) and the log-rank p
    (:func:`ecglib.report.present.format_p`; without a test, why)."""
    b = analysis.by_vessel
    estimator = "1 - KM" if analysis.competing is None else "Aalen-Johansen"
    out = pd.DataFrame(index=pd.Index(b["vessel"], name="vessel"))
    out["threshold"] = [f"≥ {100 * t:g}%" for t in b["threshold"]]
    for key, label in (("high_risk", "high risk"), ("not_high_risk", "not high risk")):
        out[f"{label}: patients (events)"] = [
            f"{int(n)} ({int(e)})" for n, e in zip(b[f"n_{key}"], b[f"events_{key}"])
        ]
        out[f"{label}: {estimator}, %"] = [_percent(x, digits) for x in b[f"incidence_{key}"]]
    out["log-rank p"] = [
        format_p(x) if np.isfinite(x) else r for x, r in zip(b["logrank_p"], b["reason"])
    ]
    return out


def tests_display(analyses: Mapping[str, FollowupAnalysis | Skipped]) -> pd.DataFrame:
    """One row per computed analysis (cohort): patients (the unit) and events, the log-rank
    test of the groups (chi-squared, df, p) and the Cox trend test (hazard ratio per step up
    the groups with its 95% CI, p, and the variance). Skipped analyses have no row."""
    rows = []
    for name, a in analyses.items():
        if not isinstance(a, FollowupAnalysis):
            continue
        lr, trend = a.logrank, a.trend
        stat = lr.get("test_statistic", math.nan)
        estimable = np.isfinite(trend.get("hr", math.nan))
        rows.append(
            {
                "cohort": name,
                "patients": a.n_patients,
                "events": int(np.sum(a.event)),
                "log-rank χ² (df)": (
                    f"{stat:.2f} ({int(lr['df'])})"
                    if np.isfinite(stat)
                    else f"not made ({lr.get('reason') or 'one group'})"
                ),
                "log-rank p": lr.get("reason") or format_p(lr.get("p_value", math.nan)),
                "Cox trend: hazard ratio per group step [95% CI]": (
                    format_estimate(trend["hr"], trend["ci_lo"], trend["ci_hi"], 2)
                    if estimable
                    else f"not estimable: {trend.get('reason', '')}"
                ),
                "trend p": format_p(trend.get("p_value", math.nan)),
                "trend variance": (
                    f"robust, clustered by patient ({int(trend['n_clusters']):,} clusters)"
                    if estimable
                    else "n/a"
                ),
            }
        )
    return pd.DataFrame(rows).set_index("cohort") if rows else pd.DataFrame()


def _field(part: FollowupAnalysis | Skipped, name: str):
    """A table of an analysis, or the skip itself (saved as nothing)."""
    return part if isinstance(part, Skipped) else getattr(part, name)
