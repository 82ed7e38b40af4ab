"""Chapter 12, "Does the ECG add?": which artery, a clinical baseline, ECG + clinical, paired
comparisons and where disease is cut.

Every AUC of the page is the ECG-level AUC with the clustered DeLong interval (Obuchowski 1997;
unit: patient, the joined predictions' pseudonymous ``patient`` key; logit-scale Wald), and
every difference of two AUCs on the same ECGs the clustered paired difference with its normal
interval and two-sided p (:mod:`ecglib.metrics.auc_contrasts`). The internal population is the
pooled out-of-fold predictions. The words and tables are built in
:mod:`ecglib.chapters.added_value_text`.

* **Which artery?** (:mod:`ecglib.metrics.vessel_specificity`): the 4 x 4 matrix of AUCs of
  each vessel's head against each vessel's label, and the same among ECGs with severe disease
  in another vessel, where a head that only scores "any disease" falls to chance.
* **The clinical baseline** (:func:`ecglib.metrics.baselines.clinical_baseline`): a logistic
  regression per vessel on age, sex and symptom (those the cohort has), cross-fitted on the
  network's outer folds, the external site scored by the mean of the fold models; skipped,
  with the reason, when the cohort has none of the variables.
* **ECG measurements** (:mod:`ecglib.chapters.added_value_ecg`): a logistic regression per
  vessel on per-lead ST levels, QRS duration, QT interval and heart rate of each ECG's average
  beat, cross-fitted like the clinical baseline.
* **ECG + clinical** (:func:`ecglib.metrics.baselines.cross_fit_combiner`): the network's
  logit and the clinical variables in one logistic model per vessel, each fold's combiner
  fitted on its own network's predictions of its inner validation split
  (:func:`fold_network_predictions` runs the fold models on those ECGs).
* **Paired comparisons** (:func:`comparisons`): per population and vessel, each model's AUC on
  the same ECGs and the differences network - clinical, ECG + clinical - network and
  ECG + clinical - clinical.
* **The ESC 2019 PTP and the ESC 2024 RF-CL** (:mod:`ecglib.chapters.added_value_ptp`,
  :mod:`ecglib.chapters.added_value_rf_cl`): the guideline pre-test probability and, when the
  cohort has the risk factors, the risk-factor-weighted clinical likelihood as unfitted scores
  beside the models on the ECGs that have them (network - PTP, network - RF-CL), and the
  categorical NRI of the ECG + clinical model over the PTP at < 5%, 5-15%, > 15% on the
  index ECG of each examination.
* **A rule-out and rule-in protocol** (:mod:`ecglib.chapters.added_value_rule`): the
  threshold for a 95% NPV and the one for the run's PPV target (``evaluation.rule_in_ppv``),
  each cross-fitted internally and fixed for the external site.
* **Where disease is cut** (:mod:`ecglib.metrics.outcomes`): the same predictions against grade
  >= 2, >= 3, grade 4 only and grade >= 3 vs grade 0, per vessel and for any vessel (the
  noisy-OR of the four probabilities), per population.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ecglib import schema
from ecglib.chapters import caveats
from ecglib.chapters.added_value_ecg import MEASUREMENTS, ecg_measurements
from ecglib.chapters.added_value_ptp import (
    NRI_OUTCOMES,
    model_scores,
    nri_display,
    nri_numbers,
    nri_parts,
    ptp_comparison,
    ptp_display,
    ptp_numbers,
)
from ecglib.chapters.added_value_rf_cl import rf_cl_skipped
from ecglib.chapters.added_value_rule import (
    RULE_OUT_NPV,
    RuleIn,
    RuleOut,
    rule_in_protocol,
    rule_out_protocol,
    withhold_protocol,
)
from ecglib.chapters.added_value_text import (
    CLINICAL,
    COMBINED,
    DIFFERENCE,
    INTERVAL,
    MEASURED,
    NETWORK,
    POPULATIONS,
    comparison_numbers,
    comparison_table,
    difference_rows,
    format_p,
    join_words,
    matrix_sentence,
    matrix_table,
    outcome_numbers,
    outcome_table,
    specific_sentence,
    unfitted_difference_rows,
)
from ecglib.chapters.cohort import RISK_FACTOR_NAMES
from ecglib.chapters.parts import Skipped, attempt, skipped_of, unless_skipped
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.errors import MissingInputError
from ecglib.metrics.auc_contrasts import model_comparison_table
from ecglib.metrics.baselines import (
    CrossFitted,
    clinical_baseline,
    clinical_design,
    cross_fit_combiner,
    cross_fit_logistic,
)
from ecglib.metrics.outcomes import outcome_auc_table
from ecglib.metrics.rule_out import PERFORMANCE, RULE_IN_PERFORMANCE
from ecglib.metrics.small_counts import WITHHELD, withhold
from ecglib.metrics.vessel_specificity import cross_vessel_matrix

__all__ = [
    "AddedValue",
    "Skipped",
    "analyse",
    "comparisons",
    "combined_model",
    "measurement_baseline",
    "fold_network_predictions",
    "outcome_tables",
    "format_p",
    "matrix_sentence",
    "specific_sentence",
    "CLINICAL",
    "COMBINED",
    "DIFFERENCE",
    "INTERVAL",
    "MEASURED",
    "NETWORK",
    "POPULATIONS",
]


@dataclass(frozen=True)
class AddedValue:
    """What chapter 12 shows (:func:`analyse`)."""

    #: Vessels the run assesses, in the paper's order.
    vessels: tuple[str, ...]
    #: Internal out-of-fold ECGs and patients.
    n_ecgs: int
    n_patients: int
    #: Every head against every vessel's label, all internal ECGs
    #: (:func:`~ecglib.metrics.vessel_specificity.cross_vessel_matrix`).
    matrix: pd.DataFrame
    #: The same among the ECGs with severe disease in another vessel.
    specific: pd.DataFrame
    #: The cross-fitted clinical baseline, or why there is none.
    clinical: CrossFitted | Skipped
    #: The clinical variables the baseline uses.
    clinical_columns: tuple[str, ...]
    #: The cross-fitted ECG + clinical model, or why there is none.
    combined: CrossFitted | Skipped
    #: The cross-fitted ECG-measurement baseline, or why there is none.
    measured: CrossFitted | Skipped
    #: Each model's AUC per population and vessel and the paired differences
    #: (:func:`comparisons`), or why there are none.
    comparisons: pd.DataFrame | Skipped
    #: Why the external population has no comparison (None when it has one).
    external: Skipped | None
    #: AUC per population, outcome definition and vessel (:func:`outcome_tables`).
    outcomes: pd.DataFrame
    #: Every model, the ESC 2019 PTP and (with the risk factors) the ESC 2024 RF-CL on the ECGs
    #: with both, network - PTP and network - RF-CL
    #: (:func:`~ecglib.chapters.added_value_ptp.ptp_comparison`), or why there is none.
    ptp: pd.DataFrame | Skipped
    #: Per population, the ECGs with and without a PTP, with and without an RF-CL, and why
    #: (None when skipped).
    ptp_coverage: pd.DataFrame | None
    #: The NRI of the ECG + clinical model over the PTP per (population key, outcome)
    #: (:func:`~ecglib.chapters.added_value_ptp.nri_parts`), or why there is none.
    nri: Mapping[tuple[str, str], Mapping[str, object] | Skipped]
    #: The rule-out protocol (:mod:`ecglib.chapters.added_value_rule`), or why there is none.
    rule_out: RuleOut | Skipped
    #: The rule-in protocol for the run's PPV target (``evaluation.rule_in_ppv``), or why there
    #: is none.
    rule_in: RuleIn | Skipped
    #: The small-count threshold (``report.min_events``): AUCs, differences and tests of
    #: :attr:`matrix`, :attr:`specific`, :attr:`comparisons`, :attr:`ptp` and :attr:`outcomes`
    #: on fewer positive (or negative) ECGs are withheld (:func:`withhold_aucs`).
    min_events: int = 5

    def withheld_sentence(self) -> str:
        """Which AUCs of the page are withheld under the small-count policy, in words."""
        tables = [
            (self.matrix, lambda r: f"the {r['head']} head for {r['outcome']} disease"),
            (
                self.specific,
                lambda r: (
                    f"the {r['head']} head for {r['outcome']} disease among ECGs with "
                    "disease elsewhere"
                ),
            ),
            (
                self.outcomes,
                lambda r: f"the {r['vessel']} at {r['definition']}, {r['population']}",
            ),
        ]
        if isinstance(self.comparisons, pd.DataFrame):
            network = self.comparisons[
                (self.comparisons["reference"] == NETWORK) & (self.comparisons["model"] == NETWORK)
            ]
            tables.append((network, lambda r: f"the {r['vessel']}, {r['population']}"))
        if isinstance(self.ptp, pd.DataFrame):
            # one row per population and vessel: its models share the ECGs, so the same count
            network = self.ptp[self.ptp["model"] == NETWORK]
            tables.append(
                (
                    network,
                    lambda r: (
                        f"the {r['vessel']} beside the guideline baselines, {r['population']}"
                    ),
                )
            )
        # one list under one rule: every table's withheld rows, named by their own labels
        named = pd.concat(
            [
                pd.DataFrame({"what": [label(r) for _, r in t.iterrows()], WITHHELD: t[WITHHELD]})
                for t, label in tables
                if WITHHELD in t.columns and len(t)
            ],
            ignore_index=True,
        )
        return caveats.join_sentences(
            [caveats.withheld_sentence(named, "what", self.min_events)],
            empty="No AUC on this page rests on too few events.",
        )

    def below_half_sentence(self) -> str:
        """Which models' AUCs in the comparison are below 0.5, and why that can happen to a
        cross-fitted model (:func:`ecglib.chapters.caveats.auc_below_half_sentence`)."""
        if not isinstance(self.comparisons, pd.DataFrame):
            return "The model comparison is skipped, so no AUC is checked against 0.5."
        # every model once per population and vessel (a model is compared with several
        # references, on the same ECGs, so its AUC repeats)
        aucs = self.comparisons.drop_duplicates(["population", "vessel", "model"])
        return caveats.join_sentences(
            [
                caveats.auc_below_half_sentence(
                    aucs,
                    lambda r: (
                        f"the {r['model']} model for {r['vessel']} disease, {r['population']}"
                    ),
                    why=FEW_EVENTS_REVERSED,
                )
            ],
            empty="No model's AUC on this page is below 0.5.",
        )

    def matrix_table(self) -> pd.DataFrame:
        """The cross-vessel matrix as text."""
        return matrix_table(self.matrix)

    def specific_table(self) -> pd.DataFrame:
        """The vessel-specific matrix as text."""
        return matrix_table(self.specific)

    def comparison_table(self) -> pd.DataFrame | Skipped:
        """The paired comparisons as text."""
        return unless_skipped(comparison_table, self.comparisons)

    def differences(self) -> pd.DataFrame | Skipped:
        """The paired differences, one row per population, vessel and pair (forest figure)."""
        return unless_skipped(difference_rows, self.comparisons)

    def ptp_table(self) -> pd.DataFrame | Skipped:
        """The models, the PTP and the RF-CL on the ECGs compared with them, as text."""
        return unless_skipped(ptp_display, self.ptp)

    def unfitted_differences(self) -> pd.DataFrame | Skipped:
        """network - PTP and network - RF-CL, one row per population, vessel and baseline
        (forest figure)."""
        return unless_skipped(unfitted_difference_rows, self.ptp)

    def nri_table(self, population: str = "internal", outcome: str = "severe"):
        """The NRI over the PTP of a population key and outcome as text
        (:func:`~ecglib.chapters.ptp.nri_table`), or why there is none."""
        part = self.nri[population, outcome]
        label = f"any vessel, grade >= {NRI_OUTCOMES[outcome]} ({outcome})"
        return part if isinstance(part, Skipped) else nri_display(part, label)

    def rule_out_table(self) -> pd.DataFrame | Skipped:
        """The rule-out protocol as text."""
        return unless_skipped(lambda r: r.display(), self.rule_out)

    def rule_in_table(self) -> pd.DataFrame | Skipped:
        """The rule-in protocol as text."""
        return unless_skipped(lambda r: r.display(), self.rule_in)

    def outcome_table(self) -> pd.DataFrame:
        """The outcome definitions' AUCs as text."""
        return outcome_table(self.outcomes)

    def internal_outcomes(self) -> pd.DataFrame:
        """The internal population's rows of :attr:`outcomes` (for the figure)."""
        return self.outcomes[self.outcomes["population"] == POPULATIONS["internal"]]

    def numbers(self) -> dict[str, float | str]:
        out: dict[str, float | str] = {"n_ecgs": self.n_ecgs, "n_patients": self.n_patients}
        for key, table in (("m", self.matrix), ("s", self.specific)):
            rows = table.set_index(["outcome", "head"])
            for outcome in schema.VESSELS:
                for head in schema.VESSELS:
                    have = (outcome, head) in rows.index
                    for suffix, column in (("", "auc"), ("_lo", "ci_low"), ("_hi", "ci_high")):
                        value = float(rows.at[(outcome, head), column]) if have else math.nan
                        out[f"{key}_{outcome}_{head}{suffix}"] = value
            first = table.drop_duplicates("outcome").set_index("outcome")
            for v in schema.VESSELS:
                have = v in first.index
                out[f"{key}_n_{v}"] = int(first.at[v, "n"]) if have else math.nan
                out[f"{key}_pos_{v}"] = int(first.at[v, "positives"]) if have else math.nan
        out["min_events"] = self.min_events
        out["withheld_sentence"] = self.withheld_sentence()
        out["below_half_sentence"] = self.below_half_sentence()
        out["matrix_sentence"] = matrix_sentence(self.matrix)
        out["specific_sentence"] = specific_sentence(self.specific)
        out.update(comparison_numbers(self.comparisons))
        out.update(outcome_numbers(self.outcomes))
        out.update(ptp_numbers(self.ptp, self.ptp_coverage, NETWORK))
        out.update(nri_numbers(self.nri))
        if not isinstance(self.rule_out, Skipped):
            out.update(self.rule_out.numbers())
        if isinstance(self.rule_in, RuleIn):
            out.update(self.rule_in.numbers())
        out["clinical_variables"] = (
            join_words([variable_name(c) for c in self.clinical_columns])
            if self.clinical_columns
            else "none"
        )
        if isinstance(self.combined, Skipped):
            out["combined_status"] = self.combined.message
        elif self.combined.reasons:
            out["combined_status"] = " ".join(
                f"The {v} has no ECG + clinical model: {r}."
                for v, r in self.combined.reasons.items()
            )
        else:
            out["combined_status"] = "Every vessel has its ECG + clinical model."
        sizes = {} if isinstance(self.combined, Skipped) else self.combined.fit_rows
        out["combined_fit_min"] = min(sizes.values()) if sizes else math.nan
        out["combined_fit_max"] = max(sizes.values()) if sizes else math.nan
        return out

    def outputs(self) -> dict[str, object]:
        return {
            "added_value_cross_vessel": self.matrix,
            "added_value_vessel_specific": self.specific,
            "added_value_comparisons": self.comparisons,
            "added_value_outcomes": self.outcomes,
            "added_value_ptp": self.ptp,
            "added_value_rule_out": unless_skipped(lambda r: r.table, self.rule_out),
            "added_value_rule_in": unless_skipped(lambda r: r.table, self.rule_in),
            "added_value": self.numbers(),
        }

    def skipped(self) -> list[Skipped]:
        # the combined model's skip is listed only when the clinical baseline exists (else it
        # is the same reason twice)
        combined = self.combined if not isinstance(self.clinical, Skipped) else None
        # an NRI part is listed when it has its own reason (not the combined model's, not the
        # missing external site)
        nri = [
            p for (key, _), p in self.nri.items() if key == "internal" and p is not self.combined
        ]
        return skipped_of(
            [
                self.comparisons,
                combined,
                self.measured,
                self.external,
                self.ptp,
                *nri,
                self.rule_out,
                self.rule_in,
            ]
        ) + rf_cl_skipped(self.ptp_coverage)


def analyse(run: RunParams, results: RunResults | None = None) -> AddedValue:
    """Chapter 12 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    m = results.params.report.min_events
    oof = results.oof
    vessels = tuple(schema.vessels_of(oof))
    external = attempt("The external comparison", results.require_external)
    ext_table = None if isinstance(external, Skipped) else external
    clinical = attempt("The clinical baseline", clinical_baseline, oof, ext_table, vessels)
    columns = () if isinstance(clinical, Skipped) else _variables(clinical)
    combined = attempt(
        "The ECG + clinical model", combined_model, run, results, clinical, columns, vessels
    )
    measured = attempt("The ECG-measurement baseline", measurement_baseline, run, results, vessels)
    models = {NETWORK: None, CLINICAL: clinical}
    for name, fit in ((MEASURED, measured), (COMBINED, combined)):
        if not isinstance(fit, Skipped):
            models[name] = fit
    populations = {POPULATIONS["internal"]: (oof, model_scores(oof, models, "oof"))}
    if ext_table is not None:
        populations[POPULATIONS["external"]] = (
            ext_table,
            model_scores(ext_table, models, "external"),
        )
    with_ptp = attempt(
        "The ESC 2019 PTP baseline", ptp_comparison, populations, vessels, reference=NETWORK
    )
    return AddedValue(
        vessels=vessels,
        n_ecgs=len(oof),
        n_patients=int(oof["patient"].nunique()),
        matrix=withhold_aucs(cross_vessel_matrix(oof, vessels), m),
        specific=withhold_aucs(cross_vessel_matrix(oof, vessels, within_other_disease=True), m),
        clinical=clinical,
        clinical_columns=columns,
        combined=combined,
        measured=measured,
        comparisons=unless_skipped(
            withhold_aucs,
            unless_skipped(comparisons, oof, ext_table, clinical, vessels, models=models),
            m,
        ),
        external=external if isinstance(external, Skipped) else None,
        outcomes=withhold_aucs(outcome_tables(oof, ext_table, vessels), m),
        ptp=with_ptp if isinstance(with_ptp, Skipped) else withhold_aucs(with_ptp[0], m),
        ptp_coverage=None if isinstance(with_ptp, Skipped) else with_ptp[1],
        nri=nri_parts(results, combined, vessels),
        rule_out=attempt("The rule-out protocol", _rule_out, results, vessels),
        rule_in=attempt("The rule-in protocol", _rule_in, results, vessels),
        min_events=m,
    )


#: What :func:`withhold_aucs` blanks: AUCs, their intervals, and paired differences and tests.
_WITHHELD_ESTIMATES = (
    "auc",
    "se",
    "ci_low",
    "ci_high",
    "diff",
    "diff_se",
    "diff_low",
    "diff_high",
    "z",
    "p_value",
)


#: Why a cross-fitted model's AUC can fall below 0.5 (chapter 12's models are refitted per
#: fold on the other folds' ECGs).
FEW_EVENTS_REVERSED = (
    "a regression fitted on a handful of positives per fold learns their noise, and predicting "
    "the held-out fold from the other folds' few positives can rank it worse than chance; "
    "its AUC below 0.5 says the model has nothing to offer for that vessel here, not that its "
    "inverse would help"
)


def withhold_aucs(table: pd.DataFrame, min_events: int) -> pd.DataFrame:
    """The small-count policy on a table of AUCs with ``n`` and ``positives`` (``negatives``
    when it has them, else ``n - positives``): the AUCs, intervals, differences and tests of
    rows with too few events are withheld (:func:`ecglib.metrics.small_counts.withhold`)."""
    if "negatives" in table.columns:
        return withhold(table, min_events, _WITHHELD_ESTIMATES)
    return withhold(table, min_events, _WITHHELD_ESTIMATES, total="n")


def _rule_out(results: RunResults, vessels: Sequence[str]) -> RuleOut:
    return RuleOut(
        target=RULE_OUT_NPV,
        table=withhold_protocol(
            rule_out_protocol(results, vessels, RULE_OUT_NPV),
            results.params.report.min_events,
            PERFORMANCE,
        ),
        n_boot=results.resamples("oof").n_boot,
    )


def _rule_in(results: RunResults, vessels: Sequence[str]) -> RuleIn:
    target = results.params.evaluation.rule_in_ppv
    return RuleIn(
        target=target,
        table=withhold_protocol(
            rule_in_protocol(results, vessels, target),
            results.params.report.min_events,
            RULE_IN_PERFORMANCE,
        ),
        n_boot=results.resamples("oof").n_boot,
    )


def variable_name(column: str) -> str:
    """A clinical variable as a sentence names it: ``family_history`` -> "family history of
    CAD" (Table 1's names, :data:`ecglib.chapters.cohort.RISK_FACTOR_NAMES`), ``age`` -> "age"."""
    name = RISK_FACTOR_NAMES.get(column, column.replace("_", " "))
    return name[:1].lower() + name[1:]


def _variables(clinical: CrossFitted) -> tuple[str, ...]:
    """The clinical variables behind a baseline's design columns (``sex: female`` -> sex)."""
    return tuple(dict.fromkeys(t.split(":")[0] for t in clinical.terms))


def fold_network_predictions(
    run: RunParams, results: RunResults
) -> tuple[dict[int, pd.DataFrame], dict[int, pd.DataFrame] | None]:
    """Each fold's network on its inner validation ECGs, and on the external ECGs.

    Returns ``inner[k]``: ``p_<vessel>`` of fold ``k``'s best model on the rows of its inner
    validation split (:func:`ecglib.data.run_folds.fold_roles`, role ``val``), indexed by the
    position of those rows in ``results.oof``; and ``external[k]``: fold ``k``'s saved external
    predictions, indexed by position in ``results.external`` (None without an external site).
    """
    from ecglib.data.prepare import read_cohort
    from ecglib.data.run_folds import fold_roles, read_folds
    from ecglib.data.store import open_store
    from ecglib.paths import RunPaths
    from ecglib.train.predict import load_fold_model, predict_probs, read_predictions

    paths = RunPaths.of(run)
    cohort = read_cohort(paths.cohort)
    store = open_store(paths.store)
    folds = read_folds(run)
    position = pd.Series(range(len(results.oof)), index=results.oof["row"].to_numpy())
    inner, external = {}, None if results.external is None else {}
    for k in results.folds:
        roles = fold_roles(run, cohort, folds, k)
        rows = roles.index[roles == "val"].to_numpy()
        model = load_fold_model(run, k)
        probs = predict_probs(model, store.signals, store.rows_for(cohort.loc[rows, "ecg_path"]))
        inner[k] = pd.DataFrame(
            probs, index=position.loc[rows].to_numpy(), columns=schema.prob_cols()
        )
        if external is not None:
            saved = read_predictions(paths.external_predictions(k)).set_index("row")
            ext_rows = results.external["row"].to_numpy()
            external[k] = saved.loc[ext_rows, schema.prob_cols()].set_axis(
                range(len(ext_rows)), axis=0
            )
    return inner, external


def combined_model(
    run: RunParams,
    results: RunResults,
    clinical: CrossFitted,
    columns: Sequence[str],
    vessels: Sequence[str],
    network_predictions=None,
) -> CrossFitted:
    """The cross-fitted ECG + clinical model
    (:func:`~ecglib.metrics.baselines.cross_fit_combiner`) on the clinical baseline's
    variables, the fold networks' inner-validation predictions from ``network_predictions``
    (default :func:`fold_network_predictions`). A vessel with one class in some fold's inner
    split has no combined model (its reason in ``reasons``); with none left,
    :class:`MissingInputError`."""
    network_predictions = network_predictions or fold_network_predictions
    inner, external_network = network_predictions(run, results)
    oof = results.oof.reset_index(drop=True)
    design = clinical_design(oof, list(columns))
    ext_design = None
    if results.external is not None:
        ext = results.external.reset_index(drop=True)
        ext_design = clinical_design(ext, list(columns), reference=oof).reindex(
            columns=design.columns, fill_value=0.0
        )
    fits, reasons = [], {}
    for vessel in vessels:
        try:
            fits.append(
                cross_fit_combiner(
                    design,
                    oof,
                    oof["fold"].to_numpy(),
                    oof,
                    inner,
                    [vessel],
                    external_design=ext_design,
                    external_network=external_network,
                )
            )
        except MissingInputError as error:
            reasons[vessel] = error.reason
    if not fits:
        raise MissingInputError("; ".join(reasons.values()))
    return CrossFitted(
        oof=pd.concat([fits[0].oof[["fold"]], *[f.oof.drop(columns="fold") for f in fits]], axis=1),
        external=None if ext_design is None else pd.concat([f.external for f in fits], axis=1),
        coefficients=pd.concat([f.coefficients for f in fits], ignore_index=True),
        terms=fits[0].terms,
        reasons=reasons,
        fit_rows=fits[0].fit_rows,
    )


def measurement_baseline(
    run: RunParams, results: RunResults, vessels: Sequence[str]
) -> CrossFitted:
    """The ECG-measurement baseline: :func:`~ecglib.metrics.baselines.cross_fit_logistic` on
    :func:`~ecglib.chapters.added_value_ecg.ecg_measurements` (standardised; a missing
    measurement coded as missing), on the network's outer folds, the external ECGs scored by
    the mean of the fold models (an external measurement missing where no internal one is
    missing is set to the internal mean). :class:`MissingInputError` when no ECG has a
    measurement."""
    internal, external = ecg_measurements(run, results)
    columns = [c for c in MEASUREMENTS if internal[c].notna().any()]
    if not columns:
        raise MissingInputError("no internal ECG has an average beat to measure")
    design = clinical_design(internal, columns)
    ext_design = None
    if external is not None:
        ext_design = clinical_design(external, columns, reference=internal).reindex(
            columns=design.columns, fill_value=0.0
        )
    oof = results.oof.reset_index(drop=True)
    return cross_fit_logistic(design, oof, oof["fold"].to_numpy(), vessels, external=ext_design)


def comparisons(
    oof: pd.DataFrame,
    external: pd.DataFrame | None,
    clinical: CrossFitted,
    vessels: Sequence[str],
    *,
    models: Mapping[str, CrossFitted | None] | None = None,
) -> pd.DataFrame:
    """Each model's AUC and the paired differences, per population (:data:`POPULATIONS`; the
    external one when there is one) and vessel: :func:`model_comparison_table` with the network
    as ``reference`` (its rows: every model's AUC and network - model), and, with the combined
    model, again with it as reference (ECG + clinical - model). ``models`` maps a name to its
    cross-fitted predictions (None: the network's own); default network and ``clinical``."""
    models = dict(models) if models is not None else {NETWORK: None, CLINICAL: clinical}
    sets = [("internal", oof, "oof")]
    if external is not None:
        sets.append(("external", external, "external"))
    parts = []
    for key, table, field in sets:
        table = table.reset_index(drop=True)
        for vessel in vessels:
            column = schema.prob_col(vessel)
            scores = {
                name: (table if fit is None else getattr(fit, field).reset_index(drop=True))[
                    [column]
                ]
                for name, fit in models.items()
                if fit is None or column in getattr(fit, field).columns
            }
            for reference in [m for m in (NETWORK, COMBINED) if m in scores]:
                part = model_comparison_table(table, scores, [vessel], reference=reference)
                parts.append(part.assign(population=POPULATIONS[key], reference=reference))
    out = pd.concat(parts, ignore_index=True).rename(columns={"clusters": "patients"})
    first = ["population", "reference"]
    return out[[*first, *[c for c in out.columns if c not in first]]]


def outcome_tables(
    oof: pd.DataFrame, external: pd.DataFrame | None, vessels: Sequence[str]
) -> pd.DataFrame:
    """:func:`~ecglib.metrics.outcomes.outcome_auc_table` (noisy-OR any-vessel score) of each
    population, a ``population`` column first."""
    sets = [("internal", oof)] + ([("external", external)] if external is not None else [])
    parts = [
        outcome_auc_table(table, vessels).assign(population=POPULATIONS[key]) for key, table in sets
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[["population", *[c for c in out.columns if c != "population"]]]
