"""prepare_data: export -> cohort table + store + exclusion flow, with bad ECGs raised or excluded."""

import numpy as np
import pytest

from conftest import DEMO_MAP, export_row, write_export
from ecglib.chapters.page import PARAMS_ENV
from ecglib.config import load_params
from ecglib.data.cohort import ExclusionReport
from ecglib.data.prepare import exclusion_flow, prepare_data, read_cohort, step_kind
from ecglib.errors import DataError
from ecglib.paths import RunPaths


def params_for(tmp_path, on_bad_ecg="raise"):
    text = (
        f"name: t\nseed: 1\nruns_dir: {tmp_path / 'runs'}\n"
        f"data:\n  table: {tmp_path / 'raw' / 'export.csv'}\n  map: {DEMO_MAP}\n"
        f"  on_bad_ecg: {on_bad_ecg}\n"
    )
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
    keyed = data.flow
    assert keyed["kind"].tolist() == ["export", "ecg_after_ccta", "ungraded_vessel", "bad_ecg_file"]
    assert keyed.drop(columns="kind").equals(flow)
    paths = RunPaths.of(params)
    again = read_cohort(paths.cohort)
    assert again["ecg_time"].dtype.kind == "M" and len(again) == 4
    assert len(data.store.rows_for(again["ecg_path"])) == 4
    assert "patient_id" not in paths.exclusions.read_text()


def test_problem_kind_groups_failures_without_paths():
    from ecglib.data.prepare import problem_kind

    assert problem_kind("flat lead(s) V2 (peak-to-peak < 0.01 mV)") == "flat lead"
    assert (
        problem_kind("cannot read WFDB record /data/x/rec: missing .dat")
        == "cannot read WFDB record"
    )
    assert problem_kind("/data/x/rec.npy") == "unreadable ECG file"


def test_every_step_of_the_flow_has_a_stable_kind():
    report = ExclusionReport(n_start=10)
    for step, n in [
        ("duplicate row", 1),
        ("ECG acquired after its CCTA", 3),
        ("a vessel without a CCTA grade", 0),
        ("ECG file failed: flat lead", 2),
    ]:
        report.add(step, range(n))
    flow = exclusion_flow(report)
    assert list(flow.columns) == ["kind", "step", "excluded", "remaining"]
    assert flow.set_index("kind")["excluded"].to_dict() == {
        "export": 0,
        "duplicate_row": 1,
        "ecg_after_ccta": 3,
        "ungraded_vessel": 0,
        "bad_ecg_file": 2,
    }


def test_a_step_without_a_kind_is_an_error_not_a_silent_miss():
    with pytest.raises(ValueError, match="ECG taken after CCTA.*STEP_KINDS"):
        step_kind("ECG taken after CCTA")
