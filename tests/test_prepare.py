"""prepare_data: export -> cohort table + store + exclusion flow, with bad ECGs raised or excluded."""
import numpy as np
import pytest

from ecglib.chapters.page import PARAMS_ENV
from ecglib.config import load_params
from ecglib.errors import DataError
from ecglib.paths import RunPaths
from ecglib.data.prepare import prepare_data, read_cohort

from conftest import DEMO_MAP, export_row, write_export


def params_for(tmp_path, on_bad_ecg="raise"):
    text = (f"name: t\nseed: 1\nruns_dir: {tmp_path / 'runs'}\n"
            f"data:\n  table: {tmp_path / 'raw' / 'export.csv'}\n  map: {DEMO_MAP}\n"
            f"  on_bad_ecg: {on_bad_ecg}\n")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_params(path)


@pytest.fixture
def export(tmp_path, monkeypatch):
    monkeypatch.delenv(PARAMS_ENV, raising=False)
    rows = [export_row(i) for i in range(6)]
    rows[5]["ECG acquired"] = "2024-03-07 10:00:00"  # after its CCTA
    write_export(tmp_path / "raw", rows)
    bad = np.load(tmp_path / "raw" / "ecg" / "E002.npy")
    bad[7] = 0.0  # a flat lead V2
    np.save(tmp_path / "raw" / "ecg" / "E002.npy", bad)
    return tmp_path


def test_bad_ecg_stops_the_run_with_its_name(export):
    with pytest.raises(DataError, match=r"(?s)1 ECG file\(s\).*E002: .*flat"):
        prepare_data(params_for(export), progress=False)


def test_bad_ecg_excluded_with_its_reason(export):
    params = params_for(export, on_bad_ecg="exclude")
    data = prepare_data(params, progress=False)
    assert sorted(data.cohort["ecg_id"]) == ["E000", "E001", "E003", "E004"]
    flow = data.report.table()
    assert flow["remaining"].tolist() == [6, 5, 5, 4]
    assert flow["step"].iloc[-1].startswith("ECG file failed:") and "flat" in flow["step"].iloc[-1]
    paths = RunPaths.of(params)
    again = read_cohort(paths.cohort)
    assert again["ecg_time"].dtype.kind == "M" and len(again) == 4
    assert len(data.store.rows_for(again["ecg_path"])) == 4
    assert "patient_id" not in paths.exclusions.read_text()


def test_problem_kind_groups_failures_without_paths():
    from ecglib.data.prepare import problem_kind

    assert problem_kind("flat lead(s) V2 (peak-to-peak < 0.01 mV)") == "flat lead"
    assert problem_kind("cannot read WFDB record /data/x/rec: missing .dat") == "cannot read WFDB record"
    assert problem_kind("/data/x/rec.npy") == "unreadable ECG file"
