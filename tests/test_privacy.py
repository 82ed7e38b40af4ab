"""ecglib.report.privacy: the cohort's identifying strings, and the scan of a folder for them."""

from pathlib import Path

import pytest

from conftest import DEMO_MAP, export_row, write_export
from ecglib.data.cohort import ExportMap
from ecglib.report.privacy import cohort_identifiers, scan_identifiers


@pytest.fixture
def export(tmp_path) -> Path:
    return write_export(tmp_path / "raw", [export_row(i) for i in range(4)], ecgs=False)


def test_cohort_identifiers_reads_every_identifying_column(export):
    ids = cohort_identifiers(export, ExportMap.from_yaml(DEMO_MAP))
    assert ids["patient_id"] == {"P000", "P001"}
    assert ids["ccta_id"] == {"X000", "X001"}
    assert ids["ecg_id"] == {"E000", "E001", "E002", "E003"}
    assert ids["ccta_time"] == {"2024-03-05 14:00", "2024-03-05"}
    assert ids["ecg_time"] == {"2024-03-05 09:30:00", "2024-03-05"}
    assert "ecg/E002.npy" in ids["ecg_path"] and "E002" in ids["ecg_path"]
    assert str((export.parent / "ecg" / "E002.npy").resolve()) in ids["ecg_path"]


def test_ids_the_map_derives_are_identifiers_too(export):
    """Without an exam id the run keys a CCTA by patient and date; that key is looked for."""
    export_map = ExportMap.from_yaml(DEMO_MAP)
    columns = {k: v for k, v in export_map.columns.items() if k != "ccta_id"}
    ids = cohort_identifiers(
        export,
        ExportMap(columns=columns, grade_labels=export_map.grade_labels, labels=export_map.labels),
    )
    assert ids["ccta_id"] == {"P000@2024-03-05 14:00", "P001@2024-03-05 14:00"}


def test_dates_are_read_with_the_runs_day_month_rule(tmp_path):
    """13/03/2024 settles the column as day-first, so 05/03/2024 is the 5th of March."""
    rows = [
        export_row(0, **{"CCTA date": "05/03/2024 14:00", "ECG acquired": "01/03/2024 09:30"}),
        export_row(1, **{"CCTA date": "13/03/2024 14:00", "ECG acquired": "14/03/2024 09:30"}),
    ]
    table = write_export(tmp_path / "raw", rows, ecgs=False)
    ids = cohort_identifiers(table, ExportMap.from_yaml(DEMO_MAP))
    assert ids["ccta_time"] == {"05/03/2024 14:00", "13/03/2024 14:00", "2024-03-05", "2024-03-13"}


def test_scan_finds_identifiers_with_token_boundaries_and_never_reports_them(tmp_path):
    site = tmp_path / "html"
    (site / "_static").mkdir(parents=True)
    (site / "clean.html").write_text("<p>row 12 of the cohort; E0001 patients; 2024-03-050</p>")
    (site / "leak.html").write_text(
        '<td>E001</td><td>see "ecg/E001.npy"</td> exam 2024-03-05 14:00'
    )
    (site / "_static" / "searchindex.js").write_text('{"terms":{"p000":1,"P000":[3]}}')
    (site / "figure.png").write_bytes(b"\x89PNG\x00\x01tEXtpatient X000\x00")
    ids = {
        "ecg_id": {"E001"},
        "patient_id": {"P000"},
        "ccta_id": {"X000"},
        "ccta_time": {"2024-03-05", "2024-03-05 14:00"},
    }
    hits = scan_identifiers(site, ids)
    found = {(r.file, r.kind): (r.hits, r.distinct) for r in hits.itertuples()}
    assert found == {
        ("leak.html", "ecg_id"): (2, 1),
        ("leak.html", "ccta_time"): (2, 2),
        ("_static/searchindex.js", "patient_id"): (1, 1),  # case matters: p000 is not P000
        ("figure.png", "ccta_id"): (1, 1),
    }
    assert not hits.astype(str).isin(["E001", "P000", "X000", "2024-03-05"]).any().any()
    assert scan_identifiers(site, {"ecg_id": {"E999"}}).empty


def test_scan_of_a_missing_folder_says_to_build_first(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the book first"):
        scan_identifiers(tmp_path / "nowhere", {"ecg_id": {"E1"}})
