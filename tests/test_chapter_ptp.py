"""ecglib.chapters.ptp: guideline PTP against PTP + AI strata, rule-out and the NRI (chapter 08)."""

import math

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions, make_cohort, write_run

from ecglib import schema
from ecglib.chapters import ptp as ch
from ecglib.chapters.parts import Skipped, attempt
from ecglib.chapters.predictions import load_results
from ecglib.chapters.risk_strata import index_ecgs, vessel_strata
from ecglib.errors import MissingInputError
from ecglib.metrics import ptp as ptp_metrics
from ecglib.metrics.nri import NRIResult
from ecglib.metrics.strata import crossfit_vessel_strata

TARGETS_90 = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}


def test_ptp_analysis_on_exams_with_any_vessel_outcome():
    p = joined_predictions(600)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    p.loc[p.index[:10], "symptom"] = None
    analysis = ch.ptp_analysis(p, strata, n_boot=50, seed=0)
    index = index_ecgs(p, "exam")
    assert len(analysis.table) == len(index)
    assert (
        analysis.table["outcome"].to_numpy() == index[schema.label_cols()].max(axis=1).to_numpy()
    ).all()
    # the grey-zone rule only moves grey-zone patients
    known = analysis.table[analysis.table["ptp_category"].notna()]
    moved = known["ptp_category"] != known["combined"]
    assert moved.any() and (known.loc[moved, "ptp_category"] == "grey zone").all()
    assert analysis.table["combined"].isna().sum() == analysis.table["ptp"].isna().sum()
    numbers = analysis.numbers("int_")
    assert set(numbers) == {f"int_{k}" for k in ch.PTP_NUMBER_KEYS}
    assert numbers["int_exams"] == len(index)
    assert numbers["int_with_ptp"] == len(known)
    assert analysis.nri.n_missing == int(analysis.table["ptp"].isna().sum()) > 0
    assert ch.rule_out_display(analysis).index.tolist() == ["PTP", "PTP + AI"]


def test_without_symptoms_the_analysis_is_skipped_with_nan_numbers():
    p = joined_predictions(600)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    skipped = attempt("PTP", ch.ptp_analysis, p.drop(columns="symptom"), strata, n_boot=10, seed=0)
    assert isinstance(skipped, Skipped) and "symptom" in skipped.reason
    assert all(math.isnan(v) for v in ch.ptp_numbers(skipped, "int_").values())
    under_30 = p.assign(age=25.0)
    with pytest.raises(MissingInputError, match="age < 30"):
        ch.ptp_analysis(under_30, strata, n_boot=10, seed=0)


def test_guideline_table_as_printed():
    table = ch.ptp_guideline_table()
    assert table.index.name == "age (years)"
    assert table.index.tolist() == list(ptp_metrics.AGE_BANDS)
    assert table.columns.tolist() == list(schema.SYMPTOMS)
    assert table.loc["70+", "typical"] == "52 / 27"
    assert table.loc["30-39", "dyspnoea"] == "0 / 3"


def _nri(**kwargs) -> NRIResult:
    base = dict(
        n_events=10,
        n_nonevents=20,
        events_up=3,
        events_down=1,
        nonevents_up=2,
        nonevents_down=4,
        nri_events=0.2,
        nri_nonevents=0.1,
        nri=0.3,
        se=0.1,
        se_null=0.12,
        ci_lo=0.1,
        ci_hi=0.5,
        z=2.5,
        p_value=0.0124,
    )
    return NRIResult(**(base | kwargs))


def test_nri_table_prints_p_values_as_the_book_does():
    table = ch.nri_table(
        _nri(), {"nri": 0.3, "nri_lo": 0.05, "nri_hi": 0.55, "n_boot": 100, "n_one_class": 2}
    )
    value = table["value"]
    assert value["events: moved up / down"] == "3 / 1 of 10"
    assert value["NRI (Wald 95% CI)"] == "0.300 [0.100-0.500]"
    assert value["z, p (Pencina)"] == "2.50, 0.012"
    assert value["NRI (bootstrap 95% CI)"] == "0.300 [0.050-0.550]"
    assert value["bootstrap resamples (without a class)"] == "100 (2)"
    assert "left out: no PTP category" not in value.index
    assert ch.nri_table(_nri(p_value=0.43))["value"]["z, p (Pencina)"] == "2.50, 0.43"
    assert ch.nri_table(_nri(p_value=1e-5))["value"]["z, p (Pencina)"] == "2.50, < 0.001"
    assert ch.nri_table(_nri(n_missing=4))["value"]["left out: no PTP category"] == "4"


def test_a_run_without_symptoms_or_external_site_skips_both_parts(tmp_path):
    cohort = make_cohort(n_patients=60, n_external=0).drop(columns="symptom")
    chapter = ch.analyse(write_run(tmp_path, cohort))
    assert isinstance(chapter.internal, Skipped) and "symptom" in chapter.internal.reason
    assert chapter.internal.part == "The pre-test probability analysis"
    assert isinstance(chapter.external, Skipped) and chapter.external.part == "External validation"
    assert [s.part for s in chapter.skipped()][0] == "The pre-test probability analysis"
    assert chapter.skipped()[-1] is chapter.external
    for cohort_name in ("internal", "external"):
        assert chapter.rule_out_table(cohort_name) is None
        assert chapter.nri_table(cohort_name) is None
    outputs = chapter.outputs()
    assert isinstance(outputs["ptp_rule_out_internal"], Skipped)
    assert set(outputs["ptp_nri"]) == {
        f"{p}{k}" for p in ("int_", "ext_") for k in ch.PTP_NUMBER_KEYS
    }
    assert all(math.isnan(v) for v in outputs["ptp_nri"].values())
    with pytest.raises(ValueError, match="internal"):
        chapter.rule_out_table("ext")


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    run = ci_run
    results = load_results(run)
    chapter = ch.analyse(run, results)
    # the ci cohort (the demo's) has PTP: the chapter must compute it, not skip it
    assert not isinstance(chapter.internal, Skipped), chapter.internal.message
    index = index_ecgs(results.oof, "exam")
    ptp = ptp_metrics.ptp_table(index)
    known = ptp["ptp_category"].notna()
    outcome = index[schema.label_cols(schema.vessels_of(index))].max(axis=1).to_numpy()
    rule_out = chapter.rule_out_table("internal")
    assert rule_out.columns.tolist() == [
        "examinations",
        "low",
        "grey zone",
        "testing",
        "events in low (missed)",
        "NPV of low",
        "sensitivity of not low",
    ]
    assert rule_out.loc["PTP", "examinations"] == int(known.sum())
    low = (ptp["ptp_category"] == "low").to_numpy()
    assert rule_out.loc["PTP", "events in low (missed)"] == int(outcome[low].sum())
    numbers = chapter.numbers()
    assert numbers["int_exams"] == len(index) and numbers["int_with_ptp"] == int(known.sum())
    assert numbers["int_events"] == int(outcome[known.to_numpy()].sum())
    # the AI stratum of an exam comes from the held-out strata of its index ECG
    strata = vessel_strata(run, results).internal.loc[index.index]
    ai = chapter.internal.table["ai_stratum"].astype(str).to_numpy()
    assert (ai[(strata == "high").any(axis=1).to_numpy()] == "high").all()
    reclass = chapter.reclassification_table("internal")
    assert int(reclass.to_numpy().sum()) == int(known.sum())
    assert list(chapter.outputs()) == [
        "ptp_rule_out_internal",
        "ptp_reclassification_internal",
        "ptp_rule_out_external",
        "ptp_nri",
    ]
    assert chapter.outputs()["ptp_nri"] == numbers
    assert isinstance(chapter.guideline, pd.DataFrame) and np.all(chapter.guideline.notna())
