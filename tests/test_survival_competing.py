"""Aalen-Johansen cumulative incidence with competing events (ecglib.metrics.survival): hand
cases, a textbook recomputation, equality with 1 - Kaplan-Meier without competing events."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from ecglib.metrics import survival

matplotlib.use("Agg")


def _textbook_aj(time, event, competing, grid):
    """F_1(t) = sum over distinct times t_i <= t of S(t_i-) d1_i / n_i, S the Kaplan-Meier
    estimate of being free of either event; ties counted together (all at risk at t_i)."""
    out = []
    for t in grid:
        s, f = 1.0, 0.0
        for u in np.unique(time[time <= t]):
            n = np.sum(time >= u)
            d1 = np.sum((time == u) & (event == 1))
            d2 = np.sum((time == u) & (competing == 1))
            f += s * d1 / n
            s *= 1 - (d1 + d2) / n
        out.append(f)
    return np.array(out)


def test_hand_case_and_the_two_incidences_add_up_to_one_minus_overall_km():
    # t:     1  2  3  4  5
    # type:  1  2  1  0  1      (1 outcome, 2 competing, 0 censored)
    # t=1: n=5, d1=1: F1 = 1/5 = 0.2, S = 4/5
    # t=2: n=4, d2=1: F1 = 0.2,         S = 4/5 * 3/4 = 3/5;  F2 = 4/5 * 1/4 = 0.2
    # t=3: n=3, d1=1: F1 = 0.2 + 3/5 * 1/3 = 0.4, S = 2/5
    # t=4: censored
    # t=5: n=1, d1=1: F1 = 0.4 + 2/5 = 0.8, S = 0
    t = np.array([1, 2, 3, 4, 5.0])
    e = np.array([1, 0, 1, 0, 1])
    c = np.array([0, 1, 0, 0, 0])
    grid = [0, 1, 2, 3, 4, 5, 6]
    f1 = survival.aalen_johansen(t, e, c, grid)["cumulative_incidence"].to_numpy()
    np.testing.assert_allclose(f1, [0, 0.2, 0.2, 0.4, 0.4, 0.8, 0.8], atol=1e-12)
    f2 = survival.aalen_johansen(t, c, e, grid)["cumulative_incidence"].to_numpy()
    np.testing.assert_allclose(f2, [0, 0, 0.2, 0.2, 0.2, 0.2, 0.2], atol=1e-12)
    # F1 + F2 = 1 - S of either event; treating the competing event as censoring (1 - KM of
    # the outcome) says 1.0 at t=5, the overestimate the page warns about
    any_event = survival.cumulative_incidence(t, e + c, times=grid)["cumulative_incidence"]
    np.testing.assert_allclose(f1 + f2, any_event, atol=1e-12)
    km = survival.cumulative_incidence(t, e, times=[5])["cumulative_incidence"].iloc[0]
    assert km == pytest.approx(1.0) and f1[-2] == pytest.approx(0.8)


def test_tied_types_and_an_event_at_time_zero_give_the_tied_estimator():
    # ties at t=2 of an outcome, a competing event and a censoring: all three at risk at 2
    # t=2: n=5, d1=1, d2=1: F1 = 1/5, S = 3/5; t=3: n=2, d1=1: F1 = 1/5 + 3/5 * 1/2 = 1/2
    t = np.array([2, 2, 2, 3, 4.0])
    e = np.array([1, 0, 0, 1, 0])
    c = np.array([0, 1, 0, 0, 0])
    ours = survival.aalen_johansen(t, e, c, [1, 2, 3, 4])["cumulative_incidence"]
    np.testing.assert_allclose(ours, [0, 0.2, 0.5, 0.5], atol=1e-12)
    # an outcome at time 0 (lifelines' own table would set F(0) = 0 and lose it):
    # t=0: n=6: F1 = 1/6; t=1: n=5: F1 = 1/6 + 5/6 * 1/5 = 1/3
    t0 = np.array([0, 1, 2, 3, 4, 5.0])
    e0 = np.array([1, 1, 0, 1, 0, 1])
    c0 = np.array([0, 0, 1, 0, 0, 0])
    ours = survival.aalen_johansen(t0, e0, c0, [0, 1, 5])["cumulative_incidence"]
    np.testing.assert_allclose(ours, _textbook_aj(t0, e0, c0, [0, 1, 5]), atol=1e-12)
    assert ours.iloc[0] == pytest.approx(1 / 6) and ours.iloc[1] == pytest.approx(1 / 3)


def test_matches_a_textbook_recomputation_on_integer_days_without_touching_global_rng():
    rng = np.random.default_rng(4)
    n = 250
    t = rng.integers(0, 120, n).astype(float)  # many ties of every kind
    kind = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    e, c = (kind == 1).astype(int), (kind == 2).astype(int)
    grid = np.arange(0, 125, 5.0)
    np.random.seed(123)
    expected_draw = np.random.random()
    np.random.seed(123)
    ours = survival.aalen_johansen(t, e, c, grid)
    # lifelines' fitter would jitter the ties with np.random.seed(None): ours must not
    assert np.random.random() == expected_draw
    np.testing.assert_allclose(
        ours["cumulative_incidence"], _textbook_aj(t, e, c, grid), atol=1e-12
    )
    inside = (ours["ci_lo"] <= ours["cumulative_incidence"] + 1e-12) & (
        ours["cumulative_incidence"] <= ours["ci_hi"] + 1e-12
    )
    assert inside[ours["cumulative_incidence"] > 0].all()
    # 1 - KM with the competing events censored is never below Aalen-Johansen
    km = survival.cumulative_incidence(t, e, times=grid)["cumulative_incidence"]
    assert (km.to_numpy() >= ours["cumulative_incidence"].to_numpy() - 1e-12).all()
    assert km.iloc[-1] > ours["cumulative_incidence"].iloc[-1] + 0.01


def test_without_competing_events_it_equals_one_minus_kaplan_meier():
    rng = np.random.default_rng(5)
    n = 300
    t = rng.integers(1, 400, n).astype(float)
    e = (rng.random(n) < 0.3).astype(int)
    g = pd.Categorical(rng.choice(["low", "high"], n), categories=["low", "high"])
    grid = np.arange(0, 400, 7.0)
    aj = survival.cumulative_incidence(t, e, g, grid, competing=np.zeros(n))
    km = survival.cumulative_incidence(t, e, g, grid)
    np.testing.assert_allclose(aj["cumulative_incidence"], km["cumulative_incidence"], atol=1e-12)
    assert aj["group"].tolist() == km["group"].tolist()
    assert aj["at_risk"].tolist() == km["at_risk"].tolist()


def test_summary_with_competing_events():
    t = np.array([10, 20, 30, 40, 50, 400, 15, 25, 35, 500.0])
    e = np.array([1, 0, 1, 0, 0, 1, 0, 1, 0, 0])
    c = np.array([0, 1, 0, 0, 1, 0, 1, 0, 0, 1])  # the last after the horizon: not counted
    g = np.array(["a"] * 6 + ["b"] * 4)
    s = survival.incidence_summary(t, e, g, horizon=365, competing=c)
    assert s.columns.tolist() == [
        "n",
        "events",
        "competing_events",
        "censored_before_horizon",
        "cumulative_incidence",
        "ci_lo",
        "ci_hi",
        "one_minus_km",
        "at_risk_at_horizon",
        "naive_events_over_n",
    ]
    assert s.loc["a", "events"] == 2 and s.loc["a", "competing_events"] == 2
    assert s.loc["b", "competing_events"] == 1  # the one at 500 days is past the horizon
    # censored before the horizon: a competing event is not a censoring
    assert s.loc["a", "censored_before_horizon"] == 1 and s.loc["b", "censored_before_horizon"] == 1
    ta, ea, ca = np.minimum(t[:6], 365), e[:6] * (t[:6] <= 365), c[:6]
    assert s.loc["a", "cumulative_incidence"] == pytest.approx(_textbook_aj(ta, ea, ca, [365])[0])
    km = survival.incidence_summary(t, e, g, horizon=365)
    np.testing.assert_allclose(s["one_minus_km"], km["cumulative_incidence"])
    assert "one_minus_km" not in km.columns and "competing_events" not in km.columns


def test_an_event_and_a_competing_event_in_one_patient_raise():
    with pytest.raises(ValueError, match="position 1 holds both an event and a competing"):
        survival.aalen_johansen([1, 2, 3], [0, 1, 0], [0, 1, 1], [3])
    with pytest.raises(ValueError, match="competing event must be 0/1"):
        survival.cumulative_incidence([1, 2], [0, 1], competing=[np.nan, 0])


def test_figure_draws_aalen_johansen_and_says_so():
    from ecglib.plots.survival import cumulative_incidence_figure
    from ecglib.report.present import format_p

    rng = np.random.default_rng(2)
    n = 200
    g = pd.Categorical(rng.choice(["low", "high"], n), categories=["low", "high"])
    t = rng.integers(1, 450, n).astype(float)
    kind = rng.choice(3, n, p=[0.7, 0.2, 0.1])
    e, c = (kind == 1).astype(int), (kind == 2).astype(int)
    fig = cumulative_incidence_figure(t, e, g, horizon=365, competing=c)
    ax = fig.axes[0]
    assert "Aalen-Johansen" in ax.get_ylabel()
    p = survival.logrank(*survival.censor_at(t, e, 365), g)["p_value"]
    assert [x.get_text() for x in ax.texts] == [
        f"cause-specific log-rank {format_p(p, prefix='p')}"
    ]
    s = survival.incidence_summary(t, e, g, horizon=365, competing=c)
    ends = [line.get_ydata()[-1] for line in ax.get_lines()]
    np.testing.assert_allclose(ends, 100 * s["cumulative_incidence"].to_numpy())
    assert (s["cumulative_incidence"] < s["one_minus_km"]).all()
