"""Kaplan-Meier cumulative incidence, numbers at risk and log-rank on hand-computed cases."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy.stats import chi2

from ecglib.metrics import survival
from ecglib.metrics.survival import MissingInputError

matplotlib.use("Agg")

# 6 subjects: time, event (0 = censored)
T = np.array([2, 3, 3, 5, 6, 8], dtype=float)
E = np.array([1, 1, 0, 1, 0, 1])
# Kaplan-Meier by hand, S(t) = prod (1 - d_i/n_i), n_i = #(T >= t_i):
#   t=2: n=6, d=1             S = 5/6
#   t=3: n=5 (3,3,5,6,8), d=1 (the other 3 is censored, still at risk at 3)
#                             S = 5/6 * 4/5 = 2/3
#   t=5: n=3 (5,6,8), d=1     S = 2/3 * 2/3 = 4/9
#   t=6: censored             S = 4/9
#   t=8: n=1, d=1             S = 4/9 * 0 = 0
# cumulative incidence F = 1 - S
TIMES = [0, 1, 2, 2.5, 3, 4, 5, 7, 8, 9]
F_HAND = [0, 0, 1 / 6, 1 / 6, 1 / 3, 1 / 3, 5 / 9, 5 / 9, 1, 1]


def test_cumulative_incidence_matches_hand_product_limit():
    ci = survival.cumulative_incidence(T, E, times=TIMES)
    np.testing.assert_allclose(ci["cumulative_incidence"], F_HAND, atol=1e-12)


def test_one_minus_km_equals_lifelines_cumulative_density():
    kmf = KaplanMeierFitter().fit(T, E)
    ci = survival.cumulative_incidence(T, E, times=TIMES)
    np.testing.assert_allclose(
        ci["cumulative_incidence"], kmf.cumulative_density_at_times(TIMES).to_numpy(), atol=1e-12
    )
    # the CI brackets the estimate where it is defined
    inside = ci["ci_lo"].le(ci["cumulative_incidence"] + 1e-12) & ci["ci_hi"].ge(
        ci["cumulative_incidence"] - 1e-12
    )
    assert inside.all()


def test_naive_events_over_n_underestimates_under_censoring():
    # the authors' estimate at t=8: 4 events / 6 patients = 0.667; KM says 1.0
    s = survival.incidence_summary(T, E, np.full(6, "all"), horizon=8)
    assert s.loc["all", "naive_events_over_n"] == pytest.approx(4 / 6)
    assert s.loc["all", "cumulative_incidence"] == pytest.approx(1.0)
    assert s.loc["all", "events"] == 4
    assert s.loc["all", "censored_before_horizon"] == 2


def test_number_at_risk_hand_values_and_lifelines_event_table():
    # #(T >= t): t=0 -> 6, 2 -> 6, 3 -> 5, 4 -> 3, 6 -> 2, 8 -> 1, 9 -> 0
    nar = survival.number_at_risk(T, [0, 2, 3, 4, 6, 8, 9])
    assert nar.loc["all"].tolist() == [6, 6, 5, 3, 2, 1, 0]
    # lifelines' at_risk at each recorded time is the same count
    table = KaplanMeierFitter().fit(T, E).event_table
    ours = survival.number_at_risk(T, table.index.to_numpy())
    assert ours.loc["all"].tolist() == table["at_risk"].tolist()
    # by group
    g = ["a", "a", "b", "b", "b", "a"]  # a: 2, 3, 8   b: 3, 5, 6
    by = survival.number_at_risk(T, [0, 3, 6], g)
    assert by.loc["a"].tolist() == [3, 2, 1]
    assert by.loc["b"].tolist() == [3, 3, 1]


def test_censor_at_horizon():
    t, e = survival.censor_at(T, E, 5)
    assert t.tolist() == [2, 3, 3, 5, 5, 5]
    assert e.tolist() == [1, 1, 0, 1, 0, 0]  # the event at 8 is after the horizon
    ci = survival.cumulative_incidence(t, e, times=[5])
    assert ci["cumulative_incidence"].iloc[0] == pytest.approx(5 / 9)


def test_two_group_logrank_by_hand_and_lifelines():
    # A = {2 event, 3 censored, 6 censored}, B = {3 event, 5 event, 8 event}
    # at t=2: n=6 (A3 B3) d=1 from A: E_A = 3/6,  V = 1*(3/6)(3/6)*(5/5) = 0.25
    # at t=3: n=5 (A2 B3) d=1 from B: E_A = 2/5,  V = (2/5)(3/5) = 0.24
    # at t=5: n=3 (A1 B2) d=1 from B: E_A = 1/3,  V = (1/3)(2/3) = 2/9
    # at t=8: n=1 (A0 B1) d=1 from B: E_A = 0,    V = 0
    # O_A = 1, E_A = 1.2333, chi2 = (O - E)^2 / V = 0.05444 / 0.71222
    group = np.array(["A", "B", "A", "B", "A", "B"])
    chi = (1 - (0.5 + 0.4 + 1 / 3)) ** 2 / (0.25 + 0.24 + 2 / 9)
    res = survival.logrank(T, E, group)
    assert res["test_statistic"] == pytest.approx(chi)
    assert res["p_value"] == pytest.approx(chi2.sf(chi, 1))
    assert res["df"] == 1 and res["n_groups"] == 2
    a = group == "A"
    lr = logrank_test(T[a], T[~a], event_observed_A=E[a], event_observed_B=E[~a])
    assert res["p_value"] == pytest.approx(lr.p_value)


def test_three_groups_use_multivariate_logrank():
    rng = np.random.default_rng(0)
    n = 300
    group = rng.choice(["low", "intermediate", "high"], n)
    rate = pd.Series(group).map({"low": 1 / 2000, "intermediate": 1 / 800, "high": 1 / 300})
    t_event = rng.exponential(1 / rate.to_numpy())
    t_cens = rng.uniform(30, 400, n)
    t, e = np.minimum(t_event, t_cens), (t_event <= t_cens).astype(int)
    res = survival.logrank(t, e, group)
    ref = multivariate_logrank_test(t, group, e)
    assert res["df"] == 2 and res["p_value"] == pytest.approx(ref.p_value)
    assert res["p_value"] < 0.01


def test_groups_follow_categorical_order_and_figure_draws():
    rng = np.random.default_rng(1)
    n = 200
    strata = pd.Categorical(
        rng.choice(["low", "intermediate", "high"], n),
        categories=["low", "intermediate", "high"],
        ordered=True,
    )
    t = rng.uniform(1, 500, n).round()
    e = (rng.random(n) < 0.2).astype(int)
    fits = survival.km_fits(t, e, strata)
    assert list(fits) == ["low", "intermediate", "high"]
    summary = survival.incidence_summary(t, e, strata, horizon=365)
    assert list(summary.index) == ["low", "intermediate", "high"]
    assert summary["n"].sum() == n

    from ecglib.plots.survival import cumulative_incidence_figure

    fig = cumulative_incidence_figure(
        t, e, strata, horizon=365, at_risk_times=[0, 90, 180, 270, 365]
    )
    table_texts = [tx.get_text() for tx in fig.axes[1].texts]
    expected = survival.number_at_risk(
        *survival.censor_at(t, e, 365)[:1], [0, 90, 180, 270, 365], strata
    )
    assert table_texts == [f"{int(v):,}" for v in expected.to_numpy().ravel()]
    # the log-rank p of the censored data, as the book prints p-values; one legend entry per
    # stratum with its patients
    from ecglib.report.present import format_p

    p_value = survival.logrank(*survival.censor_at(t, e, 365), strata)["p_value"]
    assert [tx.get_text() for tx in fig.axes[0].texts] == [
        f"log-rank {format_p(p_value, prefix='p')}"
    ]
    legend = [tx.get_text() for tx in fig.axes[0].get_legend().get_texts()]
    counts = pd.Series(np.asarray(strata)).value_counts()
    assert legend == [f"{g} (n = {counts[g]:,})" for g in ("low", "intermediate", "high")]
    # the curves end at the cumulative incidence at the horizon, in percent
    at_horizon = summary["cumulative_incidence"]
    ends = [line.get_ydata()[-1] for line in fig.axes[0].get_lines()]
    np.testing.assert_allclose(ends, 100 * at_horizon.to_numpy())


def test_missing_follow_up_raises_catchable_error():
    cohort = pd.DataFrame({"age": [60, 70]})
    with pytest.raises(MissingInputError) as info:
        survival.followup_arrays(cohort)
    assert "followup_days" in info.value.reason
    empty = cohort.assign(followup_days=np.nan, followup_event=np.nan)
    with pytest.raises(MissingInputError, match="no row"):
        survival.followup_arrays(empty)
    partial = cohort.assign(followup_days=[10.0, np.nan], followup_event=[0, 1])
    with pytest.raises(ValueError, match="1 of 2 rows lack"):
        survival.followup_arrays(partial)
    ok = cohort.assign(followup_days=[10.0, 20.0], followup_event=[0, 1])
    t, e = survival.followup_arrays(ok)
    assert t.tolist() == [10.0, 20.0] and e.tolist() == [0, 1]


def test_bad_follow_up_values_raise():
    with pytest.raises(ValueError, match=">= 0"):
        survival.cumulative_incidence([-1, 2], [0, 1])
    with pytest.raises(ValueError, match="0/1"):
        survival.cumulative_incidence([1, 2], [0, 2])
    with pytest.raises(ValueError, match="no risk group"):
        survival.km_fits([1, 2], [0, 1], ["low", None])
