"""Net benefit on a 10-patient toy computed by hand; treat-all / treat-none; decision curves."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from ecglib import schema
from ecglib.metrics import decision
from ecglib.metrics.resamples import loop_reference, patient_resamples

matplotlib.use("Agg")

# 10 patients, 3 events (prevalence 0.3)
Y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.6, 0.2, 0.7, 0.4, 0.3, 0.1, 0.1, 0.05, 0.05])

# By hand, treating p >= pt:
# pt = 0.10: treated = all but the two 0.05      -> TP 3, FP 5
#            NB = 3/10 - 5/10 * (0.1/0.9) = 0.3 - 0.0555... = 0.24444...
#            all: 0.3 - 0.7 * (1/9) = 0.22222...
# pt = 0.20: treated = 0.9 0.6 0.2 0.7 0.4 0.3   -> TP 3, FP 3  (0.2 == pt is treated)
#            NB = 0.3 - 0.3 * 0.25 = 0.225;        all: 0.3 - 0.7 * 0.25 = 0.125
# pt = 0.25: treated = 0.9 0.6 0.7 0.4 0.3       -> TP 2, FP 3
#            NB = 0.2 - 0.3 * (1/3) = 0.1;         all: 0.3 - 0.7/3 = 0.06666...
# pt = 0.50: treated = 0.9 0.6 0.7               -> TP 2, FP 1
#            NB = 0.2 - 0.1 * 1 = 0.1;             all: 0.3 - 0.7 = -0.4
PT = [0.10, 0.20, 0.25, 0.50]
NB_HAND = [0.3 - 0.5 / 9, 0.225, 0.1, 0.1]
ALL_HAND = [0.3 - 0.7 / 9, 0.125, 0.3 - 0.7 / 3, -0.4]


def test_net_benefit_matches_hand_computation():
    np.testing.assert_allclose(decision.net_benefit(Y, P, PT), NB_HAND, atol=1e-12)


def test_treat_all_and_none_match_hand_computation():
    np.testing.assert_allclose(decision.net_benefit_treat_all(Y, PT), ALL_HAND, atol=1e-12)
    curve = decision.decision_curve(Y, P, PT)
    assert list(curve.columns) == [
        "threshold",
        "model",
        "model_lo",
        "model_hi",
        "treat_all",
        "treat_none",
    ]
    assert curve[["model_lo", "model_hi"]].isna().all().all()  # no resamples, no band
    assert (curve["treat_none"] == 0).all()
    np.testing.assert_allclose(curve["model"], NB_HAND, atol=1e-12)


def test_rule_net_benefit_equals_model_when_rule_is_the_threshold():
    # a fixed strategy "treat p >= 0.25" has the model's net benefit at pt = 0.25
    treat = (P >= 0.25).astype(int)
    np.testing.assert_allclose(decision.net_benefit_of_rule(Y, treat, [0.25]), [0.1])
    # treat everybody = treat all
    np.testing.assert_allclose(decision.net_benefit_of_rule(Y, np.ones(10), PT), ALL_HAND)


def test_perfect_model_reaches_prevalence():
    # a model that ranks perfectly and separates at every pt has NB = prevalence
    p = np.where(Y == 1, 0.99, 0.0)
    np.testing.assert_allclose(decision.net_benefit(Y, p, [0.05, 0.5, 0.9]), 0.3)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.2])
def test_thresholds_outside_open_unit_interval_raise(bad):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        decision.net_benefit(Y, P, [bad])


def test_labels_and_probabilities_are_checked():
    with pytest.raises(ValueError, match="0/1"):
        decision.net_benefit([1, np.nan], [0.2, 0.3], [0.1])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        decision.net_benefit([1, 0], [0.2, 1.3], [0.1])
    with pytest.raises(ValueError, match="differ in length"):
        decision.net_benefit([1, 0, 1], [0.2, 0.3], [0.1])


def test_decision_curves_per_vessel_with_narrow_lm_range():
    rng = np.random.default_rng(1)
    table = {}
    for v in schema.VESSELS:
        p = rng.uniform(0, 0.4, 300)
        table[schema.prob_col(v)] = p
        table[schema.label_col(v)] = (rng.random(300) < p).astype(int)
    table = pd.DataFrame(table)
    curves = decision.decision_curves(table, decision.DEFAULT_THRESHOLD_RANGES, n=20)
    assert set(curves["vessel"]) == set(schema.VESSELS)
    assert len(curves) == 4 * 20
    lm = curves[curves["vessel"] == "LM"]["threshold"]
    rca = curves[curves["vessel"] == "RCA"]["threshold"]
    assert lm.max() <= 0.10 < rca.max()
    for v in schema.VESSELS:  # prevalence carried for the plot
        prevalence = table[schema.label_col(v)].mean()
        assert curves.loc[curves["vessel"] == v, "prevalence"].iloc[0] == pytest.approx(prevalence)


def test_decision_curve_figure_draws_each_vessels_curves():
    rng = np.random.default_rng(1)
    table = {}
    for v in schema.VESSELS:
        p = rng.uniform(0, 0.4, 300)
        table[schema.prob_col(v)] = p
        table[schema.label_col(v)] = (rng.random(300) < p).astype(int)
    curves = decision.decision_curves(pd.DataFrame(table), n=20)

    from ecglib.plots.decision import decision_curve_figure

    fig = decision_curve_figure(curves, title="internal")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert fig.get_suptitle() == "internal"
    for ax, vessel in zip(panels, schema.VESSELS, strict=True):
        c = curves[curves["vessel"] == vessel]
        prevalence = c["prevalence"].iloc[0]
        assert ax.get_title() == f"{vessel} (prevalence {100 * prevalence:.1f}%)"
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines) == ["AI-ECG model", "treat all", "treat none"]
        # x in percent, y the net benefits of the table
        np.testing.assert_allclose(lines["AI-ECG model"].get_xdata(), 100 * c["threshold"])
        np.testing.assert_allclose(lines["AI-ECG model"].get_ydata(), c["model"])
        np.testing.assert_allclose(lines["treat all"].get_ydata(), c["treat_all"])
        assert ax.get_ylim() == pytest.approx((-0.25 * prevalence, 1.1 * prevalence))


def test_net_benefit_at_one_threshold_per_vessel():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({c: rng.random(400) for c in schema.prob_cols()})
    for v in schema.VESSELS:
        table[schema.label_col(v)] = (rng.random(400) < 0.25).astype(float)
    table["y_LAD"] = np.nan  # LAD not assessed: no row
    nb = decision.net_benefit_at(table, {"RCA": 0.2, "LAD": 0.2, "LCX": 0.1})
    assert nb["vessel"].tolist() == ["RCA", "LCX"]
    row = nb.iloc[0]
    y, prob = table["y_RCA"].to_numpy(), table["p_RCA"].to_numpy()
    treat = prob >= 0.2
    want = np.sum(treat & (y == 1)) / len(y) - np.sum(treat & (y == 0)) / len(y) * 0.25
    assert row["model"] == pytest.approx(want)
    assert row["treat_all"] == pytest.approx(y.mean() - (1 - y.mean()) * 0.25)
    assert (row["threshold"], row["prevalence"], row["treat_none"]) == (0.2, y.mean(), 0.0)


# ------------------------------------------------------------------------------------------
# patient-bootstrap intervals and bands
def _clustered(n_patients=120, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, n_patients)
    table = pd.DataFrame({"patient": np.repeat(np.arange(n_patients) + 100, sizes)})
    for v in schema.VESSELS:
        risk = np.repeat(rng.uniform(0, 0.5 if v != "LM" else 0.08, n_patients), sizes)
        y = np.repeat(rng.random(n_patients), sizes) < risk
        table[schema.label_col(v)] = y.astype(int)
        table[schema.prob_col(v)] = np.clip(risk + rng.normal(0, 0.03, len(risk)), 0, 1)
    return table


def test_resampled_net_benefit_is_the_loop_over_materialised_resamples():
    table = _clustered()
    res = patient_resamples(table["patient"], 200, seed=6)
    w = res.weights(table["patient"])
    pt = decision.threshold_grid(0.01, 0.5, 15)
    fast = decision.net_benefit_resampled(table["y_RCA"], table["p_RCA"], pt, w)
    assert fast.shape == (200, 15)
    for j in (0, 7, 14):
        slow = loop_reference(
            lambda t, j=j: decision.net_benefit(t["y_RCA"], t["p_RCA"], [pt[j]])[0], table, w
        )
        np.testing.assert_allclose(fast[:, j], slow, rtol=0, atol=1e-12)
    all_ = decision.treat_all_resampled(table["y_RCA"], pt, w)
    slow = loop_reference(
        lambda t: decision.net_benefit_treat_all(t["y_RCA"], [pt[3]])[0], table, w
    )
    np.testing.assert_allclose(all_[:, 3], slow, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="weights must be"):
        decision.net_benefit_resampled(table["y_RCA"], table["p_RCA"], pt, w[:, 1:])


def test_decision_curves_carry_the_models_percentile_band():
    table = _clustered(seed=1)
    res = patient_resamples(table["patient"], 300, seed=2)
    curves = decision.decision_curves(table, n=10, resamples=res, level=0.9)
    lad = curves[curves["vessel"] == "LAD"].reset_index(drop=True)
    boot = decision.net_benefit_resampled(
        table["y_LAD"], table["p_LAD"], lad["threshold"], res.weights(table["patient"])
    )
    np.testing.assert_allclose(lad["model_lo"], np.percentile(boot, 5, axis=0))
    np.testing.assert_allclose(lad["model_hi"], np.percentile(boot, 95, axis=0))
    assert (lad["model_lo"] <= lad["model"]).all() and (lad["model"] <= lad["model_hi"]).all()
    # without resamples the band columns exist and are empty
    assert decision.decision_curves(table, n=10)[["model_lo", "model_hi"]].isna().all().all()
    with pytest.raises(KeyError, match="'patient' column"):
        decision.decision_curves(table.drop(columns="patient"), resamples=res)


def test_net_benefit_at_has_patient_bootstrap_intervals():
    table = _clustered(seed=3)
    res = patient_resamples(table["patient"], 400, seed=0)
    nb = decision.net_benefit_at(table, {"RCA": 0.15, "LM": 0.01}, resamples=res).set_index(
        "vessel"
    )
    w = res.weights(table["patient"])
    y, p = table["y_RCA"], table["p_RCA"]
    model = loop_reference(
        lambda t: decision.net_benefit(t["y_RCA"], t["p_RCA"], [0.15])[0], table, w
    )
    all_ = loop_reference(lambda t: decision.net_benefit_treat_all(t["y_RCA"], [0.15])[0], table, w)
    for name, values in (("model", model), ("advantage", model - np.maximum(all_, 0))):
        lo, hi = np.percentile(values, [2.5, 97.5])
        assert (nb.at["RCA", f"{name}_lo"], nb.at["RCA", f"{name}_hi"]) == pytest.approx((lo, hi))
    treat_all = decision.net_benefit_treat_all(y, [0.15])[0]
    assert nb.at["RCA", "advantage"] == pytest.approx(
        decision.net_benefit(y, p, [0.15])[0] - max(treat_all, 0)
    )
    assert nb.at["RCA", "patients"] == 120 and nb.at["RCA", "n"] == len(table)
    assert nb.columns.tolist() == [
        "threshold",
        "n",
        "patients",
        "prevalence",
        *[f"{m}{e}" for m in decision.NET_BENEFITS for e in ("", "_lo", "_hi")],
        "treat_none",
    ]
    # a model that treats everybody has no advantage over treating all, in every resample
    table["p_LM"] = table["p_LM"].clip(lower=0.002)
    everybody = decision.net_benefit_at(table, {"LM": 0.001}, resamples=res).iloc[0]
    assert (everybody["advantage_lo"], everybody["advantage_hi"]) == (0.0, 0.0)


def test_decision_curve_figure_draws_the_band():
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from ecglib.plots.decision import decision_curve_figure

    table = _clustered(seed=4)
    curves = decision.decision_curves(
        table, n=12, resamples=patient_resamples(table["patient"], 100)
    )
    fig = decision_curve_figure(curves, ["RCA", "LM"])
    for ax, vessel in zip(fig.axes, ["RCA", "LM"]):
        (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert band.get_label() == "95% CI (patient bootstrap)"
        c = curves[curves["vessel"] == vessel]
        # the band's outline runs along the lower bounds, then back along the upper ones
        ys = band.get_paths()[0].vertices[:, 1]
        assert np.isclose(ys, c["model_lo"].to_numpy()[:, None]).any(axis=1).all()
        assert np.isclose(ys, c["model_hi"].to_numpy()[:, None]).any(axis=1).all()
        assert "95% CI (patient bootstrap)" in [t.get_text() for t in ax.get_legend().texts]
    plt.close(fig)
    # curves without a band: no band drawn
    fig = decision_curve_figure(decision.decision_curves(table, n=12), ["RCA"])
    assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    plt.close(fig)
