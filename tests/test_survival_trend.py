"""The Cox trend test across ordered groups (ecglib.metrics.survival.cox_trend): against
statsmodels' PHReg (an independent implementation), and what the patient clustering does."""

import math

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.duration.hazard_regression import PHReg

from ecglib.metrics import survival


def _cohort(n=300, seed=1, beta=0.4):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, n).astype(float)
    t = rng.exponential(1 / np.exp(beta * x)) * 100
    censor = rng.uniform(20, 200, n)
    return np.minimum(t, censor), (t <= censor).astype(int), x, rng


def test_without_clustering_equals_statsmodels_phreg():
    t, e, x, _ = _cohort()
    ours = survival.cox_trend(t, e, x)
    ref = PHReg(t, x[:, None], status=e, ties="efron").fit()
    assert ours["coef"] == pytest.approx(ref.params[0], abs=1e-6)
    assert ours["se"] == pytest.approx(ref.bse[0], rel=1e-6)
    assert ours["p_value"] == pytest.approx(2 * norm.sf(abs(ref.params[0] / ref.bse[0])), rel=1e-5)
    z = norm.ppf(0.975)
    assert ours["hr"] == pytest.approx(math.exp(ours["coef"]))
    assert ours["ci_lo"] == pytest.approx(math.exp(ours["coef"] - z * ours["se"]))
    assert ours["ci_hi"] == pytest.approx(math.exp(ours["coef"] + z * ours["se"]))
    assert ours["robust"] == 0.0 and ours["n"] == len(t) and ours["events"] == e.sum()


def test_clustered_variance_equals_statsmodels_groups():
    t, e, x, rng = _cohort()
    patients = rng.integers(0, 120, len(t))
    ours = survival.cox_trend(t, e, x, cluster=patients)
    ref = PHReg(t, x[:, None], status=e, ties="efron").fit(groups=patients)
    assert ours["coef"] == pytest.approx(ref.params[0], abs=1e-6)
    assert ours["se"] == pytest.approx(ref.bse[0], rel=1e-6)
    assert ours["robust"] == 1.0 and ours["n_clusters"] == len(np.unique(patients))


def test_clustering_widens_the_interval_when_patients_repeat():
    # every patient's row twice (a patient with two ECGs): the model-based SE shrinks by about
    # 1/sqrt(2) as if there were twice the patients; the patient-clustered SE stays at the
    # robust SE of one row per patient
    t, e, x, _ = _cohort(n=200, seed=3)
    single = survival.cox_trend(t, e, x, cluster=np.arange(len(t)))
    rows = np.repeat(np.arange(len(t)), 2)
    naive = survival.cox_trend(t[rows], e[rows], x[rows])
    clustered = survival.cox_trend(t[rows], e[rows], x[rows], cluster=rows)
    assert naive["se"] == pytest.approx(single["se"] / math.sqrt(2), rel=0.1)
    assert clustered["se"] == pytest.approx(single["se"], rel=0.05)
    assert clustered["se"] > 1.3 * naive["se"]
    assert clustered["coef"] == pytest.approx(naive["coef"])
    assert (clustered["ci_hi"] - clustered["ci_lo"]) > (naive["ci_hi"] - naive["ci_lo"])


def test_not_estimable_cases_raise_with_the_reason():
    t, e, x, _ = _cohort(n=60, seed=2)
    with pytest.raises(ValueError, match="at least two groups"):
        survival.cox_trend(t, e, np.ones(len(t)))
    with pytest.raises(ValueError, match="no events"):
        survival.cox_trend(t, np.zeros(len(t)), x)
    # every event in the highest group: the ratio runs to infinity (lifelines would report a
    # huge ratio with a tiny p)
    with pytest.raises(
        ValueError,
        match=r"highest group .*\(monotone likelihood: the hazard ratio runs to infinity\)",
    ):
        survival.cox_trend(t, e * (x == 2), x)
    with pytest.raises(ValueError, match="lowest group"):
        survival.cox_trend(t, e * (x == 0), x)
    with pytest.raises(ValueError, match="no cluster"):
        survival.cox_trend(t, e, x, cluster=np.where(np.arange(len(t)) == 3, None, 1))


def test_a_positive_trend_is_found_and_a_null_one_is_not():
    t, e, x, _ = _cohort(n=600, seed=7, beta=0.6)
    strong = survival.cox_trend(t, e, x, cluster=np.arange(len(t)))
    assert strong["hr"] > 1.4 and strong["p_value"] < 0.001 and strong["ci_lo"] > 1
    t, e, x, _ = _cohort(n=600, seed=8, beta=0.0)
    null = survival.cox_trend(t, e, x, cluster=np.arange(len(t)))
    assert null["ci_lo"] < 1 < null["ci_hi"]
