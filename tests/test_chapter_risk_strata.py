"""ecglib.chapters.risk_strata: held-out strata shared by chapters 07-09, the chapter 07 page."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions, make_cohort, write_run

from ecglib import schema
from ecglib.chapters import risk_strata as ch
from ecglib.chapters import risk_strata_display as shown_as
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import cohort_keys, load_results
from ecglib.config import DataParams, RunParams
from ecglib.metrics.decision import net_benefit, net_benefit_at
from ecglib.metrics.resamples import loop_reference, patient_resamples
from ecglib.metrics.strata import STRATA, crossfit_vessel_strata, fit_vessel_strata_where_possible
from ecglib.report.present import format_estimate

TARGETS_90 = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}


def _params() -> RunParams:
    return RunParams(name="t", seed=1, data=DataParams(table="x", map="y"))


def test_strata_targets_come_from_the_params():
    targets = ch.strata_targets(_params())
    assert list(targets) == list(schema.VESSELS)
    assert targets["LM"] == {"sensitivity": 0.90, "specificity": 0.87}
    assert targets["RCA"] == {"sensitivity": 0.90, "specificity": 0.95}


def test_in_sample_cutoffs_meet_the_targets_the_held_out_ones_need_not():
    p = joined_predictions(600, seed=2)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    comparison = ch.insample_vs_heldout(p, strata, TARGETS_90).set_index("vessel")
    assert (comparison["in_sample_sensitivity"] >= 0.9 - 1e-12).all()
    assert (comparison["in_sample_specificity"] >= 0.9 - 1e-12).all()
    y, s = p["y_RCA"].to_numpy(), strata["RCA"].to_numpy()
    assert comparison.at["RCA", "heldout_sensitivity"] == pytest.approx(np.mean(s[y == 1] != "low"))
    assert comparison.columns.tolist() == [
        "sensitivity_target",
        "in_sample_sensitivity",
        "heldout_sensitivity",
        "specificity_target",
        "in_sample_specificity",
        "heldout_specificity",
    ]


def test_share_numbers_and_displays():
    from ecglib.metrics.strata import strata_performance, vessel_strata_summary

    p = joined_predictions(600, seed=2)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    summary = vessel_strata_summary(p, strata)
    shares = ch.strata_share_numbers(summary, "low", prefix="low_")
    assert shares["low_RCA"] == pytest.approx(100 * np.mean(strata["RCA"] == "low"))
    display = shown_as.strata_display(summary)
    assert display.index.names == ["vessel", "stratum"]
    n_high = int((strata["RCA"] == "high").sum())
    assert (
        display.loc[("RCA", "high"), "ECGs (share)"] == f"{n_high} ({100 * n_high / len(p):.1f}%)"
    )
    assert (
        display.loc[("RCA", "high"), "patients"]
        == p.loc[strata["RCA"] == "high", "patient"].nunique()
    )
    perf = shown_as.performance_display(strata_performance(p, strata, TARGETS_90))
    assert perf.loc["RCA", "sensitivity (not low): target"] == "0.90"
    assert perf.columns[:3].tolist() == ["ECGs", "patients", "sensitivity (not low)"]
    assert perf.loc["RCA", "ECGs"] == len(p) and perf.loc["RCA", "patients"] == len(p) // 2
    # a vessel without strata has NaN shares, so the text still finds its key
    assert np.isnan(ch.strata_share_numbers(summary[summary["vessel"] != "LM"], "low")["LM"])


def test_net_benefit_display_reads_each_net_benefit_with_its_interval():
    p = joined_predictions(600, seed=3)
    res = patient_resamples(p["patient"], 200, seed=1)
    table = net_benefit_at(p, {"RCA": 0.15, "LM": 0.01}, resamples=res)
    shown = shown_as.net_benefit_display(table)
    assert shown.columns.tolist() == [
        "threshold",
        "ECGs",
        "patients",
        "prevalence",
        "model [95% CI]",
        "treat all [95% CI]",
        "model − best of treat all / none [95% CI]",
    ]
    row = table.set_index("vessel").loc["RCA"]
    assert shown.loc["RCA", "threshold"] == "15%" and shown.loc["LM", "threshold"] == "1%"
    assert shown.loc["RCA", "model [95% CI]"] == format_estimate(
        row["model"], row["model_lo"], row["model_hi"], 4
    )
    assert (shown.loc["RCA", "ECGs"], shown.loc["RCA", "patients"]) == (600, 300)


def test_external_strata_use_cutoffs_fitted_on_internal(tmp_path):
    run = write_run(tmp_path, make_cohort(n_patients=60, n_external=12))
    results = load_results(run)
    strata = ch.vessel_strata(run, results)
    external = results.require_external()
    assert strata.external_predictions.equals(external)
    fitted, _ = fit_vessel_strata_where_possible(results.oof, strata.targets)
    for vessel, t in fitted.items():
        want = np.where(
            external[f"p_{vessel}"] < t.lower,
            "low",
            np.where(external[f"p_{vessel}"] < t.upper, "intermediate", "high"),
        )
        assert (strata.external[vessel].astype(str).to_numpy() == want).all()
    table = ch.thresholds_table(strata.fitted)
    assert table["vessel"].tolist() == list(fitted)
    assert table.loc[0, "lower"] == fitted[table.loc[0, "vessel"]].lower


def test_a_run_without_external_site_skips_the_external_parts(tmp_path):
    run = write_run(tmp_path, make_cohort(n_patients=60, n_external=0))
    chapter = ch.analyse(run)
    for part in (
        chapter.strata.external,
        chapter.external_summary,
        chapter.external_performance,
        chapter.external_curves,
    ):
        assert isinstance(part, Skipped) and part.part == "External validation"
    assert "no external site" in chapter.strata.external.reason
    assert chapter.skipped()[-1] is chapter.strata.external
    assert chapter.external_summary_table() is None
    assert chapter.external_performance_table() is None
    outputs = chapter.outputs()
    assert isinstance(outputs["strata_external"], Skipped)
    assert isinstance(outputs["strata_cutoffs_internal"], pd.DataFrame)


def test_a_vessel_without_cutoffs_is_announced_once(tmp_path):
    cohort = make_cohort(n_patients=60, n_external=0)
    cohort[["grade_LM", "y_LM"]] = 0
    chapter = ch.analyse(write_run(tmp_path, cohort))
    names = [s.part for s in chapter.skipped()]
    assert names.count("Stratifying the LM predictions") == 1
    assert "LM" not in chapter.strata.internal.columns
    assert "LM" not in set(chapter.summary["vessel"])
    assert np.isnan(chapter.numbers()["ho_sensitivity_LM"])


def test_index_ecgs_pick_the_latest_ecg_of_each_exam_and_the_first_exam():
    cohort = make_cohort()
    keys = cohort_keys(cohort)
    preds = pd.concat(
        [cohort.reset_index(names="row")[["row"] + schema.label_cols()], keys], axis=1
    )
    exams = ch.index_ecgs(preds, "exam")
    assert len(exams) == cohort["ccta_id"].nunique()
    latest = cohort.groupby("ccta_id")["ecg_time"].idxmax().sort_values().to_numpy()
    assert sorted(exams["row"]) == sorted(latest)
    patients = ch.index_ecgs(preds, "patient")
    assert len(patients) == cohort["patient_id"].nunique()
    first = cohort.loc[patients["row"]]
    earliest = cohort.groupby("patient_id")["ccta_time"].min().loc[first["patient_id"]]
    assert (first["ccta_time"].to_numpy() == earliest.to_numpy()).all()
    with pytest.raises(ValueError):
        ch.index_ecgs(preds, "ecg")


def test_ai_patient_stratum_needs_a_vessel():
    p = joined_predictions(600)
    p.loc[p["fold"] != 0, "y_LM"] = 0
    strata, _, not_fitted = crossfit_vessel_strata(p, ch.strata_targets(_params()))
    assert list(not_fitted) == ["LM"]
    stratum = ch.ai_patient_stratum(strata)
    assert stratum.categories.tolist() == list(STRATA)
    high = (strata == "high").any(axis=1).to_numpy()
    assert (np.asarray(stratum == "high") == high).all()
    with pytest.raises(ValueError, match="no vessel has strata"):
        ch.ai_patient_stratum(strata[[]])


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    run = ci_run
    results = load_results(run)
    chapter = ch.analyse(run, results)
    oof = results.oof
    vessels = list(chapter.strata.internal.columns)
    # the page's strata table: per vessel and stratum, the ECGs and events of the strata
    table = chapter.summary_table()
    assert table.columns.tolist() == [
        "ECGs (share)",
        "patients",
        "events",
        "event rate [95% CI]",
        "share of all events",
    ]
    assert table.index.tolist() == [(v, s) for v in vessels for s in STRATA]
    for v in vessels:
        s, y = chapter.strata.internal[v].to_numpy(), oof[f"y_{v}"].to_numpy()
        assert table.loc[(v, "high"), "events"] == int(np.sum(y[s == "high"]))
    numbers = chapter.numbers()
    v = vessels[0]
    s, y = chapter.strata.internal[v].to_numpy(), oof[f"y_{v}"].to_numpy()
    assert numbers[f"ho_sensitivity_{v}"] == pytest.approx(np.mean(s[y == 1] != "low"))
    assert numbers[f"low_share_{v}"] == pytest.approx(100 * np.mean(s == "low"))
    threshold = run.evaluation.high_risk_thresholds[v]
    assert numbers[f"nb_model_{v}"] == pytest.approx(net_benefit(y, oof[f"p_{v}"], [threshold])[0])
    assert chapter.net_benefit_table().index.tolist() == vessels
    # the intervals: the run's shared patient resamples, the strata fixed, against a loop over
    # the materialised resamples
    resamples = results.resamples("oof")
    weights = resamples.weights(oof["patient"])
    t = oof.assign(stratum=s)

    def sensitivity(d):
        if not (d[f"y_{v}"] == 1).any():
            raise ValueError("no positive drawn")
        return float((d.loc[d[f"y_{v}"] == 1, "stratum"] != "low").mean())

    lo, hi = np.nanpercentile(loop_reference(sensitivity, t, weights), [2.5, 97.5])
    assert (numbers[f"ho_sensitivity_lo_{v}"], numbers[f"ho_sensitivity_hi_{v}"]) == pytest.approx(
        (lo, hi)
    )
    nb = loop_reference(
        lambda d: net_benefit(d[f"y_{v}"], d[f"p_{v}"], [threshold])[0], oof, weights
    )
    assert (numbers[f"nb_model_lo_{v}"], numbers[f"nb_model_hi_{v}"]) == pytest.approx(
        tuple(np.percentile(nb, [2.5, 97.5]))
    )
    curve = chapter.curves[chapter.curves["vessel"] == v]
    assert curve["model_lo"].notna().all() and (curve["model_lo"] <= curve["model"]).all()
    method = f"95% percentile, patient bootstrap ({resamples.n_boot:,} resamples), cut-offs fixed"
    assert numbers["interval_method"] == method and numbers["n_boot"] == resamples.n_boot
    for name in ("strata_internal", "strata_performance_internal", "net_benefit_internal"):
        assert (chapter.outputs()[name]["interval"] == method).all()
    assert chapter.external_summary["patients"].max() <= results.external["patient"].nunique()
    # every file of the old page, under its old name
    assert list(chapter.outputs()) == [
        "strata_cutoffs_crossfit",
        "strata_internal",
        "strata_performance_internal",
        "strata_insample_vs_heldout",
        "strata_cutoffs_internal",
        "strata_external",
        "strata_performance_external",
        "decision_curves_internal",
        "net_benefit_internal",
        "decision_curves_external",
    ]
    assert chapter.in_sample_table().index.tolist() == vessels
    assert len(chapter.crossfit_cutoff_table()) == len(vessels) * run.folds.n_folds


def test_analyse_takes_the_targets_of_the_run(tmp_path):
    run = write_run(tmp_path, make_cohort(n_patients=60, n_external=0))
    strict = replace(
        run, evaluation=replace(run.evaluation, strata_specificity={v: 0.5 for v in schema.VESSELS})
    )
    chapter = ch.analyse(strict)
    assert (chapter.performance["specificity_target"] == 0.5).all()
    assert {
        r["specificity_target"] for r in chapter.strata.crossfit_cutoffs.to_dict("records")
    } == {0.5}


def test_advantage_sentence_reads_each_vessels_interval():
    table = pd.DataFrame(
        {
            "vessel": ["RCA", "LM", "LAD", "LCX"],
            "advantage_lo": [0.01, -0.02, -0.05, -0.01],
            "advantage_hi": [0.03, 0.01, -0.01, 0.02],
        }
    )
    assert shown_as.advantage_sentence(table) == (
        "At the high-risk cut-offs, the interval of the advantage lies above 0 (the model does "
        "better than both defaults) for the RCA; it lies below 0 (a default does better than "
        "the model) for the LAD; it includes 0 for the LM and LCX."
    )
    assert shown_as.advantage_sentence(table.iloc[:0]).startswith("No vessel has an interval")


def test_cutoff_display_has_reader_names_and_no_raw_values():
    from ecglib.chapters.risk_strata_display import cutoff_display

    table = pd.DataFrame(
        {
            "vessel": ["RCA", "RCA"],
            "fold": [0, 1],
            "lower": [0.403312, 0.5],
            "upper": [0.49901, 0.5],
            "sensitivity_target": [0.9, 0.9],
            "specificity_target": [0.95, 0.95],
            "fit_sensitivity": [0.913043, 0.9],
            "fit_specificity": [0.9506, 0.96],
            "n_fit": [370.0, 1371.0],
            "n_fit_pos": [46, 48],
            "collapsed": [False, True],
        }
    )
    shown = cutoff_display(table)
    assert shown.index.names == ["vessel", "held-out fold"]
    assert shown.iloc[0].tolist() == [
        "0.403",
        "0.499",
        "0.90",
        "0.95",
        "0.913",
        "0.951",
        "370",
        "46",
        "no",
    ]
    assert shown.iloc[1]["ECGs (fitting set)"] == "1,371" and shown.iloc[1]["one cut-off"] == "yes"
    assert "vessel" not in shown.columns


def test_performance_on_too_few_events_is_withheld_and_says_why():
    from ecglib.chapters.risk_strata import withhold_performance
    from ecglib.chapters.risk_strata_display import performance_display
    from ecglib.metrics.strata import PERFORMANCE

    values = {f"{n}{e}": v for n in PERFORMANCE for e, v in (("", 0.8), ("_lo", 0.7), ("_hi", 0.9))}
    perf = pd.DataFrame(
        [
            {"vessel": "RCA", "n": 200, "patients": 150, "positives": 40, **values},
            {"vessel": "LM", "n": 200, "patients": 150, "positives": 3, **values},
        ]
    ).assign(interval="x")
    out = withhold_performance(perf, 5)
    assert out["withheld"].tolist() == ["", "too few events (3)"]
    assert out.loc[0, "sensitivity"] == 0.8 and np.isnan(out.loc[1, "npv_low_hi"])
    shown = performance_display(out)
    assert shown.loc["LM", "sensitivity (not low)"] == "too few events (3)"
    assert shown.loc["RCA", "sensitivity (not low)"] == "0.80 [0.70-0.90]"


def _summary(lm_events: list[int]) -> pd.DataFrame:
    rows = []
    for vessel, events in (("RCA", [2, 10, 20]), ("LM", lm_events)):
        for stratum, n, e in zip(STRATA, (100, 80, 40), events):
            rows.append(
                {
                    "vessel": vessel, "stratum": stratum, "n": n, "patients": n // 2, "share": n / 220,
                    "events": e, "event_rate": e / n, "event_rate_lo": 0.0,
                    "event_rate_hi": min(1.0, 2 * e / n + 0.01), "share_of_events": e / sum(events),
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_strata_of_a_vessel_with_too_few_events_show_why_and_are_not_checked():
    # LM: 2 events in all, the intermediate stratum's rate above the high one's
    out = ch.withhold_strata(_summary([0, 2, 0]), 5)
    lm = out[out["vessel"] == "LM"]
    assert lm["withheld"].eq("too few events (2)").all() and lm["event_rate"].isna().all()
    assert out.loc[out["vessel"] == "RCA", "event_rate"].notna().all()
    shown = shown_as.strata_display(out)
    assert shown.loc[("LM", "high"), "event rate [95% CI]"] == "too few events (2)"
    assert shown.loc[("LM", "high"), "share of all events"] == "too few events (2)"
    assert shown.loc[("LM", "high"), "events"] == 0  # the counts stay: they say why
    assert shown.loc[("RCA", "high"), "event rate [95% CI]"] == "0.500 [0.000-1.000]"
    assert ch.withheld_vessels(out) == ["LM (too few events (2))"]
    # not withheld (min_events 1), the same LM strata are flagged as out of order
    kept = ch.withhold_strata(_summary([0, 2, 0]), 1)
    assert ch.withheld_vessels(kept) == []
    from ecglib.chapters import caveats

    assert "for the LM" in caveats.non_monotone_strata_sentence(kept, "external")
    assert caveats.non_monotone_strata_sentence(out, "external") is None


def test_decision_curves_of_a_vessel_with_too_few_events_are_not_drawn_or_checked():
    from ecglib.chapters import caveats
    from ecglib.metrics.decision import decision_curves
    from ecglib.plots.decision import decision_curve_figure

    p = joined_predictions(300)
    lm = schema.label_col("LM")
    p[lm] = 0
    p.loc[p.index[:3], lm] = 1  # 3 positive ECGs
    curves = decision_curves(p)
    out = ch.withhold_curves(curves, p, 5)
    short = out["vessel"] == "LM"
    assert out.loc[short, "model"].isna().all() and out.loc[~short, "model"].notna().all()
    assert out.loc[short, "treat_all"].notna().all()  # the defaults need no events
    assert ch.withheld_vessels(out) == ["LM (too few events (3))"]
    assert ch.withheld_vessels(ch.withhold_curves(curves, p, 3)) == []
    sentence = caveats.decision_curve_sentence(out)
    assert sentence is None or "LM" not in sentence
    fig = decision_curve_figure(out)
    lm_axis = next(ax for ax in fig.axes if ax.get_title().startswith("LM"))
    assert "AI-ECG model" not in [line.get_label() for line in lm_axis.get_lines()]
    assert any("too few events (3)" in t.get_text() for t in lm_axis.texts)
    rca_axis = next(ax for ax in fig.axes if ax.get_title().startswith("RCA"))
    assert "AI-ECG model" in [line.get_label() for line in rca_axis.get_lines()]
