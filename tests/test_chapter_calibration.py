"""ecglib.chapters.calibration: calibration tables, the paper's Brier scores beside this run's,
and the operating points at the high-risk cut-offs."""

import math

import numpy as np
import pytest
from chapter_support import joined_predictions
from test_chapter_subgroups import synthetic_results

from ecglib import schema
from ecglib.chapters import calibration as ch
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import load_results
from ecglib.metrics.thresholds import operating_points

OUTPUTS = [
    "calibration_internal",
    "calibration_external",
    "calibration_paper_layout",
    "high_risk_internal",
    "high_risk_external",
]


def test_operating_points_display_reads_counts_and_wilson_intervals():
    p = joined_predictions()
    points = operating_points(p, {"RCA": 0.15, "LM": 0.01})
    shown = ch.operating_points_display(points)
    assert shown.index.tolist() == ["RCA", "LM"]
    assert shown.columns.tolist() == [
        "threshold",
        "high risk, n (%)",
        "positives",
        "sensitivity",
        "specificity",
        "PPV",
        "NPV",
    ]
    r = points.loc["RCA"]
    assert shown.at["RCA", "threshold"] == "≥ 15%" and shown.at["LM", "threshold"] == "≥ 1%"
    assert shown.at["RCA", "high risk, n (%)"] == (
        f"{int(r['tp'] + r['fp'])} ({100 * r['high_risk_share']:.1f}%)"
    )
    assert shown.at["RCA", "sensitivity"] == (
        f"{r['sensitivity']:.2f} [{r['sensitivity_lo']:.2f}-{r['sensitivity_hi']:.2f}]"
    )
    assert shown.at["RCA", "positives"] == p["y_RCA"].sum()


def test_without_an_external_site_the_external_parts_are_skipped_once():
    results = synthetic_results(joined_predictions())
    chapter = ch.analyse(results.params, results)
    assert isinstance(chapter.external_table, Skipped)
    assert chapter.external_calibration() is None and chapter.external_high_risk() is None
    assert [s.message for s in chapter.skipped()] == [
        "External validation is skipped because the cohort has no external site."
    ]
    numbers = chapter.numbers()
    assert all(
        math.isnan(numbers[f"ext_{c}_{v}"]) for c in ("brier", "slope") for v in schema.VESSELS
    )
    oof = results.oof
    assert numbers["int_brier_LAD"] == pytest.approx(np.mean((oof["p_LAD"] - oof["y_LAD"]) ** 2))
    assert numbers["n_boot"] == results.params.evaluation.n_bootstrap
    assert list(chapter.outputs()) == OUTPUTS


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    results = load_results(ci_run)
    run = results.params
    chapter = ch.analyse(run, results)
    for data, table in ((results.oof, chapter.table), (results.external, chapter.external_table)):
        assert table.index.tolist() == schema.vessels_of(data)
        for vessel in table.index:
            y, p = data[schema.label_col(vessel)], data[schema.prob_col(vessel)]
            assert table.at[vessel, "brier"] == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)
            prevalence = y.mean()
            assert table.at[vessel, "brier_null"] == pytest.approx(prevalence * (1 - prevalence))
    oof = results.oof
    points = chapter.points
    for vessel, cut in schema.assessed_entries(oof, run.evaluation.high_risk_thresholds).items():
        high = oof[schema.prob_col(vessel)] >= cut
        y = oof[schema.label_col(vessel)] == 1
        assert points.at[vessel, "sensitivity"] == pytest.approx((high & y).sum() / y.sum())
        assert points.at[vessel, "npv"] == pytest.approx(
            (~high & ~y).sum() / (~high).sum() if (~high).any() else np.nan, nan_ok=True
        )
    numbers = chapter.numbers()
    assert numbers["int_brier_RCA"] == chapter.table.at["RCA", "brier"]
    assert numbers["op_sensitivity_RCA"] == points.at["RCA", "sensitivity"]
    assert numbers["ext_slope_LAD"] == chapter.external_table.at["LAD", "slope"]
    layout = chapter.paper_layout()
    assert layout.index[0] == ("this run", ch.INTERNAL_LABEL)
    assert layout.loc[("this run", ch.INTERNAL_LABEL), "RCA"] == (
        f"{chapter.table.at['RCA', 'brier']:.3f}"
    )
    assert chapter.calibration().equals(chapter.table.round(3))
    assert chapter.high_risk().index.tolist() == points.index.tolist()
    assert chapter.band == {
        "n_boot": run.evaluation.n_bootstrap,
        "seed": run.seed,
        "group_col": "patient",
    }
    external = chapter.external_high_risk()
    assert external.columns.tolist() == chapter.high_risk().columns.tolist()
    for vessel in external.index:
        assert external.at[vessel, "positives"] == results.external[schema.label_col(vessel)].sum()
    assert chapter.skipped() == [] and list(chapter.outputs()) == OUTPUTS
