"""Chapter 05, severity trend: does the predicted probability rise with the CCTA grade?

:func:`analyse` computes the page for the internal pooled out-of-fold predictions and for the
external site (the mean of the fold models; a :class:`~ecglib.chapters.parts.Skipped` part
without one): per vessel Spearman's rank correlation between predicted probability and the
ordinal grade 0-4 over the ECGs, with its patient-bootstrap percentile interval from the run's
shared resamples of the population (:meth:`~ecglib.chapters.predictions.RunResults.resamples`,
:func:`ecglib.metrics.severity.severity_trend`); the test of "no trend" is whether that interval
excludes 0 (ECG-level p-values treat a patient's ECGs as independent and are not shown). Also
the median [IQR] probability per grade (:func:`ecglib.metrics.severity.grade_summary`), the
numbers behind the box plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.metrics.resamples import PatientResamples
from ecglib.metrics.severity import grade_summary, severity_trend
from ecglib.metrics.small_counts import withheld_reason, withhold
from ecglib.report.present import format_estimate, numbers_from

__all__ = [
    "Severity",
    "analyse",
    "grade_display",
    "trend_display",
    "trend_sentence",
    "interval_method",
    "TREND_NUMBERS",
]

#: Columns of the trend tables glued as ``int_<column>_<vessel>`` and ``ext_<column>_<vessel>``.
TREND_NUMBERS: tuple[str, ...] = ("rho", "rho_lo", "rho_hi")

#: How the vessels read in the page's sentences.
_NAMES = {"RCA": "the RCA", "LM": "the left main", "LAD": "the LAD", "LCX": "the LCX"}


@dataclass(frozen=True)
class Severity:
    """What chapter 05 shows (:func:`analyse`)."""

    #: The internal out-of-fold predictions (the internal box plots' input).
    internal: pd.DataFrame
    #: Spearman's rho per vessel with its patient-bootstrap interval, internal
    #: (:func:`~ecglib.metrics.severity.severity_trend`, an ``interval`` column naming the
    #: method).
    trend: pd.DataFrame
    #: Median [IQR] per vessel and grade, internal
    #: (:func:`~ecglib.metrics.severity.grade_summary`).
    grades: pd.DataFrame
    #: The same three for the external site, or why they are skipped.
    external: pd.DataFrame | Skipped
    external_trend: pd.DataFrame | Skipped
    external_grades: pd.DataFrame | Skipped
    #: Resamples of the run's shared patient bootstrap.
    n_bootstrap: int
    #: The small-count threshold (``report.min_events``): a vessel with fewer severe or
    #: occluded ECGs (its events, grade >= 3), or fewer without, has no rho, interval or test.
    min_events: int = 5

    def trend_table(self) -> pd.DataFrame:
        """The internal trend for reading (:func:`trend_display`)."""
        return trend_display(self.trend)

    def external_trend_table(self) -> pd.DataFrame | None:
        """The external trend for reading; None when skipped."""
        return _unless(trend_display, self.external_trend)

    def grade_table(self) -> pd.DataFrame:
        """The internal grade summary for reading (:func:`grade_display`)."""
        return grade_display(self.grades)

    def external_grade_table(self) -> pd.DataFrame | None:
        """The external grade summary for reading; None when skipped."""
        return _unless(grade_display, self.external_grades)

    def numbers(self) -> dict[str, float | str]:
        return {
            **numbers_from(self.trend, TREND_NUMBERS, prefix="int_"),
            **numbers_from(self.external_trend, TREND_NUMBERS, prefix="ext_"),
            "int_trend_sentence": trend_sentence(self.trend),
            "ext_trend_sentence": _unless(trend_sentence, self.external_trend) or "",
            "n_boot": self.n_bootstrap,
            "min_events": self.min_events,
            **rho_texts(self.trend, "int_"),
            **rho_texts(self.external_trend, "ext_"),
        }

    def outputs(self) -> dict[str, object]:
        return {
            "severity_trend_internal": self.trend,
            "severity_trend_external": self.external_trend,
            "severity_grades_internal": self.grades,
            "severity_grades_external": self.external_grades,
        }

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.external_trend])


def analyse(run: RunParams, results: RunResults | None = None) -> Severity:
    """Chapter 05 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    external = attempt("External validation", results.require_external)
    resamples = results.resamples("oof")
    external_resamples = attempt("External validation", results.resamples, "external")
    m = run.report.min_events
    return Severity(
        internal=results.oof,
        trend=_trend(results.oof, resamples, m),
        grades=grade_summary(results.oof),
        external=external,
        external_trend=attempt(
            "The external severity trend", _trend, external, external_resamples, m
        ),
        external_grades=attempt("The external grade summary", grade_summary, external),
        n_bootstrap=resamples.n_boot,
        min_events=m,
    )


def _trend(
    predictions: pd.DataFrame, resamples: PatientResamples, min_events: int | None = None
) -> pd.DataFrame:
    """:func:`~ecglib.metrics.severity.severity_trend` on ``resamples``, the method stated;
    with ``min_events``, rho, its interval and its test withheld for a vessel with fewer
    events (severe or occluded ECGs, the binary label) or fewer event-free ECGs
    (:func:`ecglib.metrics.small_counts.withhold`)."""
    trend = severity_trend(predictions, resamples=resamples).assign(
        interval=interval_method(resamples)
    )
    positives = [int((predictions[schema.label_col(v)] == 1).sum()) for v in trend["vessel"]]
    trend = trend.assign(positives=positives, negatives=trend["n"] - np.asarray(positives))
    if min_events is None:
        return trend.assign(withheld="")
    out = withhold(trend, min_events, ("rho", "rho_lo", "rho_hi"))
    out["excludes_0"] = out["excludes_0"] & (out["withheld"] == "")
    return out


def rho_texts(trend, prefix: str, digits: int = 2) -> dict[str, str]:
    """``<prefix>rho_text_<vessel>``: rho with its interval as the text prints it, the
    small-count policy's reason when withheld, "n/a" without a trend."""
    rows = trend.set_index("vessel") if isinstance(trend, pd.DataFrame) else pd.DataFrame()
    out = {}
    for v in schema.VESSELS:
        if v not in rows.index:
            out[f"{prefix}rho_text_{v}"] = "n/a"
            continue
        r = rows.loc[v]
        out[f"{prefix}rho_text_{v}"] = withheld_reason(r) or format_estimate(
            r["rho"], r["rho_lo"], r["rho_hi"], digits
        )
    return out


def interval_method(resamples: PatientResamples, level: float = 0.95) -> str:
    """The trend interval's method as the tables state it."""
    return resamples.describe(level)


def trend_display(trend: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """A trend table for reading: per vessel the ECGs and patients, Spearman's rho with its
    interval, whether the interval excludes 0, and the interval's method."""
    out = pd.DataFrame(index=trend["vessel"].to_numpy())
    out["ECGs"] = trend["n"].astype(int).to_numpy()
    out["patients"] = trend["patients"].astype(int).to_numpy()
    withheld = trend["withheld"] if "withheld" in trend.columns else pd.Series("", trend.index)
    out["Spearman ρ [95% CI]"] = [
        w or format_estimate(r.rho, r.rho_lo, r.rho_hi, digits)
        for r, w in zip(trend.itertuples(), withheld)
    ]
    out["CI excludes 0"] = [
        w or (("yes" if r.excludes_0 else "no") if np.isfinite(r.rho_lo) else "n/a")
        for r, w in zip(trend.itertuples(), withheld)
    ]
    out["95% CI"] = trend["interval"].to_numpy()
    return out


def trend_sentence(trend: pd.DataFrame) -> str:
    """Which vessels' intervals exclude 0, and which do not (or have no rho), as a sentence."""
    defined = trend[np.isfinite(trend["rho_lo"])]
    up = defined[defined["excludes_0"] & (defined["rho"] > 0)]["vessel"]
    down = defined[defined["excludes_0"] & (defined["rho"] < 0)]["vessel"]
    flat = defined[~defined["excludes_0"]]["vessel"]
    held = (
        trend["withheld"].astype(bool)
        if "withheld" in trend.columns
        else pd.Series(False, index=trend.index)
    )
    none = trend[~np.isfinite(trend["rho_lo"]) & ~held]["vessel"]
    parts = []
    if len(up):
        parts.append(f"lies above 0 for {_join(up)}")
    if len(down):
        parts.append(f"lies below 0 for {_join(down)}")
    if len(flat):
        parts.append(f"includes 0 for {_join(flat)}")
    text = (
        "The patient-bootstrap interval " + "; it ".join(parts) + "."
        if parts
        else "No vessel has a patient-bootstrap interval."
    )
    if len(none):
        text += f" Rho has no interval for {_join(none)} (a single grade or probability)."
    for _, r in trend[held].iterrows():
        text += f" For {_join([r['vessel']])} rho is not reported: {r['withheld']}."
    return text


def _median_iqr(r, digits: int) -> str:
    """``"0.506 [0.051-0.965]"``: a median and its interquartile range, a description of the
    ECGs (not an interval estimate, so not :func:`~ecglib.report.present.format_estimate`);
    one ECG has a median and no range."""
    if int(r["n"]) == 1:
        return f"{r['median']:.{digits}f}"
    return f"{r['median']:.{digits}f} [{r['q1']:.{digits}f}-{r['q3']:.{digits}f}]"


def grade_display(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`ecglib.metrics.severity.grade_summary` for reading: per grade (rows) and vessel
    (columns) ``median [Q1-Q3] (n = <ECGs>)``, ``no ECGs`` for a grade nobody has."""
    text = summary.assign(
        _t=[
            f"{_median_iqr(r, digits)} (n = {int(r['n'])})" if r["n"] else "no ECGs"
            for _, r in summary.iterrows()
        ],
        grade=[f"{g} {name}" for g, name in zip(summary["grade"], summary["grade_name"])],
    )
    wide = text.pivot(index="grade", columns="vessel", values="_t")
    wide.columns.name = None
    return wide[[v for v in schema.VESSELS if v in wide.columns]]


def _join(vessels: Sequence[str]) -> str:
    names = [_NAMES.get(v, v) for v in vessels]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _unless(display, part):
    """``display(part)``, or None for a skipped part (the page announced it once)."""
    return None if isinstance(part, Skipped) else display(part)
