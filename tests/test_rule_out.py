"""ecglib.metrics.rule_out: the threshold against a brute-force search, a planted NPV, no
held-out label in a fold's threshold, and the resampled proportions against a loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecglib.metrics.resamples import loop_reference, patient_resamples
from ecglib.metrics.rule_out import (
    PERFORMANCE,
    RULE_IN_PERFORMANCE,
    crossfit_rule_in,
    crossfit_rule_out,
    npv_threshold,
    ppv_threshold,
    rule_in_performance,
    rule_out_performance,
    ruled_in,
    ruled_out,
)


def brute_force(y, p, target):
    best = -np.inf
    for t in np.unique(p):
        out = p <= t
        if (1 - y[out]).mean() >= target - 1e-12:
            best = max(best, t)
    return best


def test_the_threshold_is_the_largest_reaching_the_target_as_a_brute_force_search_finds():
    rng = np.random.default_rng(0)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(20, 200))
        p = np.round(rng.uniform(size=n), 2)  # ties
        y = (rng.uniform(size=n) < 0.1 + 0.5 * p).astype(int)
        for target in (0.8, 0.9, 0.95):
            assert npv_threshold(y, p, target) == brute_force(y, p, target)


def test_on_a_toy_the_npv_is_what_was_planted():
    # 100 low scores with 5 positives among them (at the very lowest scores, so no smaller
    # group reaches 95%), then 100 higher scores, all positive: the NPV of 95% is reached
    # exactly at the 100th score and nowhere above
    p = np.linspace(0, 1, 200)
    y = np.r_[np.ones(5), np.zeros(95), np.ones(100)].astype(int)
    t = npv_threshold(y, p, 0.95)
    assert t == p[99]
    out = ruled_out(p, t)
    assert out.sum() == 100
    assert 1 - y[out].mean() == pytest.approx(0.95)
    assert npv_threshold(y, p, 0.96) == -np.inf  # never reached: nobody ruled out
    assert not ruled_out(p, -np.inf).any()


def test_a_held_out_folds_threshold_ignores_its_own_labels():
    rng = np.random.default_rng(3)
    n = 300
    p = rng.uniform(size=n)
    y = (rng.uniform(size=n) < 0.05 + 0.4 * p).astype(int)
    folds = np.arange(n) % 3
    out, thresholds = crossfit_rule_out(y, p, folds, 0.95)
    for k in range(3):
        flipped = y.copy()
        flipped[folds == k] = 1 - flipped[folds == k]
        out_f, thresholds_f = crossfit_rule_out(flipped, p, folds, 0.95)
        assert thresholds_f[k] == thresholds[k]
        assert np.array_equal(out_f[folds == k], out[folds == k])
        # the other folds' thresholds did see the flipped labels
        assert any(thresholds_f[j] != thresholds[j] for j in range(3) if j != k)
    for k in range(3):
        rest = folds != k
        assert thresholds[k] == npv_threshold(y[rest], p[rest], 0.95)


def test_the_resampled_proportions_match_a_loop_over_materialised_resamples():
    rng = np.random.default_rng(4)
    patient = np.repeat(np.arange(80), 2)
    p = rng.uniform(size=160)
    y = (rng.uniform(size=160) < 0.1 + 0.5 * p).astype(int)
    out = p < 0.3
    resamples = patient_resamples(patient, 60, seed=1)
    w = resamples.weights(patient)
    result = rule_out_performance(y, out, w)
    table = pd.DataFrame({"y": y, "out": out})

    def prevalence_out(t):
        if not t["out"].any():
            raise ValueError("nobody ruled out")
        return t.loc[t["out"], "y"].mean()

    loop = loop_reference(prevalence_out, table, w)
    lo, hi = np.nanpercentile(loop, [2.5, 97.5])
    assert (result["prevalence_ruled_out_lo"], result["prevalence_ruled_out_hi"]) == (
        pytest.approx((lo, hi))
    )
    assert result["prevalence_ruled_out"] == pytest.approx(y[out].mean())
    assert result["prevalence_ruled_in"] == pytest.approx(y[~out].mean())
    assert result["share_ruled_out"] == pytest.approx(out.mean())
    assert result["missed"] == int(y[out].sum())
    assert result["missed_of_positives"] == pytest.approx(out[y == 1].mean())


# ---- rule-in ---------------------------------------------------------------------------------
def brute_force_in(y, p, target):
    best = np.inf
    for t in np.unique(p):
        ruled = p >= t
        if y[ruled].mean() >= target - 1e-12:
            best = min(best, t)
    return best


def test_the_rule_in_threshold_is_the_smallest_reaching_the_target_as_a_brute_force_finds():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(20, 200))
        p = np.round(rng.uniform(size=n), 2)  # ties
        y = (rng.uniform(size=n) < 0.1 + 0.5 * p).astype(int)
        for target in (0.4, 0.5, 0.6):
            assert ppv_threshold(y, p, target) == brute_force_in(y, p, target)


def test_on_a_toy_the_ppv_is_what_was_planted():
    # 100 low scores, all negative; then 100 higher scores with 50 positives, the 10 highest
    # negative (so no smaller top group reaches 50%): a PPV of 50% exactly at the 101st score
    p = np.linspace(0, 1, 200)
    y = np.r_[np.zeros(100), np.ones(50), np.zeros(50)].astype(int)
    t = ppv_threshold(y, p, 0.5)
    assert t == p[100]
    ruled = ruled_in(p, t)
    assert ruled.sum() == 100 and y[ruled].mean() == pytest.approx(0.5)
    assert ppv_threshold(y, p, 0.6) == np.inf  # never reached: nobody ruled in
    assert not ruled_in(p, np.inf).any()


def test_a_held_out_folds_rule_in_threshold_ignores_its_own_labels():
    rng = np.random.default_rng(3)
    n = 300
    p = rng.uniform(size=n)
    y = (rng.uniform(size=n) < 0.05 + 0.6 * p).astype(int)
    folds = np.arange(n) % 3
    ruled, thresholds = crossfit_rule_in(y, p, folds, 0.5)
    for k in range(3):
        flipped = y.copy()
        flipped[folds == k] = 1 - flipped[folds == k]
        ruled_f, thresholds_f = crossfit_rule_in(flipped, p, folds, 0.5)
        assert thresholds_f[k] == thresholds[k]
        assert np.array_equal(ruled_f[folds == k], ruled[folds == k])
        assert any(thresholds_f[j] != thresholds[j] for j in range(3) if j != k)
        rest = folds != k
        assert thresholds[k] == ppv_threshold(y[rest], p[rest], 0.5)


def test_rule_in_proportions_are_the_plain_ones_and_their_intervals_cover_them():
    rng = np.random.default_rng(5)
    patient = np.repeat(np.arange(100), 2)
    p = rng.uniform(size=200)
    y = (rng.uniform(size=200) < 0.1 + 0.6 * p).astype(int)
    ruled = p >= 0.7
    weights = patient_resamples(patient, 200, seed=2).weights(patient)
    r = rule_in_performance(y, ruled, weights)
    assert r["n_ruled_in"] == ruled.sum() and r["true_positives"] == y[ruled].sum()
    assert r["prevalence_ruled_in"] == pytest.approx(y[ruled].mean())
    assert r["prevalence_not_ruled_in"] == pytest.approx(y[~ruled].mean())
    assert r["positives_ruled_in"] == pytest.approx(ruled[y == 1].mean())
    assert r["share_ruled_in"] == pytest.approx(ruled.mean())
    for name in RULE_IN_PERFORMANCE:
        assert r[f"{name}_lo"] <= r[name] <= r[f"{name}_hi"]


def _protocol_rows(labels: dict, selected, weights) -> list[dict]:
    """Rows of an internal rule-out protocol table, one per vessel of ``labels`` (vessel ->
    labels), every vessel ruled out where ``selected``; one patient per examination."""
    return [
        {"population": "internal, pooled out-of-fold", "vessel": v, "threshold": "0.1",
         "patients": len(y), **rule_out_performance(y, selected, weights)}
        for v, y in labels.items()
    ]  # fmt: skip


def test_a_protocol_row_on_too_few_events_keeps_its_counts_and_says_why():
    from ecglib.chapters.added_value_rule import RuleIn, RuleOut, withhold_protocol

    rng = np.random.default_rng(3)
    weights = rng.poisson(1.0, size=(50, 40)).astype(float)
    many = np.r_[np.ones(12), np.zeros(28)]
    one = np.r_[np.ones(1), np.zeros(39)]
    selected = np.r_[np.zeros(20, bool), np.ones(20, bool)]
    rows = _protocol_rows({"RCA": many, "LM": one}, selected, weights)
    table = withhold_protocol(pd.DataFrame(rows), 5, PERFORMANCE)
    assert table["withheld"].tolist() == ["", "too few events (1)"]
    assert table.loc[1, ["n_ruled_out", "missed"]].tolist() == [20, 0]  # counts stay
    assert table.loc[1, [f"{n}{e}" for n in PERFORMANCE for e in ("", "_lo", "_hi")]].isna().all()
    rule = RuleOut(target=0.95, table=table, n_boot=50)
    shown = rule.display()
    lm = shown.loc[("internal, pooled out-of-fold", "LM")]
    assert lm["prevalence ruled out, % [95% CI]"] == "too few events (1)"
    assert lm["ruled out, n"] == "20"
    assert rule.display().loc[("internal, pooled out-of-fold", "RCA"), "ruled out, n"] == "20"
    text = rule.sentence(table)
    assert "LM: not reported (too few events (1))" in text and "RCA: 20 of 40" in text
    # the rule-in the same way
    rows_in = [
        {**r, **rule_in_performance(y, selected, weights)} for r, y in zip(rows, (many, one))
    ]
    table_in = withhold_protocol(pd.DataFrame(rows_in), 5, RULE_IN_PERFORMANCE)
    ruled = RuleIn(target=0.5, table=table_in, n_boot=50)
    assert "LM: not reported (too few events (1))" in ruled.sentence(table_in)


def test_a_prevalence_already_within_the_target_is_said():
    from ecglib.chapters.added_value_rule import RuleOut, withhold_protocol

    rng = np.random.default_rng(4)
    weights = rng.poisson(1.0, size=(50, 200)).astype(float)
    rare = np.r_[np.ones(6), np.zeros(194)]  # 3% prevalence, under the 5% a 95% NPV allows
    common = np.r_[np.ones(60), np.zeros(140)]
    selected = np.r_[np.zeros(50, bool), np.ones(150, bool)]
    rows = _protocol_rows({"LM": rare, "RCA": common}, selected, weights)
    table = withhold_protocol(pd.DataFrame(rows), 5, PERFORMANCE)
    text = RuleOut(target=0.95, table=table, n_boot=50).sentence(table)
    lm, rca = text.split("; RCA")
    assert "the prevalence, 3.0%, is itself within the 5% the target allows" in lm
    assert "prevalence, " not in rca
