"""Chapter 09, events after the ECG by AI risk group: cumulative incidence over the horizon.

:func:`analyse` computes the page, internal and external: one patient each, followed from the
first CCTA (:func:`followup_cohort`), in the AI risk group of the index ECG of that CCTA (the
patient-level stratum of chapter 07's held-out strata,
:func:`ecglib.chapters.risk_strata.ai_patient_stratum`). Per group the cumulative incidence at
the run's horizon is one minus the Kaplan-Meier estimate (Kaplan & Meier 1958,
:mod:`ecglib.metrics.survival`) beside the authors' events / n, with the log-rank test of the
groups; per vessel, the patients at or above the run's high-risk cut-off against the others. A
cohort without follow-up columns has no such analysis: that part is
:class:`~ecglib.chapters.parts.Skipped`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.risk_strata import ai_patient_stratum, index_ecgs, vessel_strata
from ecglib.config import RunParams
from ecglib.metrics import survival
from ecglib.metrics._inputs import require_columns
from ecglib.metrics.strata import STRATA
from ecglib.report.present import format_estimate, format_p

__all__ = [
    "CumulativeIncidence",
    "FollowupAnalysis",
    "analyse",
    "followup_analysis",
    "followup_numbers",
    "followup_cohort",
    "vessel_groups",
    "incidence_by_vessel",
    "incidence_display",
    "by_vessel_display",
    "FOLLOWUP_NUMBER_KEYS",
]


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
    #: Per group: n, events, censored, KM cumulative incidence with CI, events / n.
    summary: pd.DataFrame
    logrank: Mapping[str, float]
    #: Per vessel: at or above the high-risk threshold against the rest.
    by_vessel: pd.DataFrame

    def numbers(self, prefix: str) -> dict[str, float]:
        """Glue-ready numbers (:data:`FOLLOWUP_NUMBER_KEYS`; incidences in percent), keys
        starting with ``prefix``."""
        s = self.summary
        out = {
            "patients": self.n_patients,
            "no_followup": self.n_without_followup,
            "events": int(np.sum(self.event)),
            "horizon": self.horizon,
            "logrank_p": self.logrank.get("p_value", math.nan),
        }
        for g in STRATA:
            present = g in s.index
            for col, key in (
                ("n", "n"),
                ("events", "events"),
                ("cumulative_incidence", "km"),
                ("ci_lo", "km_lo"),
                ("ci_hi", "km_hi"),
                ("naive_events_over_n", "naive"),
            ):
                value = float(s.at[g, col]) if present else math.nan
                out[f"{g}_{key}"] = 100 * value if key.startswith(("km", "naive")) else value
        return {f"{prefix}{k}": v for k, v in out.items()}

    def __repr__(self) -> str:
        return (
            f"cumulative incidence over {self.horizon:g} days: {self.n_patients} patients, "
            f"{int(np.sum(self.event))} events"
        )


#: The keys of :meth:`FollowupAnalysis.numbers` (without prefix), NaN when the part is skipped.
FOLLOWUP_NUMBER_KEYS = (
    "patients",
    "no_followup",
    "events",
    "horizon",
    "logrank_p",
    *[f"{g}_{k}" for g in STRATA for k in ("n", "events", "km", "km_lo", "km_hi", "naive")],
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

    def numbers(self) -> dict[str, float]:
        return followup_numbers(self.internal, "int_") | followup_numbers(self.external, "ext_")

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
        ),
        external=attempt(
            "The external cumulative-incidence analysis",
            followup_analysis,
            strata.external_predictions,
            strata.external,
            thresholds,
            horizon=horizon,
        ),
        not_fitted=tuple(strata.not_fitted_parts(" (left out of the AI stratum)")),
    )


def followup_analysis(
    predictions: pd.DataFrame,
    vessel_strata: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    horizon: float,
) -> FollowupAnalysis:
    """Cumulative incidence (1 - Kaplan-Meier) of events by AI risk group, one patient each.

    The unit is the patient, followed from the first CCTA (:func:`followup_cohort`; its index
    ECG is the latest ECG before that CCTA). The risk group is the patient-level AI stratum of
    that ECG (:func:`~ecglib.chapters.risk_strata.ai_patient_stratum` of ``vessel_strata``,
    per-ECG strata on the predictions' index); ``by_vessel`` compares, per vessel, the patients
    at or above ``thresholds`` (the run's high-risk cut-offs) with the others. Follow-up is
    censored at ``horizon``. Raises :class:`MissingInputError` without follow-up.
    """
    cohort = followup_cohort(predictions)
    n_index = len(index_ecgs(predictions, "patient"))
    group = ai_patient_stratum(vessel_strata.loc[cohort.index])
    time, event = survival.censor_at(cohort[survival.TIME_COL], cohort[survival.EVENT_COL], horizon)
    summary = survival.incidence_summary(time, event, group, horizon=horizon)
    present = pd.unique(np.asarray(group, dtype=object))
    test = (
        survival.logrank(time, event, np.asarray(group, dtype=object))
        if len(present) > 1
        else {"p_value": math.nan, "test_statistic": math.nan, "df": 0, "n_groups": len(present)}
    )
    return FollowupAnalysis(
        time=time,
        event=event,
        group=group,
        horizon=float(horizon),
        n_patients=len(cohort),
        n_without_followup=n_index - len(cohort),
        summary=summary,
        logrank=test,
        by_vessel=incidence_by_vessel(cohort, thresholds, horizon=horizon),
    )


def followup_numbers(analysis: FollowupAnalysis | Skipped, prefix: str) -> dict[str, float]:
    """:meth:`FollowupAnalysis.numbers`, or NaN for every key when the analysis was skipped (so
    the chapter's text always finds its keys)."""
    if isinstance(analysis, FollowupAnalysis):
        return analysis.numbers(prefix)
    return {f"{prefix}{k}": math.nan for k in FOLLOWUP_NUMBER_KEYS}


def followup_cohort(predictions: pd.DataFrame) -> pd.DataFrame:
    """The index ECGs with a follow-up time and event (one per patient: the ECG of the first
    CCTA, from which follow-up starts). Raises :class:`MissingInputError` when the cohort has no
    follow-up at all; patients without follow-up are left out (their number is the difference
    to :func:`~ecglib.chapters.risk_strata.index_ecgs`)."""
    index = index_ecgs(predictions, "patient")
    columns = (survival.TIME_COL, survival.EVENT_COL)
    require_columns(index, columns, "the cumulative-incidence analysis")
    known = index.dropna(subset=list(columns))
    survival.followup_arrays(known)  # raises on negative times or non-0/1 events
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
    events, the Kaplan-Meier cumulative incidence at ``horizon`` of both groups and the
    log-rank p (NaN, with a reason, when one group is empty)."""
    time, event = survival.censor_at(
        followup[survival.TIME_COL], followup[survival.EVENT_COL], horizon
    )
    groups = vessel_groups(followup, thresholds)
    rows = []
    for vessel in groups.columns:
        g = groups[vessel].to_numpy()
        row = {"vessel": vessel, "threshold": float(thresholds[vessel])}
        summary = survival.incidence_summary(
            time, event, g, horizon=horizon, order=["not high risk", "high risk"]
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
    """The per-group summary for reading: patients, events and censored before the horizon, the
    Kaplan-Meier cumulative incidence (%, with CI) and the authors' events / n (%)."""
    s = analysis.summary
    out = pd.DataFrame(index=s.index.copy())  # naming the index must not rename the summary's
    out["patients"] = s["n"].astype(int)
    out["events"] = s["events"].astype(int)
    out["censored before the horizon"] = s["censored_before_horizon"].astype(int)
    out["1 - Kaplan-Meier, % [95% CI]"] = [
        format_estimate(100 * r.cumulative_incidence, 100 * r.ci_lo, 100 * r.ci_hi, digits)
        for r in s.itertuples()
    ]
    out["events / n, % (the authors' estimate)"] = [
        f"{100 * x:.{digits}f}" for x in s["naive_events_over_n"]
    ]
    out.index.name = "AI risk group"
    return out


def by_vessel_display(analysis: FollowupAnalysis, digits: int = 1) -> pd.DataFrame:
    """Per vessel, high risk against not high risk: patients, events, 1 - KM (%) at the
    horizon and the log-rank p (:func:`ecglib.report.present.format_p`; without a test, why)."""
    b = analysis.by_vessel
    out = pd.DataFrame(index=pd.Index(b["vessel"], name="vessel"))
    out["threshold"] = [f"≥ {100 * t:g}%" for t in b["threshold"]]
    for key, label in (("high_risk", "high risk"), ("not_high_risk", "not high risk")):
        out[f"{label}: patients (events)"] = [
            f"{int(n)} ({int(e)})" for n, e in zip(b[f"n_{key}"], b[f"events_{key}"])
        ]
        out[f"{label}: 1 - KM, %"] = [
            f"{100 * x:.{digits}f}" if np.isfinite(x) else "n/a" for x in b[f"incidence_{key}"]
        ]
    out["log-rank p"] = [
        format_p(x) if np.isfinite(x) else r for x, r in zip(b["logrank_p"], b["reason"])
    ]
    return out


def _field(part: FollowupAnalysis | Skipped, name: str):
    """A table of an analysis, or the skip itself (saved as nothing)."""
    return part if isinstance(part, Skipped) else getattr(part, name)
