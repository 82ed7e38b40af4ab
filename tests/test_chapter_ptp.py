"""ecglib.chapters.ptp: guideline PTP against PTP + AI strata, rule-out and the NRI (chapter 08),
on obstructive disease (the PTP's outcome) and on severe disease, with patient intervals."""

import math

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions, make_cohort, write_run

from ecglib import schema
from ecglib.chapters import ptp as ch
from ecglib.chapters.parts import Skipped, attempt
from ecglib.chapters.predictions import load_results
from ecglib.chapters.ptp_models import MODEL_NUMBER_KEYS
from ecglib.chapters.risk_strata import index_ecgs, vessel_strata
from ecglib.errors import DataError, MissingInputError
from ecglib.metrics import nri
from ecglib.metrics import ptp as ptp_metrics
from ecglib.metrics.nri import NRIResult
from ecglib.metrics.resamples import patient_resamples
from ecglib.metrics.strata import crossfit_vessel_strata

TARGETS_90 = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}


def _resamples(p, n_boot=200):
    return patient_resamples(p["patient"], n_boot, seed=0)


def _several_exams_per_patient(n=600):
    """Joined predictions where every patient has two examinations (two ECGs each)."""
    p = joined_predictions(n)
    p["patient"] = p["exam"] // 2
    return p


def test_ptp_analysis_on_exams_with_any_vessel_obstructive_outcome():
    p = _several_exams_per_patient()
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    p.loc[p.index[:10], "symptom"] = None
    analysis = ch.ptp_analysis(p, strata, _resamples(p))
    index = index_ecgs(p, "exam")
    assert len(analysis.table) == len(index) and analysis.outcome == "obstructive"
    # the main outcome is the PTP's own: any vessel graded 2 (moderate) or worse
    obstructive = (index[schema.grade_cols()] >= 2).any(axis=1).to_numpy()
    assert (analysis.table["outcome"].to_numpy() == obstructive).all()
    assert obstructive.sum() > index[schema.label_cols()].max(axis=1).sum()
    # the second outcome: severe or occluded, the book's per-vessel label
    severe = ch.ptp_analysis(p, strata, _resamples(p), outcome="severe")
    assert (
        severe.table["outcome"].to_numpy() == index[schema.label_cols()].max(axis=1).to_numpy()
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
    assert numbers["int_patients"] == known["patient"].nunique() < len(known)
    assert numbers["int_min_grade"] == 2 and severe.numbers("x_")["x_min_grade"] == 3
    assert analysis.nri.n_missing == int(analysis.table["ptp"].isna().sum()) > 0
    assert ch.rule_out_display(analysis).index.tolist() == ["PTP", "PTP + AI"]
    with pytest.raises(ValueError, match="outcome must be one of"):
        ch.ptp_analysis(p, strata, _resamples(p), outcome="moderate")


def test_intervals_come_from_the_shared_patient_resamples():
    p = _several_exams_per_patient()
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    resamples = _resamples(p, 300)
    analysis = ch.ptp_analysis(p, strata, resamples)
    known = analysis.table[analysis.table["ptp_category"].notna()]
    weights = resamples.weights(known["patient"])
    args = (known["outcome"], known["ptp_category"], known["combined"], ptp_metrics.PTP_CATEGORIES)
    assert analysis.nri_boot == nri.nri_bootstrap(*args, weights=weights)
    assert analysis.nri_test == nri.clustered_nri_test(*args, groups=known["patient"])
    expected = ptp_metrics.rule_out_summary(
        known["outcome"],
        {"PTP": known["ptp_category"], "PTP + AI": known["combined"]},
        weights=weights,
    )
    pd.testing.assert_frame_equal(analysis.rule_out, expected)
    # the numbers glue the patient-bootstrap intervals and the clustered p
    numbers = analysis.numbers("")
    assert (numbers["nri_lo"], numbers["nri_hi"]) == (
        analysis.nri_boot["nri_lo"],
        analysis.nri_boot["nri_hi"],
    )
    assert numbers["npv_ptp_lo"] == expected.loc["PTP", "npv_low_lo"]
    assert numbers["nri_p"] == analysis.nri_test["p_value"]
    assert numbers["nri_p_text"].startswith("p ")
    assert (numbers["nri_wald_lo"], numbers["nri_wald_hi"]) == (
        analysis.nri.ci_lo,
        analysis.nri.ci_hi,
    )
    # every table says its unit and method
    display = ch.rule_out_display(analysis)
    assert (display["patients"] == known["patient"].nunique()).all()
    assert display["95% CI"].str.startswith("patient bootstrap, percentile, 300 resamples").all()
    unit = f"{len(known)} examinations (index ECGs) of {known['patient'].nunique()} patients"
    assert analysis.unit() == unit
    # a patient outside the resampled population is refused, not silently never drawn
    with pytest.raises(ValueError, match="outside the resampled population"):
        ch.ptp_analysis(p, strata, patient_resamples(p["patient"].iloc[:100], 10))


def test_vessels_not_assessed_are_left_out_and_a_missing_grade_is_refused():
    p = joined_predictions(400)
    p[schema.grade_col("LM")] = np.nan
    p[schema.label_col("LM")] = np.nan
    assessed = schema.grade_cols(["RCA", "LAD", "LCX"])
    expected = (p[assessed] >= 2).any(axis=1).to_numpy().astype(int)
    assert (ch.any_vessel_outcome(p) == expected).all()
    assert (ch.any_vessel_outcome(p, 3) == (p[assessed] >= 3).any(axis=1).to_numpy()).all()
    p.loc[5, schema.grade_col("LAD")] = np.nan
    with pytest.raises(DataError, match="cohort row 5: grade_LAD is missing"):
        ch.any_vessel_outcome(p)
    with pytest.raises(ValueError, match="min_grade"):
        ch.any_vessel_outcome(joined_predictions(10), 0)


def test_without_symptoms_or_one_class_the_analysis_is_skipped_with_nan_numbers():
    p = joined_predictions(600)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    skipped = attempt("PTP", ch.ptp_analysis, p.drop(columns="symptom"), strata, _resamples(p))
    assert isinstance(skipped, Skipped) and "symptom" in skipped.reason
    numbers = ch.ptp_numbers(skipped, "int_")
    assert numbers.pop("int_nri_p_text") == "p = n/a"
    assert numbers.pop("int_missed_ptp_text") == numbers.pop("int_missed_combined_text")
    assert numbers.pop("int_nri_text") == "n/a (the analysis is skipped)"
    assert numbers.pop("int_caveats").startswith("The analysis is skipped")
    assert numbers.pop("int_npv_ptp_ci") == numbers.pop("int_npv_combined_ci") == "no 95% CI"
    assert all(math.isnan(v) for v in numbers.values())
    under_30 = p.assign(age=25.0)
    with pytest.raises(MissingInputError, match="age < 30"):
        ch.ptp_analysis(under_30, strata, _resamples(p))
    all_events = p.assign(**{schema.grade_col("RCA"): 2})
    with pytest.raises(MissingInputError, match="all of the .* have any vessel moderate or worse"):
        ch.ptp_analysis(all_events, strata, _resamples(p))


def test_too_few_events_skip_the_analysis_under_the_small_count_policy():
    p = joined_predictions(600)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    analysis = ch.ptp_analysis(p, strata, _resamples(p), outcome="severe")
    known = analysis.table[analysis.table["ptp_category"].notna()]
    events = int(known["outcome"].sum())
    non_events = len(known) - events
    fewer, word = (events, "events") if events <= non_events else (non_events, "non-events")
    assert ch.ptp_analysis(p, strata, _resamples(p), outcome="severe", min_events=fewer)
    with pytest.raises(MissingInputError, match=rf"too few {word} \({fewer}\).*report.min_events"):
        ch.ptp_analysis(p, strata, _resamples(p), outcome="severe", min_events=fewer + 1)


def test_the_npv_interval_in_the_text_says_when_it_has_no_width():
    p = joined_predictions(600)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    analysis = ch.ptp_analysis(p, strata, _resamples(p))
    numbers = analysis.numbers("int_")
    lo, hi = numbers["int_npv_ptp_lo"], numbers["int_npv_ptp_hi"]
    text = numbers["int_npv_ptp_ci"]
    if f"{lo:.3f}" == f"{hi:.3f}":
        assert text == "zero-width 95% CI"
    else:
        assert text == f"95% CI {lo:.3f} to {hi:.3f}"


def test_outcome_labels_come_from_the_grade_scale():
    assert ch.outcome_label("obstructive") == "any vessel moderate or worse (grade >= 2)"
    assert ch.outcome_label("severe") == "any vessel severe or occluded (grade >= 3)"
    assert list(ch.OUTCOMES) == ["obstructive", "severe"] and ch.MAIN_OUTCOME == "obstructive"


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
    boot = {
        "nri": 0.3,
        "nri_lo": 0.05,
        "nri_hi": 0.55,
        "nri_events": 0.2,
        "nri_events_lo": 0.0,
        "nri_events_hi": 0.4,
        "nri_nonevents": 0.1,
        "nri_nonevents_lo": -0.1,
        "nri_nonevents_hi": 0.3,
        "n_boot": 100,
        "n_one_class": 2,
    }
    test = {"z": 2.1, "p_value": 0.036}
    table = ch.nri_table(_nri(), boot, test, outcome="any vessel X", unit="30 examinations")
    value = table["value"]
    assert value.index[:2].tolist() == ["outcome", "unit"]
    assert value["unit"] == "30 examinations"
    assert value["events: moved up / down"] == "3 / 1 of 10"
    assert value["NRI"] == "0.300 [0.050-0.550]"
    assert value["NRI, non-events"] == "0.100 [-0.100 to 0.300]"
    assert value["95% CI"].startswith("patient bootstrap, percentile: 100 resamples (2 without")
    assert value["z, p (Pencina, variance clustered by patient)"] == "2.10, 0.036"
    independent = "for comparison, examinations as independent: "
    assert value[f"{independent}NRI (Wald 95% CI)"] == "0.300 [0.100-0.500]"
    assert value[f"{independent}z, p (Pencina)"] == "2.50, 0.012"
    assert "left out: no PTP category" not in value.index
    # without the clustered results: Pencina's alone, unlabelled
    plain = ch.nri_table(_nri(p_value=0.43))["value"]
    assert plain["z, p (Pencina)"] == "2.50, 0.43" and "unit" not in plain.index
    assert plain["NRI (Wald 95% CI)"] == "0.300 [0.100-0.500]"
    assert ch.nri_table(_nri(p_value=1e-5))["value"]["z, p (Pencina)"] == "2.50, < 0.001"
    assert ch.nri_table(_nri(n_missing=4))["value"]["left out: no PTP category"] == "4"


def test_a_run_without_symptoms_or_external_site_skips_both_parts(tmp_path):
    cohort = make_cohort(n_patients=60, n_external=0).drop(columns="symptom")
    chapter = ch.analyse(write_run(tmp_path, cohort))
    assert isinstance(chapter.internal, Skipped) and "symptom" in chapter.internal.reason
    assert chapter.internal.part == "The pre-test probability analysis"
    assert isinstance(chapter.external, Skipped) and chapter.external.part == "External validation"
    # the second outcome is skipped for the same reason: one skip, said once
    assert chapter.internal_severe is chapter.internal
    assert chapter.external_severe is chapter.external
    assert [s.part for s in chapter.skipped()] == [
        "The pre-test probability analysis",
        "External validation",
        "The 2024 RF-CL",
    ]
    assert chapter.skipped()[1] is chapter.external
    assert chapter.models_part("external") is chapter.external
    assert chapter.models_table() is None and chapter.models_categories() is None
    for cohort_name in ("internal", "external"):
        for outcome in ch.OUTCOMES:
            assert chapter.rule_out_table(cohort_name, outcome) is None
            assert chapter.nri_table(cohort_name, outcome) is None
    outputs = chapter.outputs()
    assert isinstance(outputs["ptp_rule_out_internal"], Skipped)
    assert isinstance(outputs["ptp_rule_out_internal_severe"], Skipped)
    numbers = dict(outputs["ptp_nri"])
    assert set(numbers) == {
        f"{p}{k}"
        for p in ("int_", "ext_", "int_sev_", "ext_sev_")
        for k in (*ch.PTP_NUMBER_KEYS, *MODEL_NUMBER_KEYS)
    } | {"obstructive_min_grade", "severe_min_grade", "models_text"}
    assert (numbers.pop("obstructive_min_grade"), numbers.pop("severe_min_grade")) == (2, 3)
    assert "The 2024 RF-CL is skipped because" in numbers.pop("models_text")
    texts = {
        "nri_p_text": "p = n/a",
        "nri_text": "n/a (the analysis is skipped)",
        "missed_ptp_text": "no count of missed events",
        "missed_combined_text": "no count of missed events",
        "p_text": "p = n/a",  # every other p-value's text (e.g. the RF-CL's)
        "npv_ptp_ci": "no 95% CI",
        "npv_combined_ci": "no 95% CI",
    }
    for k, v in numbers.items():
        name = next((t for t in (*texts, "caveats") if k.endswith(t)), None)
        if name == "caveats":
            assert v.startswith("The analysis is skipped")
        elif name:
            assert v == texts[name]
        elif k.endswith("_text"):  # the RF-CL comparison's p-values
            assert v == "p = n/a", k
        else:
            assert math.isnan(v), k
    with pytest.raises(ValueError, match="internal"):
        chapter.rule_out_table("ext")
    with pytest.raises(ValueError, match="outcome"):
        chapter.rule_out_table("internal", "any")


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    run = ci_run
    results = load_results(run)
    chapter = ch.analyse(run, results)
    # the ci cohort (the demo's) has PTP: the chapter must compute it, not skip it
    assert not isinstance(chapter.internal, Skipped), chapter.internal.message
    assert not isinstance(chapter.internal_severe, Skipped), chapter.internal_severe.message
    index = index_ecgs(results.oof, "exam")
    ptp = ptp_metrics.ptp_table(index)
    known = ptp["ptp_category"].notna()
    grades = index[schema.grade_cols(schema.vessels_of(index))].to_numpy()
    low = (ptp["ptp_category"] == "low").to_numpy()
    numbers = chapter.numbers()
    for outcome, prefix, min_grade in (("obstructive", "int_", 2), ("severe", "int_sev_", 3)):
        outcome_of_exam = (grades >= min_grade).any(axis=1).astype(int)
        rule_out = chapter.rule_out_table("internal", outcome)
        assert rule_out.columns.tolist() == [
            "examinations",
            "patients",
            "low",
            "grey zone",
            "testing",
            "events",
            "events in low (missed)",
            "NPV of low",
            "sensitivity of not low",
            "95% CI",
        ]
        assert rule_out.loc["PTP", "examinations"] == int(known.sum())
        assert rule_out.loc["PTP", "patients"] == index.loc[known.to_numpy(), "patient"].nunique()
        assert rule_out.loc["PTP", "events in low (missed)"] == int(outcome_of_exam[low].sum())
        assert numbers[f"{prefix}events"] == int(outcome_of_exam[known.to_numpy()].sum())
        assert numbers[f"{prefix}min_grade"] == min_grade
        assert numbers[f"{prefix}n_boot"] == run.evaluation.n_bootstrap
        nri_table = chapter.nri_table("internal", outcome)["value"]
        assert nri_table["outcome"] == ch.outcome_label(outcome)
        assert nri_table["unit"].endswith(f"of {numbers[f'{prefix}patients']} patients")
        reclass = chapter.reclassification_table("internal", outcome)
        assert int(reclass.to_numpy().sum()) == int(known.sum())
        assert int(reclass.loc["event"].to_numpy().sum()) == numbers[f"{prefix}events"]
    assert numbers["int_exams"] == len(index) and numbers["int_with_ptp"] == int(known.sum())
    # obstructive disease is more common than severe disease
    assert numbers["int_events"] > numbers["int_sev_events"]
    # the intervals are the run's shared resamples of the out-of-fold population
    part = chapter.internal
    rows = part.table[part.table["ptp_category"].notna()]
    weights = results.resamples("oof").weights(rows["patient"])
    cats = ptp_metrics.PTP_CATEGORIES
    assert part.nri_boot == nri.nri_bootstrap(
        rows["outcome"], rows["ptp_category"], rows["combined"], cats, weights=weights
    )
    # the AI stratum of an exam comes from the held-out strata of its index ECG
    strata = vessel_strata(run, results).internal.loc[index.index]
    ai = chapter.internal.table["ai_stratum"].astype(str).to_numpy()
    assert (ai[(strata == "high").any(axis=1).to_numpy()] == "high").all()
    assert list(chapter.outputs()) == [
        "ptp_rule_out_internal",
        "ptp_reclassification_internal",
        "ptp_rule_out_external",
        "ptp_rf_cl_aucs_internal",
        "ptp_rf_cl_categories_internal",
        "ptp_rf_cl_aucs_external",
        "ptp_rf_cl_categories_external",
        "ptp_rule_out_internal_severe",
        "ptp_reclassification_internal_severe",
        "ptp_rule_out_external_severe",
        "ptp_rf_cl_aucs_internal_severe",
        "ptp_rf_cl_categories_internal_severe",
        "ptp_rf_cl_aucs_external_severe",
        "ptp_rf_cl_categories_external_severe",
        "ptp_nri",
    ]
    assert chapter.outputs()["ptp_nri"] == numbers
    assert isinstance(chapter.guideline, pd.DataFrame) and np.all(chapter.guideline.notna())


def test_the_ci_run_shows_the_2024_rf_cl_beside_the_2019_ptp(ci_run):
    from sklearn.metrics import roc_auc_score

    from ecglib.metrics.rf_cl import rf_cl_table

    results = load_results(ci_run)
    chapter = ch.analyse(ci_run, results)
    part = chapter.models_part("internal")
    # the demo cohort has the five risk factors: the comparison is computed, not skipped
    assert not isinstance(part, Skipped), part.message
    index = index_ecgs(results.oof, "exam")
    outcome = ch.any_vessel_outcome(index, 2)
    rf = rf_cl_table(index)["rf_cl"].to_numpy()
    guide = ptp_metrics.ptp_table(index)["ptp"].to_numpy()
    both = ~np.isnan(rf) & ~np.isnan(guide)
    numbers = chapter.numbers()
    assert numbers["int_models_exams"] == int(both.sum())
    assert numbers["int_rfcl_auc"] == pytest.approx(roc_auc_score(outcome[both], rf[both]))
    assert numbers["int_ptp_auc"] == pytest.approx(roc_auc_score(outcome[both], guide[both]))
    assert "internal examinations" in numbers["models_text"]
    assert chapter.models_table("internal").shape[0] == 2


def test_an_nri_with_nobody_moved_is_said_not_printed_as_zero():
    unmoved = _nri(
        events_up=0,
        events_down=0,
        nonevents_up=0,
        nonevents_down=0,
        nri_events=0.0,
        nri_nonevents=0.0,
        nri=0.0,
        ci_lo=0.0,
        ci_hi=0.0,
        z=0.0,
        p_value=1.0,
    )
    assert ch.nobody_moved(unmoved) and not ch.nobody_moved(_nri())
    value = ch.nri_table(unmoved, outcome="any vessel X")["value"]
    assert value["NRI"] == "0 by construction: nobody moved"
    assert value["events: moved up / down"] == "0 / 0 of 10"
    assert not any("0.000 [0.000-0.000]" in v for v in value)
    assert not any("p (Pencina)" in k for k in value.index)


def test_the_analysis_says_when_its_nri_gain_comes_with_a_worse_rule_out():
    p = _several_exams_per_patient()
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    analysis = ch.ptp_analysis(p, strata, _resamples(p))
    numbers = analysis.numbers("int_")
    r = analysis.rule_out
    worse = (
        r.loc["PTP + AI", "npv_low"] < r.loc["PTP", "npv_low"]
        or r.loc["PTP + AI", "missed_events"] > r.loc["PTP", "missed_events"]
    )
    fires = worse and analysis.nri_boot["nri"] > 0
    assert ("not in rule-out" in numbers["int_caveats"]) == fires
    assert numbers["int_nri_text"].startswith(f"{analysis.nri_boot['nri']:.3f} [")
