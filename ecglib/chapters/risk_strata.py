"""Chapter 07, risk strata and decision curves; and the held-out strata chapters 08 and 09 use.

Each vessel's predictions fall into a low, an intermediate and a high stratum at two cut-offs
chosen for the run's sensitivity and specificity targets (:mod:`ecglib.metrics.strata`). No
ECG's own label enters the cut-offs that stratify it: every internal fold is stratified with
cut-offs chosen on the other folds' out-of-fold predictions (cross-fitting), and the external
cohort with cut-offs chosen on all internal out-of-fold predictions. :func:`vessel_strata`
computes these once per chapter (:class:`VesselStrata`); chapters 08 and 09 take the
patient-level AI stratum of an index ECG (:func:`index_ecgs`, :func:`ai_patient_stratum`)
from them.

:func:`analyse` computes chapter 07's page: per vessel and stratum the ECGs and their event rate
(internal held-out and external), what the held-out strata achieve against the targets, the
same targets chosen and reported on the same predictions (the authors' procedure) beside them,
and the decision curves (net benefit, Vickers & Elkin 2006) with the net benefit at the run's
high-risk cut-offs. How its tables and sentences read is
:mod:`ecglib.chapters.risk_strata_display`.

The unit of the counts and rates is the ECG; every interval is the percentile interval of the
run's shared patient bootstrap of the population (:meth:`~ecglib.chapters.predictions.
RunResults.resamples`; :func:`interval_method` names it in the tables' ``interval`` column).
The cut-offs, and so each ECG's stratum, stay fixed within the bootstrap: the intervals are
conditional on the cross-fitted cut-offs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters import caveats
from ecglib.chapters.parts import Skipped, attempt, skipped_of, skipped_parts, unless_skipped
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.risk_strata_display import (
    advantage_sentence,
    cutoff_display,
    net_benefit_display,
    not_checked_sentence,
    performance_display,
    strata_display,
)
from ecglib.config import RunParams
from ecglib.metrics import ptp
from ecglib.metrics.decision import NET_BENEFITS, decision_curves, net_benefit_at
from ecglib.metrics.resamples import PatientResamples
from ecglib.metrics.small_counts import WITHHELD, withheld_list, withhold, withhold_groups
from ecglib.metrics.strata import (
    PERFORMANCE,
    StrataThresholds,
    assign_strata,
    assign_vessel_strata,
    crossfit_vessel_strata,
    fit_vessel_strata_where_possible,
    strata_performance,
    vessel_strata_summary,
)
from ecglib.report.present import numbers_from

__all__ = [
    "RiskStrata",
    "VesselStrata",
    "analyse",
    "vessel_strata",
    "strata_targets",
    "thresholds_table",
    "insample_vs_heldout",
    "strata_share_numbers",
    "withhold_performance",
    "withhold_strata",
    "withhold_curves",
    "withheld_vessels",
    "label_counts",
    "interval_method",
    "index_ecgs",
    "ai_patient_stratum",
]


@dataclass(frozen=True)
class VesselStrata:
    """The run's held-out per-vessel strata (:func:`vessel_strata`), shared by chapters 07-09."""

    #: Per vessel ``{"sensitivity": ..., "specificity": ...}`` (:func:`strata_targets`).
    targets: Mapping[str, Mapping[str, float]]
    #: Per internal ECG (the out-of-fold predictions' index), one stratum column per vessel
    #: whose cut-offs could be cross-fitted.
    internal: pd.DataFrame
    #: The cross-fitted cut-offs, one row per vessel and fold.
    crossfit_cutoffs: pd.DataFrame
    #: Vessels without cross-fitted cut-offs, and why.
    not_fitted: Mapping[str, str]
    #: Cut-offs chosen on all internal out-of-fold predictions (they stratify the external ECGs).
    fitted: Mapping[str, StrataThresholds]
    #: The external predictions and their strata; Skipped without an external site.
    external_predictions: pd.DataFrame | Skipped
    external: pd.DataFrame | Skipped

    def not_fitted_parts(self, note: str = "") -> list[Skipped]:
        """A :class:`Skipped` per vessel without strata (``note`` is appended to the part's
        name, e.g. what leaving the vessel out means for a chapter)."""
        return skipped_parts(self.not_fitted, "Stratifying the {} predictions" + note)


def vessel_strata(run: RunParams, results: RunResults) -> VesselStrata:
    """The held-out strata of ``run`` (module docstring): internal cross-fitted, external on the
    cut-offs chosen on all internal out-of-fold predictions."""
    targets = strata_targets(run)
    internal, cutoffs, not_fitted = crossfit_vessel_strata(results.oof, targets)
    fitted, _ = fit_vessel_strata_where_possible(results.oof, targets)
    external = attempt("External validation", results.require_external)
    return VesselStrata(
        targets=targets,
        internal=internal,
        crossfit_cutoffs=cutoffs,
        not_fitted=not_fitted,
        fitted=fitted,
        external_predictions=external,
        external=unless_skipped(assign_vessel_strata, external, fitted),
    )


@dataclass(frozen=True)
class RiskStrata:
    """What chapter 07 shows (:func:`analyse`)."""

    strata: VesselStrata
    #: Per vessel and stratum: ECGs, patients, share, events, event rate with its
    #: patient-bootstrap interval (internal held-out; external).
    summary: pd.DataFrame
    external_summary: pd.DataFrame | Skipped
    #: Sensitivity, specificity, NPV of low and PPV of high with their patient-bootstrap
    #: intervals, against the targets.
    performance: pd.DataFrame
    external_performance: pd.DataFrame | Skipped
    #: In-sample against held-out sensitivity and specificity (:func:`insample_vs_heldout`).
    in_sample: pd.DataFrame
    #: The cut-offs chosen on all internal out-of-fold predictions (:func:`thresholds_table`).
    internal_cutoffs: pd.DataFrame
    #: Decision curves with the model's patient-bootstrap band
    #: (:func:`ecglib.metrics.decision.decision_curves`), internal and external.
    curves: pd.DataFrame
    external_curves: pd.DataFrame | Skipped
    #: Net benefit at the run's high-risk cut-offs (internal out-of-fold) with intervals.
    net_benefit: pd.DataFrame
    #: The intervals' method (:func:`interval_method`) and resamples.
    interval: str
    n_bootstrap: int

    def summary_table(self) -> pd.DataFrame:
        """The internal held-out strata for reading (:func:`strata_display`)."""
        return strata_display(self.summary)

    def performance_table(self) -> pd.DataFrame:
        """The internal held-out performance beside the targets (:func:`performance_display`)."""
        return performance_display(self.performance)

    def in_sample_table(self) -> pd.DataFrame:
        return self.in_sample.set_index("vessel").round(3)

    def crossfit_cutoff_table(self) -> pd.DataFrame:
        """The cut-offs each held-out fold was stratified with, for reading."""
        return cutoff_display(self.strata.crossfit_cutoffs)

    def internal_cutoff_table(self) -> pd.DataFrame:
        """The cut-offs from all internal predictions (applied externally), for reading."""
        return cutoff_display(self.internal_cutoffs)

    def external_summary_table(self) -> pd.DataFrame | None:
        """The external strata for reading; None without an external site."""
        return _unless(strata_display, self.external_summary)

    def external_performance_table(self) -> pd.DataFrame | None:
        return _unless(performance_display, self.external_performance)

    def net_benefit_table(self) -> pd.DataFrame:
        """The net benefit at the high-risk cut-offs for reading (:func:`net_benefit_display`)."""
        return net_benefit_display(self.net_benefit)

    def numbers(self) -> dict[str, float | str]:
        bounds = [f"{m}{end}" for m in ("sensitivity", "specificity", "npv_low") for end in _ENDS]
        return (
            numbers_from(self.performance, bounds, prefix="ho_")
            | numbers_from(self.performance, ["sensitivity_target", "specificity_target"])
            | strata_share_numbers(self.summary, "low", prefix="low_share_")
            | numbers_from(
                self.net_benefit, [f"{m}{end}" for m in NET_BENEFITS for end in _ENDS], prefix="nb_"
            )
            | {
                "interval_method": self.interval,
                "n_boot": self.n_bootstrap,
                "advantage_sentence": advantage_sentence(self.net_benefit),
                **self.caveats(),
            }
        )

    def caveats(self) -> dict[str, str]:
        """What does not fit, computed (:mod:`ecglib.chapters.caveats`): strata whose event
        rates are out of order (internal, external) and decision curves below treating all or
        none (internal, external); one glue-ready sentence each."""
        strata = {
            "internal": (self.summary, "held-out"),
            "external": (self.external_summary, "external"),
        }
        curves = {
            "internal": (self.curves, "internal, out-of-fold"),
            "external": (self.external_curves, "external"),
        }
        out = {}
        for key, (summary, where) in strata.items():
            withheld = withheld_vessels(summary)
            out[f"strata_caveats_{key}"] = (
                "The external strata are skipped, so nothing is checked."
                if isinstance(summary, Skipped)
                else caveats.join_sentences(
                    [
                        caveats.non_monotone_strata_sentence(summary, where),
                        not_checked_sentence(withheld, f"{where} event rates"),
                    ],
                    empty=f"The {where} event rates rise from the low to the high stratum "
                    "for every vessel.",
                )
            )
        sentences = []
        for c, where in curves.values():
            if not isinstance(c, Skipped):
                sentences.append(caveats.decision_curve_sentence(c, where))
                sentences.append(
                    not_checked_sentence(withheld_vessels(c), f"{where} decision curves")
                )
        out["decision_caveats"] = caveats.join_sentences(
            sentences, empty="No decision curve falls below treating all or treating none."
        )
        return out

    def outputs(self) -> dict[str, object]:
        return {
            "strata_cutoffs_crossfit": self.strata.crossfit_cutoffs,
            "strata_internal": self.summary,
            "strata_performance_internal": self.performance,
            "strata_insample_vs_heldout": self.in_sample,
            "strata_cutoffs_internal": self.internal_cutoffs,
            "strata_external": self.external_summary,
            "strata_performance_external": self.external_performance,
            "decision_curves_internal": self.curves,
            "net_benefit_internal": self.net_benefit,
            "decision_curves_external": self.external_curves,
        }

    def skipped(self) -> list[Skipped]:
        return [*self.strata.not_fitted_parts(), *skipped_of([self.strata.external])]


def analyse(run: RunParams, results: RunResults | None = None) -> RiskStrata:
    """Chapter 07 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    strata = vessel_strata(run, results)
    external = strata.external_predictions
    # the run's shared patient resamples; the strata (cut-offs) stay fixed within them
    boot = results.resamples("oof")
    external_boot = attempt("External validation", results.resamples, "external")
    method = interval_method(boot)
    external_performance = unless_skipped(
        strata_performance, external, strata.external, strata.targets, resamples=external_boot
    )
    m = run.report.min_events
    return RiskStrata(
        strata=strata,
        summary=withhold_strata(
            _stated(vessel_strata_summary(results.oof, strata.internal, boot), method), m
        ),
        external_summary=unless_skipped(
            withhold_strata,
            unless_skipped(
                _stated,
                unless_skipped(vessel_strata_summary, external, strata.external, external_boot),
                method,
            ),
            m,
        ),
        performance=withhold_performance(
            _stated(
                strata_performance(results.oof, strata.internal, strata.targets, resamples=boot),
                method,
            ),
            m,
        ),
        external_performance=unless_skipped(
            withhold_performance, unless_skipped(_stated, external_performance, method), m
        ),
        in_sample=insample_vs_heldout(results.oof, strata.internal, strata.targets),
        internal_cutoffs=thresholds_table(strata.fitted),
        curves=withhold_curves(decision_curves(results.oof, resamples=boot), results.oof, m),
        external_curves=unless_skipped(
            withhold_curves,
            unless_skipped(decision_curves, external, resamples=external_boot),
            external,
            m,
        ),
        net_benefit=_stated(
            net_benefit_at(results.oof, run.evaluation.high_risk_thresholds, resamples=boot),
            method,
        ),
        interval=method,
        n_bootstrap=boot.n_boot,
    )


#: Suffixes of an estimate's interval columns.
_ENDS: tuple[str, ...] = ("", "_lo", "_hi")


def withhold_performance(perf: pd.DataFrame, min_events: int) -> pd.DataFrame:
    """The small-count policy on a :func:`~ecglib.metrics.strata.strata_performance` table:
    a vessel with fewer positive (or negative) ECGs than ``min_events`` has no sensitivity,
    specificity, NPV or PPV, nor their intervals (:func:`ecglib.metrics.small_counts.withhold`,
    the reason in its ``withheld`` column)."""
    columns = [f"{name}{end}" for name in PERFORMANCE for end in _ENDS]
    return withhold(perf, min_events, columns, total="n")


#: The estimates of a :func:`~ecglib.metrics.strata.vessel_strata_summary` row that a vessel
#: with too few events loses (its counts stay: they say why).
STRATA_ESTIMATES: tuple[str, ...] = (
    "event_rate",
    "event_rate_lo",
    "event_rate_hi",
    "share_of_events",
)
#: The model's curve of a :func:`~ecglib.metrics.decision.decision_curves` table (treating all
#: and none need no events to be drawn).
CURVE_ESTIMATES: tuple[str, ...] = ("model", "model_lo", "model_hi")


def withhold_strata(summary: pd.DataFrame, min_events: int) -> pd.DataFrame:
    """The small-count policy on a strata summary: a vessel with fewer events (or non-events)
    over all its strata than ``min_events`` has no event rates, intervals or shares of events
    in any stratum (:func:`ecglib.metrics.small_counts.withhold_groups`). The vessel's count
    decides, not the stratum's: a low stratum with 0 of 300 events is the rule-out working,
    not an estimate on too few events."""
    if summary.empty:
        return summary
    totals = summary.groupby("vessel", sort=False)[["events", "n"]].sum()
    counts = pd.DataFrame(
        {
            "vessel": totals.index,
            "positives": totals["events"].to_numpy(),
            "negatives": (totals["n"] - totals["events"]).to_numpy(),
        }
    )
    return withhold_groups(summary, counts, min_events, STRATA_ESTIMATES)


def label_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per vessel ``table`` assesses: its ``positives`` and ``negatives`` (labels 1 and 0)."""
    rows = []
    for vessel in schema.assessed_vessels(table):
        y = pd.to_numeric(table[schema.label_col(vessel)], errors="coerce")
        rows.append(
            {"vessel": vessel, "positives": int((y == 1).sum()), "negatives": int((y == 0).sum())}
        )
    return pd.DataFrame(rows, columns=["vessel", "positives", "negatives"])


def withhold_curves(curves: pd.DataFrame, table: pd.DataFrame, min_events: int) -> pd.DataFrame:
    """The small-count policy on decision curves: a vessel of ``table`` (the predictions the
    curves were computed on) with too few events has no model curve or band; its treat-all and
    treat-none lines stay (:func:`ecglib.metrics.small_counts.withhold_groups`)."""
    return withhold_groups(curves, label_counts(table), min_events, CURVE_ESTIMATES)


def withheld_vessels(table: pd.DataFrame | Skipped) -> list[str]:
    """``["LM (too few events (2))"]``: the vessels a withheld table leaves out, once each."""
    if not isinstance(table, pd.DataFrame) or WITHHELD not in table.columns:
        return []
    return withheld_list(table.drop_duplicates("vessel"), ["vessel"])


def interval_method(resamples: PatientResamples, level: float = 0.95) -> str:
    """The page's interval, as its tables' ``interval`` column states it."""
    return f"{resamples.describe(level)}, cut-offs fixed"


def _stated(table: pd.DataFrame, method: str) -> pd.DataFrame:
    """``table`` with its intervals' method in an ``interval`` column (none for no rows)."""
    return table.assign(interval=method) if len(table) else table


def strata_targets(run: RunParams) -> dict[str, dict[str, float]]:
    """Per vessel the sensitivity and specificity targets of the strata, from the params."""
    ev = run.evaluation
    return {
        v: {
            "sensitivity": float(ev.strata_sensitivity[v]),
            "specificity": float(ev.strata_specificity[v]),
        }
        for v in schema.VESSELS
    }


def thresholds_table(fitted: Mapping[str, StrataThresholds]) -> pd.DataFrame:
    """The fitted cut-offs and what they achieved on the fitting set, one row per vessel."""
    return pd.DataFrame([{"vessel": v, **t.as_dict()} for v, t in fitted.items()])


def insample_vs_heldout(
    oof: pd.DataFrame, heldout: pd.DataFrame, targets: Mapping[str, Mapping[str, float]]
) -> pd.DataFrame:
    """The authors' way against the honest one, per vessel: sensitivity and specificity when
    the cut-offs are chosen on all out-of-fold predictions and reported on the same predictions
    (``in_sample_*``, by construction at or above the targets), beside the held-out values of
    :func:`~ecglib.metrics.strata.strata_performance` for the cross-fitted ``heldout`` strata."""
    fitted, _ = fit_vessel_strata_where_possible(oof, {v: targets[v] for v in heldout.columns})
    same = strata_performance(
        oof,
        pd.DataFrame(
            {
                v: pd.Series(assign_strata(oof[schema.prob_col(v)], t), index=oof.index)
                for v, t in fitted.items()
            },
            index=oof.index,
        ),
    )
    honest = strata_performance(oof, heldout)
    return pd.DataFrame(
        {
            "vessel": honest["vessel"],
            "sensitivity_target": [targets[v]["sensitivity"] for v in honest["vessel"]],
            "in_sample_sensitivity": same["sensitivity"].to_numpy(),
            "heldout_sensitivity": honest["sensitivity"].to_numpy(),
            "specificity_target": [targets[v]["specificity"] for v in honest["vessel"]],
            "in_sample_specificity": same["specificity"].to_numpy(),
            "heldout_specificity": honest["specificity"].to_numpy(),
        }
    )


def strata_share_numbers(
    summary: pd.DataFrame, stratum: str, *, prefix: str = ""
) -> dict[str, float]:
    """``<prefix><vessel>``: the percentage of ECGs in ``stratum`` per vessel of a
    :func:`~ecglib.metrics.strata.vessel_strata_summary` (NaN for a vessel without strata)."""
    rows = (
        summary[summary["stratum"] == stratum].set_index("vessel")
        if len(summary)
        else pd.DataFrame(columns=["share"])
    )
    return {
        f"{prefix}{v}": 100 * float(rows.at[v, "share"]) if v in rows.index else np.nan
        for v in schema.VESSELS
    }


# ------------------------------------------------------------------------------------------
# the patient-level AI stratum (chapters 08 and 09)
# ------------------------------------------------------------------------------------------
def index_ecgs(predictions: pd.DataFrame, unit: str = "exam") -> pd.DataFrame:
    """One ECG per CCTA examination (``unit="exam"``: its latest ECG before the CCTA) or per
    patient (``unit="patient"``: that ECG of the patient's first CCTA), on the predictions'
    index (so per-ECG strata select with ``.loc``); from the keys of
    :func:`ecglib.chapters.predictions.cohort_keys`."""
    if unit not in ("exam", "patient"):
        raise ValueError(f"unit must be 'exam' or 'patient', got {unit!r}")
    keep = predictions["ecg_order"] == 1
    if unit == "patient":
        keep &= predictions["exam_order"] == 1
    out = predictions[keep]
    key = "exam" if unit == "exam" else "patient"
    if out[key].duplicated().any():
        raise ValueError(f"more than one index ECG per {unit}: the keys are inconsistent")
    return out


def ai_patient_stratum(vessel_strata: pd.DataFrame) -> pd.Categorical:
    """Patient-level AI stratum from the per-vessel strata
    (:func:`ecglib.metrics.ptp.patient_ai_stratum`: high if any vessel is high, low if every
    vessel is low)."""
    if vessel_strata.shape[1] == 0:
        raise ValueError("no vessel has strata: the patient-level stratum is undefined")
    return ptp.patient_ai_stratum(vessel_strata)


def _unless(display, part):
    """``display(part)``, or None for a skipped part (the page announced it once)."""
    return None if isinstance(part, Skipped) else display(part)
