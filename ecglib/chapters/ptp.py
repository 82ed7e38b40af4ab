"""Chapter 08, the AI strata and the guideline pre-test probability: rule-out and the NRI.

:func:`analyse` computes the page on one index ECG per CCTA examination (its latest ECG before
the CCTA, :func:`ecglib.chapters.risk_strata.index_ecgs`), internal and external: the 2019 ESC
pre-test probability (PTP) of each examination (:mod:`ecglib.metrics.ptp`), the PTP combined
with the patient-level AI stratum of the held-out strata of chapter 07 by the grey-zone rule
(:data:`ecglib.metrics.ptp.GREY_ZONE_RULE`), the rule-out performance of the low category
under both, and the categorical NRI of the combination over the PTP alone (Pencina et al. 2008,
:mod:`ecglib.metrics.nri`). A cohort without symptoms has no PTP: that part is
:class:`~ecglib.chapters.parts.Skipped`.

**The 2024 model beside the 2019 table** (:mod:`ecglib.chapters.ptp_models`): on the same index
ECGs, the 2019 PTP and the 2024 ESC risk-factor-weighted clinical likelihood (RF-CL,
:mod:`ecglib.metrics.rf_cl`), their AUCs and paired clustered difference and their categories;
skipped, with the reason, for a cohort without the five risk factors.

**Outcomes** (:data:`OUTCOMES`). The guideline's PTP is a probability of *obstructive* coronary
disease, at least 50% stenosis: in the cohort's grade scale (:data:`ecglib.schema.GRADES`; the
export maps put moderate stenosis at 50-69%) any vessel graded 2 (moderate) or worse. That is
the chapter's main outcome, the PTP judged on its own outcome. Any vessel severe or occluded
(grade >= 3, the book's per-vessel label) is a second analysis by the same functions. A vessel
the cohort does not assess is left out of "any vessel" (:func:`ecglib.schema.vessels_of`).

**Intervals.** The unit is the examination, and a patient can have several: every interval is
clustered by patient. The NRI, its components, and the NPV and sensitivity of the rule-out
table take the percentile interval of the run's shared patient resamples
(:meth:`ecglib.chapters.predictions.RunResults.resamples`, all resamples at once from their
weights); the NRI's test is Pencina's z with the null variance summed per patient
(:func:`ecglib.metrics.nri.clustered_nri_test`). The Wald interval and z-test that treat the
examinations as independent are shown beside them for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters import caveats
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.ptp_models import (
    MODEL_NUMBER_KEYS,
    GuidelineModels,
    categories_display,
    guideline_models,
    models_display,
    models_sentence,
)
from ecglib.chapters.risk_strata import ai_patient_stratum, index_ecgs, vessel_strata
from ecglib.config import RunParams
from ecglib.errors import DataError, MissingInputError
from ecglib.metrics import nri as nri_mod
from ecglib.metrics import ptp
from ecglib.metrics.nri import NRIResult
from ecglib.metrics.resamples import PatientResamples
from ecglib.metrics.small_counts import too_few_text
from ecglib.metrics.strata import STRATA
from ecglib.report.present import format_bounds, format_estimate, format_p, plural

__all__ = [
    "OUTCOMES",
    "MAIN_OUTCOME",
    "outcome_label",
    "PtpNri",
    "PtpAnalysis",
    "analyse",
    "ptp_analysis",
    "ptp_numbers",
    "ptp_ai_table",
    "any_vessel_outcome",
    "ptp_guideline_table",
    "nri_table",
    "rule_out_display",
    "PTP_NUMBER_KEYS",
]

#: The examination's outcomes, main first: name -> least grade in any vessel. The PTP's own
#: outcome is obstructive disease, >= 50% stenosis (grade 2, moderate, or worse); severe or
#: occluded (grade >= 3) is the second analysis.
OUTCOMES: dict[str, int] = {"obstructive": 2, "severe": 3}
MAIN_OUTCOME = "obstructive"


def outcome_label(outcome: str) -> str:
    """``"any vessel moderate or worse (grade >= 2)"`` and the like, from the schema's grades."""
    grade = _min_grade(outcome)
    worst = max(schema.GRADES)
    names = (
        f"{schema.GRADES[grade]} or {schema.GRADES[worst]}"
        if grade == worst - 1
        else f"{schema.GRADES[grade]} or worse"
    )
    return f"any vessel {names} (grade >= {grade})"


@dataclass(frozen=True, repr=False)
class PtpAnalysis:
    """Guideline PTP alone against PTP combined with the AI strata, on one index ECG per CCTA
    examination, for one outcome (:func:`ptp_analysis`)."""

    #: The outcome (a key of :data:`OUTCOMES`).
    outcome: str
    #: Per index ECG: PTP, categories, AI stratum, outcome, patient (:func:`ptp_ai_table`).
    table: pd.DataFrame
    #: Rule-out performance of both categorisations on the examinations with a PTP, intervals
    #: from the patient resamples.
    rule_out: pd.DataFrame
    #: Cross-tabulation PTP category x combined category, for events and non-events.
    reclassification: pd.DataFrame
    #: The NRI with Pencina's SEs, Wald CI and z-test (examinations as independent).
    nri: NRIResult
    #: The patient bootstrap of the NRI (:func:`ecglib.metrics.nri.nri_bootstrap` with weights).
    nri_boot: Mapping[str, float]
    #: Pencina's z-test clustered by patient (:func:`ecglib.metrics.nri.clustered_nri_test`).
    nri_test: Mapping[str, float]

    @property
    def n_patients(self) -> int:
        """Patients among the examinations with a PTP (the clusters of every interval)."""
        return int(self.table.loc[self.table["ptp_category"].notna(), "patient"].nunique())

    def unit(self) -> str:
        """What the rows are, e.g. ``"283 examinations (index ECGs) of 255 patients"``."""
        return (
            f"{int(self.rule_out.loc['PTP', 'n'])} examinations (index ECGs) "
            f"of {self.n_patients} patients"
        )

    def numbers(self, prefix: str) -> dict[str, float]:
        """Glue-ready numbers: exams, those with a PTP and their patients, events, grey-zone
        shares, NPV of low, missed events, the NRI with its patient-bootstrap CIs and clustered
        p (and the Wald CI for comparison); keys start with ``prefix``."""
        r, b = self.rule_out, self.nri_boot
        out = {
            "exams": len(self.table),
            "with_ptp": int(r.loc["PTP", "n"]),
            "patients": self.n_patients,
            "events": int(r.loc["PTP", "events"]),
            "min_grade": OUTCOMES[self.outcome],
        }
        for key, name in (("ptp", "PTP"), ("combined", "PTP + AI")):
            out.update(
                {
                    f"grey_{key}_pct": 100 * float(r.loc[name, "grey_zone_share"]),
                    f"low_{key}_pct": 100 * float(r.loc[name, "share_low"]),
                    f"low_{key}_n": int(r.loc[name, "n_low"]),
                    f"npv_{key}": float(r.loc[name, "npv_low"]),
                    f"npv_{key}_lo": float(r.loc[name, "npv_low_lo"]),
                    f"npv_{key}_hi": float(r.loc[name, "npv_low_hi"]),
                    f"npv_{key}_ci": format_bounds(
                        float(r.loc[name, "npv_low_lo"]), float(r.loc[name, "npv_low_hi"])
                    ),
                    f"missed_{key}": int(r.loc[name, "missed_events"]),
                    f"missed_{key}_text": plural(int(r.loc[name, "missed_events"]), "missed event"),
                }
            )
        for name in ("nri", "nri_events", "nri_nonevents"):
            out.update(
                {name: b[name], f"{name}_lo": b[f"{name}_lo"], f"{name}_hi": b[f"{name}_hi"]}
            )
        unmoved = nobody_moved(self.nri)
        nri_text = (
            "not estimable (no examination changed category, so it is 0 by construction)"
            if unmoved
            else format_estimate(b["nri"], b["nri_lo"], b["nri_hi"])
            + f"; {format_p(self.nri_test['p_value'], prefix='p')}"
        )
        out.update(
            {
                "nri_text": nri_text,
                "caveats": self.caveats(),
                "nri_p": self.nri_test["p_value"],
                "nri_p_text": format_p(self.nri_test["p_value"], prefix="p"),
                "nri_wald_lo": self.nri.ci_lo,
                "nri_wald_hi": self.nri.ci_hi,
                "n_boot": int(b["n_boot"]),
            }
        )
        return {f"{prefix}{k}": v for k, v in out.items()}

    def caveats(self) -> str:
        """What does not fit, computed (:mod:`ecglib.chapters.caveats`): an NRI gain with a
        worse rule-out, or an NRI of 0 because nobody changed category."""
        r = self.rule_out
        return caveats.join_sentences(
            [
                caveats.nri_unmoved_sentence(**caveats.moved_counts(self.nri)),
                caveats.nri_rule_out_sentence(
                    float(self.nri_boot["nri"]),
                    float(r.loc["PTP", "npv_low"]),
                    float(r.loc["PTP + AI", "npv_low"]),
                    int(r.loc["PTP", "missed_events"]),
                    int(r.loc["PTP + AI", "missed_events"]),
                ),
            ],
            empty="No reclassification gain here comes with a worse rule-out (a lower NPV of "
            "the low category, or more events in it).",
        )

    def __repr__(self) -> str:
        return (
            f"PTP vs PTP + AI on {self.unit()}, outcome {outcome_label(self.outcome)} "
            f"({len(self.table)} examinations in all)"
        )


#: The keys of :meth:`PtpAnalysis.numbers` (without prefix), NaN when the part is skipped
#: (``nri_p_text`` then reads "p = n/a").
PTP_NUMBER_KEYS = (
    "exams",
    "with_ptp",
    "patients",
    "events",
    "min_grade",
    *[
        f"{a}_{k}{b}"
        for k in ("ptp", "combined")
        for a, b in (
            ("grey", "_pct"),
            ("low", "_pct"),
            ("low", "_n"),
            ("npv", ""),
            ("npv", "_lo"),
            ("npv", "_hi"),
            ("npv", "_ci"),
            ("missed", ""),
            ("missed", "_text"),
        )
    ],
    *[f"{n}{s}" for n in ("nri", "nri_events", "nri_nonevents") for s in ("", "_lo", "_hi")],
    "nri_text",
    "caveats",
    "nri_p",
    "nri_p_text",
    "nri_wald_lo",
    "nri_wald_hi",
    "n_boot",
)

#: Glue prefix of each (cohort, outcome) analysis: the main outcome keeps the short prefixes.
PREFIXES = {
    ("internal", "obstructive"): "int_",
    ("external", "obstructive"): "ext_",
    ("internal", "severe"): "int_sev_",
    ("external", "severe"): "ext_sev_",
}


@dataclass(frozen=True)
class PtpNri:
    """What chapter 08 shows (:func:`analyse`)."""

    #: The guideline's PTP table as used (:func:`ptp_guideline_table`).
    guideline: pd.DataFrame
    #: The internal (held-out strata) and external analyses on the main outcome, obstructive
    #: disease; Skipped when the input is missing.
    internal: PtpAnalysis | Skipped
    external: PtpAnalysis | Skipped
    #: The same on the second outcome, severe or occluded disease.
    internal_severe: PtpAnalysis | Skipped
    external_severe: PtpAnalysis | Skipped
    #: Vessels left out of the AI stratum (no cross-fitted cut-offs), and why.
    not_fitted: tuple[Skipped, ...] = ()
    #: The 2019 PTP beside the 2024 RF-CL per (cohort, outcome) (:func:`guideline_models`), or
    #: why not.
    models: Mapping[tuple[str, str], GuidelineModels | Skipped] | None = None

    def models_part(
        self, cohort: str = "internal", outcome: str = MAIN_OUTCOME
    ) -> GuidelineModels | Skipped:
        """The two guideline models on ``cohort``'s index ECGs for ``outcome``."""
        _min_grade(outcome)
        if not self.models or (cohort, outcome) not in self.models:
            return Skipped("The 2024 RF-CL", "the models were not computed")
        return self.models[cohort, outcome]

    def models_table(
        self, cohort: str = "internal", outcome: str = MAIN_OUTCOME
    ) -> pd.DataFrame | None:
        """Both models' AUCs and their difference for reading; None when skipped."""
        part = self.models_part(cohort, outcome)
        return None if isinstance(part, Skipped) else models_display(part)

    def models_categories(
        self, cohort: str = "internal", outcome: str = MAIN_OUTCOME
    ) -> pd.DataFrame | None:
        """Both models' categories with examinations and observed rates; None when skipped."""
        part = self.models_part(cohort, outcome)
        return None if isinstance(part, Skipped) else categories_display(part)

    def models_text(self, numbers: Mapping[str, float] | None = None) -> str:
        """What the comparison of the two guideline models shows on the main outcome, per
        population (computed: a difference is claimed only when its interval excludes 0)."""
        numbers = self.numbers() if numbers is None else numbers
        parts = []
        for cohort in ("internal", "external"):
            part = self.models_part(cohort)
            if isinstance(part, Skipped):
                parts.append(part.message)
            else:
                parts.append(models_sentence(numbers, PREFIXES[cohort, MAIN_OUTCOME], cohort))
        return " ".join(parts)

    def rule_out_table(
        self, cohort: str = "internal", outcome: str = MAIN_OUTCOME
    ) -> pd.DataFrame | None:
        """The rule-out table of ``cohort`` on ``outcome`` for reading (:func:`rule_out_display`);
        None when that part is skipped."""
        part = self.part(cohort, outcome)
        return None if isinstance(part, Skipped) else rule_out_display(part)

    def nri_table(
        self, cohort: str = "internal", outcome: str = MAIN_OUTCOME
    ) -> pd.DataFrame | None:
        """The NRI of ``cohort`` on ``outcome`` for reading (:func:`nri_table`); None when
        skipped."""
        part = self.part(cohort, outcome)
        if isinstance(part, Skipped):
            return None
        return nri_table(
            part.nri,
            part.nri_boot,
            part.nri_test,
            outcome=outcome_label(part.outcome),
            unit=part.unit(),
        )

    def reclassification_table(
        self, cohort: str = "internal", outcome: str = MAIN_OUTCOME
    ) -> pd.DataFrame | None:
        """PTP (rows) against PTP + AI (columns), examinations with and without the outcome;
        None when skipped."""
        part = self.part(cohort, outcome)
        return None if isinstance(part, Skipped) else part.reclassification

    def numbers(self) -> dict[str, float]:
        out = {f"{o}_min_grade": g for o, g in OUTCOMES.items()}
        for (cohort, outcome), prefix in PREFIXES.items():
            out |= ptp_numbers(self.part(cohort, outcome), prefix)
            part = self.models_part(cohort, outcome)
            if isinstance(part, GuidelineModels):
                out |= part.numbers(prefix)
            else:
                out |= {f"{prefix}{k}": math.nan for k in MODEL_NUMBER_KEYS}
                out[f"{prefix}rfcl_minus_ptp_p_text"] = format_p(math.nan, prefix="p")
        out["models_text"] = self.models_text(out)
        return out

    def outputs(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for outcome in OUTCOMES:
            suffix = "" if outcome == MAIN_OUTCOME else f"_{outcome}"
            internal, external = self.part("internal", outcome), self.part("external", outcome)
            out[f"ptp_rule_out_internal{suffix}"] = _field(internal, "rule_out")
            out[f"ptp_reclassification_internal{suffix}"] = _field(internal, "reclassification")
            out[f"ptp_rule_out_external{suffix}"] = _field(external, "rule_out")
            for cohort in ("internal", "external"):
                models = self.models_part(cohort, outcome)
                out[f"ptp_rf_cl_aucs_{cohort}{suffix}"] = _field(models, "aucs")
                out[f"ptp_rf_cl_categories_{cohort}{suffix}"] = _field(models, "categories")
        out["ptp_nri"] = self.numbers()
        return out

    def skipped(self) -> list[Skipped]:
        """Every skipped part once (an outcome's analysis skipped for the reason the main one
        was is the same value)."""
        parts = [self.internal, *self.not_fitted, self.external]
        parts += [self.internal_severe, self.external_severe]
        parts += [self.models_part(c) for c in ("internal", "external")]
        out: list[Skipped] = []
        for part in skipped_of(parts):
            if not any(part is seen for seen in out):
                out.append(part)
        return out

    def part(self, cohort: str, outcome: str = MAIN_OUTCOME) -> PtpAnalysis | Skipped:
        """The analysis of ``cohort`` (``"internal"``, ``"external"``) on ``outcome``."""
        if cohort not in ("internal", "external"):
            raise ValueError(f"cohort must be 'internal' or 'external', got {cohort!r}")
        _min_grade(outcome)
        name = cohort if outcome == MAIN_OUTCOME else f"{cohort}_{outcome}"
        return getattr(self, name)


def analyse(run: RunParams, results: RunResults | None = None) -> PtpNri:
    """Chapter 08 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    strata = vessel_strata(run, results)
    inputs = {
        "internal": (results.oof, strata.internal, results.resamples("oof")),
        "external": (
            strata.external_predictions,
            strata.external,
            attempt("External validation", results.resamples, "external"),
        ),
    }
    parts: dict[tuple[str, str], PtpAnalysis | Skipped] = {}
    models: dict[tuple[str, str], GuidelineModels | Skipped] = {}
    for cohort, (predictions, _, _) in inputs.items():
        name = "The 2024 RF-CL" + (" (external)" if cohort == "external" else "")
        index = attempt(name, index_ecgs, predictions, "exam")
        for outcome in OUTCOMES:
            models[cohort, outcome] = (
                index
                if isinstance(index, Skipped)
                else attempt(
                    name,
                    guideline_models,
                    index,
                    any_vessel_outcome(index, _min_grade(outcome)),
                    min_events=run.report.min_events,
                )
            )
            if outcome != MAIN_OUTCOME and isinstance(models[cohort, MAIN_OUTCOME], Skipped):
                models[cohort, outcome] = models[cohort, MAIN_OUTCOME]  # its skip, once
    for cohort, args in inputs.items():
        name = "The pre-test probability analysis"
        if cohort == "external":
            name = "The external pre-test probability analysis"
        m = run.report.min_events
        main = attempt(name, ptp_analysis, *args, outcome=MAIN_OUTCOME, min_events=m)
        parts[cohort, MAIN_OUTCOME] = main
        for outcome in OUTCOMES:
            if outcome != MAIN_OUTCOME:
                # the second outcome has the main one's input: its skip, once
                parts[cohort, outcome] = (
                    main
                    if isinstance(main, Skipped)
                    else attempt(
                        f"{name} on {outcome_label(outcome)}",
                        ptp_analysis,
                        *args,
                        outcome=outcome,
                        min_events=m,
                    )
                )
    return PtpNri(
        guideline=ptp_guideline_table(),
        internal=parts["internal", MAIN_OUTCOME],
        external=parts["external", MAIN_OUTCOME],
        internal_severe=parts["internal", "severe"],
        external_severe=parts["external", "severe"],
        not_fitted=tuple(strata.not_fitted_parts(" (left out of the AI stratum)")),
        models=models,
    )


def ptp_analysis(
    predictions: pd.DataFrame,
    vessel_strata: pd.DataFrame,
    resamples: PatientResamples,
    *,
    outcome: str = MAIN_OUTCOME,
    rule: Mapping[tuple[str, str], str] = ptp.GREY_ZONE_RULE,
    alpha: float = 0.05,
    min_events: int = 1,
) -> PtpAnalysis:
    """PTP against PTP + AI on the index ECG of every CCTA examination, on ``outcome``.

    ``vessel_strata`` holds per-ECG strata on ``predictions``' index (held-out, e.g.
    :attr:`ecglib.chapters.risk_strata.VesselStrata.internal`, or from cut-offs fitted on the
    internal cohort). ``resamples`` are the patient resamples of the population ``predictions``
    come from (:meth:`ecglib.chapters.predictions.RunResults.resamples`): the intervals of the
    NRI and of the rule-out NPV and sensitivity are their percentile intervals, and the NRI's
    z-test sums its null variance per patient. Raises :class:`MissingInputError` without
    symptoms, when no index ECG has a PTP, or when the examinations with a PTP are all events or
    all non-events, or have fewer of either than ``min_events`` (the small-count policy,
    :mod:`ecglib.metrics.small_counts`: no NPV, NRI or test on a handful of events).
    """
    index = index_ecgs(predictions, "exam")
    table = ptp_ai_table(
        index,
        ai_patient_stratum(vessel_strata.loc[index.index]),
        rule=rule,
        min_grade=_min_grade(outcome),
    )
    known = table[table["ptp_category"].notna()]
    if known.empty:
        reasons = table["reason"].value_counts().head(3)
        raise MissingInputError(
            "no examination has a guideline pre-test probability ("
            + "; ".join(f"{k}: {v}" for k, v in reasons.items())
            + ")"
        )
    events = int(known["outcome"].sum())
    if events in (0, len(known)):
        which = "none" if events == 0 else "all"
        raise MissingInputError(
            f"{which} of the {len(known)} examinations with a guideline pre-test probability "
            f"have {outcome_label(outcome)}: the NRI needs both"
        )
    reason = too_few_text(events, len(known) - events, min_events)
    if reason:
        raise MissingInputError(
            f"{reason} of {outcome_label(outcome)} among the {len(known)} examinations with a "
            f"guideline pre-test probability: no NPV, NRI or test is reported on fewer than "
            f"{min_events} (report.min_events)"
        )
    weights = resamples.weights(known["patient"].to_numpy())
    cats = list(ptp.PTP_CATEGORIES)
    args = (known["outcome"], known["ptp_category"], known["combined"], cats)
    return PtpAnalysis(
        outcome=outcome,
        table=table,
        rule_out=ptp.rule_out_summary(
            known["outcome"],
            {"PTP": known["ptp_category"], "PTP + AI": known["combined"]},
            weights=weights,
            alpha=alpha,
        ),
        reclassification=nri_mod.reclassification_table(*args),
        # on the whole table, so that the examinations without a PTP are counted as left out
        nri=nri_mod.categorical_nri(
            table["outcome"], table["ptp_category"], table["combined"], cats, alpha=alpha
        ),
        nri_boot=nri_mod.nri_bootstrap(*args, weights=weights, alpha=alpha),
        nri_test=nri_mod.clustered_nri_test(*args, groups=known["patient"]),
    )


def ptp_numbers(analysis: PtpAnalysis | Skipped, prefix: str) -> dict[str, float]:
    """:meth:`PtpAnalysis.numbers`, or NaN for every key when the analysis was skipped (so the
    chapter's text always finds its keys; the p-value's text reads "p = n/a")."""
    if isinstance(analysis, PtpAnalysis):
        return analysis.numbers(prefix)
    out: dict[str, float | str] = {f"{prefix}{k}": math.nan for k in PTP_NUMBER_KEYS}
    out[f"{prefix}nri_p_text"] = format_p(math.nan, prefix="p")
    for key in ("ptp", "combined"):
        out[f"{prefix}missed_{key}_text"] = "no count of missed events"
        out[f"{prefix}npv_{key}_ci"] = format_bounds(math.nan, math.nan)
    out[f"{prefix}nri_text"] = "n/a (the analysis is skipped)"
    out[f"{prefix}caveats"] = "The analysis is skipped, so nothing is checked."
    return out


def nobody_moved(result: NRIResult) -> bool:
    """No examination changed category: the NRI is 0 by construction."""
    moves = (result.events_up, result.events_down, result.nonevents_up, result.nonevents_down)
    return not any(moves)


def any_vessel_outcome(predictions: pd.DataFrame, min_grade: int = OUTCOMES[MAIN_OUTCOME]):
    """1 when any vessel's grade is at least ``min_grade`` (default 2: obstructive, the PTP's
    outcome; 3: severe or occluded), over the vessels the cohort assesses
    (:func:`ecglib.schema.vessels_of`; a vessel not assessed is left out). A missing grade of
    an assessed vessel raises :class:`DataError` naming the row: "no disease" is never guessed.
    """
    if min_grade not in schema.GRADES or min_grade == min(schema.GRADES):
        raise ValueError(f"min_grade must be one of {sorted(schema.GRADES)[1:]}, got {min_grade!r}")
    grades = predictions[schema.grade_cols(schema.vessels_of(predictions))]
    missing = grades.isna().to_numpy()
    if missing.any():
        i, j = np.argwhere(missing)[0]
        row = predictions["row"].iloc[i] if "row" in predictions else predictions.index[i]
        raise DataError(
            f"cohort row {row}",
            f"{grades.columns[j]} is missing although the cohort assesses that vessel "
            f"({int(missing.sum())} such grades)",
        )
    return (grades.to_numpy(dtype=float) >= min_grade).any(axis=1).astype(int)


def ptp_ai_table(
    index: pd.DataFrame,
    ai_stratum,
    *,
    rule: Mapping[tuple[str, str], str] = ptp.GREY_ZONE_RULE,
    min_grade: int = OUTCOMES[MAIN_OUTCOME],
) -> pd.DataFrame:
    """Per index ECG: the guideline PTP (:func:`ecglib.metrics.ptp.ptp_table`; raises
    :class:`MissingInputError` without symptoms), its category, the AI stratum, the combined
    category, the outcome (any vessel graded ``min_grade`` or worse, :func:`any_vessel_outcome`)
    and the patient key. Rows the guideline table does not cover keep a NaN PTP and their
    ``reason``."""
    table = ptp.ptp_table(index)
    if len(ai_stratum) != len(index):
        raise ValueError(f"{len(ai_stratum)} AI strata for {len(index)} index ECGs")
    table["ai_stratum"] = pd.Categorical(ai_stratum, categories=list(STRATA), ordered=True)
    table["combined"] = ptp.combine_ptp_ai(table["ptp_category"], table["ai_stratum"], rule)
    table["outcome"] = any_vessel_outcome(index, min_grade)
    table["patient"] = index["patient"].to_numpy()
    return table


def ptp_guideline_table() -> pd.DataFrame:
    """The 2019 ESC PTP table as used (:data:`ecglib.metrics.ptp.PTP_TABLE`): per age band
    (rows) and symptom (columns) ``men / women`` in percent."""
    wide = ptp.PTP_TABLE.pivot_table(
        index="age_band", columns=["symptom", "sex"], values="ptp_percent", sort=False
    )
    return pd.DataFrame(
        {
            sym: [
                f"{wide.at[b, (sym, 'male')]:g} / {wide.at[b, (sym, 'female')]:g}"
                for b in wide.index
            ]
            for sym in schema.SYMPTOMS
        },
        index=pd.Index(wide.index, name="age (years)"),
    )


def nri_table(
    result: NRIResult,
    boot: Mapping[str, float] | None = None,
    test: Mapping[str, float] | None = None,
    *,
    outcome: str | None = None,
    unit: str | None = None,
    digits: int = 3,
) -> pd.DataFrame:
    """An :class:`ecglib.metrics.nri.NRIResult` as a readable table: the outcome and unit when
    given, the moves among events and non-events, the NRI and its components with the patient
    bootstrap CIs (``boot``) and the z-test clustered by patient (``test``) when given; then
    Pencina's Wald CI and z-test, which treat the examinations as independent (labelled "for
    comparison" when the clustered results are there)."""
    rows = [("outcome", outcome), ("unit", unit)] if outcome or unit else []
    rows = [(k, v) for k, v in rows if v is not None]
    rows += [
        (
            "events: moved up / down",
            f"{result.events_up} / {result.events_down} of {result.n_events}",
        ),
        (
            "non-events: moved up / down",
            f"{result.nonevents_up} / {result.nonevents_down} of {result.n_nonevents}",
        ),
    ]
    for label, name in (("NRI, events", "nri_events"), ("NRI, non-events", "nri_nonevents")):
        low, high = (boot[f"{name}_lo"], boot[f"{name}_hi"]) if boot else (math.nan, math.nan)
        rows.append((label, format_estimate(getattr(result, name), low, high, digits)))
    if boot is not None:
        rows += [
            ("NRI", format_estimate(boot["nri"], boot["nri_lo"], boot["nri_hi"], digits)),
            (
                "95% CI",
                f"patient bootstrap, percentile: {boot['n_boot']} resamples "
                f"({boot['n_one_class']} without events or non-events, left out)",
            ),
        ]
    if test is not None:
        rows.append(
            (
                "z, p (Pencina, variance clustered by patient)",
                f"{test['z']:.2f}, {format_p(test['p_value'])}",
            )
        )
    note = "for comparison, examinations as independent: " if boot or test else ""
    rows += [
        (
            f"{note}NRI (Wald 95% CI)",
            format_estimate(result.nri, result.ci_lo, result.ci_hi, digits),
        ),
        (f"{note}z, p (Pencina)", f"{result.z:.2f}, {format_p(result.p_value)}"),
    ]
    if result.n_missing:
        rows.append(("left out: no PTP category", f"{result.n_missing}"))
    if nobody_moved(result):
        # 0.000 [0.000-0.000], p = 1.000 would read as a result; it is an identity
        keep = ("outcome", "unit", "events: moved up / down", "non-events: moved up / down")
        rows = [(k, v) for k, v in rows if k in keep or k.startswith("left out")]
        rows.append(("NRI", "0 by construction: nobody moved"))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def rule_out_display(analysis: PtpAnalysis, digits: int = 3) -> pd.DataFrame:
    """The rule-out table for reading: per categorisation the examinations and their patients,
    the share in each category, the events and missed events, the NPV of the low category and
    the sensitivity of "not low" with their CIs, and the interval's method."""
    r = analysis.rule_out
    out = pd.DataFrame(index=r.index)
    out["examinations"] = r["n"].astype(int)
    out["patients"] = analysis.n_patients
    for cat in ptp.PTP_CATEGORIES:
        out[cat] = [
            f"{int(row[f'n_{cat}'])} ({100 * row[f'share_{cat}']:.1f}%)" for _, row in r.iterrows()
        ]
    out["events"] = r["events"].astype(int)
    out["events in low (missed)"] = r["missed_events"].astype(int)
    out["NPV of low"] = [
        format_estimate(row["npv_low"], row["npv_low_lo"], row["npv_low_hi"], digits)
        for _, row in r.iterrows()
    ]
    out["sensitivity of not low"] = [
        format_estimate(row["sensitivity"], row["sensitivity_lo"], row["sensitivity_hi"], digits)
        for _, row in r.iterrows()
    ]
    out["95% CI"] = _interval_text(r)
    return out


def _interval_text(rule_out: pd.DataFrame) -> list[str]:
    """The interval column of the rule-out table: method, resamples, clusters."""
    out = []
    for _, row in rule_out.iterrows():
        if row["interval"] == "patient bootstrap percentile":
            text = f"patient bootstrap, percentile, {int(row['n_boot'])} resamples"
            undefined = int(row["npv_low_undefined"])
            if undefined:
                text += f" ({undefined} without a low examination, left out)"
        else:
            text = f"{row['interval']} (rows as independent)"
        out.append(text)
    return out


def _min_grade(outcome: str) -> int:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {list(OUTCOMES)}, got {outcome!r}")
    return OUTCOMES[outcome]


def _field(part: PtpAnalysis | Skipped, name: str):
    """A table of an analysis, or the skip itself (saved as nothing)."""
    return part if isinstance(part, Skipped) else getattr(part, name)
