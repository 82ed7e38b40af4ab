"""The demo cohort and its raw export: format, counts, prevalences, reads, follow-up, determinism."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglib.demo import (
    EXPORT_COLUMNS,
    GRADE_TEXT,
    SIZES,
    SYMPTOM_TEXT,
    make_demo_cohort,
    write_demo_export,
)
from ecglib.demo.cohort import EXTERNAL, GRADE_TAIL, INTERNAL
from ecglib.schema import LEADS, N_SAMPLES, POSITIVE_GRADE, VESSELS, grade_col, label_col


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "raw"
    table_path = write_demo_export(out, size="small", seed=0, progress=False)
    return table_path, pd.read_csv(table_path, dtype={"Chest pain": str}, keep_default_na=False)


@pytest.fixture(scope="module")
def small():
    return make_demo_cohort("small", seed=0)


@pytest.fixture(scope="module")
def paper():
    """The paper-size cohort without signals (tables only: fast)."""
    return make_demo_cohort("paper", seed=0)


def test_export_columns_and_vocabulary(export):
    _, table = export
    assert tuple(table.columns) == EXPORT_COLUMNS
    assert list(EXPORT_COLUMNS[11:15]) == list(VESSELS)
    for vessel in VESSELS:
        assert set(table[vessel]) <= set(GRADE_TEXT.values())
    assert set(table["Chest pain"]) <= set(SYMPTOM_TEXT.values()) | {""}
    assert "" in set(table["Chest pain"])  # some symptoms are not recorded
    assert set(table["Sex"]) == {"M", "F"}
    assert set(table["Hospital"]) == {INTERNAL.hospital, EXTERNAL.hospital}
    assert set(table["MACE"]) <= {0, 1}
    assert table["Age"].dtype.kind == "i" and table["Follow-up days"].dtype.kind == "i"
    assert table["ECG ID"].is_unique


def test_ids_dates_and_paths_look_like_a_hospital_export(export):
    _, table = export
    internal = table["Hospital"] == INTERNAL.hospital
    assert table.loc[internal, "Patient ID"].str.fullmatch(r"DP\d{6}").all()
    assert table.loc[~internal, "Patient ID"].str.fullmatch(r"XP\d{6}").all()
    assert table["Exam ID"].str.fullmatch(r"[DX]C\d{7}").all()
    assert table["ECG ID"].str.fullmatch(r"[DX]E\d{7}").all()
    assert (table["ECG file"] == "ecg/" + table["ECG ID"] + ".npy").all()
    assert table["CCTA date"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d").all()
    assert table["ECG acquired"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    pd.to_datetime(table["CCTA date"], format="%Y-%m-%d %H:%M")
    pd.to_datetime(table["ECG acquired"], format="%Y-%m-%d %H:%M:%S")
    # One exam is one patient, one CCTA time and one set of grades.
    per_exam = table.groupby("Exam ID")[["Patient ID", "CCTA date", *VESSELS]].nunique()
    assert (per_exam == 1).all().all()
    per_patient = table.groupby("Patient ID")[
        ["Follow-up days", "MACE", "Sex", "Hospital"]
    ].nunique()
    assert (per_patient == 1).all().all()


def test_ecg_files_exist_with_site_orientation(export, small):
    table_path, table = export
    root = table_path.parent
    assert {p.name for p in root.iterdir()} == {"export.csv", "ecg"}
    assert sorted(p.name for p in (root / "ecg").iterdir()) == sorted(
        Path(f).name for f in table["ECG file"]
    )
    internal = (table["Hospital"] == INTERNAL.hospital).to_numpy()
    rows = [*np.flatnonzero(internal)[:3], *np.flatnonzero(~internal)[:3]]
    expected = small.signals(rows)
    for k, i in enumerate(rows):
        signal = np.load(root / table["ECG file"][i])
        assert signal.dtype == np.float32
        if internal[i]:
            assert signal.shape == (len(LEADS), N_SAMPLES)
        else:
            assert signal.shape == (N_SAMPLES, len(LEADS))
            signal = signal.T
        np.testing.assert_array_equal(signal, expected[k])  # the files are the cohort's signals


def test_export_table_is_the_cohort_table(export, small):
    _, table = export
    expected = small.table.astype({"Chest pain": str})
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_after_ccta_rows_and_paper_counts_before_them(paper):
    table, truth = paper.table, paper.truth
    ecg = pd.to_datetime(table["ECG acquired"])
    ccta = pd.to_datetime(table["CCTA date"])
    after = (ecg > ccta).to_numpy()
    assert np.array_equal(after, truth["after_ccta"].to_numpy())
    assert 0.02 <= after.mean() <= 0.04
    assert after[truth["site"] == "external"].any()
    for site, counts in (
        ("internal", SIZES["paper"].internal),
        ("external", SIZES["paper"].external),
    ):
        kept = table[(truth["site"] == site).to_numpy() & ~after]
        assert kept["Patient ID"].nunique() == counts.patients
        assert kept["Exam ID"].nunique() == counts.exams
        assert len(kept) == counts.ecgs
    assert len(table) == pytest.approx(4848 * 1.03, rel=0.01)


def test_multiple_ecgs_and_exams_per_patient(small):
    table = small.table
    internal = table[small.truth["site"] == "internal"]
    ecgs_per_patient = internal.groupby("Patient ID").size()
    exams_per_patient = internal.groupby("Patient ID")["Exam ID"].nunique()
    assert (ecgs_per_patient >= 2).mean() > 0.3
    assert (exams_per_patient >= 2).sum() >= 10
    ecgs_per_exam = table.groupby("Exam ID").size()
    assert ecgs_per_exam.max() >= 3


def test_ecg_ccta_intervals_span_minutes_to_weeks(paper):
    before = paper.truth.loc[~paper.truth["after_ccta"], "interval_hours"]
    assert before.min() < 0.25  # minutes
    assert 0.25 < (before <= 3).mean() < 0.6  # the paper's <= 3 h subgroup is sizeable
    assert (before > 7 * 24).mean() > 0.05  # weeks
    assert before.max() <= 43 * 24


def test_demographics_match_the_paper(paper):
    for site, mean, sd, male in (("internal", 63.7, 10.1, 0.55), ("external", 62.6, 14.2, 0.611)):
        rows = paper.table[(paper.truth["site"] == site).to_numpy()]
        first = rows.drop_duplicates("Patient ID")
        tolerance = 0.8 if site == "internal" else 3.0  # 135 external patients: wide sampling error
        assert abs(first["Age"].mean() - mean) < tolerance
        assert abs(first["Age"].std() - sd) < tolerance + 0.5
        assert abs((first["Sex"] == "M").mean() - male) < (0.03 if site == "internal" else 0.1)
        assert 18 <= first["Age"].min() and first["Age"].max() <= 100


def _exam_level(cohort, site: str) -> pd.DataFrame:
    truth = cohort.truth.assign(exam=cohort.table["Exam ID"])
    return truth[truth["site"] == site].drop_duplicates("exam")


def test_prevalences_within_tolerance(paper):
    exams = _exam_level(paper, "internal")
    for vessel in VESSELS:
        target = GRADE_TAIL[vessel][POSITIVE_GRADE - 1]
        observed = (exams[grade_col(vessel)] >= POSITIVE_GRADE).mean()
        assert abs(observed - target) < max(0.025, 0.35 * target), (vessel, observed, target)
    lm = (exams[grade_col("LM")] >= POSITIVE_GRADE).mean()
    assert 0.01 <= lm <= 0.045
    # All five grades occur for every vessel.
    for vessel in VESSELS:
        assert exams[grade_col(vessel)].nunique() == 5 or vessel == "LM"


def test_grades_correlate_within_patient_and_rise_with_age(paper):
    exams = _exam_level(paper, "internal")
    grades = exams[[grade_col(v) for v in VESSELS]]
    corr = grades.corr(method="spearman").to_numpy()
    assert (corr[np.triu_indices(len(VESSELS), 1)] > 0.15).all()
    age = paper.table.loc[exams.index, "Age"]
    old, young = exams[age >= 65], exams[age < 55]
    assert (old[label_col("LAD")].mean()) > (young[label_col("LAD")].mean())


def test_reads_depend_on_disease_but_diseased_often_read_normal(paper):
    truth, table = paper.truth, paper.table
    any_severe = truth[[label_col(v) for v in VESSELS]].any(axis=1)
    none = (truth[[grade_col(v) for v in VESSELS]] == 0).all(axis=1)
    normal = truth["normal_read"]
    assert normal[any_severe].mean() < normal[none].mean() - 0.2
    assert 0.15 < normal[any_severe].mean() < 0.7  # a normal-ECG subgroup with disease
    reads = table["ECG interpretation"]
    assert reads.str.match(r"Sinus (rhythm|bradycardia|tachycardia)\. ").all()
    assert np.array_equal(reads.str.contains("ormal ECG").to_numpy(), normal.to_numpy())
    for finding in (
        "ST depression",
        "T wave inversion",
        "Left ventricular hypertrophy",
        "Nonspecific ST-T changes",
        "Sinus bradycardia",
    ):
        assert reads.str.contains(finding).any(), finding


def test_followup_and_events_depend_on_disease(paper):
    patients = paper.truth.drop_duplicates("patient_id")
    days, event = patients["followup_days"], patients["mace"]
    assert days.min() >= 1 and days.max() <= 400
    assert ((days >= 365) & ~event).mean() > 0.7  # administratively censored
    assert ((days < 365) & ~event).mean() > 0.02  # lost to follow-up
    worst = paper.truth.groupby("patient_id")[[label_col(v) for v in VESSELS]].max().any(axis=1)
    rate = patients.set_index("patient_id")["mace"].groupby(worst).mean()
    assert rate[True] > 2 * rate[False]
    assert 0.01 < event.mean() < 0.12


def test_same_seed_byte_identical_export_and_replacement(export, tmp_path):
    table_path, _ = export
    # A stale earlier export in the target: it must be replaced, nothing of it may survive.
    (tmp_path / "raw" / "ecg").mkdir(parents=True)
    (tmp_path / "raw" / "ecg" / "stale.npy").write_bytes(b"old")
    (tmp_path / "raw" / "export.csv").write_text("old")
    again = write_demo_export(tmp_path / "raw", size="small", seed=0, progress=False)
    assert _digest(again.parent) == _digest(table_path.parent)
    assert not list(tmp_path.glob(".raw.*"))  # no staging directories left behind


def test_different_seed_gives_a_different_cohort(small):
    other = make_demo_cohort("small", seed=1)
    assert not small.table.equals(other.table)


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        write_demo_export(tmp_path, size="small", seed=0, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_hidden_truth_is_not_in_the_export(export):
    _, table = export
    hidden = re.compile(r"grade|planted|burden|truth|normal_read", re.IGNORECASE)
    assert not [c for c in table.columns if hidden.search(c)]
