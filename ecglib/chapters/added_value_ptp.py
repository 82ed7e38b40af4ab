"""Chapter 12's unfitted baselines: the ESC 2019 pre-test probability (PTP) and the ESC 2024
RF-CL beside the models.

**PTP as a score** (:func:`ptp_comparison`). Each ECG is scored by the guideline PTP of its
examination (:func:`ecglib.metrics.ptp.ptp_table`: the 2019 ESC table by age, sex and symptom;
age at the ECG). The PTP is one number per examination, the same for every vessel, so per vessel
it asks how well "obstructive disease somewhere" risk separates that vessel's severe disease;
for **any vessel** the label is severe disease (grade >= 3) in any assessed vessel and each
fitted model's score is the noisy-OR of its four probabilities
(:func:`ecglib.metrics.outcomes.any_vessel_score`). The guideline table covers no one without
age, sex or symptom, or under 30: those ECGs are counted with their reasons
(:func:`ptp_coverage`). When the cohort has the five risk factors, each ECG is also scored by
its examination's 2024 risk-factor-weighted clinical likelihood
(:mod:`ecglib.chapters.added_value_rf_cl`), and the ECGs with a PTP but no RF-CL are counted
and left out. The comparison is made on the ECGs that have a PTP (and an RF-CL, where the
population has one): every model's AUC is on the same ECGs, so the differences network - PTP and
network - RF-CL of :func:`ecglib.metrics.auc_contrasts.clustered_auc_contrasts` are paired.

**NRI over the PTP** (:func:`ptp_nri`). The ECG + clinical model's any-vessel probability
(noisy-OR) and the PTP, each cut at the guideline categories (< 5%, 5-15%, > 15%,
:func:`ecglib.metrics.ptp.ptp_category`), compared by the categorical NRI
(:mod:`ecglib.metrics.nri`) on the index ECG of each examination
(:func:`ecglib.chapters.risk_strata.index_ecgs`), the interval the percentile interval of the
run's shared patient resamples (:func:`ecglib.metrics.nri.nri_bootstrap` with weights) and the
p-value Pencina's z-test with its variance summed per patient
(:func:`ecglib.metrics.nri.clustered_nri_test`). Two outcomes: severe disease in any vessel (the
combined model's outcome) and obstructive disease (grade >= 2, the PTP's own outcome); on each,
one of the two scores predicts a different outcome than it was made for, which the page says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.added_value_rf_cl import rf_cl_coverage, rf_cl_sentence, rf_cl_status
from ecglib.chapters.added_value_text import (
    DIFFERENCE,
    INTERVAL,
    NETWORK,
    POPULATIONS,
    PTP,
    RF_CL,
    SHORT,
    UNFITTED,
    pair_sentence,
)
from ecglib.chapters.parts import Skipped, attempt
from ecglib.chapters.ptp import any_vessel_outcome, nri_table
from ecglib.chapters.risk_strata import index_ecgs
from ecglib.errors import MissingInputError
from ecglib.metrics import nri as nri_mod
from ecglib.metrics import ptp
from ecglib.metrics.auc_contrasts import clustered_auc_contrasts
from ecglib.metrics.outcomes import ANY_VESSEL, any_vessel_score
from ecglib.metrics.roc import OneClassError
from ecglib.metrics.small_counts import withheld_reason
from ecglib.report.present import format_estimate, format_p

__all__ = [
    "PTP",
    "NRI_OUTCOMES",
    "ptp_coverage",
    "ptp_comparison",
    "model_scores",
    "any_vessel_probability",
    "ptp_nri",
    "ptp_numbers",
    "ptp_display",
    "nri_parts",
    "nri_numbers",
    "nri_sentence",
    "nri_display",
]

#: The NRI's outcomes: key -> least grade in any vessel.
NRI_OUTCOMES: dict[str, int] = {"severe": 3, "obstructive": 2}


def ptp_coverage(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`ecglib.metrics.ptp.ptp_table` of ``table``'s rows (index kept): ``ptp`` (NaN where
    the guideline table does not cover the row) and its ``reason``. Raises
    :class:`MissingInputError` when the table lacks age, sex or symptom."""
    return ptp.ptp_table(table)


def _score(fit_table: pd.DataFrame, vessel: str, vessels: Sequence[str]) -> np.ndarray | None:
    """A model's score of ``vessel`` (any vessel: noisy-OR of all ``vessels``), None if absent."""
    cols = schema.prob_cols(vessels) if vessel == ANY_VESSEL else [schema.prob_col(vessel)]
    if not set(cols) <= set(fit_table.columns):
        return None
    p = fit_table[cols].to_numpy(dtype=float)
    return any_vessel_score(p) if vessel == ANY_VESSEL else p[:, 0]


def ptp_comparison(
    populations: Mapping[str, tuple[pd.DataFrame, Mapping[str, pd.DataFrame]]],
    vessels: Sequence[str],
    *,
    reference: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every model's AUC and its paired clustered difference from ``reference`` (the network)
    on the ECGs with a PTP and, where the population has one, an RF-CL, per population, vessel
    and any vessel, the PTP and the RF-CL two of the models (module docstring).

    ``populations`` maps a population's name to its labelled table (``y_<vessel>``,
    ``patient``, ``age``, ``sex``, ``symptom``, and for the RF-CL the risk factors of
    :data:`ecglib.schema.RISK_FACTORS`) and to the models' score tables (``p_<vessel>``,
    row-aligned with it, default integer index). Returns the comparison (one row per
    population, vessel and model, the columns of
    :func:`~ecglib.metrics.auc_contrasts.clustered_auc_contrasts` with ``model`` and
    ``diff = AUC(reference) - AUC(model)``) and the coverage (one row per population: ECGs,
    ECGs with a PTP, without one, and the reasons with their counts; the fields of
    :func:`~ecglib.chapters.added_value_rf_cl.rf_cl_coverage`; ``compared`` and
    ``patients_compared``, the ECGs and patients of the comparison).
    """
    rows, coverage = [], []
    for population, (table, models) in populations.items():
        table = table.reset_index(drop=True)
        cover = ptp_coverage(table)
        with_ptp = cover["ptp"].notna().to_numpy()
        reasons = cover.loc[~with_ptp, "reason"].value_counts()
        rf, rf_cover = rf_cl_coverage(table, with_ptp)
        # every model on the same ECGs, so that each difference from the network is paired
        known = with_ptp if rf is None else with_ptp & ~np.isnan(rf)
        coverage.append(
            {
                "population": population,
                "ecgs": len(table),
                "with_ptp": int(with_ptp.sum()),
                "without_ptp": int((~with_ptp).sum()),
                "patients_with_ptp": int(table.loc[with_ptp, "patient"].nunique()),
                "reasons": "; ".join(f"{r}: {n:,}" for r, n in reasons.items()),
                **rf_cover,
                "compared": int(known.sum()),
                "patients_compared": int(table.loc[known, "patient"].nunique()),
            }
        )
        if not known.any():
            continue
        sub = table[known]
        for vessel in (*vessels, ANY_VESSEL):
            if vessel == ANY_VESSEL:
                y = (sub[schema.label_cols(vessels)].to_numpy() == 1).any(axis=1).astype(int)
            else:
                y = sub[schema.label_col(vessel)].to_numpy()
            names, scores = [], []
            for name, fit in models.items():
                s = _score(fit.reset_index(drop=True), vessel, vessels)
                if s is not None:
                    names.append(name)
                    scores.append(s[known])
            names.append(PTP)
            scores.append(cover.loc[known, "ptp"].to_numpy(dtype=float))
            if rf is not None:
                names.append(RF_CL)
                scores.append(rf[known])
            try:
                out = clustered_auc_contrasts(
                    y,
                    np.column_stack(scores),
                    sub["patient"].to_numpy(),
                    names,
                    reference=reference,
                )
            except OneClassError:
                positives = int(np.sum(y == 1))
                out = pd.DataFrame(
                    {
                        "score": names,
                        "n": len(y),
                        "positives": positives,
                        "clusters": sub["patient"].nunique(),
                    }
                )
                reason = f"one class ({positives} positive of {len(y)} ECGs)"
            else:
                reason = ""
            rows.append(
                out.rename(columns={"score": "model"}).assign(
                    population=population, vessel=vessel, reason=reason
                )
            )
    if not rows:
        raise MissingInputError("no ECG has a guideline pre-test probability")
    out = pd.concat(rows, ignore_index=True).rename(columns={"clusters": "patients"})
    first = ["population", "vessel", "model"]
    return out[[*first, *[c for c in out.columns if c not in first]]], pd.DataFrame(coverage)


def model_scores(
    table: pd.DataFrame, models: Mapping[str, object], field: str
) -> dict[str, pd.DataFrame]:
    """Each model's ``p_<vessel>`` table of a population (``field``: ``oof`` or
    ``external``), default integer index, row-aligned with ``table``. ``models`` maps a name
    to a :class:`~ecglib.metrics.baselines.CrossFitted` (None: the network, whose scores are
    ``table``'s own); Skipped models are left out."""
    return {
        name: (table if fit is None else getattr(fit, field))
        .reset_index(drop=True)
        .filter(regex="^p_")
        for name, fit in models.items()
        if fit is None or (not isinstance(fit, Skipped) and getattr(fit, field) is not None)
    }


def any_vessel_probability(fit_table: pd.DataFrame, vessels: Sequence[str]) -> np.ndarray:
    """The noisy-OR of a model's ``p_<vessel>`` over ``vessels``; MissingInputError when the
    model lacks a vessel (its any-vessel probability would leave that vessel out)."""
    missing = [c for c in schema.prob_cols(vessels) if c not in fit_table.columns]
    if missing:
        raise MissingInputError(
            f"the model has no prediction for {', '.join(missing)}, so no any-vessel probability"
        )
    return any_vessel_score(fit_table[schema.prob_cols(vessels)].to_numpy(dtype=float))


def ptp_nri(
    table: pd.DataFrame,
    probability: np.ndarray,
    resamples,
    *,
    min_grade: int,
    alpha: float = 0.05,
) -> dict[str, object]:
    """Categorical NRI of ``probability`` (row-aligned with ``table``, e.g. the ECG + clinical
    model's any-vessel probability) over the guideline PTP, both cut at < 5%, 5-15%, > 15%, on
    the index ECG of each examination of ``table``, outcome any vessel graded ``min_grade`` or
    worse (module docstring). ``resamples`` are the population's shared patient resamples.

    Returns ``exams`` (index ECGs), ``with_ptp``, ``patients`` (with a PTP), ``events``, the
    reclassification table, ``boot`` (:func:`~ecglib.metrics.nri.nri_bootstrap` with weights),
    ``test`` (:func:`~ecglib.metrics.nri.clustered_nri_test`) and ``result``
    (:func:`~ecglib.metrics.nri.categorical_nri`, examinations as independent). Raises
    :class:`MissingInputError` when no index ECG has a PTP or the outcome has one class."""
    table = table.reset_index(drop=True)
    probability = np.asarray(probability, dtype=float)
    if len(probability) != len(table):
        raise ValueError(f"{len(probability)} probabilities for {len(table)} ECGs")
    index = index_ecgs(table, "exam")
    cover = ptp_coverage(index)
    known = cover["ptp"].notna().to_numpy()
    if not known.any():
        raise MissingInputError("no index ECG has a guideline pre-test probability")
    y = any_vessel_outcome(index, min_grade)[known]
    if y.sum() in (0, len(y)):
        raise MissingInputError(
            f"{'none' if y.sum() == 0 else 'all'} of the {len(y)} examinations with a PTP have "
            f"disease of grade >= {min_grade}: the NRI needs both"
        )
    old = cover["ptp_category"][known]
    new = ptp.ptp_category(probability[index.index.to_numpy()][known])
    cats = list(ptp.PTP_CATEGORIES)
    patients = index["patient"].to_numpy()[known]
    weights = resamples.weights(patients)
    return {
        "exams": len(index),
        "with_ptp": int(known.sum()),
        "patients": int(pd.unique(patients).size),
        "events": int(y.sum()),
        "reclassification": nri_mod.reclassification_table(y, old, new, cats),
        "result": nri_mod.categorical_nri(y, old, new, cats, alpha=alpha),
        "boot": nri_mod.nri_bootstrap(y, old, new, cats, weights=weights, alpha=alpha),
        "test": nri_mod.clustered_nri_test(y, old, new, cats, groups=patients),
    }


def _key(vessel: str) -> str:
    return "any" if vessel == ANY_VESSEL else vessel


#: Glue-key prefix of each unfitted baseline's AUC (``ptp_auc_<pop>_<v>``, ``rfcl_auc_...``).
_AUC_KEYS: dict[str, str] = {PTP: "ptp_auc", RF_CL: "rfcl_auc"}


def ptp_numbers(
    comparison: pd.DataFrame | Skipped, coverage: pd.DataFrame | None, reference: str
) -> dict[str, float | str]:
    """Glue keys of :func:`ptp_comparison` for both population keys of :data:`POPULATIONS`
    (NaN / "n/a" where absent): ``ptp_ecgs_<pop>``, ``ptp_with_<pop>``, ``ptp_without_<pop>``,
    ``ptp_patients_<pop>``, ``ptp_reasons_<pop>``, ``ptp_coverage_<pop>`` (a sentence);
    ``rfcl_without_<pop>``, ``rfcl_compared_<pop>`` (ECGs with both), ``rfcl_coverage_<pop>``
    (a sentence, :func:`~ecglib.chapters.added_value_rf_cl.rf_cl_sentence`); per vessel ``v``
    (``any`` for any vessel) ``ptp_auc_<pop>_<v>``, ``rfcl_auc_<pop>_<v>`` and
    ``ptp_net_<pop>_<v>`` (+ ``_lo``, ``_hi``: the PTP's, the RF-CL's and the network's AUC on
    the ECGs compared); per pair key ``b`` of :data:`UNFITTED` (``np``: network - PTP, ``nr``:
    network - RF-CL) ``d_<b>_<pop>_<v>`` (+ ``_lo``, ``_hi``) and ``p_<b>_<pop>_<v>``; and
    ``sentence_<b>_<pop>`` (:func:`pair_sentence`, or why there is no RF-CL)."""
    out: dict[str, float | str] = {}
    cover = pd.DataFrame() if coverage is None else coverage.set_index("population")
    for key, population in POPULATIONS.items():
        have_cover = population in cover.index
        for name, column in (
            ("ptp_ecgs", "ecgs"),
            ("ptp_with", "with_ptp"),
            ("ptp_without", "without_ptp"),
            ("ptp_patients", "patients_with_ptp"),
            ("rfcl_without", "without_rf_cl"),
            ("rfcl_compared", "compared"),
        ):
            out[f"{name}_{key}"] = int(cover.at[population, column]) if have_cover else math.nan
        out[f"ptp_reasons_{key}"] = (
            (cover.at[population, "reasons"] or "none") if have_cover else "n/a"
        )
        absent = f"There is no {population} population in this run."
        out[f"ptp_coverage_{key}"] = (
            _coverage_sentence(cover.loc[population]) if have_cover else absent
        )
        out[f"rfcl_coverage_{key}"] = (
            rf_cl_sentence(cover.loc[population], population) if have_cover else absent
        )
        if isinstance(comparison, Skipped):
            rows = pd.DataFrame(columns=["vessel", "model", "reference"])
        else:
            rows = comparison[comparison["population"] == population].assign(reference=reference)
        index = rows.set_index(["vessel", "model"])

        def get(v: str, model: str, column: str, index=index) -> float:
            return float(index.at[(v, model), column]) if (v, model) in index.index else math.nan

        for v in (*schema.VESSELS, ANY_VESSEL):
            k = f"{key}_{_key(v)}"
            for prefix, model in (*((p, m) for m, p in _AUC_KEYS.items()), ("ptp_net", reference)):
                for suffix, column in (("", "auc"), ("_lo", "ci_low"), ("_hi", "ci_high")):
                    out[f"{prefix}_{k}{suffix}"] = get(v, model, column)
            for pair, model in UNFITTED.items():
                for suffix, column in (("", "diff"), ("_lo", "diff_low"), ("_hi", "diff_high")):
                    out[f"d_{pair}_{k}{suffix}"] = get(v, model, column)
                out[f"p_{pair}_{k}"] = format_p(get(v, model, "p_value"))
        for pair, model in UNFITTED.items():
            if isinstance(comparison, Skipped):
                text = comparison.message
            elif rows.empty:
                text = f"There is no {population} population with a PTP in this run."
            elif model == RF_CL and cover.at[population, "rf_cl_skipped"]:
                text = rf_cl_status(cover.at[population, "rf_cl_skipped"], population)
            else:
                text = pair_sentence(rows, reference, model)
            out[f"sentence_{pair}_{key}"] = text
    return out


def _coverage_sentence(row: pd.Series) -> str:
    """``"Of the 1,204 ECGs, 1,180 (of 402 patients) have a PTP; 24 have none (...)."``"""
    text = (
        f"Of the {int(row['ecgs']):,} ECGs, {int(row['with_ptp']):,} (of "
        f"{int(row['patients_with_ptp']):,} patients) have a PTP"
    )
    if row["without_ptp"]:
        return text + f"; {int(row['without_ptp']):,} have none ({row['reasons']})."
    return text + ", every one."


def ptp_display(comparison: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """One row per population and vessel (any vessel last): ECGs compared (positive), patients,
    each model's AUC [95% CI] on those ECGs, network - PTP and network - RF-CL (where the
    population has one) [95% CI] with their p, and the intervals' methods. An estimate the
    small-count policy withheld shows its reason."""
    rows = []
    for (population, vessel), group in comparison.groupby(["population", "vessel"], sort=False):
        first = group.iloc[0]
        row = {
            "population": population,
            "vessel": vessel,
            "ECGs compared (positive)": f"{int(first['n']):,} ({int(first['positives']):,})",
            "patients": (
                f"{int(first['patients']):,}" if pd.notna(first.get("patients")) else "n/a"
            ),
        }
        for m in group.itertuples(index=False):
            row[f"{m.model}: AUC [95% CI]"] = _why_not(m) or format_estimate(
                *_values(m, "auc", "ci_low", "ci_high"), digits
            )
        for m in group[group["model"].isin(UNFITTED.values())].itertuples(index=False):
            label = f"{SHORT[NETWORK]} - {SHORT[m.model]}"
            row[f"{label} [95% CI]"] = _why_not(m) or format_estimate(
                *_values(m, "diff", "diff_low", "diff_high"), digits
            )
            row[f"p ({label})"] = _why_not(m) or format_p(*_values(m, "p_value"))
        row["intervals"] = f"AUC: {INTERVAL}; difference: {DIFFERENCE}"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["population", "vessel"])


def _why_not(m) -> str:
    """Why a comparison row has no estimate: the small-count policy's reason, or the reason
    :func:`ptp_comparison` gave (one class); "" for a row with estimates."""
    reason = getattr(m, "reason", "")
    return withheld_reason(m) or (reason if isinstance(reason, str) else "")


def _values(m, *names: str) -> list[float]:
    """A row's estimates, NaN for a column the comparison lacks (no vessel had two classes)."""
    return [float(getattr(m, name, math.nan)) for name in names]


def nri_parts(
    results, combined, vessels: Sequence[str], *, alpha: float = 0.05
) -> dict[tuple[str, str], dict[str, object] | Skipped]:
    """:func:`ptp_nri` of the ECG + clinical model (``combined``, a
    :class:`~ecglib.metrics.baselines.CrossFitted` or Skipped) per population key of
    :data:`POPULATIONS` and outcome of :data:`NRI_OUTCOMES`, each population on its own shared
    patient resamples (``results.resamples``); a part that cannot be computed is Skipped with
    its reason."""
    out: dict[tuple[str, str], dict[str, object] | Skipped] = {}
    for key, field, table in (
        ("internal", "oof", results.oof),
        ("external", "external", results.external),
    ):
        for outcome, grade in NRI_OUTCOMES.items():
            part = f"The NRI over the PTP ({POPULATIONS[key]}, {outcome} disease)"
            if table is None:
                out[key, outcome] = Skipped(part, "the run has no external site")
            elif isinstance(combined, Skipped):
                out[key, outcome] = combined
            else:
                probability = attempt(
                    part, any_vessel_probability, getattr(combined, field), vessels
                )
                out[key, outcome] = attempt(
                    part,
                    ptp_nri,
                    table,
                    probability,
                    results.resamples(field),
                    min_grade=grade,
                    alpha=alpha,
                )
    return out


def nri_numbers(parts: Mapping[tuple[str, str], dict[str, object] | Skipped]) -> dict:
    """Glue keys of :func:`nri_parts`, ``<pop>_<outcome>`` for every population key and
    outcome (NaN / "n/a" where skipped): ``nri_<k>`` (+ ``_lo``, ``_hi``), ``nri_events_<k>``,
    ``nri_nonevents_<k>`` (with intervals), ``nri_p_<k>`` (text), ``nri_exams_<k>``,
    ``nri_with_<k>``, ``nri_patients_<k>``, ``nri_n_events_<k>``; and ``nri_sentence_<k>``."""
    out: dict[str, float | str] = {}
    for key in POPULATIONS:
        for outcome in NRI_OUTCOMES:
            k = f"{key}_{outcome}"
            part = parts.get((key, outcome))
            have = isinstance(part, dict)
            for name in ("nri", "nri_events", "nri_nonevents"):
                for suffix in ("", "_lo", "_hi"):
                    value = part["boot"][f"{name}{suffix}"] if have else math.nan
                    out[f"{name}_{k}{suffix}"] = value
            out[f"nri_p_{k}"] = format_p(part["test"]["p_value"] if have else math.nan, prefix="p")
            for name, field in (
                ("exams", "exams"),
                ("with", "with_ptp"),
                ("patients", "patients"),
                ("n_events", "events"),
            ):
                out[f"nri_{name}_{k}"] = part[field] if have else math.nan
            if have:
                out[f"nri_sentence_{k}"] = nri_sentence(part)
            elif isinstance(part, Skipped):
                out[f"nri_sentence_{k}"] = part.message
            else:
                out[f"nri_sentence_{k}"] = "Not computed."
    return out


def nri_sentence(part: Mapping[str, object]) -> str:
    """The NRI with its interval and p, its components, and what it shows: an improvement or a
    worsening only when the patient-bootstrap interval excludes 0."""
    b, t = part["boot"], part["test"]
    n_missing = part["exams"] - part["with_ptp"]
    text = (
        f"On the {part['with_ptp']:,} examinations with a PTP ({part['patients']:,} patients; "
        f"{n_missing:,} of {part['exams']:,} index ECGs have none), {part['events']:,} with the "
        f"outcome, the NRI of the ECG + clinical model's categories over the PTP's is "
        f"{b['nri']:+.3f} (95% CI {b['nri_lo']:+.3f} to {b['nri_hi']:+.3f}, "
        f"{format_p(t['p_value'], prefix='p')}): {b['nri_events']:+.3f} among events and "
        f"{b['nri_nonevents']:+.3f} among non-events"
    )
    if b["nri_lo"] > 0:
        return text + ". The interval excludes 0: on net, the model's categories classify better."
    if b["nri_hi"] < 0:
        return text + ". The interval excludes 0: on net, the PTP's categories classify better."
    return text + (
        ". The interval includes 0: the data do not show that either categorisation "
        "classifies better."
    )


def nri_display(part: Mapping[str, object], outcome: str) -> pd.DataFrame:
    """:func:`ecglib.chapters.ptp.nri_table` of one part (the PTP chapter's table)."""
    return nri_table(
        part["result"],
        part["boot"],
        part["test"],
        outcome=outcome,
        unit=f"{part['with_ptp']:,} examinations (index ECGs) of {part['patients']:,} patients",
    )
