"""Tests for ecglib.metrics.bootstrap: the vectorised bootstrap equals the scikit-learn loop on
the same resamples, one-class resamples are counted, stratified and cluster resampling."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ecglib.metrics.bootstrap import (
    auc_from_counts,
    auc_from_indices,
    auc_loop_sklearn,
    bootstrap_auc,
    bootstrap_vessel_table,
    cluster_counts,
    counts_to_indices,
    indices_to_counts,
    percentile_ci,
    resample_indices,
)
from ecglib.metrics.roc import OneClassError, delong_auc
from ecglib.schema import VESSELS, label_col, prob_col


def data(n=300, prevalence=0.2, decimals=2, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    y[:2] = [0, 1]
    s = np.round(y * 0.9 + rng.normal(size=n), decimals)  # rounding: many ties
    return y, s


@pytest.mark.parametrize("decimals", [0, 1, 3, 8])
def test_vectorised_equals_sklearn_loop_on_the_same_resamples(decimals):
    y, s = data(decimals=decimals)
    idx = resample_indices(len(y), 200, seed=11)
    fast = auc_from_indices(y, s, idx)
    loop = auc_loop_sklearn(y, s, idx)
    np.testing.assert_allclose(fast, loop, rtol=0, atol=1e-12)
    assert percentile_ci(fast) == pytest.approx(percentile_ci(loop), abs=1e-12)


def test_counts_path_equals_indices_path_and_chunking_is_invisible():
    y, s = data()
    idx = resample_indices(len(y), 300, seed=2)
    by_indices = auc_from_indices(y, s, idx)
    np.testing.assert_array_equal(by_indices, auc_from_counts(y, s, indices_to_counts(idx, len(y))))
    for chunk in (1, 7, 1000):
        np.testing.assert_array_equal(by_indices, auc_from_indices(y, s, idx, chunk=chunk))


def test_resamples_with_one_class_are_nan_in_the_same_places_as_the_loop():
    y, s = data(n=40, prevalence=0.0)
    y[:] = 0
    y[[3, 17]] = 1  # two positives: many resamples miss both
    idx = resample_indices(len(y), 300, seed=5)
    fast = auc_from_indices(y, s, idx)
    loop = auc_loop_sklearn(y, s, idx)
    expected_missing = ~np.isin(idx, [3, 17]).any(axis=1)
    np.testing.assert_array_equal(np.isnan(fast), expected_missing)
    np.testing.assert_array_equal(np.isnan(loop), expected_missing)
    np.testing.assert_allclose(fast[~expected_missing], loop[~expected_missing], atol=1e-12)
    assert expected_missing.sum() > 10


def test_one_class_resamples_are_counted_reported_and_warned():
    y, s = data(n=40, prevalence=0.0)
    y[:] = 0
    y[[3, 17]] = 1
    with pytest.warns(RuntimeWarning, match=r"score: \d+ of 1000 bootstrap resamples hold one"):
        res = bootstrap_auc(y, s, n_boot=1000, seed=3)
    assert res.n_one_class == int(np.isnan(res.aucs).sum()) > 0
    assert res.n_valid + res.n_one_class == res.n_boot == 1000
    valid = res.aucs[~np.isnan(res.aucs)]
    assert (res.ci_low, res.ci_high) == pytest.approx(tuple(np.percentile(valid, [2.5, 97.5])))


def test_stratified_resampling_keeps_class_counts_and_has_no_one_class_resamples():
    y, s = data(n=40, prevalence=0.0)
    y[:] = 0
    y[[3, 17]] = 1
    idx = resample_indices(len(y), 200, seed=1, strata=y)
    np.testing.assert_array_equal(y[idx].sum(axis=1), np.full(200, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no one-class warning
        res = bootstrap_auc(y, s, n_boot=500, seed=1, stratified=True)
    assert res.n_one_class == 0 and res.stratified


def test_seeded_and_reproducible():
    y, s = data()
    a = bootstrap_auc(y, s, n_boot=200, seed=42)
    b = bootstrap_auc(y, s, n_boot=200, seed=42)
    c = bootstrap_auc(y, s, n_boot=200, seed=43)
    np.testing.assert_array_equal(a.aucs, b.aucs)
    assert not np.array_equal(a.aucs, c.aucs)
    assert a.auc == pytest.approx(delong_auc(y, s).auc)
    with pytest.raises(ValueError, match="seed"):
        bootstrap_auc(y, s, seed=-1)


def test_bootstrap_ci_agrees_with_delong_on_a_large_sample():
    y, s = data(n=3000, decimals=8, seed=9)
    boot = bootstrap_auc(y, s, n_boot=1000, seed=0)
    dl = delong_auc(y, s, ci_method="plain")
    assert boot.ci_low == pytest.approx(dl.ci_low, abs=0.008)
    assert boot.ci_high == pytest.approx(dl.ci_high, abs=0.008)


def test_cluster_counts_resample_whole_groups():
    groups = np.repeat(np.arange(50), 3)[np.random.default_rng(0).permutation(150)]
    counts = cluster_counts(groups, 100, seed=0)
    assert counts.shape == (100, 150)
    for g in range(50):
        members = counts[:, groups == g]
        assert (members == members[:, :1]).all()  # all ECGs of a patient together
    assert (counts.sum(axis=1) % 3 == 0).all()
    y, s = data(n=150)
    res = bootstrap_auc(y, s, n_boot=300, seed=0, groups=groups)
    assert res.clustered and np.isfinite(res.ci_low)
    loop = auc_loop_sklearn(y, s, [counts_to_indices(c) for c in counts])
    np.testing.assert_allclose(auc_from_counts(y, s, counts), loop, atol=1e-12)


def test_one_class_input_and_bad_options_raise():
    y, s = data()
    with pytest.raises(OneClassError, match="RCA"):
        bootstrap_auc(np.zeros_like(y), s, name="RCA")
    with pytest.raises(ValueError, match="either stratified or clustered"):
        bootstrap_auc(y, s, stratified=True, groups=np.arange(len(y)))
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_auc(y, s, n_boot=0)
    with pytest.raises(ValueError, match="indices must lie"):
        auc_from_indices(y, s, np.full((2, len(y)), len(y)))


def vessel_predictions(n=500, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = {"patient_id": np.arange(n) // 2}
    for v, prev in zip(VESSELS, (0.15, 0.03, 0.25, 0.15)):
        y = (rng.random(n) < prev).astype(int)
        y[:2] = [0, 1]
        table[label_col(v)] = y
        table[prob_col(v)] = 1 / (1 + np.exp(-(y + rng.normal(size=n) - 2)))
    return pd.DataFrame(table)


def test_vessel_table_uses_the_same_resamples_for_every_vessel():
    preds = vessel_predictions()
    table = bootstrap_vessel_table(preds, n_boot=150, seed=7)
    assert list(table["vessel"]) == list(VESSELS)
    assert list(table.columns[:6]) == ["vessel", "n", "positives", "auc", "ci_low", "ci_high"]
    idx = resample_indices(len(preds), 150, seed=np.random.default_rng(7))
    for _, row in table.iterrows():
        v = row["vessel"]
        aucs = auc_loop_sklearn(preds[label_col(v)], preds[prob_col(v)], idx)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(percentile_ci(aucs), abs=1e-12)
        assert row["n_one_class"] == int(np.isnan(aucs).sum())
    strat = bootstrap_vessel_table(preds, n_boot=200, seed=7, stratified=True)
    assert (strat["n_one_class"] == 0).all() and strat["stratified"].all()
    clus = bootstrap_vessel_table(preds, n_boot=200, seed=7, group_col="patient_id")
    assert clus["clustered"].all()


def test_vessel_table_one_class_vessel_raises():
    preds = vessel_predictions()
    preds[label_col("LM")] = 0
    with pytest.raises(OneClassError, match="LM: .*0 positives among 500"):
        bootstrap_vessel_table(preds, n_boot=50)
