"""Calibration: Brier by hand and in a perfectly calibrated simulation, curves, slope, their
patient-bootstrap intervals against a per-resample loop, and the figure of
ecglib.plots.calibration."""

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from statsmodels.nonparametric.smoothers_lowess import lowess  # noqa: E402

from ecglib import schema  # noqa: E402
from ecglib.metrics import calibration as cal  # noqa: E402
from ecglib.metrics.resamples import (  # noqa: E402
    loop_reference,
    patient_resamples,
    resample_rows,
)
from ecglib.plots.calibration import calibration_figure  # noqa: E402


def _row_weights(n, n_boot, seed=0):
    """Resamples in which every row is a patient of its own."""
    return patient_resamples(np.arange(n), n_boot, seed=seed).weights(np.arange(n))


@pytest.fixture(scope="module")
def calibrated():
    # p ~ Beta(2, 8) (mean 0.2), y ~ Bernoulli(p): perfectly calibrated by construction
    rng = np.random.default_rng(42)
    p = rng.beta(2, 8, 20000)
    y = (rng.random(p.size) < p).astype(int)
    return y, p


def test_brier_by_hand():
    # ((0.8-1)^2 + (0.3-0)^2 + (0.6-1)^2 + (0.1-0)^2) / 4 = (0.04 + 0.09 + 0.16 + 0.01) / 4
    assert cal.brier_score([1, 0, 1, 0], [0.8, 0.3, 0.6, 0.1]) == pytest.approx(0.075)


def test_perfect_calibration_brier_is_expected_p_one_minus_p(calibrated):
    y, p = calibrated
    # E[(Y - p)^2 | p] = p (1 - p); Beta(2, 8): E[p(1-p)] = ab/((a+b)(a+b+1)) = 16/110
    assert cal.brier_score(y, p) == pytest.approx(np.mean(p * (1 - p)), abs=0.004)
    assert np.mean(p * (1 - p)) == pytest.approx(16 / 110, abs=0.002)
    s = cal.calibration_summary(y, p)
    assert s["slope"] == pytest.approx(1.0, abs=0.08)
    assert s["intercept"] == pytest.approx(0.0, abs=0.05)
    assert s["oe_ratio"] == pytest.approx(1.0, abs=0.03)
    assert s["brier"] < s["brier_null"] and 0 < s["scaled_brier"] < 1


def test_grouped_curve_near_diagonal_and_equal_to_sklearn(calibrated):
    y, p = calibrated
    bins = cal.calibration_bins(y, p, n_bins=10, strategy="quantile")
    assert len(bins) == 10 and bins["n"].sum() == len(y)
    assert np.all(np.abs(bins["observed"] - bins["mean_predicted"]) < 0.025)
    assert (
        np.mean(
            (bins["observed_lo"] <= bins["mean_predicted"])
            & (bins["mean_predicted"] <= bins["observed_hi"])
        )
        >= 0.8
    )
    ref_true, ref_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    np.testing.assert_allclose(bins["observed"], ref_true)
    np.testing.assert_allclose(bins["mean_predicted"], ref_pred)
    # our bin counts give back sklearn's observed rates
    np.testing.assert_allclose(bins["events"] / bins["n"], ref_true)
    # deciles: equal-size groups
    assert bins["n"].min() >= len(y) // 10 - 1


def test_uniform_bins_drop_empty_bins_like_sklearn():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, 500)
    y = (rng.random(500) < p).astype(int)
    bins = cal.calibration_bins(y, p, n_bins=10, strategy="uniform")
    ref_true, ref_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert len(bins) == len(ref_true) == 3
    np.testing.assert_allclose(bins["mean_predicted"], ref_pred)
    np.testing.assert_allclose(bins["events"] / bins["n"], ref_true)


def test_lowess_near_diagonal_and_band(calibrated):
    y, p = calibrated
    idx = np.random.default_rng(1).choice(len(y), 3000, replace=False)
    y, p = y[idx], p[idx]
    curve = cal.calibration_lowess(y, p)
    assert np.nanmax(np.abs(curve["observed"] - curve["predicted"])) < 0.06
    weights = _row_weights(len(y), 50)
    band = cal.calibration_band(y, p, weights=weights)
    ok = band.dropna()
    assert len(ok) >= 0.9 * len(band)
    assert (ok["lower"] <= ok["observed"] + 1e-9).mean() > 0.95
    assert (ok["upper"] >= ok["observed"] - 1e-9).mean() > 0.95
    again = cal.calibration_band(y, p, weights=weights)
    pd.testing.assert_frame_equal(band, again)
    # outside the data the curve is not extrapolated
    far = cal.calibration_lowess(y, p, grid=[p.min() - 0.01, p.max() + 0.01])
    assert far["observed"].isna().all()


def test_overconfident_model_has_slope_below_one():
    rng = np.random.default_rng(5)
    lp = rng.normal(-1.5, 1.0, 20000)
    y = (rng.random(lp.size) < 1 / (1 + np.exp(-lp))).astype(int)
    p = 1 / (1 + np.exp(-2 * lp))  # predictions twice as extreme as the truth
    assert cal.calibration_summary(y, p)["slope"] == pytest.approx(0.5, abs=0.05)


def test_table_and_figure_per_vessel():
    rng = np.random.default_rng(9)
    table = {}
    for v in schema.VESSELS:
        p = rng.beta(1, 12 if v == "LM" else 5, 400)
        table[schema.prob_col(v)] = p
        table[schema.label_col(v)] = (rng.random(400) < p).astype(int)
    table = pd.DataFrame(table)
    t = cal.calibration_table(table)
    assert list(t.index) == list(schema.VESSELS)
    assert t.loc["LAD", "brier"] == pytest.approx(np.mean((table["p_LAD"] - table["y_LAD"]) ** 2))

    fig = calibration_figure(table, n_boot=20, seed=0, group_col=None, title="internal")
    panels = [ax for ax in fig.axes if ax.get_legend()]
    assert [ax.get_title() for ax in panels] == [f"{v} (n = 400)" for v in schema.VESSELS]
    assert fig._suptitle.get_text() == "internal"
    for ax, vessel in zip(panels, schema.VESSELS):
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert f"{vessel} LOWESS (Brier {t.loc[vessel, 'brier']:.3f})" in labels
        assert "10 quantile bins (95% CI)" in labels
        assert (ax.get_xlabel(), ax.get_ylabel()) == (
            "predicted probability",
            "observed proportion",
        )
        # the grouped points are the deciles' mean prediction and observed rate
        bins = cal.calibration_bins(table[schema.label_col(vessel)], table[schema.prob_col(vessel)])
        points = [line for line in ax.lines if line.get_marker() == "o"][0]
        np.testing.assert_allclose(
            np.asarray(points.get_xdata(), dtype=float), bins["mean_predicted"]
        )
        np.testing.assert_allclose(np.asarray(points.get_ydata(), dtype=float), bins["observed"])
    plt.close(fig)


def test_input_checks():
    with pytest.raises(ValueError, match="0/1"):
        cal.brier_score([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        cal.brier_score([1, 0], [0.1, np.nan])


def test_band_cluster_bootstrap_by_patient():
    rng = np.random.default_rng(3)
    p = rng.beta(2, 6, 600)
    y = (rng.random(600) < p).astype(int)
    ids = np.arange(600)
    grid = np.linspace(0.1, 0.4, 7)
    # duplicated rows: the patient bootstrap stays as wide as for the originals, the row
    # bootstrap pretends to know more
    resamples = patient_resamples(ids, 60, seed=0)
    single = cal.calibration_band(y, p, grid, weights=resamples.weights(ids))
    doubled = cal.calibration_band(
        np.r_[y, y], np.r_[p, p], grid, weights=resamples.weights(np.r_[ids, ids])
    )
    rows = cal.calibration_band(np.r_[y, y], np.r_[p, p], grid, weights=_row_weights(1200, 60))
    w = lambda b: float(np.mean(b["upper"] - b["lower"]))  # noqa: E731
    assert w(doubled) == pytest.approx(w(single), rel=0.25)
    assert w(rows) < 0.85 * w(doubled)


def test_single_class_gives_nan_slope_not_an_error():
    s = cal.calibration_summary([0, 0, 0, 0], [0.01, 0.02, 0.05, 0.03])
    assert np.isnan(s["slope"]) and np.isnan(s["intercept"]) and np.isnan(s["scaled_brier"])
    assert s["brier"] == pytest.approx(np.mean(np.square([0.01, 0.02, 0.05, 0.03])))


def test_calibration_figure_with_an_empty_bin_draws_its_error_bars():
    """A bin without events has the interval [0, 0] (or Wilson bounds that exceed its
    observed 0 by a rounding error); the error bars must still draw (matplotlib refuses
    negative lengths)."""
    rng = np.random.default_rng(0)
    n = 560
    p = pd.DataFrame({"p_LM": np.sort(rng.uniform(0, 0.2, n))})
    p["y_LM"] = 0
    p.loc[p.index[-10:], "y_LM"] = 1  # the lowest bins hold no event
    fig = calibration_figure(p, ["LM"], n_boot=5, group_col=None)
    ax = fig.axes[0]
    assert ax.get_title() == f"LM (n = {n})"
    weights = _row_weights(n, 5)  # what the figure draws with group_col=None, n_boot=5, seed 0
    bins = cal.calibration_bins(p["y_LM"], p["p_LM"], weights=weights)
    assert (bins["events"].iloc[:9] == 0).all()
    # one error bar per bin, from the bootstrap bounds (clipped at the estimate)
    (bars,) = [c for c in ax.containers if c.has_yerr]
    segments = bars.lines[2][0].get_segments()
    assert len(segments) == len(bins) == 10
    np.testing.assert_allclose(
        [s[0][1] for s in segments], np.minimum(bins["observed_lo"], bins["observed"]), atol=1e-12
    )
    np.testing.assert_allclose([s[1][1] for s in segments], bins["observed_hi"], atol=1e-12)
    plt.close(fig)


def test_calibration_of_constant_predictions_has_no_slope():
    """Constant predictions (an untrained model) made the slope fit index a missing column."""
    from ecglib.metrics.calibration import calibration_slope_intercept

    y = np.r_[np.ones(20), np.zeros(80)]
    out = calibration_slope_intercept(y, np.full(100, 0.3))
    assert math.isnan(out["slope"])
    assert out["intercept"] == pytest.approx(np.log(0.2 / 0.8) - np.log(0.3 / 0.7))
    p = pd.DataFrame({"y_RCA": y.astype(int), "p_RCA": 0.3})
    fig = calibration_figure(p, ["RCA"], n_boot=5, group_col=None)
    ax = fig.axes[0]
    points = [line for line in ax.lines if line.get_marker() == "o"][0]
    # every prediction is 0.3: one bin, at the event rate 0.2
    np.testing.assert_allclose(np.asarray(points.get_xdata(), dtype=float), [0.3])
    np.testing.assert_allclose(np.asarray(points.get_ydata(), dtype=float), [0.2])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"RCA LOWESS (Brier {cal.brier_score(y, np.full(100, 0.3)):.3f})" in labels
    plt.close(fig)


def _clustered(seed=0, n_patients=80, prevalence=-1.2):
    """Patients with 1-4 ECGs that share the risk; predictions 1.5 times too extreme."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, n_patients)
    patient = np.repeat(np.arange(n_patients) * 7 + 3, sizes)
    risk = np.repeat(rng.normal(prevalence, 1, n_patients), sizes) + rng.normal(0, 0.3, sizes.sum())
    y = (rng.random(sizes.sum()) < 1 / (1 + np.exp(-risk))).astype(int)
    p = 1 / (1 + np.exp(-(0.3 + 1.5 * risk)))
    return pd.DataFrame({"patient": patient, "y": y, "p": p})


def _reference(name):
    """The statistic of one materialised resample, the slow way (statsmodels per resample)."""

    def statistic(t):
        if name == "brier":
            return cal.brier_score(t["y"], t["p"])
        value = cal.calibration_slope_intercept(t["y"], t["p"])[name]
        if np.isnan(value):
            raise ValueError("undefined on this resample")
        return value

    return statistic


@pytest.mark.parametrize(
    "seed,n_patients,prevalence",
    [(0, 80, -1.2), (3, 40, -3.0)],  # the second: few events, resamples with separation
    ids=["common", "rare"],
)
def test_bootstrap_equals_a_statsmodels_fit_per_materialised_resample(seed, n_patients, prevalence):
    table = _clustered(seed, n_patients, prevalence)
    weights = patient_resamples(table["patient"], 150, seed=1).weights(table["patient"])
    boot = cal.calibration_bootstrap(table["y"], table["p"], weights)
    with warnings.catch_warnings():
        # statsmodels warns on the separated resamples the reference then marks undefined
        warnings.simplefilter("ignore")
        for name in ("brier", "slope", "intercept"):
            ref = loop_reference(_reference(name), table, weights)
            np.testing.assert_array_equal(np.isnan(boot[name]), np.isnan(ref))
            np.testing.assert_allclose(boot[name], ref, rtol=0, atol=1e-6, equal_nan=True)
    if prevalence < -2:  # the rare case does exercise the undefined resamples
        assert boot["slope"].isna().sum() > 0


def test_bootstrap_with_every_row_once_is_the_point_estimate():
    table = _clustered(5)
    once = cal.calibration_bootstrap(table["y"], table["p"], np.ones((1, len(table)), int))
    point = cal.calibration_summary(table["y"], table["p"])
    for name in ("brier", "slope", "intercept"):
        assert once.at[0, name] == pytest.approx(point[name], abs=1e-8)


def test_batched_logistic_is_a_frequency_weighted_glm():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2))
    y = (rng.random(200) < 1 / (1 + np.exp(-(x @ [1.0, -0.5] + 0.2)))).astype(float)
    design = sm.add_constant(x)
    weights = rng.integers(0, 4, size=(5, 200))
    offset = rng.normal(0, 0.2, 200)
    # a start far from the maximum: the step halving keeps the iteration climbing
    coef = cal.batched_logistic(y, design, weights, offset=offset, start=[4.0, -4.0, 4.0])
    for b in range(5):
        ref = sm.GLM(
            y, design, family=sm.families.Binomial(), freq_weights=weights[b], offset=offset
        ).fit(tol=1e-12)
        np.testing.assert_allclose(coef[b], ref.params, atol=1e-7)
    masked = cal.batched_logistic(y, design, weights, fit=[True, False, True, True, True])
    assert np.isnan(masked[1]).all() and np.isfinite(masked[[0, 2, 3, 4]]).all()


def test_separated_or_constant_predictions_have_no_slope_anywhere():
    # every event above every non-event: the maximum-likelihood slope is infinite
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.3, 0.5])
    assert np.isnan(cal.calibration_slope_intercept(y, p)["slope"])
    boot = cal.calibration_bootstrap(y, p, np.ones((2, 5), int))
    assert boot["slope"].isna().all() and boot["intercept"].notna().all()
    # a resample that draws a single class has neither fit; one that draws a single
    # prediction has no slope but an intercept
    y = np.array([0, 1, 0, 1, 0, 1])
    p = np.array([0.2, 0.2, 0.4, 0.3, 0.5, 0.6])
    w = np.array([[2, 0, 1, 0, 3, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    boot = cal.calibration_bootstrap(y, p, w)
    assert boot.loc[0, ["slope", "intercept"]].isna().all()
    assert np.isnan(boot.at[1, "slope"]) and np.isfinite(boot.at[1, "intercept"])
    assert boot.loc[2].notna().all()
    with pytest.raises(ValueError, match="weights must be"):
        cal.calibration_bootstrap(y, p, np.ones((3, 5)))


def test_table_with_weights_adds_percentile_intervals():
    table = _clustered(1)
    for v in ("RCA", "LAD"):
        table[schema.label_col(v)], table[schema.prob_col(v)] = table["y"], table["p"]
    weights = patient_resamples(table["patient"], 200, seed=4).weights(table["patient"])
    out = cal.calibration_table(table, ["RCA", "LAD"], weights=weights)
    boot = cal.calibration_bootstrap(table["y"], table["p"], weights)
    for name in ("brier", "slope", "intercept"):
        lo, hi = np.percentile(boot[name].dropna(), [2.5, 97.5])
        assert out.at["RCA", f"{name}_lo"] == pytest.approx(lo)
        assert out.at["LAD", f"{name}_hi"] == pytest.approx(hi)
        assert out.at["RCA", f"{name}_lo"] <= out.at["RCA", name] <= out.at["RCA", f"{name}_hi"]
        assert out.at["RCA", f"{name}_undefined"] == boot[name].isna().sum()
    assert out.at["RCA", "n_boot"] == 200
    plain = cal.calibration_table(table, ["RCA"])
    assert "slope_lo" not in plain.columns
    assert plain.at["RCA", "slope"] == out.at["RCA", "slope"]


def test_grouped_points_with_weights_take_the_percentile_of_each_bins_resampled_rate():
    table = _clustered(4, 120)
    weights = patient_resamples(table["patient"], 80, seed=2).weights(table["patient"])
    y, p = table["y"].to_numpy(), table["p"].to_numpy()
    bins = cal.calibration_bins(y, p, n_bins=5, weights=weights)
    wilson = cal.calibration_bins(y, p, n_bins=5)
    pd.testing.assert_frame_equal(
        bins.drop(columns=["observed_lo", "observed_hi"]),
        wilson.drop(columns=["observed_lo", "observed_hi"]),
    )
    edges = np.percentile(p, np.linspace(0, 100, 6))
    ids = np.searchsorted(edges[1:-1], p)
    for k in bins["bin"]:
        rates = []
        for row in weights:  # the rows of each resample that fall in bin k
            idx = resample_rows(row)
            inside = idx[ids[idx] == k]
            rates.append(y[inside].mean() if len(inside) else np.nan)
        lo, hi = np.nanpercentile(rates, [2.5, 97.5])
        got = bins.loc[bins["bin"] == k, ["observed_lo", "observed_hi"]].to_numpy()[0]
        np.testing.assert_allclose(got, [lo, hi])


def test_band_smooths_each_shared_resample():
    table = _clustered(2, 60)
    resamples = patient_resamples(table["patient"], 12, seed=9)
    weights = resamples.weights(table["patient"])
    y, p = table["y"].to_numpy(), table["p"].to_numpy()
    grid = np.linspace(np.quantile(p, 0.1), np.quantile(p, 0.9), 9)
    band = cal.calibration_band(y, p, grid, weights=weights)
    curves = []
    for row in weights:  # brute force: the rows of each resample, smoothed
        idx = resample_rows(row)
        fitted = np.clip(lowess(y[idx].astype(float), p[idx], frac=2 / 3, it=0, xvals=grid), 0, 1)
        fitted[(grid < p[idx].min()) | (grid > p[idx].max())] = np.nan
        curves.append(fitted)
    lower, upper = np.nanpercentile(np.array(curves), [2.5, 97.5], axis=0)
    np.testing.assert_allclose(band["lower"], lower)
    np.testing.assert_allclose(band["upper"], upper)
    assert (band["n_boot_used"] == np.isfinite(curves).sum(axis=0)).all()
    # the figure draws its band from the resamples it is given
    table["y_RCA"], table["p_RCA"] = y, p
    fig = calibration_figure(table, ["RCA"], resamples=resamples)
    band_full = cal.calibration_band(y, p, weights=weights)
    (fill,) = fig.axes[0].collections[:1]
    drawn = np.asarray(fill.get_paths()[0].vertices)
    finite = band_full.dropna()
    assert np.isclose(drawn[:, 1].max(), finite["upper"].max())
    plt.close(fig)
    with pytest.raises(KeyError, match="no 'patient_id' column"):
        calibration_figure(table, ["RCA"], group_col="patient_id")


def test_calibration_figure_draws_no_lowess_for_a_vessel_below_min_events():
    """The small-count policy: 3 events in 400 ECGs give grouped points but no LOWESS curve
    or band, and the legend says why; 40 events keep both."""
    rng = np.random.default_rng(3)
    n = 400
    table = pd.DataFrame({"p_LM": rng.uniform(0, 0.05, n), "p_RCA": rng.uniform(0, 0.4, n)})
    table["y_LM"] = 0
    table.loc[table.index[:3], "y_LM"] = 1
    table["y_RCA"] = (np.arange(n) < 40).astype(int)
    fig = calibration_figure(table, ["LM", "RCA"], n_boot=5, group_col=None, min_events=5)
    lm, rca = [ax for ax in fig.axes if ax.get_legend()]
    lm_labels = [t.get_text() for t in lm.get_legend().get_texts()]
    assert "no LOWESS curve: too few events (3)" in lm_labels
    assert not any("LOWESS (Brier" in label or "band" in label for label in lm_labels)
    assert [line for line in lm.lines if line.get_marker() == "o"]  # the grouped points stay
    rca_labels = [t.get_text() for t in rca.get_legend().get_texts()]
    assert any(label.startswith("RCA LOWESS (Brier") for label in rca_labels)
    assert "LOWESS 95% patient-bootstrap band" in rca_labels
    plt.close(fig)
    # without the policy the LM panel has its curve
    fig = calibration_figure(table, ["LM"], n_boot=5, group_col=None)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(label.startswith("LM LOWESS (Brier") for label in labels)
    plt.close(fig)
