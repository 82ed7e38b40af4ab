"""ecglib.chapters.data: the data step of a run, its exclusion flow and its store, as page 00
shows them; and the exclusion-flow figure."""

import pandas as pd
import pytest

from conftest import DEMO_MAP, export_row, write_export
from ecglib.chapters import data as ch
from ecglib.chapters.page import PARAMS_ENV
from ecglib.config import load_params
from ecglib.data.cohort import ExportMap, read_export
from ecglib.paths import RunPaths
from ecglib.plots.cohort import exclusion_flow_figure


@pytest.fixture
def small_run(tmp_path, monkeypatch):
    """An export of 8 rows (4 patients): two ECGs after their CCTA and one duplicated row."""
    monkeypatch.delenv(PARAMS_ENV, raising=False)
    rows = [export_row(i) for i in range(7)]
    rows[2]["ECG acquired"] = rows[5]["ECG acquired"] = "2024-03-07 10:00:00"
    rows.append(dict(rows[0]))
    table = write_export(tmp_path / "raw", rows)
    (tmp_path / "p.yaml").write_text(
        f"name: t\nseed: 1\nruns_dir: {tmp_path / 'runs'}\n"
        f"data:\n  table: {table}\n  map: {DEMO_MAP}\n"
    )
    return load_params(tmp_path / "p.yaml")


def test_the_flow_numbers_select_steps_by_kind_not_by_their_text():
    flow = pd.DataFrame(
        {
            "kind": ["export", "ecg_after_ccta", "bad_ecg_file"],
            "step": ["rows", "a renamed sentence", "ECG file failed: x"],
            "excluded": [0, 7, 2],
            "remaining": [20, 13, 11],
        }
    )
    assert ch.flow_numbers(flow) == {"n_export": 20, "n_analysed": 11, "n_after": 7}


def test_analyse_shows_the_flow_the_run_saved_and_counts_it(small_run):
    chapter = ch.analyse(small_run, progress=False)
    shown = chapter.flow_table()
    saved = pd.read_csv(RunPaths.of(small_run).exclusions)
    pd.testing.assert_frame_equal(shown, saved)
    assert list(shown.columns) == ["step", "excluded", "remaining"]
    assert chapter.flow["kind"].tolist() == [
        "export",
        "duplicate_row",
        "ecg_after_ccta",
        "ungraded_vessel",
    ]
    numbers = chapter.numbers()
    assert (numbers["n_export"], numbers["n_after"], numbers["n_analysed"]) == (8, 2, 5)
    assert numbers["n_patients"] == 4  # every patient keeps at least one ECG
    assert numbers["store_n"] == 5 and numbers["store_reused"] == "built the store"
    assert ch.analyse(small_run, progress=False).numbers()["store_reused"] == (
        "reused the store of an earlier run"
    )
    summary = chapter.store_summary()["value"]
    assert summary["ECGs in the store"] == "5" and summary["array shape"] == "5 x 12 x 5000"
    assert chapter.outputs() == {} and chapter.skipped() == []


def test_the_exclusion_flow_figure_draws_each_step_with_its_counts():
    flow = pd.DataFrame(
        {
            "step": ["rows in the export", "duplicate row", "ECG acquired after its CCTA"],
            "excluded": [0, 1, 20],
            "remaining": [1021, 1020, 1000],
        }
    )
    fig = exclusion_flow_figure(flow)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[0] == "ECG-CCTA pairs in the export\nn = 1,021"
    assert "excluded: duplicate row\nn = 1" in texts
    assert "excluded: ECG acquired after its CCTA\nn = 20" in texts
    assert texts[-1] == "analysed ECG-CCTA pairs\nn = 1,000"
    assert sum(t.startswith("remaining") for t in texts) == 1


def test_analyse_on_the_ci_run_counts_the_ecgs_after_their_ccta(ci_run):
    run = ci_run
    paths = RunPaths.of(run)
    chapter = ch.analyse(run, progress=False)
    export_map = ExportMap.from_yaml(run.path(run.data.map))
    raw = read_export(run.path(run.data.table), export_map)[1]
    after = raw.table().set_index("step").at["ECG acquired after its CCTA", "excluded"]
    assert chapter.numbers()["n_after"] == after > 0
    cohort = pd.read_csv(paths.cohort, dtype={"patient_id": str})
    assert chapter.numbers()["n_patients"] == cohort["patient_id"].nunique()
    assert chapter.numbers()["n_analysed"] == len(cohort) == chapter.store_n
    pd.testing.assert_frame_equal(chapter.flow_table(), pd.read_csv(paths.exclusions))
