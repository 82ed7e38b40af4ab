"""Chapter 12, "Does the ECG add?": which artery, a clinical baseline, paired comparisons and
where disease is cut.

Every AUC of the page is the ECG-level AUC with the clustered DeLong interval (Obuchowski 1997;
unit: patient, the joined predictions' pseudonymous ``patient`` key; logit-scale Wald), and
every difference of two AUCs on the same ECGs the clustered paired difference with its normal
interval and two-sided p (:mod:`ecglib.metrics.auc_contrasts`). The internal population is the
pooled out-of-fold predictions.

* **Which artery?** (:mod:`ecglib.metrics.vessel_specificity`): the 4 x 4 matrix of AUCs of
  each vessel's head against each vessel's label, and the same among ECGs with severe disease
  in another vessel, where a head that only scores "any disease" falls to chance.
* **The clinical baseline** (:func:`ecglib.metrics.baselines.clinical_baseline`): a logistic
  regression per vessel on age, sex and symptom (those the cohort has), cross-fitted on the
  network's outer folds, the external site scored by the mean of the fold models; skipped,
  with the reason, when the cohort has none of the variables.
* **Paired comparisons** (:func:`ecglib.metrics.auc_contrasts.model_comparison_table`): per
  population and vessel, the network's and the clinical model's AUC on the same ECGs and the
  difference network - clinical.
* **Where disease is cut** (:mod:`ecglib.metrics.outcomes`): the same predictions against grade
  >= 2, >= 3, grade 4 only and grade >= 3 vs grade 0, per vessel and for any vessel (the
  noisy-OR of the four probabilities), per population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped, attempt, skipped_of, unless_skipped
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.metrics.auc_contrasts import model_comparison_table
from ecglib.metrics.baselines import CrossFitted, clinical_baseline
from ecglib.metrics.outcomes import ANY_VESSEL, OUTCOMES, outcome_auc_table
from ecglib.metrics.vessel_specificity import cross_vessel_matrix
from ecglib.report.present import format_estimate, format_p

__all__ = [
    "AddedValue",
    "analyse",
    "matrix_table",
    "comparisons",
    "comparison_table",
    "comparison_sentence",
    "POPULATIONS",
    "outcome_tables",
    "outcome_table",
    "outcome_numbers",
    "matrix_sentence",
    "specific_sentence",
    "INTERVAL",
    "DIFFERENCE",
]

#: The page's AUC interval, as its tables name it.
INTERVAL = "clustered DeLong (unit: patient), logit-scale Wald"
#: The page's populations: key -> name.
POPULATIONS = {"internal": "internal, pooled out-of-fold", "external": "external"}
#: The models compared, by their name in the tables; the network is the reference.
NETWORK, CLINICAL = "ECG network", "clinical"
#: The page's interval of a paired AUC difference.
DIFFERENCE = "paired clustered DeLong (unit: patient), normal"


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
    #: Network and clinical AUCs per population and vessel, with the paired difference
    #: network - clinical (:func:`comparisons`), or why there are none.
    comparisons: pd.DataFrame | Skipped
    #: Why the external population has no comparison (None when it has one).
    external: Skipped | None
    #: AUC per population, outcome definition and vessel (:func:`outcome_tables`).
    outcomes: pd.DataFrame

    def outcome_table(self) -> pd.DataFrame:
        """The outcome definitions' AUCs as text (:func:`outcome_table`)."""
        return outcome_table(self.outcomes)

    def internal_outcomes(self) -> pd.DataFrame:
        """The internal population's rows of :attr:`outcomes` (for the figure)."""
        return self.outcomes[self.outcomes["population"] == POPULATIONS["internal"]]

    def comparison_table(self) -> pd.DataFrame | Skipped:
        """The paired comparisons as text (:func:`comparison_table`)."""
        return unless_skipped(comparison_table, self.comparisons)

    def differences(self) -> pd.DataFrame | Skipped:
        """The rows of the differences network - clinical, for the forest figure."""
        return unless_skipped(_difference_rows, self.comparisons)

    def matrix_table(self) -> pd.DataFrame:
        """The cross-vessel matrix as text (:func:`matrix_table`)."""
        return matrix_table(self.matrix)

    def specific_table(self) -> pd.DataFrame:
        """The vessel-specific matrix as text (:func:`matrix_table`)."""
        return matrix_table(self.specific)

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
        out["matrix_sentence"] = matrix_sentence(self.matrix)
        out["specific_sentence"] = specific_sentence(self.specific)
        out.update(comparison_numbers(self.comparisons))
        out.update(outcome_numbers(self.outcomes))
        out["clinical_variables"] = (
            _join(self.clinical_columns) if self.clinical_columns else "none"
        )
        return out

    def outputs(self) -> dict[str, object]:
        return {
            "added_value_cross_vessel": self.matrix,
            "added_value_vessel_specific": self.specific,
            "added_value_clinical_vs_network": self.comparisons,
            "added_value_outcomes": self.outcomes,
            "added_value": self.numbers(),
        }

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.comparisons, self.external])


def analyse(run: RunParams, results: RunResults | None = None) -> AddedValue:
    """Chapter 12 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    oof = results.oof
    vessels = tuple(schema.vessels_of(oof))
    external = attempt("The external comparison", results.require_external)
    ext_table = None if isinstance(external, Skipped) else external
    clinical = attempt("The clinical baseline", clinical_baseline, oof, ext_table, vessels)
    columns = () if isinstance(clinical, Skipped) else _variables(clinical)
    return AddedValue(
        vessels=vessels,
        n_ecgs=len(oof),
        n_patients=int(oof["patient"].nunique()),
        matrix=cross_vessel_matrix(oof, vessels),
        specific=cross_vessel_matrix(oof, vessels, within_other_disease=True),
        clinical=clinical,
        clinical_columns=columns,
        comparisons=unless_skipped(comparisons, oof, ext_table, clinical, vessels),
        external=external if isinstance(external, Skipped) else None,
        outcomes=outcome_tables(oof, ext_table, vessels),
    )


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


def outcome_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """One row per population, definition and vessel: ECGs kept (left out), positive and
    negative ECGs, patients, AUC [95% CI] and the interval's method."""
    rows = []
    for r in table.itertuples(index=False):
        rows.append(
            {
                "population": r.population,
                "definition": r.definition,
                "vessel": r.vessel,
                "ECGs (left out)": f"{r.n:,} ({r.excluded:,})",
                "positive / negative ECGs": f"{r.positives:,} / {r.negatives:,}",
                "patients": f"{r.patients:,}",
                "AUC [95% CI]": format_estimate(r.auc, r.ci_low, r.ci_high, digits)
                + (f" ({r.reason})" if r.reason else ""),
                "95% CI": INTERVAL,
            }
        )
    return pd.DataFrame(rows).set_index(["population", "definition", "vessel"])


def _vessel_key(vessel: str) -> str:
    return "any" if vessel == ANY_VESSEL else vessel


def outcome_numbers(table: pd.DataFrame) -> dict[str, float | str]:
    """Glue-ready numbers of :func:`outcome_tables`: ``o_<pop>_<outcome>_<vessel>`` (vessel
    ``any`` for any vessel) with ``_lo``, ``_hi``, ``_pos`` and ``_n``, NaN where absent; and
    ``outcome_sentence_<pop>``."""
    out: dict[str, float | str] = {}
    for key, population in POPULATIONS.items():
        rows = table[table["population"] == population].set_index(["outcome", "vessel"])
        for outcome in OUTCOMES:
            for vessel in (*schema.VESSELS, ANY_VESSEL):
                have = (outcome.key, vessel) in rows.index
                name = f"o_{key}_{outcome.key}_{_vessel_key(vessel)}"
                for suffix, column in (
                    ("", "auc"),
                    ("_lo", "ci_low"),
                    ("_hi", "ci_high"),
                    ("_pos", "positives"),
                    ("_n", "n"),
                ):
                    out[name + suffix] = (
                        float(rows.at[(outcome.key, vessel), column]) if have else math.nan
                    )
        out[f"outcome_sentence_{key}"] = (
            outcome_sentence(rows.reset_index())
            if len(rows)
            else f"There is no {population} population in this run."
        )
    return out


def outcome_sentence(rows: pd.DataFrame) -> str:
    """The any-vessel AUC under each definition, with its interval and counts; and which
    vessel-definition pairs have no AUC."""
    parts = []
    for r in rows[rows["vessel"] == ANY_VESSEL].itertuples(index=False):
        if np.isfinite(r.auc):
            parts.append(
                f"{r.auc:.3f} ({_ci(r.ci_low, r.ci_high)}; {r.positives:,} of {r.n:,} ECGs "
                f"positive) for {r.definition}"
            )
        else:
            parts.append(f"no AUC for {r.definition} ({r.reason})")
    text = "For any vessel, the noisy-OR score's AUC is " + "; ".join(parts) + "." if parts else ""
    missing = rows[~np.isfinite(rows["auc"].astype(float)) & (rows["vessel"] != ANY_VESSEL)]
    for r in missing.itertuples(index=False):
        text += f" The {r.vessel} has no AUC for {r.definition} ({r.reason})."
    return text.strip()


def _variables(clinical: CrossFitted) -> tuple[str, ...]:
    """The clinical variables behind a baseline's design columns (``sex: female`` -> sex)."""
    return tuple(dict.fromkeys(t.split(":")[0] for t in clinical.terms))


def comparisons(
    oof: pd.DataFrame,
    external: pd.DataFrame | None,
    clinical: CrossFitted,
    vessels: Sequence[str],
) -> pd.DataFrame:
    """Network vs clinical baseline per population (:data:`POPULATIONS`; the external one when
    there is one) and vessel: :func:`~ecglib.metrics.auc_contrasts.model_comparison_table` with
    the network as reference, a ``population`` column first and the ``patients`` counted."""
    sets = [("internal", oof, clinical.oof)]
    if external is not None:
        sets.append(("external", external, clinical.external))
    parts = []
    for key, table, baseline in sets:
        table = table.reset_index(drop=True)
        scores = {
            NETWORK: table[schema.prob_cols(vessels)],
            CLINICAL: baseline[schema.prob_cols(vessels)].reset_index(drop=True),
        }
        part = model_comparison_table(table, scores, vessels, reference=NETWORK)
        parts.append(part.assign(population=POPULATIONS[key]))
    out = pd.concat(parts, ignore_index=True)
    return out[["population", *[c for c in out.columns if c != "population"]]].rename(
        columns={"clusters": "patients"}
    )


# ------------------------------------------------------------------------------------------
# presentation
# ------------------------------------------------------------------------------------------
def _ci(low: float, high: float, digits: int = 3) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "95% CI n/a"
    dash = " to "
    return f"95% CI {low:.{digits}f}{dash}{high:.{digits}f}"


def _difference(r, digits: int = 3) -> str:
    """``"0.041, 95% CI 0.012 to 0.070, p = 0.006"`` of a matrix row's ``own_minus_head``."""
    return (
        f"{r['own_minus_head']:+.{digits}f}, {_ci(r['diff_low'], r['diff_high'], digits)}, "
        f"{format_p(r['p_value'], prefix='p')}"
    )


def matrix_table(matrix: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """AUC [95% CI] of each head (columns) for each outcome vessel (rows), with each row's ECGs,
    positive ECGs and patients and the interval's method."""
    text = matrix.assign(
        cell=[
            format_estimate(a, lo, hi, digits)
            for a, lo, hi in zip(matrix["auc"], matrix["ci_low"], matrix["ci_high"])
        ]
    )
    heads = [v for v in schema.VESSELS if v in set(matrix["head"])]
    outcomes = [v for v in schema.VESSELS if v in set(matrix["outcome"])]
    wide = text.pivot(index="outcome", columns="head", values="cell").loc[outcomes, heads]
    wide.columns = [f"{h} head" for h in heads]
    first = matrix.drop_duplicates("outcome").set_index("outcome").loc[outcomes]
    wide["ECGs (positive)"] = [f"{n:,} ({p:,})" for n, p in zip(first["n"], first["positives"])]
    wide["patients"] = first["patients"].to_numpy()
    wide["95% CI"] = INTERVAL
    wide.index = [f"{v} disease" for v in outcomes]
    return wide


def comparison_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """One row per population and vessel: ECGs (positive), patients, each model's AUC [95% CI],
    the difference network - clinical [95% CI], its p, and the intervals' methods."""
    rows = []
    for (population, vessel), group in table.groupby(["population", "vessel"], sort=False):
        g = group.set_index("model")
        net, clin = g.loc[NETWORK], g.loc[CLINICAL]
        rows.append(
            {
                "population": population,
                "vessel": vessel,
                "ECGs (positive)": f"{int(net['n']):,} ({int(net['positives']):,})",
                "patients": _count(net["patients"]),
                f"{NETWORK}: AUC [95% CI]": format_estimate(
                    net["auc"], net["ci_low"], net["ci_high"], digits
                ),
                f"{CLINICAL}: AUC [95% CI]": format_estimate(
                    clin["auc"], clin["ci_low"], clin["ci_high"], digits
                ),
                "network - clinical [95% CI]": format_estimate(
                    clin["diff"], clin["diff_low"], clin["diff_high"], digits
                ),
                "p": format_p(clin["p_value"]),
                "intervals": f"AUC: {INTERVAL}; difference: {DIFFERENCE}",
            }
        )
    return pd.DataFrame(rows).set_index(["population", "vessel"])


def _count(value) -> str:
    return f"{int(value):,}" if pd.notna(value) else "n/a"


def _difference_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The clinical rows of :func:`comparisons` (their ``diff`` is network - clinical) with a
    ``comparison`` label naming the population."""
    rows = table[table["model"] == CLINICAL].copy()
    rows["comparison"] = "network - clinical, " + rows["population"].str.split(",").str[0]
    return rows.reset_index(drop=True)


def comparison_numbers(table: pd.DataFrame | Skipped) -> dict[str, float | str]:
    """Glue-ready numbers of :func:`comparisons` for every population key and vessel (NaN and
    "n/a" where absent, so the text always finds its keys): ``clin_<pop>_<v>`` (+ ``_lo``,
    ``_hi``), ``net_<pop>_<v>``, ``diff_<pop>_<v>`` (+ ``_lo``, ``_hi``), ``p_<pop>_<v>``
    (formatted) and ``comparison_sentence_<pop>``."""
    out: dict[str, float | str] = {}
    for key, population in POPULATIONS.items():
        rows = (
            pd.DataFrame(columns=["vessel", "model"])
            if isinstance(table, Skipped)
            else table[table["population"] == population]
        )
        index = rows.set_index(["vessel", "model"])
        for v in schema.VESSELS:

            def get(model: str, column: str, v=v, index=index) -> float:
                have = (v, model) in index.index
                return float(index.at[(v, model), column]) if have else math.nan

            for prefix, model in (("net", NETWORK), ("clin", CLINICAL)):
                out[f"{prefix}_{key}_{v}"] = get(model, "auc")
                out[f"{prefix}_{key}_{v}_lo"] = get(model, "ci_low")
                out[f"{prefix}_{key}_{v}_hi"] = get(model, "ci_high")
            out[f"diff_{key}_{v}"] = get(CLINICAL, "diff")
            out[f"diff_{key}_{v}_lo"] = get(CLINICAL, "diff_low")
            out[f"diff_{key}_{v}_hi"] = get(CLINICAL, "diff_high")
            out[f"p_{key}_{v}"] = format_p(get(CLINICAL, "p_value"))
        out[f"comparison_sentence_{key}"] = (
            table.message
            if isinstance(table, Skipped)
            else comparison_sentence(rows)
            if len(rows)
            else f"There is no {population} population in this run."
        )
    return out


def comparison_sentence(rows: pd.DataFrame) -> str:
    """Per vessel, the network's and the clinical model's AUC and which one separates the
    vessel's disease better, claimed only when the interval of the difference excludes 0."""
    parts, better, worse, unclear = [], [], [], []
    for vessel, group in rows.groupby("vessel", sort=False):
        g = group.set_index("model")
        net, clin = g.loc[NETWORK], g.loc[CLINICAL]
        if not np.isfinite(clin["diff"]):
            parts.append(f"The {vessel} has no comparison ({clin['reason'] or 'no interval'}).")
            continue
        text = (
            f"{vessel}: network {net['auc']:.3f}, clinical {clin['auc']:.3f}, difference "
            f"{clin['diff']:+.3f} ({_ci(clin['diff_low'], clin['diff_high'])}, "
            f"{format_p(clin['p_value'], prefix='p')})"
        )
        parts.append(text)
        if clin["diff_low"] > 0:
            better.append(vessel)
        elif clin["diff_high"] < 0:
            worse.append(vessel)
        else:
            unclear.append(vessel)
    summary = []
    if better:
        summary.append(f"the network separates {_disease(better)} better than the clinical model")
    if worse:
        summary.append(f"the clinical model separates {_disease(worse)} better than the network")
    if unclear:
        summary.append(
            f"for {_disease(unclear)} the interval of the difference includes 0: the data do not "
            "show which of the two separates it better"
        )
    text = "; ".join(parts) + "."
    if summary:
        text += " So " + "; ".join(summary) + "."
    return text


def _disease(vessels: Sequence[str]) -> str:
    return f"{_join(vessels)} disease"


def matrix_sentence(matrix: pd.DataFrame) -> str:
    """What the cross-vessel matrix shows, per outcome vessel: whether its own head has the
    highest AUC, and the paired difference to the best other head, claimed only when its
    interval excludes 0."""
    parts = []
    for outcome, rows in matrix.groupby("outcome", sort=False):
        own = rows[rows["own"]].iloc[0]
        others = rows[~rows["own"] & np.isfinite(rows["auc"])]
        if not np.isfinite(own["auc"]) or others.empty:
            parts.append(f"The {outcome} has no AUC ({own['reason'] or 'no other head'}).")
            continue
        best = others.loc[others["auc"].idxmax()]
        head, d = best["head"], _difference(best)
        if own["auc"] >= best["auc"]:
            text = (
                f"For {outcome} disease the {outcome} head has the highest AUC of the heads "
                f"({own['auc']:.3f}); the next best, the {head} head ({best['auc']:.3f}), is "
                f"lower by {d[1:]}"
            )
            if best["diff_low"] > 0:
                text += ", a difference the interval supports."
            else:
                text += ": the interval includes no difference, so the data do not show that the "
                text += f"{outcome} head separates {outcome} disease better than the {head} head."
        else:
            text = (
                f"For {outcome} disease the {head} head's AUC ({best['auc']:.3f}) is higher than "
                f"the {outcome} head's own ({own['auc']:.3f}; own minus {head}: {d})"
            )
            if best["diff_high"] < 0:
                text += (
                    f": the {head} head separates {outcome} disease better than the {outcome} head."
                )
            else:
                text += (
                    ": the interval includes no difference, so neither head is shown to separate "
                    f"{outcome} disease better."
                )
        parts.append(text)
    return " ".join(parts)


def specific_sentence(specific: pd.DataFrame) -> str:
    """What the vessel-specific view shows, per vessel: its own head's AUC among ECGs with
    severe disease in another vessel, whether that interval excludes 0.5, and which other heads
    it is shown to beat (or to trail); then how many vessels' heads beat every other head."""
    parts = []
    specific_count, defined = 0, 0
    for outcome, rows in specific.groupby("outcome", sort=False):
        own = rows[rows["own"]].iloc[0]
        if not np.isfinite(own["auc"]):
            parts.append(f"The {outcome} has no vessel-specific AUC ({own['reason']}).")
            continue
        defined += 1
        others = rows[~rows["own"]]
        beats = list(others.loc[others["diff_low"] > 0, "head"])
        trails = list(others.loc[others["diff_high"] < 0, "head"])
        level = (
            "above chance"
            if own["ci_low"] > 0.5
            else "below chance"
            if own["ci_high"] < 0.5
            else "not distinguishable from chance (0.5)"
        )
        text = (
            f"Among the {int(own['n']):,} ECGs with severe disease in another vessel "
            f"({int(own['positives']):,} with {outcome} disease), the {outcome} head's AUC is "
            f"{own['auc']:.3f} ({_ci(own['ci_low'], own['ci_high'])}), {level}"
        )
        if len(beats) == len(others) and len(others):
            specific_count += 1
            text += ", and higher than that of every other head, each difference clear of zero"
        elif beats:
            text += f"; it is clearly higher than that of {_heads(beats)}"
        if trails:
            text += f"; {_heads(trails)} separate{'s' if len(trails) == 1 else ''} it better"
        rest = [h for h in others["head"] if h not in beats and h not in trails]
        if rest and len(beats) < len(others):
            text += f"; against {_heads(rest)} the interval of the difference includes 0"
        parts.append(text + ".")
    if defined:
        parts.append(
            f"In {specific_count} of {defined} vessels the own head beats every other head "
            "among ECGs with disease elsewhere."
        )
    return " ".join(parts)


def _heads(heads: Sequence[str]) -> str:
    """``"the LM head"``, ``"the LM and LAD heads"``."""
    return f"the {_join(heads)} head" + ("s" if len(heads) > 1 else "")


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
