"""ecglib.chapters.calibration: calibration tables, the paper's Brier scores beside this run's,
the operating points at the high-risk cut-offs, all with patient-bootstrap intervals from the
run's shared resamples, and the cut-offs against obstructive CAD."""

import math

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions
from test_chapter_subgroups import synthetic_results

from ecglib import schema
from ecglib.chapters import calibration as ch
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import load_results
from ecglib.metrics.calibration import calibration_bootstrap
from ecglib.metrics.resamples import percentile_interval
from ecglib.metrics.thresholds import operating_points, operating_points_bootstrap

OUTPUTS = [
    "calibration_internal",
    "calibration_external",
    "calibration_paper_layout",
    "high_risk_internal",
    "high_risk_external",
    "high_risk_cutoffs_obstructive",
]


def test_operating_points_display_reads_counts_and_bootstrap_intervals():
    p = joined_predictions()
    results = synthetic_results(p)
    weights = results.resamples("oof").weights(p["patient"])
    points = operating_points_bootstrap(p, {"RCA": 0.15, "LM": 0.01}, weights).assign(
        patients=p["patient"].nunique(), interval=ch.interval_label(len(weights))
    )
    shown = ch.operating_points_display(points)
    assert shown.index.tolist() == ["RCA", "LM"]
    assert shown.columns.tolist() == [
        "threshold",
        "high-risk ECGs, n (%)",
        "positive ECGs",
        "patients",
        "sensitivity",
        "specificity",
        "PPV",
        "NPV",
        "interval",
    ]
    r = points.loc["RCA"]
    assert shown.at["RCA", "threshold"] == "≥ 15%" and shown.at["LM", "threshold"] == "≥ 1%"
    assert shown.at["RCA", "high-risk ECGs, n (%)"] == (
        f"{int(r['tp'] + r['fp'])} ({100 * r['high_risk_share']:.1f}%)"
    )
    assert shown.at["RCA", "sensitivity"] == (
        f"{r['sensitivity']:.2f} [{r['sensitivity_lo']:.2f}-{r['sensitivity_hi']:.2f}]"
    )
    assert shown.at["RCA", "positive ECGs"] == p["y_RCA"].sum()
    assert shown.at["RCA", "patients"] == 200
    assert shown.at["LM", "interval"] == (
        "95% CI: patient bootstrap (unit: patient), percentile, 1,000 resamples"
    )
    # the point estimates are the plain proportions, the interval is not Wilson's
    wilson = operating_points(p, {"RCA": 0.15})
    assert r["sensitivity"] == wilson.at["RCA", "sensitivity"]
    assert r["sensitivity_lo"] != wilson.at["RCA", "sensitivity_lo"]


def test_sentence_on_the_ecgs_below_every_cut_off():
    base = {"flagged": [0, 10], "obstructive": [np.nan, 0.5], "obstructive_lo": [np.nan, 0.4]}
    cutoffs = pd.DataFrame(
        {**base, "obstructive_hi": [np.nan, 0.6]}, index=pd.Index(["none", "all"], name="vessel")
    )
    assert "no ECG is below every vessel's cut-off (all 10" in ch.none_flagged_sentence(cutoffs)
    cutoffs.loc["none"] = [4, 0.30, 0.20, 0.41]
    assert ch.none_flagged_sentence(cutoffs) == (
        "Of the 4 ECGs (40.0%) below every vessel's cut-off, a share of 0.30 [0.20-0.41] shows "
        "obstructive CAD in some vessel: above the guideline's 15% (by its 95% interval)."
    )
    cutoffs.loc["none"] = [4, 0.10, 0.05, 0.16]
    assert "not distinguishable from the guideline's 15%" in ch.none_flagged_sentence(cutoffs)


def test_without_an_external_site_the_external_parts_are_skipped_once():
    results = synthetic_results(joined_predictions())
    chapter = ch.analyse(results.params, results)
    assert isinstance(chapter.external_table, Skipped)
    assert chapter.external_calibration() is None and chapter.external_high_risk() is None
    assert [s.message for s in chapter.skipped()] == [
        "External validation is skipped because the cohort has no external site."
    ]
    assert isinstance(chapter.external_band, Skipped)
    numbers = chapter.numbers()
    assert all(
        math.isnan(numbers[f"ext_{c}_{v}"]) for c in ("brier", "slope") for v in schema.VESSELS
    )
    assert all(numbers[f"ext_slope_ci_{v}"] == "n/a" for v in schema.VESSELS)
    oof = results.oof
    assert numbers["int_brier_LAD"] == pytest.approx(np.mean((oof["p_LAD"] - oof["y_LAD"]) ** 2))
    assert numbers["n_boot"] == results.params.evaluation.n_bootstrap
    assert list(chapter.outputs()) == OUTPUTS
    # every interval of the page comes from the run's one set of internal resamples
    weights = results.resamples("oof").weights(oof["patient"])
    boot = calibration_bootstrap(oof["y_LAD"], oof["p_LAD"], weights)
    lo, hi = percentile_interval(boot["slope"])
    assert (chapter.table.at["LAD", "slope_lo"], chapter.table.at["LAD", "slope_hi"]) == (lo, hi)
    assert chapter.band["resamples"] is results.resamples("oof")
    assert numbers["int_slope_ci_LAD"] == (
        f"{chapter.table.at['LAD', 'slope']:.2f} [{lo:.2f}{' to ' if lo < 0 else '-'}{hi:.2f}]"
    )


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
    shown = chapter.calibration()
    assert shown["ECGs"].tolist() == [len(oof)] * len(shown)
    assert (shown["patients"] == oof["patient"].nunique()).all()
    r = chapter.table.loc["RCA"]
    assert shown.at["RCA", "Brier"].startswith(f"{r['brier']:.3f} [{r['brier_lo']:.3f}")
    assert chapter.high_risk().index.tolist() == points.index.tolist()
    label = ch.interval_label(run.evaluation.n_bootstrap)
    assert (chapter.high_risk()["interval"] == label).all() and (shown["interval"] == label).all()
    assert chapter.band == {
        "resamples": results.resamples("oof"),
        "group_col": "patient",
        "min_events": run.report.min_events,  # no LOWESS curve below it
    }
    # the small-count policy: slope and intercept withheld where the events are too few
    for table in (chapter.table, chapter.external_table):
        few = np.minimum(table["events"], table["n"] - table["events"]) < run.report.min_events
        assert (table["withheld"].astype(bool) == few).all()
        assert table.loc[few, ["slope", "intercept"]].isna().all().all()
    assert ("not reported here" in numbers["withheld_sentence"]) == bool(
        (chapter.external_table["withheld"].astype(bool)).any()
        or chapter.table["withheld"].astype(bool).any()
    )
    assert chapter.external_band["resamples"] is results.resamples("external")
    external = chapter.external_high_risk()
    assert external.columns.tolist() == chapter.high_risk().columns.tolist()
    for vessel in external.index:
        assert external.at[vessel, "positive ECGs"] == (
            results.external[schema.label_col(vessel)].sum()
        )
    # the external intervals come from the external population's resamples
    ext = results.external
    weights = results.resamples("external").weights(ext["patient"])
    again = operating_points_bootstrap(ext, run.evaluation.high_risk_thresholds, weights)
    shown = ~chapter.external_points["withheld"].astype(bool)  # the small-count policy
    assert (
        chapter.external_points.loc[shown, "ppv_lo"].tolist() == again.loc[shown, "ppv_lo"].tolist()
    )
    assert chapter.external_points.loc[~shown, "ppv_lo"].isna().all()
    # the cut-offs against obstructive CAD: the overall share from the grades
    grades = oof[schema.grade_cols(schema.vessels_of(oof))]
    assert chapter.cutoffs.at["all", "obstructive"] == pytest.approx(
        (grades >= 2).any(axis=1).mean()
    )
    assert numbers["obstructive_all"] == chapter.cutoffs.at["all", "obstructive"]
    assert numbers["cut_odds_RCA"] == pytest.approx(0.85 / 0.15)
    assert isinstance(numbers["none_flagged_sentence"], str)
    assert chapter.skipped() == [] and list(chapter.outputs()) == OUTPUTS


def test_an_npv_that_does_not_exist_says_why_in_the_text():
    from ecglib.chapters.calibration import _MISSING, _estimate_texts

    points = pd.DataFrame(
        {"npv": [0.93, np.nan], "npv_lo": [0.9, np.nan], "npv_hi": [0.96, np.nan]},
        index=["RCA", "LM"],
    )
    texts = _estimate_texts(points, "npv", 2, "op_", rows=["RCA", "LM"], missing=_MISSING["npv"])
    assert texts == {
        "op_npv_ci_RCA": "0.93 [0.90-0.96]",
        "op_npv_ci_LM": "n/a (no ECG below the cut-off)",
    }
    assert _MISSING["brier"] == "n/a"
