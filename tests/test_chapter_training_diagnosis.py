"""The training page's demo diagnosis (ecglib.chapters.training_diagnosis)."""

import dataclasses
import json

import pytest
from diagnosis_support import diagnosis_row

from ecglib.chapters import training_diagnosis
from ecglib.chapters.parts import Skipped
from ecglib.config import PROJECT_ROOT, load_params
from ecglib.report.diagnosis import read_diagnosis


def test_the_demo_run_is_told_where_its_settings_fall_short():
    demo = load_params(PROJECT_ROOT / "params" / "demo.yaml")
    result = training_diagnosis.analyse(demo)
    assert result.own_settings["diagnose_demo"] == "plain_e30"
    small = result.verdicts()[0]
    assert small.startswith(
        "On the demo book's cohort (params/demo.yaml) these settings (plain_e30) miss: LCX"
    )
    assert "diagnose_demo" in result.tables() and not result.skipped()
    assert result.text().endswith(" ".join(result.verdicts()))
    saved = "diagnose_demo_large" in result.tables()
    assert result.large_text().startswith("The same settings" if saved else "No diagnosis")
    # the medium cohort's internal ECGs over the demo book's, from the two params files
    assert result.size_ratio == pytest.approx(2310 / 557)
    assert "4.1 times the demo book's internal ECGs" in result.large_text()
    assert set(result.runs()["cohort"]) >= {training_diagnosis.COHORTS["diagnose_demo"]}


def test_other_settings_have_no_row():
    demo = load_params(PROJECT_ROOT / "params" / "demo.yaml")
    other = dataclasses.replace(demo, train=dataclasses.replace(demo.train, epochs=3))
    verdict = training_diagnosis.analyse(other).verdicts()[0]
    assert (
        verdict
        == "On the demo book's cohort (params/demo.yaml) no saved row has this run's exact settings."
    )


def test_a_hospital_run_skips_the_demo_diagnosis():
    demo = load_params(PROJECT_ROOT / "params" / "demo.yaml")
    hospital = dataclasses.replace(demo, demo=None)
    result = training_diagnosis.analyse(hospital)
    assert isinstance(result.diagnoses, Skipped) and result.skipped() == []
    assert result.verdicts() == [] and result.tables() == {}
    assert result.text() == result.diagnoses.message and result.table("diagnose_demo") is None


def _diagnosis(tmp_path, name, results):
    """A saved diagnosis ``name`` whose settings (name -> (gap, margin) of every vessel) are
    read back as the page reads them."""
    rows = [
        diagnosis_row(variant, vessel, "0 1 2 3 4", gap, margin)
        for variant, (gap, margin) in {"st_logistic": (0.0, 0.2), **results}.items()
        for vessel in ("RCA", "LM", "LAD", "LCX")
    ]
    runs = [
        {
            "date": "2026-12-06T00:00:00Z",
            "commit": "abcdef0123",
            "folds": [0, 1, 2, 3, 4],
            "variants": {v: {} for v in results},
        }
    ]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"base": "params/demo.yaml", "runs": runs, "rows": rows}))
    return read_diagnosis(path)


@pytest.mark.parametrize(
    ("small", "large", "expected"),
    [
        (
            (-0.06, 0.02),
            (-0.01, 0.08),
            "none of the 2 settings tried on the demo book's cohort met",
        ),
        ((-0.06, 0.02), (-0.05, 0.08), "With four times the ECGs these settings still miss: RCA"),
        ((0.0, 0.08), (0.0, 0.08), "These settings meet both targets on the demo book's cohort"),
    ],
)
def test_the_cause_is_read_from_both_cohorts(tmp_path, small, large, expected):
    found = {
        "diagnose_demo": _diagnosis(tmp_path, "diagnose_demo", {"base": small, "x": (-0.1, 0)}),
        "diagnose_demo_large": _diagnosis(tmp_path, "diagnose_demo_large", {"base": large}),
    }
    page = training_diagnosis.DemoDiagnosis(
        found, {"diagnose_demo": "base", "diagnose_demo_large": "base"}, size_ratio=4.0
    )
    assert expected.replace("four", "4.0") in page.cause()
    assert page.large_text().endswith(page.cause()) and "nan" not in page.large_text()
    if "none of" in expected:
        assert page.cause().endswith("lacks is ECGs, not a different recipe.")
