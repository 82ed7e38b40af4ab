"""Chapter 08, the AI strata and the guideline pre-test probability: rule-out and the NRI.

:func:`analyse` computes the page on one index ECG per CCTA examination (its latest ECG before
the CCTA, :func:`ecglib.chapters.risk_strata.index_ecgs`), internal and external: the 2019 ESC
pre-test probability (PTP) of each examination (:mod:`ecglib.metrics.ptp`), the PTP combined
with the patient-level AI stratum of the held-out strata of chapter 07 by the grey-zone rule
(:data:`ecglib.metrics.ptp.GREY_ZONE_RULE`), the rule-out performance of the low category
under both, and the categorical NRI of the combination over the PTP alone (Pencina et al. 2008,
:mod:`ecglib.metrics.nri`) with a patient bootstrap interval. The outcome is obstructive
disease at the examination: any vessel severe or occluded. A cohort without symptoms has no
PTP: that part is :class:`~ecglib.chapters.parts.Skipped`.
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
from ecglib.errors import MissingInputError
from ecglib.metrics import nri as nri_mod
from ecglib.metrics import ptp
from ecglib.metrics.nri import NRIResult
from ecglib.metrics.strata import STRATA
from ecglib.report.present import format_estimate, format_p

__all__ = [
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


@dataclass(frozen=True, repr=False)
class PtpAnalysis:
    """Guideline PTP alone against PTP combined with the AI strata, on one index ECG per CCTA
    examination (:func:`ptp_analysis`)."""

    #: Per index ECG: PTP, categories, AI stratum, outcome (:func:`ptp_ai_table`).
    table: pd.DataFrame
    #: Rule-out performance of both categorisations on the examinations with a PTP.
    rule_out: pd.DataFrame
    #: Cross-tabulation PTP category x combined category, for events and non-events.
    reclassification: pd.DataFrame
    nri: NRIResult
    #: The patient bootstrap of the NRI (:func:`ecglib.metrics.nri.nri_bootstrap`).
    nri_boot: Mapping[str, float]

    def numbers(self, prefix: str) -> dict[str, float]:
        """Glue-ready numbers: exams, those with a PTP, grey-zone shares, NPV of low, missed
        events, NRI and its CIs; keys start with ``prefix``."""
        r = self.rule_out
        out = {
            "exams": len(self.table),
            "with_ptp": int(r.loc["PTP", "n"]),
            "events": int(r.loc["PTP", "events"]),
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
                    f"missed_{key}": int(r.loc[name, "missed_events"]),
                }
            )
        n = self.nri
        out.update(
            {
                "nri": n.nri,
                "nri_lo": n.ci_lo,
                "nri_hi": n.ci_hi,
                "nri_p": n.p_value,
                "nri_events": n.nri_events,
                "nri_nonevents": n.nri_nonevents,
                "nri_boot_lo": self.nri_boot["nri_lo"],
                "nri_boot_hi": self.nri_boot["nri_hi"],
            }
        )
        return {f"{prefix}{k}": v for k, v in out.items()}

    def __repr__(self) -> str:
        return (
            f"PTP vs PTP + AI on {len(self.table)} examinations "
            f"({int(self.rule_out.loc['PTP', 'n'])} with a guideline PTP)"
        )


#: The keys of :meth:`PtpAnalysis.numbers` (without prefix), NaN when the part is skipped.
PTP_NUMBER_KEYS = (
    "exams",
    "with_ptp",
    "events",
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
            ("missed", ""),
        )
    ],
    "nri",
    "nri_lo",
    "nri_hi",
    "nri_p",
    "nri_events",
    "nri_nonevents",
    "nri_boot_lo",
    "nri_boot_hi",
)


@dataclass(frozen=True)
class PtpNri:
    """What chapter 08 shows (:func:`analyse`)."""

    #: The guideline's PTP table as used (:func:`ptp_guideline_table`).
    guideline: pd.DataFrame
    #: The internal (held-out strata) and external analyses; Skipped when the input is missing.
    internal: PtpAnalysis | Skipped
    external: PtpAnalysis | Skipped
    #: Vessels left out of the AI stratum (no cross-fitted cut-offs), and why.
    not_fitted: tuple[Skipped, ...] = ()

    def rule_out_table(self, cohort: str = "internal") -> pd.DataFrame | None:
        """The rule-out table of ``cohort`` for reading (:func:`rule_out_display`); None when
        that part is skipped."""
        part = self._part(cohort)
        return None if isinstance(part, Skipped) else rule_out_display(part)

    def nri_table(self, cohort: str = "internal") -> pd.DataFrame | None:
        """The NRI of ``cohort`` for reading (:func:`nri_table`); None when skipped."""
        part = self._part(cohort)
        return None if isinstance(part, Skipped) else nri_table(part.nri, part.nri_boot)

    def reclassification_table(self, cohort: str = "internal") -> pd.DataFrame | None:
        """PTP (rows) against PTP + AI (columns) for events and non-events; None when skipped."""
        part = self._part(cohort)
        return None if isinstance(part, Skipped) else part.reclassification

    def numbers(self) -> dict[str, float]:
        return ptp_numbers(self.internal, "int_") | ptp_numbers(self.external, "ext_")

    def outputs(self) -> dict[str, object]:
        return {
            "ptp_rule_out_internal": _field(self.internal, "rule_out"),
            "ptp_reclassification_internal": _field(self.internal, "reclassification"),
            "ptp_rule_out_external": _field(self.external, "rule_out"),
            "ptp_nri": self.numbers(),
        }

    def skipped(self) -> list[Skipped]:
        return [*skipped_of([self.internal]), *self.not_fitted, *skipped_of([self.external])]

    def _part(self, cohort: str) -> PtpAnalysis | Skipped:
        if cohort not in ("internal", "external"):
            raise ValueError(f"cohort must be 'internal' or 'external', got {cohort!r}")
        return self.internal if cohort == "internal" else self.external


def analyse(run: RunParams, results: RunResults | None = None) -> PtpNri:
    """Chapter 08 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    strata = vessel_strata(run, results)
    options = {"n_boot": run.evaluation.n_bootstrap, "seed": run.seed}
    return PtpNri(
        guideline=ptp_guideline_table(),
        internal=attempt(
            "The pre-test probability analysis",
            ptp_analysis,
            results.oof,
            strata.internal,
            **options,
        ),
        external=attempt(
            "The external pre-test probability analysis",
            ptp_analysis,
            strata.external_predictions,
            strata.external,
            **options,
        ),
        not_fitted=tuple(strata.not_fitted_parts(" (left out of the AI stratum)")),
    )


def ptp_analysis(
    predictions: pd.DataFrame,
    vessel_strata: pd.DataFrame,
    *,
    n_boot: int,
    seed: int,
    rule: Mapping[tuple[str, str], str] = ptp.GREY_ZONE_RULE,
) -> PtpAnalysis:
    """PTP against PTP + AI on the index ECG of every CCTA examination.

    ``vessel_strata`` holds per-ECG strata on ``predictions``' index (held-out, e.g.
    :attr:`ecglib.chapters.risk_strata.VesselStrata.internal`, or from cut-offs fitted on the
    internal cohort). The outcome is obstructive disease at the examination: any vessel severe
    or occluded. Raises :class:`MissingInputError` without symptoms (or when no index ECG has a
    PTP). The NRI's bootstrap resamples patients (a patient can have several examinations).
    """
    index = index_ecgs(predictions, "exam")
    table = ptp_ai_table(index, ai_patient_stratum(vessel_strata.loc[index.index]), rule=rule)
    known = table[table["ptp_category"].notna()]
    if known.empty:
        reasons = table["reason"].value_counts().head(3)
        raise MissingInputError(
            "no examination has a guideline pre-test probability ("
            + "; ".join(f"{k}: {v}" for k, v in reasons.items())
            + ")"
        )
    rule_out = ptp.rule_out_summary(
        known["outcome"], {"PTP": known["ptp_category"], "PTP + AI": known["combined"]}
    )
    cats = list(ptp.PTP_CATEGORIES)
    result = nri_mod.categorical_nri(
        table["outcome"], table["ptp_category"], table["combined"], cats
    )
    boot = nri_mod.nri_bootstrap(
        table["outcome"],
        table["ptp_category"],
        table["combined"],
        cats,
        n_boot=n_boot,
        seed=seed,
        groups=table["patient"],
    )
    reclass = nri_mod.reclassification_table(
        table["outcome"], table["ptp_category"], table["combined"], cats
    )
    return PtpAnalysis(
        table=table, rule_out=rule_out, reclassification=reclass, nri=result, nri_boot=boot
    )


def ptp_numbers(analysis: PtpAnalysis | Skipped, prefix: str) -> dict[str, float]:
    """:meth:`PtpAnalysis.numbers`, or NaN for every key when the analysis was skipped (so the
    chapter's text always finds its keys)."""
    if isinstance(analysis, PtpAnalysis):
        return analysis.numbers(prefix)
    return {f"{prefix}{k}": math.nan for k in PTP_NUMBER_KEYS}


def any_vessel_outcome(predictions: pd.DataFrame) -> np.ndarray:
    """1 when any vessel is severe or occluded (obstructive CAD at the patient level); over the
    vessels the cohort assesses (:func:`ecglib.schema.vessels_of`)."""
    return (
        predictions[schema.label_cols(schema.vessels_of(predictions))]
        .to_numpy()
        .max(axis=1)
        .astype(int)
    )


def ptp_ai_table(
    index: pd.DataFrame, ai_stratum, *, rule: Mapping[tuple[str, str], str] = ptp.GREY_ZONE_RULE
) -> pd.DataFrame:
    """Per index ECG: the guideline PTP (:func:`ecglib.metrics.ptp.ptp_table`; raises
    :class:`MissingInputError` without symptoms), its category, the AI stratum, the combined
    category, the outcome (any vessel severe or occluded) and the patient key. Rows the
    guideline table does not cover keep a NaN PTP and their ``reason``."""
    table = ptp.ptp_table(index)
    if len(ai_stratum) != len(index):
        raise ValueError(f"{len(ai_stratum)} AI strata for {len(index)} index ECGs")
    table["ai_stratum"] = pd.Categorical(ai_stratum, categories=list(STRATA), ordered=True)
    table["combined"] = ptp.combine_ptp_ai(table["ptp_category"], table["ai_stratum"], rule)
    table["outcome"] = any_vessel_outcome(index)
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
    result: NRIResult, boot: Mapping[str, float] | None = None, digits: int = 3
) -> pd.DataFrame:
    """An :class:`ecglib.metrics.nri.NRIResult` (and its bootstrap) as a readable table: the
    moves among events and non-events, the NRI components and the NRI with its CIs."""
    rows = [
        (
            "events: moved up / down",
            f"{result.events_up} / {result.events_down} of {result.n_events}",
        ),
        (
            "non-events: moved up / down",
            f"{result.nonevents_up} / {result.nonevents_down} of {result.n_nonevents}",
        ),
        ("NRI, events", format_estimate(result.nri_events, digits=digits)),
        ("NRI, non-events", format_estimate(result.nri_nonevents, digits=digits)),
        ("NRI (Wald 95% CI)", format_estimate(result.nri, result.ci_lo, result.ci_hi, digits)),
        ("z, p (Pencina)", f"{result.z:.2f}, {format_p(result.p_value)}"),
    ]
    if boot is not None:
        rows.append(
            (
                "NRI (bootstrap 95% CI)",
                format_estimate(boot["nri"], boot["nri_lo"], boot["nri_hi"], digits),
            )
        )
        rows.append(
            ("bootstrap resamples (without a class)", f"{boot['n_boot']} ({boot['n_one_class']})")
        )
    if result.n_missing:
        rows.append(("left out: no PTP category", f"{result.n_missing}"))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def rule_out_display(analysis: PtpAnalysis, digits: int = 3) -> pd.DataFrame:
    """The rule-out table for reading: per categorisation the share in each category, the
    missed events and the NPV of the low category with its CI."""
    r = analysis.rule_out
    out = pd.DataFrame(index=r.index)
    out["examinations"] = r["n"].astype(int)
    for cat in ptp.PTP_CATEGORIES:
        out[cat] = [
            f"{int(row[f'n_{cat}'])} ({100 * row[f'share_{cat}']:.1f}%)" for _, row in r.iterrows()
        ]
    out["events in low (missed)"] = r["missed_events"].astype(int)
    out["NPV of low"] = [
        format_estimate(row["npv_low"], row["npv_low_lo"], row["npv_low_hi"], digits)
        for _, row in r.iterrows()
    ]
    out["sensitivity of not low"] = [
        format_estimate(row["sensitivity"], row["sensitivity_lo"], row["sensitivity_hi"], digits)
        for _, row in r.iterrows()
    ]
    return out


def _field(part: PtpAnalysis | Skipped, name: str):
    """A table of an analysis, or the skip itself (saved as nothing)."""
    return part if isinstance(part, Skipped) else getattr(part, name)
