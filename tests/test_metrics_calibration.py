"""Calibration: Brier by hand and in a perfectly calibrated simulation, curves, slope, and the
figure of ecglib.plots.calibration."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402

from ecglib import schema  # noqa: E402
from ecglib.metrics import calibration as cal  # noqa: E402
from ecglib.plots.calibration import calibration_figure  # noqa: E402


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
    band = cal.calibration_band(y, p, n_boot=50, seed=0)
    ok = band.dropna()
    assert len(ok) >= 0.9 * len(band)
    assert (ok["lower"] <= ok["observed"] + 1e-9).mean() > 0.95
    assert (ok["upper"] >= ok["observed"] - 1e-9).mean() > 0.95
    again = cal.calibration_band(y, p, n_boot=50, seed=0)
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

    fig = calibration_figure(table, n_boot=20, seed=0, title="internal")
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
    single = cal.calibration_band(y, p, grid, n_boot=60, seed=0, groups=ids)
    doubled = cal.calibration_band(
        np.r_[y, y], np.r_[p, p], grid, n_boot=60, seed=0, groups=np.r_[ids, ids]
    )
    rows = cal.calibration_band(np.r_[y, y], np.r_[p, p], grid, n_boot=60, seed=0)
    w = lambda b: float(np.mean(b["upper"] - b["lower"]))  # noqa: E731
    assert w(doubled) == pytest.approx(w(single), rel=0.25)
    assert w(rows) < 0.85 * w(doubled)


def test_single_class_gives_nan_slope_not_an_error():
    s = cal.calibration_summary([0, 0, 0, 0], [0.01, 0.02, 0.05, 0.03])
    assert np.isnan(s["slope"]) and np.isnan(s["intercept"]) and np.isnan(s["scaled_brier"])
    assert s["brier"] == pytest.approx(np.mean(np.square([0.01, 0.02, 0.05, 0.03])))


def test_calibration_figure_with_an_empty_bin_draws_its_error_bars():
    """Wilson bounds of a bin without events can exceed its observed 0 by a rounding error;
    the error bars must still draw (matplotlib refuses negative lengths)."""
    rng = np.random.default_rng(0)
    n = 560
    p = pd.DataFrame({"p_LM": np.sort(rng.uniform(0, 0.2, n))})
    p["y_LM"] = 0
    p.loc[p.index[-10:], "y_LM"] = 1  # the lowest bins hold no event
    fig = calibration_figure(p, ["LM"], n_boot=5, group_col=None)
    ax = fig.axes[0]
    assert ax.get_title() == f"LM (n = {n})"
    bins = cal.calibration_bins(p["y_LM"], p["p_LM"])
    assert (bins["events"].iloc[:9] == 0).all()
    # one error bar per bin, from the Wilson bounds (clipped at the estimate)
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
