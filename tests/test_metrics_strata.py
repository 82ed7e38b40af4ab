"""Risk strata: thresholds chosen on one set reach their targets there and apply unchanged."""

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

from ecglib import schema
from ecglib.metrics import strata
from ecglib.metrics.resamples import loop_reference, patient_resamples

# 10 positives and 20 negatives
POS = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.05])
NEG = np.r_[np.linspace(0.01, 0.52, 19), 0.58]
Y = np.r_[np.ones(10, int), np.zeros(20, int)]
P = np.r_[POS, NEG]
# Sensitivity 0.90 needs 9 of 10 positives at or above t; the largest such t is the 9th largest
# positive score, 0.15. Specificity 0.95 needs 19 of 20 negatives below t, i.e. at most one
# negative at or above t; the smallest score with that property is the largest negative, 0.58
# (at the next lower score, 0.52, two negatives are at or above it).


def test_toy_thresholds_by_hand():
    fitted = strata.fit_strata_thresholds(Y, P, sensitivity=0.90, specificity=0.95)
    assert fitted.lower == pytest.approx(0.15)
    assert fitted.upper == pytest.approx(0.58)
    assert fitted.fit_sensitivity == pytest.approx(0.9)
    assert fitted.fit_specificity == pytest.approx(0.95)
    assert (fitted.n_fit, fitted.n_fit_pos, fitted.collapsed) == (30, 10, False)


def test_boundaries_go_to_the_higher_stratum():
    s = strata.assign_strata([0.1499, 0.15, 0.5799, 0.58, 1.0], {"lower": 0.15, "upper": 0.58})
    assert list(s.astype(object)) == ["low", "intermediate", "intermediate", "high", "high"]
    assert list(s.categories) == ["low", "intermediate", "high"] and s.ordered


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sens,spec", [(0.90, 0.95), (0.90, 0.87), (0.8, 0.7)])
def test_targets_reached_and_tight_on_fitting_data(seed, sens, spec):
    rng = np.random.default_rng(seed)
    n = 400
    y = (rng.random(n) < 0.15).astype(int)
    p = 1 / (1 + np.exp(-(-2 + 1.2 * y + rng.normal(size=n)))).round(3)  # ties included
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # collapsed strata are tested below
        f = strata.fit_strata_thresholds(y, p, sensitivity=sens, specificity=spec)
    pos, neg = p[y == 1], p[y == 0]
    assert np.mean(pos >= f.lower) >= sens
    assert np.mean(neg < f.upper) >= spec
    # tight: the next distinct score above `lower` misses the sensitivity target, the next
    # one below `upper` misses the specificity target
    above = np.unique(p[p > f.lower])
    if len(above) and not f.collapsed:
        assert np.mean(pos >= above[0]) < sens
    below = np.unique(p[p < f.upper])
    if len(below):
        assert np.mean(neg < below[-1]) < spec


def test_assign_takes_no_labels_and_applies_thresholds_unchanged():
    assert "y" not in inspect.signature(strata.assign_strata).parameters
    rng = np.random.default_rng(7)
    y_fit, y_new = (rng.random(500) < 0.2).astype(int), (rng.random(300) < 0.2).astype(int)
    p_fit = np.clip(0.1 + 0.3 * y_fit + rng.normal(0, 0.12, 500), 0, 1)
    p_new = np.clip(0.1 + 0.3 * y_new + rng.normal(0, 0.12, 300), 0, 1)
    fitted = strata.fit_strata_thresholds(y_fit, p_fit)
    s_new = strata.assign_strata(p_new, fitted)
    expected = np.where(
        p_new < fitted.lower, "low", np.where(p_new < fitted.upper, "intermediate", "high")
    )
    assert list(s_new.astype(object)) == expected.tolist()
    # the held-out labels do not enter: shuffling them changes nothing
    assert list(strata.assign_strata(p_new, fitted)) == list(s_new)
    # and refitting on the new data would give other thresholds (the point of separating)
    refit = strata.fit_strata_thresholds(y_new, p_new)
    assert (refit.lower, refit.upper) != (fitted.lower, fitted.upper)


def test_crossfit_uses_other_folds_only():
    rng = np.random.default_rng(3)
    n = 600
    y = (rng.random(n) < 0.2).astype(int)
    p = np.clip(0.15 + 0.25 * y + rng.normal(0, 0.15, n), 0, 1)
    folds = np.arange(n) % 5
    s, thr = strata.crossfit_strata(y, p, folds)
    assert list(thr.index) == [0, 1, 2, 3, 4]
    for k in range(5):
        own = strata.fit_strata_thresholds(y[folds != k], p[folds != k])
        assert thr.loc[k, "lower"] == own.lower and thr.loc[k, "upper"] == own.upper
        assert list(s[folds == k]) == list(strata.assign_strata(p[folds == k], own))
    # flipping a fold's own labels leaves its strata unchanged
    y2 = y.copy()
    y2[folds == 2] = 1 - y2[folds == 2]
    s2, _ = strata.crossfit_strata(y2, p, folds)
    assert list(s2[folds == 2]) == list(s[folds == 2])


def test_collapsed_thresholds_warn_and_keep_targets():
    y = np.r_[np.ones(10, int), np.zeros(10, int)]
    p = np.r_[np.linspace(0.6, 0.9, 10), np.linspace(0.0, 0.3, 10)]  # perfectly separated
    with pytest.warns(UserWarning, match="intermediate stratum is empty"):
        f = strata.fit_strata_thresholds(y, p)
    assert f.collapsed and f.lower == f.upper
    assert f.fit_sensitivity >= 0.9 and f.fit_specificity >= 0.95


def test_per_vessel_targets_and_summary():
    rng = np.random.default_rng(11)
    n = 800
    table = {}
    for v in schema.VESSELS:
        y = (rng.random(n) < (0.03 if v == "LM" else 0.15)).astype(int)
        table[schema.label_col(v)] = y
        table[schema.prob_col(v)] = np.clip(0.2 + 0.1 * y + rng.normal(0, 0.1, n), 0, 1)
    table = pd.DataFrame(table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = strata.fit_vessel_strata(table, strata.PAPER_STRATA_TARGETS)
    assert fitted["LM"].specificity_target == 0.87
    assert fitted["RCA"].specificity_target == 0.95
    assigned = strata.assign_vessel_strata(table, fitted)
    assert list(assigned.columns) == list(schema.VESSELS)
    summary = strata.strata_summary(table[schema.label_col("RCA")], assigned["RCA"])
    assert summary["n"].sum() == n
    assert summary["events"].sum() == table[schema.label_col("RCA")].sum()
    # on the fitting data, the low stratum holds at most 10% of the events
    assert summary.loc["low", "share_of_events"] <= 0.10 + 1e-12
    # no resamples given: point estimates, no interval (the run's patient bootstrap gives it)
    assert summary[["event_rate_lo", "event_rate_hi"]].isna().all().all()


def test_input_checks():
    with pytest.raises(ValueError, match="both diseased and non-diseased"):
        strata.fit_strata_thresholds([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="sensitivity target"):
        strata.fit_strata_thresholds(Y, P, sensitivity=0)
    with pytest.raises(ValueError, match="lies above"):
        strata.assign_strata([0.1], {"lower": 0.5, "upper": 0.2})


# ------------------------------------------------------------------------------------------
# per-vessel tables (y_<vessel>, p_<vessel> columns)
def _vessel_table(n: int = 600, seed: int = 0, n_folds: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"fold": np.arange(n) % n_folds})
    for v in schema.VESSELS:
        y = (rng.uniform(size=n) < (0.05 if v == "LM" else 0.25)).astype(int)
        out[schema.label_col(v)] = y
        out[schema.prob_col(v)] = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y - 1.5)))
    return out


TARGETS_90 = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}


def test_crossfit_vessel_strata_never_use_the_held_out_labels():
    p = _vessel_table()
    s, cutoffs, not_fitted = strata.crossfit_vessel_strata(p, TARGETS_90)
    assert not not_fitted and list(s.columns) == list(schema.VESSELS)
    assert cutoffs["vessel"].tolist() == [v for v in schema.VESSELS for _ in range(3)]
    assert cutoffs.columns[:4].tolist() == ["vessel", "fold", "lower", "upper"]
    # flipping fold 0's labels changes nothing about fold 0's strata
    flipped = p.copy()
    m = flipped["fold"] == 0
    flipped.loc[m, "y_RCA"] = 1 - flipped.loc[m, "y_RCA"]
    again, _, _ = strata.crossfit_vessel_strata(flipped, TARGETS_90)
    assert (again.loc[m, "RCA"] == s.loc[m, "RCA"]).all()
    # fold 0's cut-offs are those fitted on folds 1 and 2
    rest = p[p["fold"] != 0]
    want = strata.fit_strata_thresholds(
        rest["y_RCA"], rest["p_RCA"], sensitivity=0.9, specificity=0.9
    )
    row = cutoffs[(cutoffs["vessel"] == "RCA") & (cutoffs["fold"] == 0)].iloc[0]
    assert (row["lower"], row["upper"]) == (want.lower, want.upper)


def test_a_vessel_without_positives_outside_a_fold_is_not_stratified():
    p = _vessel_table()
    p.loc[p["fold"] != 0, "y_LM"] = 0
    s, cutoffs, not_fitted = strata.crossfit_vessel_strata(p, strata.PAPER_STRATA_TARGETS)
    assert "LM" not in s.columns and "LM" not in set(cutoffs["vessel"])
    assert "fold 0" in not_fitted["LM"] and list(not_fitted) == ["LM"]
    # on the whole table LM still has positives (fold 0's): it can be fitted there
    fitted, left_out = strata.fit_vessel_strata_where_possible(p, strata.PAPER_STRATA_TARGETS)
    assert list(fitted) == list(schema.VESSELS) and not left_out
    p["y_LM"] = 0
    fitted, left_out = strata.fit_vessel_strata_where_possible(p, strata.PAPER_STRATA_TARGETS)
    assert "LM" not in fitted and "one class (0 positives among 600)" in left_out["LM"]


def test_fit_where_possible_equals_fitting_each_vessel():
    p = _vessel_table(seed=4)
    fitted, _ = strata.fit_vessel_strata_where_possible(p, TARGETS_90)
    assert fitted == strata.fit_vessel_strata(p, TARGETS_90)


def test_vessel_summary_and_performance_by_hand():
    p = _vessel_table(seed=2)
    s, _, _ = strata.crossfit_vessel_strata(p, TARGETS_90)
    perf = strata.strata_performance(p, s, TARGETS_90).set_index("vessel")
    y, k = p["y_RCA"].to_numpy(), s["RCA"].to_numpy()
    assert perf.at["RCA", "sensitivity"] == pytest.approx(np.mean(k[y == 1] != "low"))
    assert perf.at["RCA", "specificity"] == pytest.approx(np.mean(k[y == 0] != "high"))
    assert perf.at["RCA", "npv_low"] == pytest.approx(np.mean(y[k == "low"] == 0))
    assert perf.at["RCA", "ppv_high"] == pytest.approx(np.mean(y[k == "high"] == 1))
    assert perf.at["RCA", "sensitivity_target"] == 0.9
    assert "sensitivity_target" not in strata.strata_performance(p, s).columns
    summary = strata.vessel_strata_summary(p, s)
    assert summary.columns[:2].tolist() == ["vessel", "stratum"] and len(summary) == 4 * 3
    rca = summary[summary["vessel"] == "RCA"].set_index("stratum")
    assert rca.loc["high", "n"] == np.sum(k == "high")
    assert rca.loc["high", "events"] == np.sum(y[k == "high"])
    assert strata.vessel_strata_summary(p, s[[]]).empty


# ------------------------------------------------------------------------------------------
# patient-bootstrap intervals (the run's shared resamples)
def _clustered_table(n_patients: int = 150, seed: int = 3) -> pd.DataFrame:
    """Patients with 1-6 ECGs sharing the labels and most of the probability, 3 folds."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, n_patients)
    out = pd.DataFrame({"patient": np.repeat(np.arange(n_patients) * 5 + 2, sizes)})
    out["fold"] = out["patient"] % 3
    for v in schema.VESSELS:
        y = rng.uniform(size=n_patients) < (0.08 if v == "LM" else 0.25)
        shared = rng.normal(size=n_patients) + 1.2 * y
        out[schema.label_col(v)] = np.repeat(y, sizes).astype(int)
        noise = 0.3 * rng.normal(size=len(out))
        out[schema.prob_col(v)] = 1 / (1 + np.exp(-(np.repeat(shared, sizes) + noise - 1.5)))
    return out


def _rate(event, among):
    """A proportion on a materialised resample, ValueError (NaN) when it has no denominator."""

    def statistic(t):
        a = among(t)
        if not a.any():
            raise ValueError("empty denominator")
        return float(event(t)[a].mean())

    return statistic


def test_strata_summary_interval_is_the_loop_over_materialised_resamples():
    table = _clustered_table()
    s, _, _ = strata.crossfit_vessel_strata(table, TARGETS_90)
    res = patient_resamples(table["patient"], 300, seed=8)
    w = res.weights(table["patient"])
    summary = strata.strata_summary(table["y_RCA"], s["RCA"], w, level=0.9)
    t = table.assign(stratum=s["RCA"].astype(str).to_numpy())
    for k in strata.STRATA:
        slow = loop_reference(
            _rate(lambda d: d["y_RCA"] == 1, lambda d, k=k: (d["stratum"] == k).to_numpy()), t, w
        )
        row = summary.loc[k]
        assert (row["event_rate_lo"], row["event_rate_hi"]) == pytest.approx(
            tuple(np.nanpercentile(slow, [5, 95])), abs=1e-12
        )
        assert row["n_boot_undefined"] == np.isnan(slow).sum()
    # the vessel table: the same numbers, with the patients of each stratum
    vs = strata.vessel_strata_summary(table, s, res, level=0.9)
    rca = vs[vs["vessel"] == "RCA"].set_index("stratum")
    np.testing.assert_allclose(rca["event_rate_lo"], summary["event_rate_lo"])
    high = table.loc[s["RCA"].to_numpy() == "high", "patient"].nunique()
    assert rca.at["high", "patients"] == high < rca.at["high", "n"]
    # without resamples: point estimates only
    plain = strata.strata_summary(table["y_RCA"], s["RCA"])
    assert plain[["event_rate_lo", "event_rate_hi"]].isna().all().all()
    np.testing.assert_allclose(plain["event_rate"], summary["event_rate"])


@pytest.mark.filterwarnings("ignore:LM. the sensitivity-based cut-off")
def test_strata_performance_intervals_are_the_loop_over_materialised_resamples():
    table = _clustered_table(seed=4)
    s, _, _ = strata.crossfit_vessel_strata(table, TARGETS_90)
    res = patient_resamples(table["patient"], 250, seed=1)
    w = res.weights(table["patient"])
    perf = strata.strata_performance(table, s, TARGETS_90, resamples=res).set_index("vessel")
    for vessel in ("RCA", "LM"):
        t = table.assign(stratum=s[vessel].astype(str).to_numpy(), y=table[f"y_{vessel}"])
        for name, event, among in (
            ("sensitivity", lambda d: d["stratum"] != "low", lambda d: d["y"] == 1),
            ("specificity", lambda d: d["stratum"] != "high", lambda d: d["y"] == 0),
            ("npv_low", lambda d: d["y"] == 0, lambda d: d["stratum"] == "low"),
            ("ppv_high", lambda d: d["y"] == 1, lambda d: d["stratum"] == "high"),
        ):
            slow = loop_reference(_rate(event, lambda d, a=among: a(d).to_numpy()), t, w)
            lo, hi = np.nanpercentile(slow, [2.5, 97.5])
            assert perf.at[vessel, f"{name}_lo"] == pytest.approx(lo, abs=1e-12), name
            assert perf.at[vessel, f"{name}_hi"] == pytest.approx(hi, abs=1e-12), name
            assert perf.at[vessel, f"{name}_undefined"] == np.isnan(slow).sum()
            assert perf.at[vessel, f"{name}_lo"] <= perf.at[vessel, name] <= hi
    assert perf.at["RCA", "patients"] == 150 and perf.at["RCA", "n"] == len(table)
    with pytest.raises(KeyError, match="'patient' column"):
        strata.strata_performance(table.drop(columns="patient"), s, resamples=res)


def test_the_patient_bootstrap_is_wider_than_a_binomial_interval_over_ecgs():
    # Several ECGs per patient sharing the label: the Wilson interval over ECGs treats them as
    # independent and is too narrow; the patient bootstrap is not.
    from ecglib.metrics.thresholds import proportion_ci

    table = _clustered_table(400, seed=6)
    s, _, _ = strata.crossfit_vessel_strata(table, TARGETS_90)
    res = patient_resamples(table["patient"], 1000, seed=0)
    perf = strata.strata_performance(table, s, resamples=res).set_index("vessel")
    y, k = table["y_LAD"].to_numpy(), s["LAD"].to_numpy()
    _, lo, hi = proportion_ci(np.sum((k != "high") & (y == 0)), np.sum(y == 0))
    boot = perf.at["LAD", "specificity_hi"] - perf.at["LAD", "specificity_lo"]
    assert boot > 1.3 * (hi[0] - lo[0])


def test_the_strata_stay_fixed_within_the_bootstrap():
    # The interval is conditional on the cut-offs: the same strata give the same interval
    # whatever the probabilities that made them.
    table = _clustered_table(seed=7)
    s, _, _ = strata.crossfit_vessel_strata(table, TARGETS_90)
    res = patient_resamples(table["patient"], 100, seed=3)
    a = strata.strata_performance(table, s, resamples=res)
    shuffled = table.assign(p_RCA=np.random.default_rng(0).permutation(table["p_RCA"]))
    b = strata.strata_performance(shuffled, s, resamples=res)
    pd.testing.assert_frame_equal(a, b)


def test_a_resample_without_a_row_of_the_stratum_is_counted_and_left_out():
    y = [1, 0, 0, 1]
    s = pd.Categorical(["high", "low", "low", "intermediate"], categories=list(strata.STRATA))
    w = np.array([[1, 1, 1, 1], [0, 2, 1, 1], [2, 0, 1, 1]])
    summary = strata.strata_summary(y, s, w)
    assert summary.loc["high", "n_boot_undefined"] == 1
    assert (summary.loc["high", "event_rate_lo"], summary.loc["high", "event_rate_hi"]) == (1, 1)
    assert summary.loc["low", "n_boot_undefined"] == 0 and summary.loc["low", "event_rate_hi"] == 0
