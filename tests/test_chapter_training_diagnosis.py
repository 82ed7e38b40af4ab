"""The training page's demo diagnosis (ecglib.chapters.training_diagnosis)."""

import dataclasses

from ecglib.chapters import training_diagnosis
from ecglib.chapters.parts import Skipped
from ecglib.config import PROJECT_ROOT, load_params


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
