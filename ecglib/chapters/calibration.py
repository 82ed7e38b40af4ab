"""Chapter 06, calibration and high-risk thresholds.

:func:`analyse` computes the page for the internal pooled out-of-fold predictions and for the
external site (the mean of the fold models; a :class:`~ecglib.chapters.parts.Skipped` part
without one):

* per vessel the Brier score, its reference for predicting the prevalence to everybody, and the
  calibration slope and intercept (:func:`ecglib.metrics.calibration.calibration_table`); the
  internal Brier scores beside the paper's (:func:`ecglib.chapters.published.paper_layout`);
* the calibration figures' inputs: the predictions and the options of their LOWESS bootstrap
  band, which resamples whole patients (the ``patient`` key) ``evaluation.n_bootstrap`` times
  from the run's seed;
* sensitivity, specificity, PPV and NPV with Wilson intervals at the run's fixed high-risk
  cut-offs (``evaluation.high_risk_thresholds``;
  :func:`ecglib.metrics.thresholds.operating_points`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.published import paper_layout
from ecglib.config import RunParams
from ecglib.metrics.calibration import calibration_table
from ecglib.metrics.thresholds import operating_points
from ecglib.report.present import format_estimate, numbers_from

__all__ = ["Calibration", "analyse", "operating_points_display", "INTERNAL_LABEL"]

#: The row label of this run's Brier scores beside the paper's.
INTERNAL_LABEL = "internal, pooled out-of-fold"


@dataclass(frozen=True)
class Calibration:
    """What chapter 06 shows (:func:`analyse`)."""

    #: The internal out-of-fold predictions (the internal calibration figure's input).
    internal: pd.DataFrame
    #: :func:`~ecglib.metrics.calibration.calibration_table` of the internal predictions.
    table: pd.DataFrame
    #: Operating points at the high-risk cut-offs, internal
    #: (:func:`~ecglib.metrics.thresholds.operating_points`).
    points: pd.DataFrame
    #: The same three for the external site, or why they are skipped.
    external: pd.DataFrame | Skipped
    external_table: pd.DataFrame | Skipped
    external_points: pd.DataFrame | Skipped
    #: Options of :func:`ecglib.plots.calibration.calibration_figure` for the bootstrap band:
    #: ``n_boot``, ``seed`` and ``group_col`` (whole patients are resampled).
    band: Mapping[str, Any]

    def calibration(self) -> pd.DataFrame:
        """The internal calibration table, rounded for reading."""
        return self.table.round(3)

    def external_calibration(self) -> pd.DataFrame | None:
        """The external calibration table, rounded for reading; None when skipped."""
        if isinstance(self.external_table, Skipped):
            return None
        return self.external_table.round(3)

    def paper_layout(self) -> pd.DataFrame:
        """The internal Brier scores beside the published ones."""
        return paper_layout({INTERNAL_LABEL: self.table}, "brier", ci=None)

    def high_risk(self) -> pd.DataFrame:
        """The internal operating points for reading (:func:`operating_points_display`)."""
        return operating_points_display(self.points)

    def external_high_risk(self) -> pd.DataFrame | None:
        """The external operating points for reading; None when skipped."""
        if isinstance(self.external_points, Skipped):
            return None
        return operating_points_display(self.external_points)

    def numbers(self) -> dict[str, float]:
        return {
            **numbers_from(self.table, ["brier", "brier_null", "slope"], prefix="int_"),
            **numbers_from(self.external_table, ["brier", "slope"], prefix="ext_"),
            "n_boot": self.band["n_boot"],
            **numbers_from(self.points, ["sensitivity", "specificity", "npv"], prefix="op_"),
        }

    def outputs(self) -> dict[str, object]:
        return {
            "calibration_internal": self.table,
            "calibration_external": self.external_table,
            "calibration_paper_layout": self.paper_layout(),
            "high_risk_internal": self.points,
            "high_risk_external": self.external_points,
        }

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.external_table])


def analyse(run: RunParams, results: RunResults | None = None) -> Calibration:
    """Chapter 06 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    thresholds = run.evaluation.high_risk_thresholds
    external = attempt("External validation", results.require_external)
    return Calibration(
        internal=results.oof,
        table=calibration_table(results.oof),
        points=operating_points(results.oof, thresholds),
        external=external,
        external_table=attempt("The external calibration", calibration_table, external),
        external_points=attempt(
            "The external operating points", operating_points, external, thresholds
        ),
        band={"n_boot": run.evaluation.n_bootstrap, "seed": run.seed, "group_col": "patient"},
    )


def operating_points_display(points: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """:func:`ecglib.metrics.thresholds.operating_points` for reading: threshold, high-risk
    share, and sensitivity, specificity, PPV, NPV as ``estimate [Wilson CI]``."""
    out = pd.DataFrame(index=points.index)
    out["threshold"] = [f"≥ {100 * t:g}%" for t in points["threshold"]]
    out["high risk, n (%)"] = [
        f"{int(r.tp + r.fp)} ({100 * r.high_risk_share:.1f}%)" for r in points.itertuples()
    ]
    out["positives"] = points["n_pos"].astype(int)
    for name, label in (
        ("sensitivity", "sensitivity"),
        ("specificity", "specificity"),
        ("ppv", "PPV"),
        ("npv", "NPV"),
    ):
        out[label] = [
            format_estimate(r[name], r[f"{name}_lo"], r[f"{name}_hi"], digits)
            for _, r in points.iterrows()
        ]
    return out
