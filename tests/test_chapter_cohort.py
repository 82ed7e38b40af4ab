"""ecglib.chapters.cohort: Table 1 and the cohort chapter's numbers; its two figures."""

import numpy as np
import pandas as pd
import pytest
from chapter_support import make_cohort

from ecglib import schema
from ecglib.chapters import cohort as ch
from ecglib.chapters.cohort import cohort_numbers, cohort_table
from ecglib.data.prepare import read_cohort
from ecglib.paths import RunPaths
from ecglib.plots.cohort import age_sex_figure, prevalence_figure


def _cohort(lm: list) -> pd.DataFrame:
    grades = {"RCA": [3, 0, 0, 3], "LM": lm, "LAD": [4, 3, 0, 0], "LCX": [0, 0, 3, 0]}
    cohort = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d"],
            "ccta_id": ["1", "2", "3", "4"],
            "site": ["internal"] * 4,
            **{schema.grade_col(v): g for v, g in grades.items()},
        }
    )
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    return cohort


def test_the_rarest_vessel_is_named_from_the_data():
    numbers = cohort_numbers(_cohort([0, 0, 0, 0]))
    assert numbers["rarest_vessel"] == "LM" and numbers["rarest_prev"] == 0.0
    assert numbers["internal_prev_LAD"] == 50.0


def test_a_vessel_not_assessed_has_no_rows_and_is_never_the_rarest():
    cohort = _cohort([np.nan] * 4)
    numbers = cohort_numbers(cohort)
    assert numbers["rarest_vessel"] == "LCX" and numbers["rarest_prev"] == 25.0
    assert np.isnan(numbers["internal_prev_LM"])
    rows = cohort_table(cohort).index
    assert not any(r.startswith("LM ") for r in rows)
    assert "LAD severe or occluded (grade ≥ 3), n (%)" in rows


def test_table1_counts_patients_exams_and_ecgs_in_their_own_units():
    cohort = make_cohort()
    table = cohort_table(cohort)
    assert list(table.columns) == ["internal", "external"]
    internal = cohort[cohort["site"] == "internal"]
    assert table.at["Patients", "internal"] == f"{internal['patient_id'].nunique():,}"
    assert table.at["CCTA examinations", "internal"] == f"{internal['ccta_id'].nunique():,}"
    assert table.at["ECGs", "internal"] == f"{len(internal):,}"
    exams = internal.drop_duplicates("ccta_id")
    severe = int((exams["grade_LAD"] >= 3).sum())
    assert table.at["LAD severe or occluded (grade ≥ 3), n (%)", "internal"] == (
        f"{severe:,} ({100 * severe / len(exams):.1f}%)"
    )


def test_the_age_sex_figure_has_a_panel_per_site_with_every_ecg():
    cohort = make_cohort()
    fig = age_sex_figure(cohort)
    assert [ax.get_title() for ax in fig.axes] == [
        f"{site} (ECGs: {(cohort['site'] == site).sum():,})" for site in ("internal", "external")
    ]
    for ax, site in zip(fig.axes, ("internal", "external")):
        group = cohort[cohort["site"] == site]
        drawn = sum(patch.get_height() for patch in ax.patches)
        assert drawn == group["sex"].isin(["male", "female"]).sum()


def test_the_grade_figure_stacks_each_vessels_exams_to_100_percent():
    cohort = make_cohort()
    fig = prevalence_figure(cohort)
    internal = fig.axes[0]
    tops: dict[float, float] = {}
    for patch in internal.patches:
        x = round(patch.get_x() + patch.get_width() / 2, 6)
        tops[x] = tops.get(x, 0.0) + patch.get_height()
    assert len(tops) == len(schema.VESSELS)
    assert all(total == pytest.approx(100.0) for total in tops.values())
    exams = cohort[cohort["site"] == "internal"].drop_duplicates("ccta_id")
    first = internal.patches[0]  # grade "none" of the first vessel
    assert first.get_height() == pytest.approx(100 * (exams["grade_RCA"] == 0).mean())


def test_analyse_on_the_ci_run_is_table1_of_its_cohort(ci_run):
    run = ci_run
    paths = RunPaths.of(run)
    chapter = ch.analyse(run)
    cohort = read_cohort(paths.cohort)
    assert list(chapter.table1.columns) == ["internal", "external"]
    assert chapter.table1.index.name == "characteristic"
    external = cohort[cohort["site"] == "external"]
    assert chapter.table1.at["Patients", "external"] == f"{external['patient_id'].nunique():,}"
    numbers = chapter.numbers()
    assert numbers["internal_ecgs"] == int((cohort["site"] == "internal").sum())
    assert numbers["external_age_mean"] == pytest.approx(external["age"].mean())
    assert set(chapter.outputs()) == {"table1"} and chapter.skipped() == []


def test_table1_counts_risk_factors_per_patient_with_the_count_of_five():
    cohort = _cohort([0, 0, 0, 0])
    cohort["patient_id"] = ["a", "a", "b", "c"]  # a's two rows count once
    cohort["ecg_time"] = pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-01"])
    values = {  # a's first ECG in time is its second row
        "family_history": [0, 1, 0, np.nan],
        "smoking": [1, 1, 0, 1],
        "dyslipidaemia": [0, 0, 1, 1],
        "hypertension": [1, 1, 1, 0],
        "diabetes": [0, 0, 0, 1],
    }
    for key, column in values.items():
        cohort[key] = column
    table = cohort_table(cohort)["internal"]
    assert table["Family history of CAD, n (%)"] == "1 (50.0%)"  # c's is not recorded
    assert table["Smoking (current or past), n (%)"] == "2 (66.7%)"
    assert table["Diabetes, n (%)"] == "1 (33.3%)"
    # counts of the complete patients a (1+1+0+1+0 = 3) and b (0+0+1+1+0 = 2)
    assert table["Risk factors (of 5), median (IQR)"] == "2 (2-3)"


def test_table1_has_no_risk_factor_rows_without_the_columns():
    assert not any(
        "Risk factor" in r or "Diabetes" in r for r in cohort_table(_cohort([0] * 4)).index
    )
