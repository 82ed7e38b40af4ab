"""Categorical NRI (Pencina et al. 2008) on a hand-counted toy, plus a CI coverage check."""

import numpy as np
import pandas as pd
import pytest

from ecglib.metrics import nri

CATS = ("low", "mid", "high")

# 5 events:      old -> new            move
#                low  -> mid           up
#                mid  -> high          up
#                high -> high          -
#                mid  -> low           down
#                low  -> low           -
# 6 non-events:  high -> mid           down
#                mid  -> low           down
#                low  -> low           -
#                mid  -> mid           -
#                low  -> mid           up
#                high -> low           down (two categories: still one "down")
Y = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
OLD = ["low", "mid", "high", "mid", "low", "high", "mid", "low", "mid", "low", "high"]
NEW = ["mid", "high", "high", "low", "low", "mid", "low", "low", "mid", "mid", "low"]
# events: up 2, down 1 -> NRI_e = (2 - 1)/5 = 0.2
# non-events: up 1, down 3 -> NRI_ne = (3 - 1)/6 = 1/3
# NRI = 0.2 + 1/3 = 0.5333...
# se_null (Pencina) = sqrt((2/5 + 1/5)/5 + (1/6 + 3/6)/6) = sqrt(0.12 + 0.11111) = 0.48074
# se (unrestricted) = sqrt((0.6 - 0.2^2)/5 + (4/6 - (1/3)^2)/6) = sqrt(0.112 + 0.092593)


def test_toy_counts_components_and_total():
    r = nri.categorical_nri(Y, OLD, NEW, CATS)
    assert (r.n_events, r.n_nonevents) == (5, 6)
    assert (r.events_up, r.events_down, r.nonevents_up, r.nonevents_down) == (2, 1, 1, 3)
    assert r.nri_events == pytest.approx(0.2)
    assert r.nri_nonevents == pytest.approx(1 / 3)
    assert r.nri == pytest.approx(0.2 + 1 / 3)


def test_toy_standard_errors_ci_and_z():
    r = nri.categorical_nri(Y, OLD, NEW, CATS)
    se_null = np.sqrt((2 / 5 + 1 / 5) / 5 + (1 / 6 + 3 / 6) / 6)
    se = np.sqrt((0.6 - 0.2**2) / 5 + (4 / 6 - (1 / 3) ** 2) / 6)
    assert r.se_null == pytest.approx(se_null)
    assert r.se == pytest.approx(se)
    assert r.z == pytest.approx(r.nri / se_null)
    assert (r.ci_lo, r.ci_hi) == pytest.approx((r.nri - 1.959964 * se, r.nri + 1.959964 * se))
    from scipy.stats import norm

    assert r.p_value == pytest.approx(2 * norm.sf(r.nri / se_null))


def test_swapping_old_and_new_negates():
    a = nri.categorical_nri(Y, OLD, NEW, CATS)
    b = nri.categorical_nri(Y, NEW, OLD, CATS)
    assert b.nri == pytest.approx(-a.nri)
    assert b.nri_events == pytest.approx(-a.nri_events)
    assert b.se == pytest.approx(a.se)


def test_no_reclassification_is_zero_with_p_one():
    r = nri.categorical_nri(Y, OLD, OLD, CATS)
    assert r.nri == 0 and r.p_value == 1.0 and r.se == 0


def test_reclassification_table_counts():
    tab = nri.reclassification_table(Y, OLD, NEW, CATS)
    assert tab.loc[("event", "low"), "mid"] == 1
    assert tab.loc[("event", "mid"), "low"] == 1
    assert tab.loc[("non-event", "high"), "low"] == 1
    assert tab.loc["event"].to_numpy().sum() == 5
    assert tab.loc["non-event"].to_numpy().sum() == 6
    # above the diagonal = up
    ev = tab.loc["event"].to_numpy()
    assert np.triu(ev, 1).sum() == 2 and np.tril(ev, -1).sum() == 1


def test_ordering_sources_and_missing_values():
    # integer codes give the same answer as named categories
    codes = {c: i for i, c in enumerate(CATS)}
    r_int = nri.categorical_nri(Y, [codes[c] for c in OLD], [codes[c] for c in NEW])
    assert r_int.nri == pytest.approx(0.2 + 1 / 3)
    # ordered Categoricals carry their own order
    old = pd.Categorical(OLD, categories=CATS, ordered=True)
    new = pd.Categorical(NEW, categories=CATS, ordered=True)
    assert nri.categorical_nri(Y, old, new).nri == pytest.approx(0.2 + 1 / 3)
    # unordered strings: the order cannot be guessed
    with pytest.raises(ValueError, match="categories"):
        nri.categorical_nri(Y, OLD, NEW)
    # unknown category is an error, not a silent NaN
    with pytest.raises(ValueError, match="not among the categories"):
        nri.categorical_nri(Y, OLD[:-1] + ["medium"], NEW, CATS)
    # a missing category drops the patient and is counted
    r = nri.categorical_nri(Y + [1], OLD + [None], NEW + ["high"], CATS)
    assert r.n_missing == 1 and r.nri == pytest.approx(0.2 + 1 / 3)


def test_needs_both_events_and_nonevents():
    with pytest.raises(ValueError, match="events"):
        nri.categorical_nri([1, 1], ["low", "mid"], ["mid", "mid"], CATS)


def test_bootstrap_point_estimates_match_and_interval_brackets():
    b = nri.nri_bootstrap(Y, OLD, NEW, CATS, n_boot=500, seed=3)
    assert b["nri"] == pytest.approx(0.2 + 1 / 3)
    assert b["nri_events"] == pytest.approx(0.2)
    assert b["nri_nonevents"] == pytest.approx(1 / 3)
    for k in ("nri", "nri_events", "nri_nonevents"):
        assert b[f"{k}_lo"] <= b[k] <= b[f"{k}_hi"]
    assert nri.nri_bootstrap(Y, OLD, NEW, CATS, n_boot=200, seed=3) == nri.nri_bootstrap(
        Y, OLD, NEW, CATS, n_boot=200, seed=3
    )


def _simulate(rng, n_e=120, n_ne=240):
    # everybody starts in the middle category; events move up w.p. 0.30, down w.p. 0.10,
    # non-events down w.p. 0.25, up w.p. 0.15: true NRI = (0.30 - 0.10) + (0.25 - 0.15) = 0.30
    y = np.r_[np.ones(n_e, int), np.zeros(n_ne, int)]
    move = np.r_[
        rng.choice([1, -1, 0], n_e, p=[0.30, 0.10, 0.60]),
        rng.choice([1, -1, 0], n_ne, p=[0.15, 0.25, 0.60]),
    ]
    return y, np.ones(len(y), int), 1 + move


def test_wald_ci_coverage_on_simulation():
    rng = np.random.default_rng(2008)
    reps, hits = 400, 0
    for _ in range(reps):
        y, old, new = _simulate(rng)
        r = nri.categorical_nri(y, old, new)
        hits += r.ci_lo <= 0.30 <= r.ci_hi
    assert 0.92 <= hits / reps <= 0.98


def test_bootstrap_ci_coverage_on_simulation():
    rng = np.random.default_rng(2009)
    reps, hits = 150, 0
    for i in range(reps):
        y, old, new = _simulate(rng)
        b = nri.nri_bootstrap(y, old, new, n_boot=300, seed=i)
        hits += b["nri_lo"] <= 0.30 <= b["nri_hi"]
    assert 0.89 <= hits / reps <= 0.99


def test_cluster_bootstrap_by_patient():
    # duplicating every patient's row must not narrow the cluster-bootstrap interval the way
    # it narrows the row bootstrap (the copies are not new information)
    rng = np.random.default_rng(4)
    y, old, new = _simulate(rng, n_e=60, n_ne=120)
    ids = np.arange(len(y))
    y2, old2, new2, ids2 = (np.r_[a, a] for a in (y, old, new, ids))
    single = nri.nri_bootstrap(y, old, new, n_boot=400, seed=1, groups=ids)
    doubled = nri.nri_bootstrap(y2, old2, new2, n_boot=400, seed=1, groups=ids2)
    rows = nri.nri_bootstrap(y2, old2, new2, n_boot=400, seed=1)
    width = {
        k: v["nri_hi"] - v["nri_lo"]
        for k, v in {"single": single, "doubled": doubled, "rows": rows}.items()
    }
    assert doubled["nri"] == pytest.approx(single["nri"])
    assert width["doubled"] == pytest.approx(width["single"], rel=0.2)
    assert width["rows"] < 0.85 * width["doubled"]
    assert doubled["n_one_class"] == 0
