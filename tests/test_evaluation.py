"""ecglib.chapters.evaluation: the evaluation chapters' glue between metrics and tables."""
import math

import numpy as np
import pandas as pd
import pytest

from ecglib.chapters import evaluation as ev
from ecglib.chapters import run_results as results
from ecglib import schema
from ecglib.metrics.roc import vessel_auc_table
from ecglib.metrics.strata import STRATA, fit_strata_thresholds
from test_results import make_cohort


def predictions(n: int = 400, seed: int = 0, n_folds: int = 3) -> pd.DataFrame:
    """A joined-predictions-like table: labels with signal, folds, keys, covariates."""
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"row": np.arange(n), "fold": np.arange(n) % n_folds})
    for k, v in enumerate(schema.VESSELS):
        y = (rng.uniform(size=n) < (0.05 if v == "LM" else 0.25)).astype(int)
        out[schema.label_col(v)] = y
        out[schema.grade_col(v)] = np.where(y == 1, rng.integers(3, 5, n), rng.integers(0, 3, n))
        out[schema.prob_col(v)] = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y - 1.5)))
    out["patient"] = np.arange(n) // 2
    out["exam"] = np.arange(n) // 2
    out["exam_order"] = 1
    out["ecg_order"] = np.arange(n) % 2 + 1
    out["age"] = rng.uniform(35, 85, n).round()
    out["sex"] = np.where(rng.uniform(size=n) < 0.5, "male", "female")
    out["symptom"] = rng.choice(schema.SYMPTOMS, n)
    out["followup_days"] = rng.uniform(30, 400, n).round()
    out["followup_event"] = (rng.uniform(size=n) < 0.1).astype(float)
    return out


# ------------------------------------------------------------------------------------------
def test_auc_table_matches_delong_and_explains_undefined_vessels():
    p = predictions()
    table = ev.auc_table(p)
    ref = vessel_auc_table(p)
    np.testing.assert_allclose(table["auc"], ref["auc"])
    np.testing.assert_allclose(table["ci_low"], ref["ci_low"])
    assert (table["reason"] == "").all()
    p.loc[:, "y_LM"] = 0
    p["y_LCX"] = 0                                      # LCX: a single positive
    p.loc[0, "y_LCX"] = 1
    table = ev.auc_table(p).set_index("vessel")
    assert math.isnan(table.at["LM", "auc"]) and "no positives" in table.at["LM", "reason"]
    assert np.isfinite(table.at["LCX", "auc"]) and math.isnan(table.at["LCX", "se"])
    assert "single positive" in table.at["LCX", "reason"]
    assert ev.defined_vessels(table.reset_index()) == ["RCA", "LAD", "LCX"]
    assert ev.auc_table(p.iloc[:0])["reason"].eq("no predictions").all()


def test_best_fold_uses_vessels_defined_in_every_fold():
    folds = pd.DataFrame({"fold": [0, 0, 1, 1], "vessel": ["RCA", "LM"] * 2,
                          "auc": [0.70, 0.99, 0.80, np.nan]})
    assert ev.common_vessels(folds) == ["RCA"]
    assert ev.best_fold(folds) == (1, 0.80)
    with pytest.raises(ValueError, match="no vessel"):
        ev.best_fold(folds.assign(auc=np.nan))


def test_auc_numbers_always_have_every_key():
    p = predictions()
    aucs = ev.auc_tables({"a": p, "b": p[p["fold"] == 0]})
    numbers = ev.auc_numbers(aucs, {"oof": "a", "best": "b", "external": "absent"})
    assert numbers["n_oof"] == len(p) and numbers["n_best"] == int((p["fold"] == 0).sum())
    assert math.isnan(numbers["auc_external_RCA"]) and math.isnan(numbers["n_external"])
    assert numbers["macro_oof"] == pytest.approx(aucs[aucs["set"] == "a"]["auc"].mean())


def test_wide_estimates_and_numbers_from():
    p = predictions()
    aucs = ev.auc_tables({"x": p, "y": p})
    wide = ev.wide_estimates(aucs, "set")
    assert wide.index.tolist() == ["x", "y"] and wide.columns.tolist() == list(schema.VESSELS)
    assert wide.iloc[0, 0].startswith(f"{aucs['auc'].iloc[0]:.3f} [")
    numbers = ev.numbers_from(aucs[aucs["set"] == "x"], ["auc"], prefix="i_", scale=100)
    assert numbers["i_auc_RCA"] == pytest.approx(100 * aucs["auc"].iloc[0])
    skipped = ev.numbers_from(results.Skipped("x", "y"), ["auc", "se"])
    assert len(skipped) == 8 and all(math.isnan(v) for v in skipped.values())


# ------------------------------------------------------------------------------------------
def test_crossfit_strata_never_use_the_held_out_labels():
    p = predictions(600)
    targets = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}
    strata, cutoffs, not_fitted = ev.crossfit_vessel_strata(p, targets)
    assert not not_fitted and list(strata.columns) == list(schema.VESSELS)
    assert cutoffs["vessel"].tolist() == [v for v in schema.VESSELS for _ in range(3)]
    # flipping fold 0's labels changes nothing about fold 0's strata
    flipped = p.copy()
    m = flipped["fold"] == 0
    flipped.loc[m, "y_RCA"] = 1 - flipped.loc[m, "y_RCA"]
    again, _, _ = ev.crossfit_vessel_strata(flipped, targets)
    assert (again.loc[m, "RCA"] == strata.loc[m, "RCA"]).all()
    # fold 0's cut-offs are those fitted on folds 1 and 2
    rest = p[p["fold"] != 0]
    want = fit_strata_thresholds(rest["y_RCA"], rest["p_RCA"], sensitivity=0.9, specificity=0.9)
    row = cutoffs[(cutoffs["vessel"] == "RCA") & (cutoffs["fold"] == 0)].iloc[0]
    assert (row["lower"], row["upper"]) == (want.lower, want.upper)


def test_a_vessel_without_positives_outside_a_fold_is_not_stratified():
    p = predictions(600)
    p.loc[p["fold"] != 0, "y_LM"] = 0
    targets = ev.strata_targets(_params())
    strata, cutoffs, not_fitted = ev.crossfit_vessel_strata(p, targets)
    assert "LM" not in strata.columns and "LM" not in set(cutoffs["vessel"])
    assert "fold 0" in not_fitted["LM"]
    assert ev.ai_patient_stratum(strata).categories.tolist() == list(STRATA)


def test_strata_performance_by_hand_and_in_sample_optimism():
    p = predictions(600, seed=2)
    targets = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}
    strata, _, _ = ev.crossfit_vessel_strata(p, targets)
    perf = ev.strata_performance(p, strata, targets).set_index("vessel")
    y, s = p["y_RCA"].to_numpy(), strata["RCA"].to_numpy()
    assert perf.at["RCA", "sensitivity"] == pytest.approx(np.mean(s[y == 1] != "low"))
    assert perf.at["RCA", "specificity"] == pytest.approx(np.mean(s[y == 0] != "high"))
    assert perf.at["RCA", "npv_low"] == pytest.approx(np.mean(y[s == "low"] == 0))
    assert perf.at["RCA", "ppv_high"] == pytest.approx(np.mean(y[s == "high"] == 1))
    comparison = ev.insample_vs_heldout(p, strata, targets).set_index("vessel")
    assert (comparison["in_sample_sensitivity"] >= 0.9 - 1e-12).all()
    assert (comparison["in_sample_specificity"] >= 0.9 - 1e-12).all()
    table = ev.strata_table(p, strata)
    shares = ev.strata_share_numbers(table, "low", prefix="low_")
    assert shares["low_RCA"] == pytest.approx(100 * np.mean(s == "low"))
    assert ev.strata_display(table).index.names == ["vessel", "stratum"]


def test_external_strata_use_cutoffs_fitted_on_internal():
    p = predictions(600)
    targets = {v: {"sensitivity": 0.9, "specificity": 0.95} for v in schema.VESSELS}
    fitted, not_fitted = ev.fit_on_internal(p, targets)
    assert not not_fitted
    external = predictions(100, seed=5)
    strata = ev.apply_strata(external, fitted)
    t = fitted["LAD"]
    want = np.where(external["p_LAD"] < t.lower, "low",
                    np.where(external["p_LAD"] < t.upper, "intermediate", "high"))
    assert (strata["LAD"].astype(str).to_numpy() == want).all()
    assert ev.thresholds_table(fitted)["vessel"].tolist() == list(schema.VESSELS)


def test_net_benefit_at_thresholds():
    p = predictions()
    nb = ev.net_benefit_at(p, {"RCA": 0.2}).iloc[0]
    y, prob = p["y_RCA"].to_numpy(), p["p_RCA"].to_numpy()
    treat = prob >= 0.2
    want = np.sum(treat & (y == 1)) / len(y) - np.sum(treat & (y == 0)) / len(y) * 0.25
    assert nb["model"] == pytest.approx(want)
    assert nb["treat_all"] == pytest.approx(y.mean() - (1 - y.mean()) * 0.25)


# ------------------------------------------------------------------------------------------
def test_index_ecgs_pick_the_latest_ecg_of_each_exam_and_the_first_exam():
    cohort = make_cohort()
    keys = results.cohort_keys(cohort)
    preds = pd.concat([cohort.reset_index(names="row")[["row"] + schema.label_cols()], keys],
                      axis=1)
    exams = ev.index_ecgs(preds, "exam")
    assert len(exams) == cohort["ccta_id"].nunique()
    latest = cohort.groupby("ccta_id")["ecg_time"].idxmax().sort_values().to_numpy()
    assert sorted(exams["row"]) == sorted(latest)
    patients = ev.index_ecgs(preds, "patient")
    assert len(patients) == cohort["patient_id"].nunique()
    first = cohort.loc[patients["row"]]
    earliest = cohort.groupby("patient_id")["ccta_time"].min().loc[first["patient_id"]]
    assert (first["ccta_time"].to_numpy() == earliest.to_numpy()).all()
    with pytest.raises(ValueError):
        ev.index_ecgs(preds, "ecg")


def test_ptp_analysis_on_exams_with_any_vessel_outcome():
    p = predictions(600)
    targets = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}
    strata, _, _ = ev.crossfit_vessel_strata(p, targets)
    p.loc[p.index[:10], "symptom"] = None
    analysis = ev.ptp_analysis(p, strata, n_boot=50, seed=0)
    index = ev.index_ecgs(p, "exam")
    assert len(analysis.table) == len(index)
    assert (analysis.table["outcome"].to_numpy()
            == index[schema.label_cols()].max(axis=1).to_numpy()).all()
    # the grey-zone rule only moves grey-zone patients
    known = analysis.table[analysis.table["ptp_category"].notna()]
    moved = known["ptp_category"] != known["combined"]
    assert moved.any() and (known.loc[moved, "ptp_category"] == "grey zone").all()
    assert analysis.table["combined"].isna().sum() == analysis.table["ptp"].isna().sum()
    numbers = analysis.numbers("int_")
    assert set(numbers) == {f"int_{k}" for k in ev.PTP_NUMBER_KEYS}
    assert numbers["int_exams"] == len(index)
    assert analysis.nri.n_missing == int(analysis.table["ptp"].isna().sum()) > 0
    assert "NRI (bootstrap 95% CI)" in ev.nri_display(analysis).index
    assert ev.rule_out_display(analysis).index.tolist() == ["PTP", "PTP + AI"]
    skipped = results.run_part("PTP", ev.ptp_analysis, p.drop(columns="symptom"), strata,
                               n_boot=10, seed=0)
    assert isinstance(skipped, results.Skipped) and "symptom" in skipped.reason
    assert all(math.isnan(v) for v in ev.ptp_numbers(skipped, "int_").values())
    assert ev.ptp_guideline_table().loc["70+", "typical"] == "52 / 27"


def test_followup_analysis_uses_kaplan_meier_per_patient():
    p = predictions(600)
    targets = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}
    strata, _, _ = ev.crossfit_vessel_strata(p, targets)
    p.loc[p.index[:4], ["followup_days", "followup_event"]] = np.nan
    thresholds = {"RCA": 0.15, "LM": 0.01, "LAD": 0.15, "LCX": 0.15}
    fu = ev.followup_analysis(p, strata, thresholds, horizon=365)
    index = ev.index_ecgs(p, "patient")
    assert fu.n_patients + fu.n_without_followup == len(index) and fu.n_without_followup > 0
    assert fu.time.max() <= 365
    numbers = fu.numbers("int_")
    assert set(numbers) == {f"int_{k}" for k in ev.FOLLOWUP_NUMBER_KEYS}
    s = fu.summary
    # with censoring before the horizon, 1 - KM is at least events / n
    assert (s["cumulative_incidence"] >= s["naive_events_over_n"] - 1e-12).all()
    assert set(fu.by_vessel["vessel"]) == set(schema.VESSELS)
    assert ev.incidence_display(fu).index.name == "AI risk group"
    assert ev.by_vessel_display(fu).columns[-1] == "log-rank p"
    fig = fu.figure()
    assert fig.axes
    skipped = results.run_part("x", ev.followup_analysis, p.drop(columns=["followup_days"]),
                               strata, thresholds, horizon=365)
    assert isinstance(skipped, results.Skipped) and "followup_days" in skipped.reason
    assert all(math.isnan(v) for v in ev.followup_numbers(skipped, "x_").values())


def test_subgroup_numbers_and_display():
    from ecglib.metrics.subgroups import subgroup_auc_table

    p = predictions(600)
    groups = pd.DataFrame({"age": pd.Categorical(np.where(p["age"] < 65, "< 65", "≥ 65"),
                                                 categories=["< 65", "≥ 65"], ordered=True)})
    table = subgroup_auc_table(p, groups)
    numbers = ev.subgroup_numbers(table)
    assert numbers["sub_tests"] == 4 and numbers["sub_bonferroni"] == pytest.approx(0.0125)
    assert math.isnan(numbers["sub_p_sex_RCA"]) and np.isfinite(numbers["sub_p_age_RCA"])
    display = ev.subgroup_display(table)
    assert display["subgroup"].tolist() == ["< 65", "≥ 65"] and "RCA p" in display.columns
    assert math.isnan(ev.subgroup_numbers(results.Skipped("a", "b"))["sub_tests"])


def test_calibration_figure_with_an_empty_bin_draws():
    """Wilson bounds of a bin without events can exceed its observed 0 by a rounding error;
    the error bars must still draw (matplotlib refuses negative lengths)."""
    from ecglib.plots.calibration import calibration_figure

    rng = np.random.default_rng(0)
    n = 560
    p = pd.DataFrame({"p_LM": np.sort(rng.uniform(0, 0.2, n))})
    p["y_LM"] = 0
    p.loc[p.index[-10:], "y_LM"] = 1      # the lowest bins hold no event
    fig = calibration_figure(p, ["LM"], n_boot=5, group_col=None)
    assert fig.axes


def test_calibration_of_constant_predictions_has_no_slope():
    """Constant predictions (an untrained model) made the slope fit index a missing column."""
    from ecglib.metrics.calibration import calibration_slope_intercept
    from ecglib.plots.calibration import calibration_figure

    y = np.r_[np.ones(20), np.zeros(80)]
    out = calibration_slope_intercept(y, np.full(100, 0.3))
    assert math.isnan(out["slope"])
    assert out["intercept"] == pytest.approx(np.log(0.2 / 0.8) - np.log(0.3 / 0.7))
    p = pd.DataFrame({"y_RCA": y.astype(int), "p_RCA": 0.3})
    assert calibration_figure(p, ["RCA"], n_boot=5, group_col=None).axes


def _params():
    from ecglib.config import DataParams, RunParams

    return RunParams(name="t", seed=1, data=DataParams(table="x", map="y"))
