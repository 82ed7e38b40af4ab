"""Reading exports through maps, and the inclusion rules; each bad input gets a named error."""

import pandas as pd
import pytest

from conftest import DEMO_MAP, export_row, write_export
from ecglib import schema
from ecglib.config import PROJECT_ROOT
from ecglib.data.cohort import ExportMap, normal_ecg_recode, read_export
from ecglib.errors import ConfigError, DataError


@pytest.fixture
def demo_map() -> ExportMap:
    return ExportMap.from_yaml(DEMO_MAP)


def read(tmp_path, rows, demo_map):
    return read_export(write_export(tmp_path, rows, ecgs=False), demo_map)


def test_canonical_table_from_the_demo_map(tmp_path, demo_map):
    cohort, report = read(tmp_path, [export_row(i) for i in range(8)], demo_map)
    assert len(cohort) == 8 and report.table()["excluded"].sum() == 0
    assert set(cohort["site"]) == {"internal"}
    assert cohort.loc[0, "grade_LAD"] == 3 and cohort.loc[0, "y_LAD"] == 1
    assert cohort.loc[1, "grade_LCX"] == 4 and cohort.loc[1, "y_LCX"] == 1
    assert cohort.loc[2, "grade_LCX"] == 2 and cohort.loc[2, "y_LCX"] == 0  # moderate is negative
    assert cohort["ecg_ccta_hours"].iloc[0] == pytest.approx(4.5)
    assert cohort["normal_ecg"].tolist() == [0.0, 1.0] * 4
    assert cohort.loc[0, "sex"] == "female" and cohort.loc[0, "symptom"] == "typical"
    assert cohort["ecg_path"].iloc[0] == str(tmp_path / "ecg" / "E000.npy")


def test_authors_export_loads_through_the_shipped_map(shared):
    export_map = ExportMap.from_yaml(PROJECT_ROOT / "params/maps/authors_export.yaml")
    cohort, report = read_export(shared / "fixtures/reference_manifest/sample.csv", export_map)
    assert len(cohort) == 1
    row = cohort.iloc[0]
    assert row["patient_id"] == "12345"
    assert [row[c] for c in schema.grade_cols()] == [0, 0, 0, 0]
    assert row["ecg_time"] == pd.Timestamp("2024-11-18 09:35:12")
    # CCTA dated without a time: a same-day ECG counts as before it, the interval is unknown
    assert report.table()["excluded"].sum() == 0 and pd.isna(row["ecg_ccta_hours"])
    assert row["ecg_path"].endswith("ECG_20241118_093512_segment.npy")


def test_ecg_after_ccta_is_excluded_and_reported(tmp_path, demo_map):
    rows = [export_row(i) for i in range(4)]
    rows[2]["ECG acquired"] = "2024-03-06 08:00:00"
    cohort, report = read(tmp_path, rows, demo_map)
    assert "E002" not in set(cohort["ecg_id"])
    flow = report.table().set_index("step")
    assert flow.loc["ECG acquired after its CCTA", "excluded"] == 1
    assert flow["remaining"].iloc[-1] == 3


def test_missing_grade_is_excluded_and_reported(tmp_path, demo_map):
    rows = [export_row(i) for i in range(4)]
    rows[3]["LM"] = ""
    cohort, report = read(tmp_path, rows, demo_map)
    assert "E003" not in set(cohort["ecg_id"])
    assert report.table().set_index("step").loc["a vessel without a CCTA grade", "excluded"] == 1


def test_unknown_grade_text_names_the_record(tmp_path, demo_map):
    rows = [export_row(i) for i in range(4)]
    rows[1]["RCA"] = "Subtotal occlusion"
    with pytest.raises(
        DataError, match=r"ECG E001: grade_RCA 'Subtotal occlusion' is not in the label map"
    ):
        read(tmp_path, rows, demo_map)


def test_duplicate_rows(tmp_path, demo_map):
    rows = [export_row(i) for i in range(3)]
    cohort, report = read(tmp_path, rows + [dict(rows[1])], demo_map)
    assert len(cohort) == 3
    assert report.table().set_index("step").loc["duplicate row", "excluded"] == 1
    conflicting = dict(rows[1], LAD="No significant stenosis")
    with pytest.raises(DataError, match="ECG E001: listed more than once"):
        read(tmp_path / "b", rows + [conflicting], demo_map)


def test_patient_in_both_sites_is_an_error(tmp_path, demo_map):
    rows = [export_row(i) for i in range(4)]
    rows[1]["Hospital"] = "Demo District Hospital"  # patient P000 (rows 0 and 1)
    with pytest.raises(DataError, match="patient P000: appears at more than one site"):
        read(tmp_path, rows, demo_map)


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("ECG acquired", "yesterday", "ECG E002: ecg_time 'yesterday' is not a date/time"),
        ("Age", "230", "ECG E002: age 230 is outside 18-110 years"),
        ("Age", "sixty", "ECG E002: age 'sixty' is not a number"),
        ("Sex", "X", "ECG E002: sex 'X' is not in the label map"),
        ("Sex", "", "ECG E002: sex is missing"),
    ],
)
def test_bad_values_name_the_record(tmp_path, demo_map, column, value, message):
    rows = [export_row(i) for i in range(4)]
    rows[2][column] = value
    with pytest.raises(DataError, match=message):
        read(tmp_path, rows, demo_map)


def test_a_map_naming_an_absent_column(tmp_path, demo_map):
    rows = [{k: v for k, v in export_row(i).items() if k != "MACE"} for i in range(2)]
    with pytest.raises(
        DataError, match=r"\['MACE'\] named in the column map are not in the export"
    ):
        read(tmp_path, rows, demo_map)


def test_map_errors_are_named(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("columns:\n  patient: PID\nlabels:\n  grade: {none: 0}\n")
    with pytest.raises(ConfigError, match=r"\['patient'\] are not canonical columns"):
        ExportMap.from_yaml(bad)
    bad.write_text("columns: {}\nlabels:\n  grade: {none: 7}\n")
    with pytest.raises(ConfigError, match="must be 0-4"):
        ExportMap.from_yaml(bad)


def test_normal_ecg_recode():
    reads = pd.Series(["Sinus rhythm. Normal ECG", "Sinus bradycardia", "ST depression", None])
    out = normal_ecg_recode(reads, ("normal ecg", r"^sinus (rhythm|bradycardia)\.?$"))
    assert out.iloc[:3].tolist() == [1.0, 1.0, 0.0] and pd.isna(out.iloc[3])


def test_excel_export(tmp_path, demo_map):
    rows = [export_row(i) for i in range(3)]
    path = tmp_path / "export.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    cohort, _ = read_export(path, demo_map)
    assert cohort["grade_LAD"].tolist() == [3, 1, 1]


def test_day_first_dates_are_read_day_first_throughout(tmp_path, demo_map):
    # pandas alone would read 05/03/2024 as 3 May and 13/03/2024 as 13 March in one column
    rows = [export_row(i) for i in range(4)]
    for row, day in zip(rows, ("13", "05", "05", "05")):
        row["ECG acquired"] = f"{day}/03/2024 09:30"
        row["CCTA date"] = f"{day}/03/2024 14:00"
    cohort, report = read(tmp_path, rows, demo_map)
    assert cohort["ecg_time"].dt.month.tolist() == [3, 3, 3, 3]
    assert cohort["ecg_time"].dt.day.tolist() == [13, 5, 5, 5]
    assert report.table()["excluded"].sum() == 0


def test_blank_header_cells_are_not_duplicate_names(tmp_path, demo_map):
    frame = pd.DataFrame([export_row(i) for i in range(2)])
    frame[""] = ""
    frame[" "] = ""
    frame.to_csv(tmp_path / "export.csv", index=False)
    cohort, _ = read_export(tmp_path / "export.csv", demo_map)
    assert len(cohort) == 2


def _map_without_lm(tmp_path, extra: str = "not_assessed: [LM]\n"):
    text = DEMO_MAP.read_text(encoding="utf-8")
    path = tmp_path / "no_lm.yaml"
    path.write_text(text.replace("  grade_LM: LM\n", "") + extra, encoding="utf-8")
    return path


def test_a_vessel_the_map_does_not_assess_has_missing_labels(tmp_path):
    export_map = ExportMap.from_yaml(_map_without_lm(tmp_path))
    assert export_map.not_assessed == ("LM",) and export_map.assessed == ("RCA", "LAD", "LCX")
    rows = [export_row(i) for i in range(4)]
    rows[1]["LM"] = ""  # the export's LM column is not read: no exclusion for it
    cohort, report = read(tmp_path, rows, export_map)
    assert len(cohort) == 4 and report.table()["excluded"].sum() == 0
    assert cohort["grade_LM"].isna().all() and cohort["y_LM"].isna().all()
    assert cohort["y_LAD"].tolist() == [1, 0, 0, 0]
    assert schema.assessed_vessels(cohort) == ("RCA", "LAD", "LCX")
    rows[2]["LAD"] = ""  # an assessed vessel without a grade is still excluded
    cohort, report = read(tmp_path, rows, export_map)
    assert "E002" not in set(cohort["ecg_id"])


@pytest.mark.parametrize(
    "extra, message",
    [
        ("not_assessed: [LMCA]\n", r"\['LMCA'\] are not vessels"),
        ("not_assessed: [RCA, LM, LAD, LCX]\n", "lists every vessel"),
        ("not_assessed: [LAD]\n", r"\['LAD'\] are both not_assessed and mapped"),
        ("not_assessed: {LM: true}\n", "must be a list of vessels"),
    ],
)
def test_not_assessed_errors_are_named(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        ExportMap.from_yaml(_map_without_lm(tmp_path, extra))
