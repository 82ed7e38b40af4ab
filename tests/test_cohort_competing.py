"""The optional followup_competing column: read through the column map, validated, carried into
the joined predictions."""

import pandas as pd
import pytest

from conftest import DEMO_MAP, export_row, write_export
from ecglib import schema
from ecglib.chapters.predictions import COVARIATES, join_results
from ecglib.data.cohort import ExportMap, read_export
from ecglib.errors import ConfigError, DataError

COLUMN = "Non-cardiovascular death"


def _rows(n=4, per_row=None):
    """Demo-format rows with the competing column (0 unless given per row index)."""
    return [export_row(i, **{COLUMN: "0", **(per_row or {}).get(i, {})}) for i in range(n)]


def _read(tmp_path, rows, export_map=None):
    export_map = export_map or ExportMap.from_yaml(DEMO_MAP)
    return read_export(write_export(tmp_path, rows, ecgs=False), export_map)


def test_the_column_is_canonical_and_read_as_0_1(tmp_path):
    assert "followup_competing" in schema.OPTIONAL_COLUMNS
    assert ExportMap.from_yaml(DEMO_MAP).columns["followup_competing"] == COLUMN
    rows = _rows(per_row={1: {COLUMN: "1"}, 3: {"MACE": "1"}})
    cohort, _ = _read(tmp_path, rows)
    by_ecg = cohort.set_index("ecg_id")
    assert by_ecg["followup_competing"].to_dict() == {
        "E000": 0.0,
        "E001": 1.0,
        "E002": 0.0,
        "E003": 0.0,
    }
    assert by_ecg.at["E003", "followup_event"] == 1.0


def test_the_joined_predictions_carry_it():
    assert "followup_competing" in COVARIATES
    cohort = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "ccta_id": ["C1", "C2"],
            "ecg_time": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "ccta_time": pd.to_datetime(["2024-01-03", "2024-01-04"]),
            "followup_competing": [0.0, 1.0],
            **{schema.grade_col(v): [0, 3] for v in schema.VESSELS},
        }
    )
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    predictions = pd.DataFrame({"row": [0, 1], **{schema.prob_col(v): 0.5 for v in schema.VESSELS}})
    joined = join_results(predictions, cohort)
    assert joined["followup_competing"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({COLUMN: "2"}, r"^ECG E002: followup_competing 2 is not 0 \(no competing event\) or 1"),
        ({COLUMN: "yes"}, r"^ECG E002: followup_competing 'yes' is not a number"),
        (
            {COLUMN: "1", "MACE": "1"},
            r"^ECG E002: followup_event and followup_competing are both 1 \(1 such rows\)",
        ),
        ({COLUMN: ""}, r"^ECG E002: has followup_event but no followup_competing"),
        (
            {"MACE": "", "Follow-up days": ""},
            r"^ECG E002: has followup_competing but no followup_event",
        ),
    ],
)
def test_bad_values_name_the_record(tmp_path, overrides, message):
    with pytest.raises(DataError, match=message):
        _read(tmp_path, _rows(per_row={2: overrides}))


def test_a_competing_column_without_an_event_column_is_a_map_error(tmp_path):
    text = DEMO_MAP.read_text(encoding="utf-8").replace("  followup_event: MACE\n", "")
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="followup_competing but no followup_event"):
        _read(tmp_path / "export", _rows(), ExportMap.from_yaml(path))


def test_a_map_without_the_column_reads_as_before(tmp_path):
    text = DEMO_MAP.read_text(encoding="utf-8").replace(f"  followup_competing: {COLUMN}\n", "")
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    rows = [export_row(i) for i in range(4)]
    cohort, _ = _read(tmp_path / "export", rows, ExportMap.from_yaml(path))
    assert "followup_competing" not in cohort.columns
