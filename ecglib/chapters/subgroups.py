"""Chapter 04, subgroups: the AUC per vessel in the pre-specified subgroups, and their
differences (exploratory).

:func:`analyse` computes the page: the internal pooled out-of-fold predictions split by the
run's pre-specified subgroups (params ``evaluation.subgroup_*``; the paper's: age < 65 vs
>= 65 years at the ECG, sex, ECG-CCTA interval <= 3 h vs > 3 h;
:func:`ecglib.metrics.subgroups.define_subgroups`), each subgroup's AUC over its ECGs with the
clustered DeLong interval (unit: patient), and the z-test of each subgroup against its
variable's reference with the clustered variances and, for patients with ECGs in both
subgroups, their covariance (:func:`ecglib.metrics.subgroups.subgroup_auc_table`); raw and
Holm-adjusted p-values over all the chapter's comparisons; the counts and p-values the text
quotes (:func:`subgroup_numbers`, p-values as :func:`ecglib.report.present.format_p` prints
them); a readable table that states its unit and interval. Without a variable's column in the
cohort the analysis is a :class:`~ecglib.chapters.parts.Skipped` part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ecglib import schema
from ecglib.chapters import caveats
from ecglib.chapters.discrimination import CLUSTER, INTERVAL
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.metrics.subgroups import VARIABLE_LABELS, define_subgroups, subgroup_auc_table
from ecglib.report.present import format_estimate, format_p

__all__ = [
    "Subgroups",
    "analyse",
    "subgroup_display",
    "subgroup_numbers",
    "shared_sentence",
    "PART",
    "TEST",
]

#: The part's name when the cohort cannot be split (a :class:`Skipped` says why).
PART = "The subgroup analysis"
#: The comparison's method, as the table names it.
TEST = "clustered z (shared patients' covariance), Holm over all tests"

#: Subgroup variables whose p-values the chapter's text quotes (``sub_p_<variable>_<vessel>``).
_VARIABLES = ("age", "sex", "interval")


@dataclass(frozen=True)
class Subgroups:
    """What chapter 04 shows (:func:`analyse`)."""

    #: :func:`~ecglib.metrics.subgroups.subgroup_auc_table` of the out-of-fold predictions (the
    #: forest plot's input), or why it is skipped.
    table: pd.DataFrame | Skipped
    #: The pre-specified cuts (params ``evaluation.subgroup_*``), for the text.
    age_cut: float
    interval_cut_hours: float
    #: Patients and ECGs of the out-of-fold predictions.
    n_patients: int
    n_ecgs: int
    #: The small-count threshold (``report.min_events``): a subgroup's AUC on fewer positive
    #: (or negative) ECGs is withheld and not tested.
    min_events: int = 5

    def caveats(self) -> str:
        """What does not fit, computed: withheld subgroup AUCs and AUCs below 0.5
        (:mod:`ecglib.chapters.caveats`)."""
        if isinstance(self.table, Skipped):
            return "The subgroup analysis is skipped, so nothing is checked."

        def label(r):
            return (
                f"the {r['vessel']} in the subgroup "
                f"{VARIABLE_LABELS.get(r['variable'], r['variable'])} {r['subgroup']}"
            )

        return caveats.join_sentences(
            [
                caveats.withheld_sentence(self.table, label, self.min_events),
                caveats.auc_below_half_sentence(self.table, label),
            ],
            empty="No subgroup AUC is withheld or below 0.5.",
        )

    def display(self) -> pd.DataFrame | None:
        """The subgroup table for reading (:func:`subgroup_display`); None when skipped."""
        return None if isinstance(self.table, Skipped) else subgroup_display(self.table)

    def numbers(self) -> dict[str, float | str]:
        return {
            **subgroup_numbers(self.table),
            "sub_age_cut": f"{self.age_cut:g}",
            "sub_interval_cut": f"{self.interval_cut_hours:g}",
            "sub_patients": self.n_patients,
            "sub_ecgs": self.n_ecgs,
            "sub_shared_sentence": shared_sentence(self.table, self.n_patients),
            "sub_events_threshold": self.min_events,
            "sub_caveats": self.caveats(),
        }

    def outputs(self) -> dict[str, object]:
        return {"subgroups_auc": self.table}

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.table])


def analyse(run: RunParams, results: RunResults | None = None) -> Subgroups:
    """Chapter 04 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    ev = run.evaluation
    groups = attempt(
        PART,
        define_subgroups,
        results.oof,
        variables=ev.subgroup_variables,
        age_cut=ev.subgroup_age_cut_years,
        interval_cut_hours=ev.subgroup_interval_cut_hours,
    )
    return Subgroups(
        table=attempt(
            PART,
            subgroup_auc_table,
            results.oof,
            groups,
            cluster_col=CLUSTER,
            min_events=run.report.min_events,
        ),
        age_cut=ev.subgroup_age_cut_years,
        interval_cut_hours=ev.subgroup_interval_cut_hours,
        n_patients=int(results.oof[CLUSTER].nunique()),
        n_ecgs=len(results.oof),
        min_events=run.report.min_events,
    )


def subgroup_display(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`ecglib.metrics.subgroups.subgroup_auc_table` for reading: per variable and
    subgroup its ECGs and patients, per vessel ``AUC [95% CI] (positive ECGs in their
    patients)`` with the interval clustered by patient, and on the non-reference rows the patients shared with the
    reference and per vessel the raw and Holm-adjusted p of the difference
    (:func:`ecglib.report.present.format_p`); the last columns name the interval and test."""
    rows = []
    for (variable, subgroup), group in table.groupby(["variable", "subgroup"], sort=False):
        first = group.iloc[0]
        is_ref = first["subgroup"] == first["reference"]
        row = {
            "variable": VARIABLE_LABELS.get(variable, variable),
            "subgroup": subgroup,
            "ECGs": int(first["n"]),
            "patients": int(first["patients"]),
            "shared patients": "" if is_ref else f"{int(first['shared_patients']):,}",
        }
        for r in group.itertuples(index=False):
            # a withheld AUC (small-count policy) shows why instead of a number
            text = getattr(r, "withheld", "") or format_estimate(r.auc, r.ci_low, r.ci_high, digits)
            row[r.vessel] = f"{text} ({r.positives} pos. in {r.positive_patients} pts)"
            if not is_ref:
                row[f"{r.vessel} p"] = format_p(r.p_value)
                row[f"{r.vessel} p (Holm)"] = format_p(r.p_holm)
        row["95% CI"] = INTERVAL
        row["test"] = "reference" if is_ref else TEST
        rows.append(row)
    out = pd.DataFrame(rows)
    vessels = [v for v in schema.VESSELS if v in out.columns]
    p_cols = [c for v in vessels for c in (f"{v} p", f"{v} p (Holm)") if c in out.columns]
    head = ["variable", "subgroup", "ECGs", "patients"]
    return out[[*head, *vessels, "shared patients", *p_cols, "95% CI", "test"]].fillna("")


def _tested(table) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        return pd.DataFrame(columns=["variable", "vessel", "p_value", "p_holm"])
    return table[table["p_value"].notna()]


def subgroup_numbers(table, prefix: str = "sub_") -> dict[str, float | str]:
    """Glue-ready numbers of a subgroup table: tests made (``tests``), tests with p < 0.05
    before (``significant``) and after Holm's adjustment (``significant_holm``), the smallest
    raw and adjusted p (``min_p``, ``min_p_holm``), ``p_<variable>_<vessel>`` and
    ``p_holm_<variable>_<vessel>``, all p-values as text (:func:`format_p`: ``"n/a"`` when not
    tested), and ``shared_<variable>``, the patients with ECGs in both of the variable's
    subgroups. Numbers are NaN when the table is a skipped part or a variable is absent, so the
    chapter's text always finds its keys."""
    have = isinstance(table, pd.DataFrame)
    tested = _tested(table)
    out: dict[str, float | str] = {}
    out["tests"] = len(tested) if have else math.nan
    for suffix, column in (("", "p_value"), ("_holm", "p_holm")):
        out[f"significant{suffix}"] = int((tested[column] < 0.05).sum()) if have else math.nan
        out[f"min_p{suffix}"] = format_p(tested[column].min() if len(tested) else math.nan)
    for variable in _VARIABLES:
        for vessel in schema.VESSELS:
            hit = tested[(tested["variable"] == variable) & (tested["vessel"] == vessel)]
            for suffix, column in (("", "p_value"), ("_holm", "p_holm")):
                value = float(hit[column].iloc[0]) if len(hit) else math.nan
                out[f"p{suffix}_{variable}_{vessel}"] = format_p(value)
        shared = _shared(table, variable)
        out[f"shared_{variable}"] = shared if shared is not None else math.nan
    return {f"{prefix}{k}": v for k, v in out.items()}


def _shared(table, variable: str) -> int | None:
    """Patients with ECGs in both subgroups of ``variable`` (in a non-reference subgroup and
    the reference; the largest over the non-reference subgroups), None when absent."""
    if not isinstance(table, pd.DataFrame):
        return None
    values = table.loc[table["variable"] == variable, "shared_patients"].dropna()
    return int(values.max()) if len(values) else None


def shared_sentence(table, n_patients: int) -> str:
    """How many patients have ECGs in both subgroups of each variable, in words."""
    if not isinstance(table, pd.DataFrame):
        return "The subgroup analysis is skipped, so no patient is counted."
    words = {"age": "age", "sex": "sex", "interval": "the ECG-CCTA interval"}
    parts = [
        f"{_shared(table, v):,} for {words.get(v, v)}" for v in dict.fromkeys(table["variable"])
    ]
    parts[0] = parts[0].replace(" for ", f" of {n_patients:,} for ", 1)
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Patients with ECGs in both subgroups: {listed}."
