"""Chapter 05, severity trend: does the predicted probability rise with the CCTA grade?

:func:`analyse` computes the page for the internal pooled out-of-fold predictions and for the
external site (the mean of the fold models; a :class:`~ecglib.chapters.parts.Skipped` part
without one): per vessel Spearman's rank correlation between predicted probability and the
ordinal grade 0-4 with its p-value (:func:`ecglib.metrics.severity.severity_trend`), and the
median [IQR] probability per grade (:func:`ecglib.metrics.severity.grade_summary`), the numbers
behind the box plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.metrics.severity import grade_summary, severity_trend
from ecglib.report.present import format_estimate, numbers_from

__all__ = ["Severity", "analyse", "grade_display", "TREND_NUMBERS"]

#: Columns of the trend tables glued as ``int_<column>_<vessel>`` and ``ext_<column>_<vessel>``.
TREND_NUMBERS: tuple[str, ...] = ("rho", "p_value")


@dataclass(frozen=True)
class Severity:
    """What chapter 05 shows (:func:`analyse`)."""

    #: The internal out-of-fold predictions (the internal box plots' input).
    internal: pd.DataFrame
    #: Spearman's rho per vessel, internal (:func:`~ecglib.metrics.severity.severity_trend`).
    trend: pd.DataFrame
    #: Median [IQR] per vessel and grade, internal
    #: (:func:`~ecglib.metrics.severity.grade_summary`).
    grades: pd.DataFrame
    #: The same three for the external site, or why they are skipped.
    external: pd.DataFrame | Skipped
    external_trend: pd.DataFrame | Skipped
    external_grades: pd.DataFrame | Skipped

    def grade_table(self) -> pd.DataFrame:
        """The internal grade summary for reading (:func:`grade_display`)."""
        return grade_display(self.grades)

    def external_grade_table(self) -> pd.DataFrame | None:
        """The external grade summary for reading; None when skipped."""
        if isinstance(self.external_grades, Skipped):
            return None
        return grade_display(self.external_grades)

    def numbers(self) -> dict[str, float]:
        return {
            **numbers_from(self.trend, TREND_NUMBERS, prefix="int_"),
            **numbers_from(self.external_trend, TREND_NUMBERS, prefix="ext_"),
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
    return Severity(
        internal=results.oof,
        trend=severity_trend(results.oof),
        grades=grade_summary(results.oof),
        external=external,
        external_trend=attempt("The external severity trend", severity_trend, external),
        external_grades=attempt("The external grade summary", grade_summary, external),
    )


def grade_display(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`ecglib.metrics.severity.grade_summary` for reading: per grade (rows) and vessel
    (columns) ``median [Q1-Q3] (n = ...)``, ``none`` for a grade nobody has."""
    text = summary.assign(
        _t=[
            f"{format_estimate(r['median'], r['q1'], r['q3'], digits)} (n = {int(r['n'])})"
            if r["n"]
            else "none"
            for _, r in summary.iterrows()
        ],
        grade=[f"{g} {name}" for g, name in zip(summary["grade"], summary["grade_name"])],
    )
    wide = text.pivot(index="grade", columns="vessel", values="_t")
    wide.columns.name = None
    return wide[[v for v in schema.VESSELS if v in wide.columns]]
