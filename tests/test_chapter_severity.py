"""ecglib.chapters.severity: the severity trend and grade summaries, internal and external."""

import math

import pytest
from chapter_support import joined_predictions
from scipy import stats
from test_chapter_subgroups import synthetic_results

from ecglib import schema
from ecglib.chapters import severity as ch
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import load_results
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
    assert ch.grade_display(grade_summary(p)).at["4 occluded", "LM"] == "none"


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
    assert list(chapter.outputs()) == OUTPUTS


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
            assert table.at[vessel, "rho"] == pytest.approx(want.statistic, abs=1e-12)
            assert table.at[vessel, "n"] == len(data)
    numbers = chapter.numbers()
    assert numbers["int_rho_RCA"] == trend.at["RCA", "rho"]
    assert numbers["int_p_value_LAD"] == trend.at["LAD", "p_value"]
    grades = chapter.grades
    assert (grades.groupby("vessel")["n"].sum() == len(results.oof)).all()
    shown = chapter.grade_table()
    assert shown.columns.tolist() == schema.vessels_of(results.oof)
    assert shown.index.tolist() == [f"{g} {name}" for g, name in schema.GRADES.items()]
    assert chapter.external_grade_table().shape == shown.shape
    assert chapter.skipped() == [] and list(chapter.outputs()) == OUTPUTS
