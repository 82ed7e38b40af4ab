"""Chapter 01, the cohort: Table 1, the cohort by site in the layout of the paper's baseline table.

:func:`analyse` reads the run's cohort table (written by chapter 00) and gives the page Table 1
(:func:`cohort_table`), the numbers its text quotes (:func:`cohort_numbers`) and the cohort the
age/sex and stenosis-grade figures are drawn from.

Counting units follow the data: patients and sex per patient, CCTA grades per CCTA examination
(a vessel's grade belongs to the exam, not to each ECG paired with it), age, ECG read and the
ECG-CCTA interval per ECG; the risk factors (:data:`ecglib.schema.RISK_FACTORS`, when the
export has them) per patient, as recorded at the patient's first ECG. No identifiers reach the
table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import RunParams
from ecglib.data.prepare import read_cohort
from ecglib.paths import RunPaths

__all__ = ["Cohort", "analyse", "cohort_table", "cohort_numbers"]


@dataclass(frozen=True)
class Cohort:
    """What chapter 01 shows (:func:`analyse`)."""

    #: Table 1 (:func:`cohort_table`): one row per characteristic, one column per site.
    table1: pd.DataFrame
    #: The run's cohort table, one row per ECG-CCTA pair: the figures' input (never saved).
    cohort: pd.DataFrame

    def numbers(self) -> dict[str, float]:
        return cohort_numbers(self.cohort)

    def outputs(self) -> dict[str, object]:
        return {"table1": self.table1}

    def skipped(self) -> list:
        return []


def analyse(run: RunParams) -> Cohort:
    """Chapter 01 of ``run`` (module docstring), from the cohort table chapter 00 wrote."""
    cohort = read_cohort(RunPaths.of(run).cohort)
    cut = run.evaluation.subgroup_interval_cut_hours
    return Cohort(table1=cohort_table(cohort, interval_cut_hours=cut), cohort=cohort)


def cohort_table(
    cohort: pd.DataFrame, by: str = "site", *, interval_cut_hours: float = 3.0
) -> pd.DataFrame:
    """Baseline characteristics, one column per value of ``by`` (internal / external first).

    ``interval_cut_hours``: the ECG-CCTA interval's cut (the run's pre-specified subgroup cut,
    ``evaluation.subgroup_interval_cut_hours``), so Table 1 counts the subgroups chapter 04
    compares."""
    order = [s for s in ("internal", "external") if s in set(cohort[by])]
    order += sorted(set(cohort[by]) - set(order))
    columns = {site: _describe(cohort[cohort[by] == site], interval_cut_hours) for site in order}
    table = pd.DataFrame(columns)
    table.index.name = "characteristic"
    return table


def cohort_numbers(cohort: pd.DataFrame, by: str = "site") -> dict[str, float]:
    """Plain numbers for the book's text (glued), keyed ``<site>_<what>``, and the internal
    cohort's rarest assessed vessel (``rarest_vessel``, its prevalence ``rarest_prev``), the one
    whose estimates have the widest intervals."""
    out: dict[str, float] = {}
    for site, group in cohort.groupby(by):
        patients = group.drop_duplicates("patient_id")
        exams = group.drop_duplicates("ccta_id")
        out[f"{site}_patients"] = len(patients)
        out[f"{site}_ccta"] = len(exams)
        out[f"{site}_ecgs"] = len(group)
        out[f"{site}_age_mean"] = float(group["age"].mean()) if "age" in group else np.nan
        out[f"{site}_age_sd"] = float(group["age"].std()) if "age" in group else np.nan
        if "sex" in group:
            out[f"{site}_male_pct"] = 100.0 * float((patients["sex"] == "male").mean())
        for vessel in schema.VESSELS:
            out[f"{site}_prev_{vessel}"] = 100.0 * float(exams[schema.label_col(vessel)].mean())
    prevalence = {
        v: out[f"internal_prev_{v}"]
        for v in schema.assessed_vessels(cohort)
        if f"internal_prev_{v}" in out
    }
    if prevalence:
        out["rarest_vessel"] = min(prevalence, key=prevalence.get)
        out["rarest_prev"] = prevalence[out["rarest_vessel"]]
    return out


def _describe(group: pd.DataFrame, interval_cut_hours: float) -> pd.Series:
    patients = group.drop_duplicates("patient_id")
    exams = group.drop_duplicates("ccta_id")
    rows: dict[str, str] = {
        "Patients": f"{len(patients):,}",
        "CCTA examinations": f"{len(exams):,}",
        "ECGs": f"{len(group):,}",
    }
    if "age" in group and group["age"].notna().any():
        age = group["age"].dropna()
        rows["Age at ECG, mean ± SD (years)"] = f"{age.mean():.1f} ± {age.std():.1f}"
        rows["Age at ECG, median (range)"] = f"{age.median():.0f} ({age.min():.0f}-{age.max():.0f})"
    if "sex" in group:
        rows["Male, n (%)"] = _n_pct(patients["sex"] == "male", patients["sex"].notna())
    rows.update(_risk_factor_rows(group))
    if "normal_ecg" in group and group["normal_ecg"].notna().any():
        rows["Normal ECG read, n (%)"] = _n_pct(
            group["normal_ecg"] == 1, group["normal_ecg"].notna()
        )
    if "ecg_ccta_hours" in group and group["ecg_ccta_hours"].notna().any():
        hours = group["ecg_ccta_hours"].dropna()
        q1, q2, q3 = np.percentile(hours, [25, 50, 75])
        rows["ECG-CCTA interval, median (IQR) (hours)"] = f"{q2:.1f} ({q1:.1f}-{q3:.1f})"
        rows[f"ECG-CCTA interval ≤ {interval_cut_hours:g} h, n (%)"] = _n_pct(
            hours <= interval_cut_hours, hours.notna()
        )
    if "symptom" in group:
        known = group.drop_duplicates("ccta_id")["symptom"]
        for symptom in schema.SYMPTOMS:
            rows[f"Symptom at CCTA: {symptom}, n (%)"] = _n_pct(known == symptom, known.notna())
        rows["Symptom at CCTA: not recorded, n"] = f"{known.isna().sum():,}"
    for vessel in schema.assessed_vessels(group):  # a vessel not assessed has no rows
        grades = exams[schema.grade_col(vessel)]
        rows[f"{vessel} severe or occluded (grade ≥ 3), n (%)"] = _n_pct(
            grades >= schema.POSITIVE_GRADE, grades.notna()
        )
        for grade, name in schema.GRADES.items():
            rows[f"{vessel} grade: {name}, n (%)"] = _n_pct(grades == grade, grades.notna())
    return pd.Series(rows)


#: Table 1's name of each risk factor.
RISK_FACTOR_NAMES: dict[str, str] = {
    "family_history": "Family history of CAD",
    "smoking": "Smoking (current or past)",
    "dyslipidaemia": "Dyslipidaemia",
    "hypertension": "Hypertension",
    "diabetes": "Diabetes",
}


def _risk_factor_rows(group: pd.DataFrame) -> dict[str, str]:
    """Per patient (first ECG in time), each recorded risk factor's n (%) of the patients with
    it recorded, and the number of risk factors (0-5) of those with all five recorded."""
    present = [c for c in schema.RISK_FACTORS if c in group and group[c].notna().any()]
    if not present:
        return {}
    order = group.sort_values("ecg_time", kind="stable") if "ecg_time" in group else group
    patients = order.drop_duplicates("patient_id")
    rows = {
        f"{RISK_FACTOR_NAMES[c]}, n (%)": _n_pct(patients[c] == 1, patients[c].notna())
        for c in present
    }
    if len(present) == len(schema.RISK_FACTORS):
        complete = patients[present].notna().all(axis=1)
        count = patients.loc[complete, present].sum(axis=1)
        if len(count):
            # observed counts as quantiles (a count's median is a count, not 2.5)
            q1, q2, q3 = np.percentile(count, [25, 50, 75], method="inverted_cdf")
            rows["Risk factors (of 5), median (IQR)"] = f"{q2:.0f} ({q1:.0f}-{q3:.0f})"
    return rows


def _n_pct(hit: pd.Series, known: pd.Series) -> str:
    n, total = int(hit.sum()), int(known.sum())
    return f"{n:,} ({100.0 * n / total:.1f}%)" if total else "-"
