"""ecglib.chapters.severity: the severity trend and grade summaries, internal and external."""

import math

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions
from scipy import stats
from test_chapter_subgroups import synthetic_results

from ecglib import schema
from ecglib.chapters import severity as ch
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import load_results
from ecglib.metrics.resamples import loop_reference
from ecglib.metrics.severity import grade_summary

OUTPUTS = [
    "severity_trend_internal",
    "severity_trend_external",
    "severity_grades_internal",
    "severity_grades_external",
]


def test_grade_display_reads_median_iqr_and_n_per_grade():
    p = joined_predictions()
    summary = grade_summary(p)
    wide = ch.grade_display(summary)
    assert wide.columns.tolist() == list(schema.VESSELS)
    assert wide.index.tolist() == [f"{g} {name}" for g, name in schema.GRADES.items()]
    row = summary[(summary["vessel"] == "LAD") & (summary["grade"] == 3)].iloc[0]
    assert wide.at["3 severe", "LAD"] == (
        f"{row['median']:.3f} [{row['q1']:.3f}-{row['q3']:.3f}] (n = {int(row['n'])})"
    )
    p[schema.grade_col("LM")] = 0  # nobody with an LM lesion
    assert ch.grade_display(grade_summary(p)).at["4 occluded", "LM"] == "no ECGs"
    # one ECG has a median and no range (not "[0.998-0.998]", nor an "interval")
    p.loc[p.index[0], schema.grade_col("LM")] = 4
    one = grade_summary(p)
    row = one[(one["vessel"] == "LM") & (one["grade"] == 4)].iloc[0]
    assert ch.grade_display(one).at["4 occluded", "LM"] == f"{row['median']:.3f} (n = 1)"


def test_without_an_external_site_the_external_parts_are_skipped_once():
    results = synthetic_results(joined_predictions())
    chapter = ch.analyse(results.params, results)
    assert isinstance(chapter.external_trend, Skipped)
    assert chapter.external_grade_table() is None
    assert [s.message for s in chapter.skipped()] == [
        "External validation is skipped because the cohort has no external site."
    ]
    numbers = chapter.numbers()
    assert all(
        math.isnan(numbers[f"ext_{c}_{v}"]) for c in ch.TREND_NUMBERS for v in schema.VESSELS
    )
    rho = stats.spearmanr(results.oof["p_RCA"], results.oof["grade_RCA"]).statistic
    assert numbers["int_rho_RCA"] == pytest.approx(rho)
    assert numbers["int_rho_lo_RCA"] < rho < numbers["int_rho_hi_RCA"]
    assert numbers["ext_trend_sentence"] == "" and numbers["n_boot"] == 1000
    assert not any("p_value" in key for key in numbers)
    assert list(chapter.outputs()) == OUTPUTS


def _trend(**columns):
    base = {"vessel": ["RCA", "LM", "LAD", "LCX"], "rho": [0.3, -0.2, 0.05, float("nan")]}
    return pd.DataFrame({**base, **columns})


def test_trend_sentence_says_which_intervals_exclude_0():
    trend = _trend(
        rho_lo=[0.1, -0.4, -0.1, float("nan")],
        rho_hi=[0.5, -0.01, 0.2, float("nan")],
        excludes_0=[True, True, False, False],
    )
    assert ch.trend_sentence(trend) == (
        "The patient-bootstrap interval lies above 0 for the RCA; it lies below 0 for the left "
        "main; it includes 0 for the LAD. Rho has no interval for the LCX (a single grade or "
        "probability)."
    )
    trend["excludes_0"] = False
    assert ch.trend_sentence(trend).startswith(
        "The patient-bootstrap interval includes 0 for the RCA, the left main and the LAD."
    )


def test_trend_display_states_units_and_method():
    trend = _trend(
        n=[10, 10, 10, 10],
        patients=[4, 4, 4, 4],
        rho_lo=[0.1, -0.4, -0.1, float("nan")],
        rho_hi=[0.5, -0.01, 0.2, float("nan")],
        excludes_0=[True, True, False, False],
        interval="95% percentile, patient bootstrap (1,000 resamples)",
    )
    shown = ch.trend_display(trend)
    assert shown.columns.tolist() == [
        "ECGs",
        "patients",
        "Spearman ρ [95% CI]",
        "CI excludes 0",
        "95% CI",
    ]
    assert shown.loc["LM", "Spearman ρ [95% CI]"] == "-0.20 [-0.40 to -0.01]"
    assert shown["CI excludes 0"].tolist() == ["yes", "yes", "no", "n/a"]


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    results = load_results(ci_run)
    chapter = ch.analyse(results.params, results)
    trend = chapter.trend.set_index("vessel")
    for data, table in (
        (results.oof, trend),
        (results.external, chapter.external_trend.set_index("vessel")),
    ):
        for vessel in schema.vessels_of(data):
            want = stats.spearmanr(data[schema.prob_col(vessel)], data[schema.grade_col(vessel)])
            positives = int((data[schema.label_col(vessel)] == 1).sum())
            few = min(positives, len(data) - positives) < ci_run.report.min_events
            assert bool(table.at[vessel, "withheld"]) == few  # the small-count policy
            if few:
                assert np.isnan(table.at[vessel, "rho"])
            else:
                assert table.at[vessel, "rho"] == pytest.approx(want.statistic, abs=1e-12)
            assert table.at[vessel, "n"] == len(data)
    numbers = chapter.numbers()
    assert numbers["int_rho_RCA"] == trend.at["RCA", "rho"]
    # the interval: scipy's rho on every materialised resample of the run's shared resamples
    resamples = results.resamples("oof")
    slow = loop_reference(
        lambda t: stats.spearmanr(t["p_LAD"], t["grade_LAD"]).statistic,
        results.oof,
        resamples.weights(results.oof["patient"]),
    )
    lo, hi = np.percentile(slow, [2.5, 97.5])
    assert (numbers["int_rho_lo_LAD"], numbers["int_rho_hi_LAD"]) == pytest.approx((lo, hi))
    assert trend.at["LAD", "patients"] == results.oof["patient"].nunique()
    assert trend.at["LAD", "interval"] == (
        f"95% percentile, patient bootstrap ({resamples.n_boot:,} resamples)"
    )
    external = chapter.external_trend.set_index("vessel")
    assert external.at["RCA", "patients"] == results.external["patient"].nunique()
    assert chapter.trend_table().index.tolist() == schema.vessels_of(results.oof)
    assert chapter.external_trend_table().shape == chapter.trend_table().shape
    grades = chapter.grades
    assert (grades.groupby("vessel")["n"].sum() == len(results.oof)).all()
    shown = chapter.grade_table()
    assert shown.columns.tolist() == schema.vessels_of(results.oof)
    assert shown.index.tolist() == [f"{g} {name}" for g, name in schema.GRADES.items()]
    assert chapter.external_grade_table().shape == shown.shape
    assert chapter.skipped() == [] and list(chapter.outputs()) == OUTPUTS


def test_a_vessel_with_too_few_severe_ecgs_has_no_rho():
    results = synthetic_results(joined_predictions())
    oof = results.oof.copy()
    positive = oof.index[oof["y_LM"] == 1]
    oof.loc[positive[3:], "y_LM"] = 0  # 3 severe LM ECGs left
    resamples = results.resamples("oof")
    trend = ch._trend(oof, resamples, 5).set_index("vessel")
    plain = ch._trend(oof, resamples).set_index("vessel")
    assert trend.at["LM", "withheld"] == "too few events (3)"
    assert np.isnan(trend.loc["LM", ["rho", "rho_lo", "rho_hi"]].astype(float)).all()
    assert not trend.at["LM", "excludes_0"] and np.isfinite(plain.at["LM", "rho"])
    assert trend.at["RCA", "rho"] == plain.at["RCA", "rho"] and trend.at["RCA", "withheld"] == ""
    texts = ch.rho_texts(trend.reset_index(), "int_")
    assert texts["int_rho_text_LM"] == "too few events (3)"
    assert texts["int_rho_text_RCA"].startswith(f"{plain.at['RCA', 'rho']:.2f} [")
    assert ch.trend_display(trend.reset_index()).loc["LM", "Spearman ρ [95% CI]"] == (
        "too few events (3)"
    )
    sentence = ch.trend_sentence(trend.reset_index())
    assert "For the left main rho is not reported: too few events (3)." in sentence
    assert "no interval for the left main" not in sentence
