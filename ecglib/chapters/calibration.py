"""Chapter 06, calibration and high-risk thresholds.

:func:`analyse` computes the page for the internal pooled out-of-fold predictions and for the
external site (the mean of the fold models; a :class:`~ecglib.chapters.parts.Skipped` part
without one). Every interval is a patient-bootstrap percentile interval over the run's shared
patient resamples of that population (:meth:`ecglib.chapters.predictions.RunResults.resamples`,
:data:`INTERVAL`): the estimates count ECGs, the uncertainty counts patients.

* per vessel the Brier score, its reference for predicting the prevalence to everybody, and the
  calibration slope and intercept with their intervals
  (:func:`ecglib.metrics.calibration.calibration_table`); the internal Brier scores beside the
  paper's (:func:`ecglib.chapters.published.paper_layout`);
* the calibration figures' inputs: the predictions and the shared resamples that the intervals
  of their grouped points and LOWESS band come from
  (:func:`ecglib.plots.calibration.calibration_figure`);
* sensitivity, specificity, PPV and NPV at the run's fixed high-risk cut-offs
  (``evaluation.high_risk_thresholds``;
  :func:`ecglib.metrics.thresholds.operating_points_bootstrap`);
* what the per-vessel cut-offs mean against the guideline's outcome, obstructive CAD in any
  vessel (:func:`ecglib.metrics.thresholds.cutoffs_against_obstructive`), for the page's
  reasoning on the 15% borrowed from the ESC pre-test probability.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters import caveats
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.ptp import MAIN_OUTCOME, OUTCOMES
from ecglib.chapters.published import paper_layout
from ecglib.config import RunParams
from ecglib.metrics.calibration import calibration_table
from ecglib.metrics.ptp import TESTING_ABOVE_PERCENT
from ecglib.metrics.resamples import PatientResamples
from ecglib.metrics.small_counts import withheld_reason, withhold
from ecglib.metrics.thresholds import cutoffs_against_obstructive, operating_points_bootstrap
from ecglib.report.present import format_estimate, numbers_from

__all__ = [
    "Calibration",
    "analyse",
    "calibration_display",
    "operating_points_display",
    "cutoffs_display",
    "none_flagged_sentence",
    "interval_label",
    "INTERNAL_LABEL",
    "INTERVAL",
]

#: The row label of this run's Brier scores beside the paper's.
INTERNAL_LABEL = "internal, pooled out-of-fold"
#: Every interval of the page, as its tables name it (:func:`interval_label` adds the count).
INTERVAL = "patient bootstrap (unit: patient), percentile"
#: The guideline's testing threshold the 15% cut-offs are borrowed from (probability).
ESC_THRESHOLD = TESTING_ABOVE_PERCENT / 100


@dataclass(frozen=True)
class Calibration:
    """What chapter 06 shows (:func:`analyse`)."""

    #: The internal out-of-fold predictions (the internal calibration figure's input).
    internal: pd.DataFrame
    #: :func:`~ecglib.metrics.calibration.calibration_table` of the internal predictions, with
    #: patient-bootstrap intervals, the ``patients`` and the ``interval``.
    table: pd.DataFrame
    #: Operating points at the high-risk cut-offs, internal
    #: (:func:`~ecglib.metrics.thresholds.operating_points_bootstrap`, same two columns added).
    points: pd.DataFrame
    #: The same three for the external site, or why they are skipped.
    external: pd.DataFrame | Skipped
    external_table: pd.DataFrame | Skipped
    external_points: pd.DataFrame | Skipped
    #: The cut-offs against obstructive CAD in any vessel, internal
    #: (:func:`~ecglib.metrics.thresholds.cutoffs_against_obstructive`), or why skipped.
    cutoffs: pd.DataFrame | Skipped
    #: Options of :func:`ecglib.plots.calibration.calibration_figure` for the LOWESS band of
    #: each figure: the population's shared resamples and the patient column.
    band: Mapping[str, Any]
    external_band: Mapping[str, Any] | Skipped
    #: The small-count threshold (``report.min_events``): a vessel with fewer positive (or
    #: negative) ECGs has no calibration slope, intercept, sensitivity or specificity (they
    #: are withheld, :func:`withhold_estimates`) and no LOWESS curve in the figures.
    min_events: int = 5
    #: The fold models whose mean predicts each external ECG (internal ECGs: one model each).
    n_models: int = 1

    @property
    def n_boot(self) -> int:
        return self.band["resamples"].n_boot

    def calibration(self) -> pd.DataFrame:
        """The internal calibration table for reading (:func:`calibration_display`)."""
        return calibration_display(self.table)

    def external_calibration(self) -> pd.DataFrame | None:
        """The external calibration table for reading; None when skipped."""
        if isinstance(self.external_table, Skipped):
            return None
        return calibration_display(self.external_table)

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

    def cutoff_meaning(self) -> pd.DataFrame | None:
        """The cut-offs against obstructive CAD for reading (:func:`cutoffs_display`)."""
        if isinstance(self.cutoffs, Skipped):
            return None
        return cutoffs_display(self.cutoffs)

    def numbers(self) -> dict[str, float | str]:
        out: dict[str, float | str] = {
            **numbers_from(self.table, ["brier", "brier_null", "slope"], prefix="int_"),
            **numbers_from(self.external_table, ["brier", "slope"], prefix="ext_"),
            "n_boot": self.n_boot,
            **numbers_from(self.points, ["sensitivity", "specificity", "npv"], prefix="op_"),
            **numbers_from(self.cutoffs, ["prevalence", "threshold"], prefix="cut_"),
            "esc_threshold": ESC_THRESHOLD,
            "none_flagged_sentence": none_flagged_sentence(self.cutoffs),
            "min_events": self.min_events,
            "withheld_sentence": self.withheld_sentence(),
            "ensemble_sentence": self.ensemble_sentence(),
        }
        # Estimates with their intervals as the text prints them ("n/a" when undefined).
        for prefix, table, names in (
            ("int_", self.table, (("brier", 3), ("slope", 2), ("intercept", 2))),
            ("ext_", self.external_table, (("brier", 3), ("slope", 2), ("intercept", 2))),
            ("op_", self.points, (("sensitivity", 2), ("specificity", 2), ("npv", 2))),
        ):
            for name, digits in names:
                out.update(_estimate_texts(table, name, digits, prefix, missing=_MISSING[name]))
        for v in schema.VESSELS:
            have = isinstance(self.cutoffs, pd.DataFrame) and v in self.cutoffs.index
            t = self.cutoffs.at[v, "threshold"] if have else math.nan
            # A calibrated model accepts (1 - t) / t ECGs without the lesion per ECG with it at
            # the cut-off itself: the exchange rate the cut-off implies.
            out[f"cut_odds_{v}"] = (1 - t) / t if t > 0 else math.nan
            out.update(_estimate_texts(self.cutoffs, "obstructive", 2, "cut_", rows=[v]))
        have = isinstance(self.cutoffs, pd.DataFrame)
        out["obstructive_all"] = float(self.cutoffs.at["all", "obstructive"]) if have else math.nan
        return out

    def ensemble_sentence(self) -> str:
        """The external calibration is that of a mean of fold models, the internal that of
        single models: said when both are shown (:func:`ecglib.chapters.caveats.ensemble_sentence`)."""
        text = caveats.ensemble_sentence(
            self.n_models,
            not isinstance(self.external_table, Skipped),
            what="calibration estimates",
            effect="pulls the predicted probabilities towards their middle, which changes "
            "the calibration slope, intercept and Brier score on its own",
        )
        return (
            text or "The external estimates come from the same kind of model as the internal ones."
        )

    def withheld_sentence(self) -> str:
        """Which vessels have no calibration curve, slope or intercept under the small-count
        policy, internal and external (:func:`ecglib.chapters.caveats.withheld_sentence`)."""
        parts = []
        for where, table in (("internal", self.table), ("external", self.external_table)):
            if isinstance(table, pd.DataFrame):
                rows = table.rename_axis("vessel").reset_index().assign(set=where)
                parts.append(rows)
        both = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return caveats.join_sentences(
            [
                caveats.withheld_sentence(
                    both,
                    lambda r: f"the {r['vessel']}, {r['set']}",
                    self.min_events,
                    what="calibration curve",
                )
            ],
            empty="Every vessel has enough events for its calibration curve, slope and intercept.",
        )

    def outputs(self) -> dict[str, object]:
        return {
            "calibration_internal": self.table,
            "calibration_external": self.external_table,
            "calibration_paper_layout": self.paper_layout(),
            "high_risk_internal": self.points,
            "high_risk_external": self.external_points,
            "high_risk_cutoffs_obstructive": self.cutoffs,
        }

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.external_table, self.cutoffs])


def analyse(run: RunParams, results: RunResults | None = None) -> Calibration:
    """Chapter 06 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    thresholds = run.evaluation.high_risk_thresholds
    internal = results.resamples("oof")
    external = attempt("External validation", results.require_external)
    external_resamples = attempt("External validation", results.resamples, "external")
    m = run.report.min_events
    return Calibration(
        internal=results.oof,
        table=_calibration(results.oof, internal, m),
        points=_points(results.oof, internal, thresholds, m),
        external=external,
        external_table=attempt(
            "The external calibration", _calibration, external, external_resamples, m
        ),
        external_points=attempt(
            "The external operating points",
            _points,
            external,
            external_resamples,
            thresholds,
            m,
        ),
        cutoffs=attempt(
            "The cut-offs against obstructive CAD",
            cutoffs_against_obstructive,
            results.oof,
            thresholds,
            internal.weights(results.oof["patient"]),
            min_grade=OUTCOMES[MAIN_OUTCOME],  # the PTP chapter's obstructive CAD
        ),
        band={"resamples": internal, "group_col": "patient", "min_events": m},
        external_band=attempt(
            "External validation",
            lambda r: {"resamples": r, "group_col": "patient", "min_events": m},
            external_resamples,
        ),
        min_events=m,
        n_models=results.n_fold_models,
    )


def interval_label(n_boot: int, level: float = 0.95) -> str:
    """``"95% CI: patient bootstrap (unit: patient), percentile, 1,000 resamples"``."""
    return f"{100 * level:g}% CI: {INTERVAL}, {n_boot:,} resamples"


def _with_unit(table: pd.DataFrame, data: pd.DataFrame, resamples: PatientResamples):
    return table.assign(
        patients=data["patient"].nunique(), interval=interval_label(resamples.n_boot)
    )


def _calibration(
    data: pd.DataFrame, resamples: PatientResamples, min_events: int = 1
) -> pd.DataFrame:
    weights = resamples.weights(data["patient"])
    table = _with_unit(calibration_table(data, weights=weights), data, resamples)
    return withhold_estimates(table, min_events, ("slope", "intercept"), positives="events")


def _points(data, resamples: PatientResamples, thresholds, min_events: int = 1) -> pd.DataFrame:
    weights = resamples.weights(data["patient"])
    table = _with_unit(operating_points_bootstrap(data, thresholds, weights), data, resamples)
    return withhold_estimates(
        table, min_events, ("sensitivity", "specificity", "ppv", "npv"), positives="n_pos"
    )


def withhold_estimates(
    table: pd.DataFrame, min_events: int, names: Sequence[str], *, positives: str
) -> pd.DataFrame:
    """``table`` (one row per vessel, ``n`` rows and ``positives`` events) with the estimates
    ``names`` and their ``_lo``/``_hi`` bounds withheld where the positives or the negatives
    are fewer than ``min_events`` (:func:`ecglib.metrics.small_counts.withhold`; the reason in
    its ``withheld`` column)."""
    columns = [f"{n}{end}" for n in names for end in ("", "_lo", "_hi")]
    return withhold(table, min_events, columns, positives=positives, total="n")


#: Why an estimate the text prints does not exist, where the reason is not the small-count
#: policy's (an NPV needs at least one ECG below the cut-off).
_MISSING: dict[str, str] = defaultdict(
    lambda: "n/a", npv="n/a (no ECG below the cut-off)", ppv="n/a (no ECG at or above it)"
)


def _estimate_texts(
    table, name, digits, prefix, rows=schema.VESSELS, *, missing: str = "n/a"
) -> dict[str, str]:
    """``<prefix><name>_ci_<vessel>``: the estimate with its interval as text (the
    small-count policy's reason when it is withheld, ``missing`` when it does not exist)."""
    out = {}
    for v in rows:
        if isinstance(table, pd.DataFrame) and v in table.index:
            r = table.loc[v]
            withheld = withheld_reason(r) if pd.isna(r[name]) else ""
            out[f"{prefix}{name}_ci_{v}"] = withheld or (
                format_estimate(r[name], r[f"{name}_lo"], r[f"{name}_hi"], digits)
                if pd.notna(r[name])
                else missing
            )
        else:
            out[f"{prefix}{name}_ci_{v}"] = "n/a"
    return out


def calibration_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`ecglib.metrics.calibration.calibration_table` (with intervals) for reading:
    counts, then the Brier score, slope and intercept as ``estimate [interval]``, the other
    summaries rounded, and the interval's method."""
    out = pd.DataFrame(index=table.index)
    out["ECGs"] = table["n"].astype(int)
    out["patients"] = table["patients"].astype(int)
    out["events (ECGs)"] = table["events"].astype(int)
    out["Brier"] = _estimates(table, "brier", 3)
    out["Brier, prevalence only"] = table["brier_null"].astype(float).round(3)
    out["scaled Brier"] = table["scaled_brier"].astype(float).round(3)
    out["mean predicted"] = table["mean_predicted"].astype(float).round(3)
    out["observed"] = table["observed_rate"].astype(float).round(3)
    out["O/E"] = table["oe_ratio"].astype(float).round(2)
    out["slope"] = _estimates(table, "slope", 2)
    out["intercept"] = _estimates(table, "intercept", 2)
    out["interval"] = table["interval"]
    return out


def operating_points_display(points: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """:func:`ecglib.metrics.thresholds.operating_points_bootstrap` for reading: threshold,
    high-risk ECGs and share, positive ECGs, patients, and sensitivity, specificity, PPV, NPV
    as ``estimate [interval]``, and the interval's method."""
    out = pd.DataFrame(index=points.index)
    out["threshold"] = [f"≥ {100 * t:g}%" for t in points["threshold"]]
    out["high-risk ECGs, n (%)"] = [
        f"{int(r.tp + r.fp)} ({100 * r.high_risk_share:.1f}%)" for r in points.itertuples()
    ]
    out["positive ECGs"] = points["n_pos"].astype(int)
    out["patients"] = points["patients"].astype(int)
    for name, label in (
        ("sensitivity", "sensitivity"),
        ("specificity", "specificity"),
        ("ppv", "PPV"),
        ("npv", "NPV"),
    ):
        out[label] = _estimates(points, name, digits)
    out["interval"] = points["interval"]
    return out


def cutoffs_display(cutoffs: pd.DataFrame) -> pd.DataFrame:
    """:func:`ecglib.metrics.thresholds.cutoffs_against_obstructive` for reading, one row per
    set of ECGs: flagged for a vessel, flagged for none, all."""
    names = {"none": "below every vessel's cut-off", "all": "all ECGs"}
    out = pd.DataFrame(index=[names.get(v, f"{v} ≥ its cut-off") for v in cutoffs.index])
    out.index.name = "ECGs"
    out["cut-off"] = [f"{100 * t:g}%" if np.isfinite(t) else "" for t in cutoffs["threshold"]]
    out["vessel's prevalence"] = [
        f"{x:.3f}" if np.isfinite(x) else "" for x in cutoffs["prevalence"]
    ]
    out["ECGs, n (%)"] = [
        f"{int(r.flagged)} ({100 * r.flagged_share:.1f}%)" for r in cutoffs.itertuples()
    ]
    out["PPV, vessel's own lesion"] = [f"{x:.2f}" if np.isfinite(x) else "" for x in cutoffs["ppv"]]
    out["obstructive CAD, any vessel [95% CI]"] = _estimates(cutoffs, "obstructive", 2)
    return out


def none_flagged_sentence(cutoffs: pd.DataFrame | Skipped) -> str:
    """The page's sentence on the ECGs below every vessel's cut-off: how many, and how often
    they show obstructive CAD in some vessel, against the guideline's 15%."""
    if isinstance(cutoffs, Skipped):
        return f"The check is skipped: {cutoffs.reason}."
    row = cutoffs.loc["none"]
    n, total = int(row["flagged"]), int(cutoffs.at["all", "flagged"])
    if n == 0:
        return (
            f"On this run no ECG is below every vessel's cut-off (all {total:,} are high risk "
            "for some vessel), so the data cannot show the rule-out side here."
        )
    rate = format_estimate(row["obstructive"], row["obstructive_lo"], row["obstructive_hi"], 2)
    side = (
        "above"
        if row["obstructive_lo"] > ESC_THRESHOLD
        else ("below" if row["obstructive_hi"] < ESC_THRESHOLD else "not distinguishable from")
    )
    return (
        f"Of the {n:,} ECGs ({100 * n / total:.1f}%) below every vessel's cut-off, a share of "
        f"{rate} shows obstructive CAD in some vessel: {side} the guideline's "
        f"{100 * ESC_THRESHOLD:g}% (by its 95% interval)."
    )


def _estimates(table: pd.DataFrame, name: str, digits: int) -> list[str]:
    return [
        (withheld_reason(r) if pd.isna(r[name]) else "")
        or format_estimate(r[name], r[f"{name}_lo"], r[f"{name}_hi"], digits)
        for _, r in table.iterrows()
    ]
