"""Tests for ecglib.metrics.clustered_roc: clustered DeLong (Obuchowski 1997).

Pinned four ways: a brute-force implementation written here from Obuchowski's definitions
(explicit loops over pairs of clusters, the psi kernel evaluated pair by pair), the exact
reduction to DeLong (:mod:`ecglib.metrics.roc`) with one ECG per patient, an exact identity for
duplicated ECGs, and a coverage simulation of clustered data.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ecglib.metrics.clustered_roc import (
    CLUSTERED_AUC_TABLE_COLUMNS,
    clustered_auc_table,
    clustered_delong,
    clustered_delong_covariance,
    clustered_delong_test,
    clustered_delong_two_set_test,
    clustered_delong_two_sets,
)
from ecglib.metrics.roc import (
    AUC_TABLE_COLUMNS,
    AUCComparison,
    OneClassError,
    auc_ci,
    compare_independent_aucs,
    delong_covariance,
    delong_test,
    delong_variance,
    vessel_auc_table,
)
from ecglib.schema import VESSELS, label_col, prob_col


# ------------------------------------------------------------------------------------------
# brute force from the definitions
# ------------------------------------------------------------------------------------------
def _psi(x: float, z: float) -> float:
    return 1.0 if x > z else (0.5 if x == z else 0.0)


def brute_force(y, scores, clusters) -> tuple[float, float]:
    """AUC (or AUC difference) and its Obuchowski variance, from the definitions.

    ``scores`` is one score, or a pair ``(a, b)`` for the difference ``A_a - A_b``, whose
    kernel is ``psi_a - psi_b``. ``P[i][j]`` sums the kernel over the positives of cluster
    ``i`` and the negatives of cluster ``j``; everything else is explicit loops.
    """
    pair = isinstance(scores, tuple)
    ids = list(dict.fromkeys(clusters))
    rows = [[r for r in range(len(y)) if clusters[r] == c] for c in ids]
    pos = [[r for r in rr if y[r] == 1] for rr in rows]
    neg = [[r for r in rr if y[r] == 0] for rr in rows]
    n_cl = len(ids)
    big_m, big_n = sum(map(len, pos)), sum(map(len, neg))

    def kernel(r: int, q: int) -> float:
        if pair:
            a, b = scores
            return _psi(a[r], a[q]) - _psi(b[r], b[q])
        return _psi(scores[r], scores[q])

    p = [
        [sum(kernel(r, q) for r in pos[i] for q in neg[j]) for j in range(n_cl)]
        for i in range(n_cl)
    ]
    auc = sum(sum(row) for row in p) / (big_m * big_n)
    v10 = [sum(p[i][j] for j in range(n_cl)) / big_n for i in range(n_cl)]  # V10(X_i.)
    v01 = [sum(p[i][j] for i in range(n_cl)) / big_m for j in range(n_cl)]  # V01(Y_j.)
    i10 = sum(1 for i in range(n_cl) if pos[i])
    i01 = sum(1 for i in range(n_cl) if neg[i])
    s10 = s01 = s11 = 0.0
    for i in range(n_cl):
        dx = v10[i] - len(pos[i]) * auc
        dz = v01[i] - len(neg[i]) * auc
        s10 += dx * dx
        s01 += dz * dz
        s11 += dx * dz
    if min(i10, i01) < 2:
        return auc, math.nan
    s10 *= i10 / ((i10 - 1) * big_m)
    s01 *= i01 / ((i01 - 1) * big_n)
    s11 *= n_cl / (n_cl - 1)
    return auc, s10 / big_m + s01 / big_n + 2 * s11 / (big_m * big_n)


def small_case(seed: int = 3):
    """14 patients with 1-4 ECGs, mixed-label patients (the cross term is non-zero), ties."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, 14)
    cl = np.repeat([f"pt{i:02d}" for i in range(14)], sizes)
    y = (rng.random(len(cl)) < 0.4).astype(int)
    y[:2] = [1, 0]  # the first patient holds both classes
    a = np.round(y + rng.normal(size=len(cl)), 1)  # rounded: ties
    b = np.round(0.5 * y + rng.normal(size=len(cl)), 1)
    return y, a, b, cl


# ------------------------------------------------------------------------------------------
# exactness
# ------------------------------------------------------------------------------------------
def test_single_auc_matches_brute_force():
    y, a, b, cl = small_case()
    assert len(set(cl[(y == 1)]) & set(cl[(y == 0)])) >= 2  # clusters with both classes
    for s in (a, b):
        auc, var = brute_force(y, s, cl)
        res = clustered_delong(y, s, cl)
        assert res.auc[0] == pytest.approx(auc, abs=1e-14)
        assert res.var[0] == pytest.approx(var, rel=1e-12)
        assert res.n_clusters == 14
        assert tuple(res.counts[:, 0]) == (y.sum(), len(y) - y.sum())
        assert tuple(res.clusters[:, 0]) == (len(set(cl[y == 1])), len(set(cl[y == 0])))


def test_paired_difference_matches_brute_force():
    y, a, b, cl = small_case()
    diff, var = brute_force(y, (a, b), cl)
    test = clustered_delong_test(y, a, b, cl)
    assert isinstance(test, AUCComparison) and test.paired and test.distribution == "normal"
    assert test.diff == pytest.approx(diff, abs=1e-14)
    assert test.se == pytest.approx(math.sqrt(var), rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert test.statistic == pytest.approx(diff / math.sqrt(var), rel=1e-12)
    assert test.p_value == pytest.approx(2 * stats.norm.sf(abs(diff) / math.sqrt(var)), rel=1e-10)
    assert (test.ci_low, test.ci_high) == pytest.approx(
        (diff - z * math.sqrt(var), diff + z * math.sqrt(var)), rel=1e-12
    )
    auc, cov = clustered_delong_covariance(y, np.column_stack([a, b]), cl)
    assert (auc[0], auc[1]) == (test.auc_a, test.auc_b)
    assert cov[0, 1] == cov[1, 0]
    assert cov[0, 0] == pytest.approx(brute_force(y, a, cl)[1], rel=1e-12)
    assert cov[1, 1] == pytest.approx(brute_force(y, b, cl)[1], rel=1e-12)


def _one_per_patient(seed=0, n=300, k=4):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < [0.12, 0.05, 0.25, 0.4][:k]).astype(int)
    s = np.round(y + rng.normal(size=(n, k)), 1)  # ties
    clusters = rng.permutation(n).astype(str)  # arbitrary ids, one row each
    return y, s, clusters


def test_reduces_to_delong_with_one_ecg_per_patient():
    y, s, cl = _one_per_patient()
    res = clustered_delong(y, s, cl)
    auc, var, counts = delong_variance(y, s)
    np.testing.assert_array_equal(res.auc, auc)
    np.testing.assert_allclose(res.var, var, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(res.counts, counts)
    np.testing.assert_array_equal(res.clusters, counts)  # one cluster per ECG


def test_paired_covariance_and_test_reduce_to_delong_with_one_ecg_per_patient():
    y, s, cl = _one_per_patient(seed=1)
    y = y[:, 0]
    scores = np.column_stack([s[:, 0], y + np.random.default_rng(2).normal(size=len(y)), s[:, 2]])
    auc_c, cov_c = clustered_delong_covariance(y, scores, cl)
    auc_d, cov_d = delong_covariance(y, scores)
    np.testing.assert_array_equal(auc_c, auc_d)
    np.testing.assert_allclose(cov_c, cov_d, rtol=1e-12, atol=1e-12)
    clustered = clustered_delong_test(y, scores[:, 0], scores[:, 1], cl).as_dict()
    plain = delong_test(y, scores[:, 0], scores[:, 1]).as_dict()
    assert clustered.keys() == plain.keys()
    for key, value in plain.items():
        if isinstance(value, (bool, str)):
            assert clustered[key] == value, key
        else:
            assert clustered[key] == pytest.approx(value, rel=1e-10, abs=1e-12, nan_ok=True), key


def test_copies_of_each_ecg_give_the_patient_level_delong_variance():
    """c identical ECGs per patient: Obuchowski's variance is the patient-level DeLong's."""
    y, s, _ = _one_per_patient(seed=4, n=120)
    c = 5
    patient = np.repeat(np.arange(120), c)
    res = clustered_delong(y[patient], s[patient], patient)
    auc, var, _ = delong_variance(y, s)
    np.testing.assert_allclose(res.auc, auc, rtol=0, atol=1e-14)
    np.testing.assert_allclose(res.var, var, rtol=1e-12)
    ecg_level = delong_variance(y[patient], s[patient])[1]
    assert np.all(ecg_level < var / 3)  # treating the copies as independent: far too small


def test_order_and_labels_of_clusters_do_not_matter():
    y, a, _, cl = small_case(seed=5)
    ref = clustered_delong(y, a, cl)
    perm = np.random.default_rng(0).permutation(len(y))
    codes = pd.factorize(cl)[0] * 10 + 7
    for yy, ss, cc in ((y[perm], a[perm], cl[perm]), (y, a, codes), (y, a, list(cl))):
        res = clustered_delong(yy, ss, cc)
        assert res.auc[0] == pytest.approx(ref.auc[0], abs=1e-14)
        assert res.var[0] == pytest.approx(ref.var[0], rel=1e-12)


def test_columns_each_with_own_labels_match_single_column_calls():
    y, a, b, cl = small_case(seed=6)
    y2 = np.column_stack([y, 1 - y, y])
    s2 = np.column_stack([a, b, -a])
    res = clustered_delong(y2, s2, cl)
    for k in range(3):
        one = clustered_delong(y2[:, k], s2[:, k], cl)
        assert res.auc[k] == pytest.approx(one.auc[0], abs=1e-14)
        assert res.var[k] == pytest.approx(one.var[0], rel=1e-12)
    assert res.auc[2] == pytest.approx(1 - res.auc[0], abs=1e-14)
    assert res.var[2] == pytest.approx(res.var[0], rel=1e-12)


def test_identical_scores_give_no_difference():
    y, a, _, cl = small_case()
    t = clustered_delong_test(y, a, a.copy(), cl)
    assert (t.diff, t.se, t.statistic, t.p_value) == (0.0, 0.0, 0.0, 1.0)


# ------------------------------------------------------------------------------------------
# coverage on clustered data
# ------------------------------------------------------------------------------------------
def simulate(seed: int = 0, patients: int = 300, replicates: int = 400):
    """The clustered-AUC issue's simulation, replicates as columns: 300 patients with 1-8 ECGs
    (drawn once), a patient-level label (prevalence 20%) and score ``mu y + b + e`` with
    ``Var(b) = 0.9``, ``Var(e) = 0.1`` (within-patient correlation 0.9). Every positive-
    negative pair is from two patients, so the true AUC is ``Phi(mu / sqrt(2)) = 0.75``."""
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(patients), rng.integers(1, 9, patients))
    y = (rng.random((patients, replicates)) < 0.2)[cl].astype(float)
    mu = math.sqrt(2) * stats.norm.ppf(0.75)
    b = rng.normal(size=(patients, replicates))[cl]
    s = mu * y + math.sqrt(0.9) * b + math.sqrt(0.1) * rng.normal(size=y.shape)
    return y, s, cl, 0.75


def test_clustered_interval_covers_the_true_auc_where_delong_does_not():
    t0 = time.perf_counter()
    y, s, cl, truth = simulate()
    res = clustered_delong(y, s, cl)
    auc, var, _ = delong_variance(y, s)
    elapsed = time.perf_counter() - t0

    def coverage(a, v, method):
        low, high = auc_ci(a, v, 0.95, method)
        return float(np.mean((low <= truth) & (truth <= high)))

    clustered_logit = coverage(res.auc, res.var, "logit")
    clustered_plain = coverage(res.auc, res.var, "plain")
    ecg_level = coverage(auc, var, "logit")
    sd = res.auc.std(ddof=1)
    print(
        f"coverage of 400: clustered logit {clustered_logit:.3f}, clustered plain "
        f"{clustered_plain:.3f}, ECG-level DeLong {ecg_level:.3f}; SD of AUC {sd:.4f}, mean "
        f"clustered SE {np.sqrt(res.var).mean():.4f}, mean DeLong SE {np.sqrt(var).mean():.4f}; "
        f"{elapsed:.2f} s"
    )
    assert res.auc.mean() == pytest.approx(truth, abs=0.01)
    assert 0.90 <= clustered_logit <= 0.98
    assert 0.90 <= clustered_plain <= 0.98
    assert ecg_level < 0.80
    assert np.sqrt(res.var).mean() == pytest.approx(sd, rel=0.15)  # the SE tracks the true SD
    assert np.sqrt(var).mean() < 0.6 * sd  # the ECG-level SE does not
    assert elapsed < 10


# ------------------------------------------------------------------------------------------
# the per-vessel table
# ------------------------------------------------------------------------------------------
def predictions(n_patients: int = 250, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n_patients), rng.integers(1, 4, n_patients))
    n = len(patient)
    prevalence = {"RCA": 0.15, "LM": 0.05, "LAD": 0.3, "LCX": 0.15}
    table = {"patient": patient}
    for v in VESSELS:
        y = (rng.random(n_patients) < prevalence[v])[patient].astype(int)
        table[label_col(v)] = y
        b = rng.normal(size=n_patients)[patient]
        table[prob_col(v)] = 1 / (1 + np.exp(-(y + b + 0.3 * rng.normal(size=n) - 2)))
    return pd.DataFrame(table, index=np.arange(n)[::-1] * 7)


def test_table_has_the_delong_columns_plus_clusters_and_the_same_aucs():
    preds = predictions()
    table = clustered_auc_table(preds)
    plain = vessel_auc_table(preds)
    assert list(table.columns) == [*AUC_TABLE_COLUMNS, "clusters"]
    assert list(table.columns) == list(CLUSTERED_AUC_TABLE_COLUMNS)
    assert list(table["vessel"]) == list(VESSELS)
    assert (table["clusters"] == 250).all() and (table["reason"] == "").all()
    for col in ("n", "positives", "negatives", "auc"):
        np.testing.assert_allclose(table[col], plain[col], rtol=0, atol=1e-14)
    assert (table["se"] > plain["se"]).all()  # correlated ECGs: wider than DeLong's
    for _, row in table.iterrows():
        v = row["vessel"]
        res = clustered_delong(preds[label_col(v)], preds[prob_col(v)], preds["patient"])
        assert row["se"] == pytest.approx(math.sqrt(res.var[0]), rel=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(auc_ci(res.auc[0], res.var[0]))
    low, high = auc_ci(table["auc"], table["se"] ** 2, 0.9, "plain")
    other = clustered_auc_table(preds, level=0.9, ci_method="plain")
    np.testing.assert_allclose(other["ci_low"], low)
    np.testing.assert_allclose(other["ci_high"], high)


def test_table_equals_vessel_auc_table_with_one_ecg_per_patient():
    preds = predictions().drop(columns="patient")
    preds["pid"] = np.arange(len(preds))[::-1]
    table = clustered_auc_table(preds, cluster_col="pid")
    plain = vessel_auc_table(preds)
    pd.testing.assert_frame_equal(
        table[list(AUC_TABLE_COLUMNS)], plain, check_exact=False, rtol=1e-12, atol=1e-12
    )
    assert (table["clusters"] == len(preds)).all()


# ------------------------------------------------------------------------------------------
# edge cases
# ------------------------------------------------------------------------------------------
def test_one_class_raises_naming_the_column():
    y, a, _, cl = small_case()
    with pytest.raises(OneClassError, match="LM: .*no positives"):
        clustered_delong(np.zeros_like(y), a, cl, names=["LM"])
    preds = predictions()
    preds[label_col("LM")] = 1
    with pytest.raises(OneClassError, match="LM: .*no negatives"):
        clustered_auc_table(preds, one_class="raise")
    table = clustered_auc_table(preds).set_index("vessel")
    assert math.isnan(table.at["LM", "auc"]) and "no negatives" in table.at["LM", "reason"]
    assert np.isfinite(table.at["RCA", "se"])
    with pytest.raises(ValueError, match="one_class"):
        clustered_auc_table(preds, one_class="drop")


def test_variance_undefined_when_a_class_lies_in_one_cluster():
    preds = predictions()
    first = preds["patient"] == preds["patient"].iloc[0]
    assert first.sum() >= 2
    preds[label_col("LM")] = first.astype(int)  # every positive ECG from one patient
    preds[label_col("LCX")] = 0
    preds.loc[preds.index[5], label_col("LCX")] = 1  # a single positive ECG
    table = clustered_auc_table(preds).set_index("vessel")
    assert np.isfinite(table.at["LM", "auc"]) and math.isnan(table.at["LM", "se"])
    assert math.isnan(table.at["LM", "ci_low"])
    assert table.at["LM", "reason"] == (
        f"all {first.sum()} positives in one patient: clustered DeLong variance undefined"
    )
    assert np.isfinite(table.at["LCX", "auc"]) and math.isnan(table.at["LCX", "se"])
    assert "single positive" in table.at["LCX", "reason"]
    assert table.at["RCA", "reason"] == ""


def test_single_cluster_gives_auc_without_variance():
    y, a, b, _ = small_case()
    one = np.zeros(len(y), dtype=int)
    res = clustered_delong(y, a, one)
    assert res.n_clusters == 1 and tuple(res.clusters[:, 0]) == (1, 1)
    assert res.auc[0] == pytest.approx(brute_force(y, a, list(one))[0])
    assert math.isnan(res.var[0])
    t = clustered_delong_test(y, a, b, one)
    assert np.isfinite(t.diff) and math.isnan(t.se) and math.isnan(t.p_value)
    preds = predictions(n_patients=20).assign(patient="the only one")
    row = clustered_auc_table(preds, ["RCA"]).iloc[0]
    assert row["clusters"] == 1 and math.isnan(row["se"]) and "in one patient" in row["reason"]


def test_complete_separation_flags_a_zero_variance_and_empty_table():
    preds = predictions()
    preds[prob_col("RCA")] = preds[label_col("RCA")].astype(float)
    table = clustered_auc_table(preds).set_index("vessel")
    assert table.at["RCA", "auc"] == 1.0 and table.at["RCA", "se"] == 0.0
    assert "variance 0" in table.at["RCA", "reason"]
    empty = clustered_auc_table(preds.iloc[:0])
    assert empty["reason"].eq("no predictions").all() and (empty["clusters"] == 0).all()


def test_bad_inputs_raise_naming_the_column():
    preds = predictions()
    with pytest.raises(KeyError, match="'patient'"):
        clustered_auc_table(preds.drop(columns="patient"))
    with pytest.raises(KeyError, match="p_LM"):
        clustered_auc_table(preds.drop(columns=prob_col("LM")))
    bad = preds.astype({"patient": float})
    bad.loc[bad.index[3], "patient"] = np.nan
    with pytest.raises(ValueError, match="patient must name a cluster .* position 3"):
        clustered_auc_table(bad)
    bad = preds.copy()
    bad[prob_col("LAD")] = bad[prob_col("LAD")].where(bad.index != bad.index[5])
    with pytest.raises(ValueError, match="score of LAD must be finite; position 5"):
        clustered_auc_table(bad)
    bad = preds.copy()
    bad[label_col("LCX")] = bad[label_col("LCX")].replace(1, 2)
    with pytest.raises(ValueError, match="y of LCX must be 0/1"):
        clustered_auc_table(bad)
    y, a, b, cl = small_case()
    with pytest.raises(ValueError, match="clusters has 3 values"):
        clustered_delong(y, a, cl[:3])
    with pytest.raises(ValueError, match="patient_id has 3 values"):
        clustered_delong_test(y, a, b, cl[:3], cluster_name="patient_id")
    with pytest.raises(ValueError, match="1-D"):
        clustered_delong_covariance(np.column_stack([y, y]), np.column_stack([a, b]), cl)
    with pytest.raises(ValueError, match="equal length"):
        clustered_delong_test(y, a, b[:-1], cl)
    with pytest.raises(ValueError, match="level"):
        clustered_delong_test(y, a, b, cl, level=95)


# ------------------------------------------------------------------------------------------
# two AUCs on different rows sharing patients (the subgroup comparison)
# ------------------------------------------------------------------------------------------
def brute_force_two_sets(y_a, s_a, cl_a, y_b, s_b, cl_b) -> float:
    """The clustered covariance of the AUCs of two row sets, from the definitions: each set's
    placements by explicit loops over its own positive-negative pairs, summed per patient and
    centred, then an explicit loop over every patient of either set, each product weighted by
    c = |S|/(|S|-1) for S the union of the patients that hold the two classes involved."""

    def parts(y, s, cl):
        pos = [r for r in range(len(y)) if y[r] == 1]
        neg = [r for r in range(len(y)) if y[r] == 0]
        auc = sum(_psi(s[r], s[q]) for r in pos for q in neg) / (len(pos) * len(neg))
        x, z = {}, {}
        for r in pos:
            v10 = sum(_psi(s[r], s[q]) for q in neg) / len(neg)
            x[cl[r]] = x.get(cl[r], 0.0) + v10 - auc
        for q in neg:
            v01 = sum(_psi(s[r], s[q]) for r in pos) / len(pos)
            z[cl[q]] = z.get(cl[q], 0.0) + v01 - auc
        return x, z, len(pos), len(neg)

    xa, za, ma, na = parts(y_a, s_a, cl_a)
    xb, zb, mb, nb = parts(y_b, s_b, cl_b)

    def c(s: set, t: set) -> float:
        k = len(s | t)
        return k / (k - 1)

    total = 0.0
    for i in set(cl_a) | set(cl_b):
        total += c(set(xa), set(xb)) * xa.get(i, 0) * xb.get(i, 0) / (ma * mb)
        total += c(set(za), set(zb)) * za.get(i, 0) * zb.get(i, 0) / (na * nb)
        total += c(set(xa), set(zb)) * xa.get(i, 0) * zb.get(i, 0) / (ma * nb)
        total += c(set(za), set(xb)) * za.get(i, 0) * xb.get(i, 0) / (na * mb)
    return total


def two_subsets(seed: int = 3):
    """The small case split into two disjoint row sets so that several patients have rows in
    both (as an ECG at 64 and one at 66 years), some patients in one set only."""
    y, a, _, cl = small_case(seed)
    rng = np.random.default_rng(seed + 1)
    in_a = rng.random(len(y)) < 0.5
    in_a[:2] = [True, False]  # patient 0: a positive in a, a negative in b
    return (y[in_a], a[in_a], cl[in_a]), (y[~in_a], a[~in_a], cl[~in_a])


def test_two_set_covariance_matches_brute_force_and_each_sets_variance():
    set_a, set_b = two_subsets()
    shared = set(set_a[2]) & set(set_b[2])
    assert 3 <= len(shared) < len(set(set_a[2]) | set(set_b[2]))  # shared and unshared patients
    res = clustered_delong_two_sets(*set_a, *set_b)
    assert res.cov[0] == pytest.approx(brute_force_two_sets(*set_a, *set_b), rel=1e-12)
    assert res.cov[0] != 0.0
    assert res.shared == len(shared)
    assert tuple(res.clusters) == (len(set(set_a[2])), len(set(set_b[2])))
    for k, s in enumerate((set_a, set_b)):
        auc, var = brute_force(*s)
        assert res.auc[k, 0] == pytest.approx(auc, abs=1e-14)
        assert res.var[k, 0] == pytest.approx(var, rel=1e-12)
        # the variance is the covariance of a set with itself
        assert brute_force_two_sets(*s, *s) == pytest.approx(var, rel=1e-12)
    test = clustered_delong_two_set_test(*set_a, *set_b)
    var_diff = res.var[0, 0] + res.var[1, 0] - 2 * res.cov[0]
    assert test.paired and test.diff == pytest.approx(res.auc[0, 0] - res.auc[1, 0], abs=1e-15)
    assert test.se == pytest.approx(math.sqrt(var_diff), rel=1e-12)
    assert test.p_value == pytest.approx(
        2 * stats.norm.sf(abs(test.diff) / math.sqrt(var_diff)), rel=1e-10
    )


def test_two_sets_of_the_same_rows_give_the_paired_covariance():
    """Same rows, same labels, two scores: the paired clustered covariance; same score: the
    clustered variance (the formula generalises both)."""
    y, a, b, cl = small_case()
    res = clustered_delong_two_sets(y, a, cl, y, b, cl)
    _, cov = clustered_delong_covariance(y, np.column_stack([a, b]), cl)
    assert res.cov[0] == pytest.approx(cov[0, 1], rel=1e-12)
    assert (res.var[0, 0], res.var[1, 0]) == pytest.approx((cov[0, 0], cov[1, 1]), rel=1e-12)
    assert clustered_delong_two_sets(y, a, cl, y, a, cl).cov[0] == pytest.approx(
        clustered_delong(y, a, cl).var[0], rel=1e-12
    )
    assert res.shared == 14


def test_two_sets_without_a_shared_patient_reduce_to_the_independent_test():
    y, a, _, cl = small_case()
    in_a = np.isin(cl, [f"pt{i:02d}" for i in range(0, 14, 2)])  # every other patient
    set_a, set_b = (y[in_a], a[in_a], cl[in_a]), (y[~in_a], a[~in_a], cl[~in_a])
    res = clustered_delong_two_sets(*set_a, *set_b)
    assert res.shared == 0 and res.cov[0] == 0.0 and np.isfinite(res.var).all()
    test = clustered_delong_two_set_test(*set_a, *set_b)
    va, vb = clustered_delong(*set_a).var[0], clustered_delong(*set_b).var[0]
    assert (res.var[0, 0], res.var[1, 0]) == pytest.approx((va, vb), rel=1e-12)
    independent = compare_independent_aucs(
        res.auc[0, 0], res.var[0, 0], res.auc[1, 0], res.var[1, 0]
    )
    assert not test.paired and math.isnan(test.df) and math.isnan(independent.df)
    assert {k: v for k, v in test.as_dict().items() if k != "df"} == {
        k: v for k, v in independent.as_dict().items() if k != "df"
    }


def test_two_set_covariance_is_positive_semi_definite_and_column_wise():
    """Random splits, shared patients and ties: V_a + V_b - 2 C >= 0 (the docstring's Schur
    argument), and k columns at once equal k single-column calls."""
    rng = np.random.default_rng(11)
    finite = 0
    for seed in range(40):
        r = np.random.default_rng(seed)
        n = int(r.integers(12, 60))
        cl = r.integers(0, max(3, n // 3), n)
        y = (r.random((n, 3)) < 0.4).astype(int)
        y[:2] = [[1, 1, 1], [0, 0, 0]]
        y[2:4] = [[1, 1, 1], [0, 0, 0]]
        s = np.round(y * r.normal(size=(n, 3)) + r.normal(size=(n, 3)), 1)
        g = rng.random(n) < 0.5
        g[[0, 1]], g[[2, 3]] = True, False
        res = clustered_delong_two_sets(y[g], s[g], cl[g], y[~g], s[~g], cl[~g])
        ok = np.isfinite(res.cov)
        finite += int(ok.sum())
        assert np.all((res.var[0] + res.var[1] - 2 * res.cov)[ok] >= -1e-15)
        assert np.all(res.cov[ok] ** 2 <= res.var[0, ok] * res.var[1, ok] * (1 + 1e-12))
        for j in range(3):
            one = clustered_delong_two_sets(y[g, j], s[g, j], cl[g], y[~g, j], s[~g, j], cl[~g])
            np.testing.assert_allclose(one.cov[0], res.cov[j], rtol=1e-12, atol=1e-18)
            np.testing.assert_allclose(one.var[:, 0], res.var[:, j], rtol=1e-12)
    assert finite > 60  # of 120 columns


def test_two_set_test_is_valid_on_clustered_data_where_the_independent_test_is_not():
    """The issue's clustered simulation (patient-level labels, within-patient correlation 0.9),
    each ECG in subgroup a or b at random, so most patients are in both and the two AUCs are
    equal by design: the clustered covariance tracks the covariance of the 400 replicates, the
    SE of the difference its SD, and the z-test rejects at about the nominal 5%; the
    independent-samples test (covariance ignored) overstates the SE and never rejects."""
    y, s, cl, _ = simulate(seed=5)
    g = np.random.default_rng(5).random(len(cl)) < 0.5
    res = clustered_delong_two_sets(y[g], s[g], cl[g], y[~g], s[~g], cl[~g])
    diff = res.auc[0] - res.auc[1]
    se = np.sqrt(res.var[0] + res.var[1] - 2 * res.cov)
    se_independent = np.sqrt(res.var[0] + res.var[1])
    print(
        f"shared {res.shared} of {len(set(cl))} patients; covariance: replicates "
        f"{np.cov(res.auc)[0, 1]:.2e}, mean estimate {res.cov.mean():.2e}; SD of the difference "
        f"{diff.std(ddof=1):.4f}, mean SE {se.mean():.4f} (independent {se_independent.mean():.4f})"
    )
    assert res.shared > 0.6 * len(set(cl))
    assert res.cov.mean() == pytest.approx(np.cov(res.auc)[0, 1], rel=0.25)
    assert se.mean() == pytest.approx(diff.std(ddof=1), rel=0.15)
    assert se_independent.mean() > 1.4 * diff.std(ddof=1)
    assert 0.02 <= np.mean(np.abs(diff / se) > stats.norm.ppf(0.975)) <= 0.09
    assert np.mean(np.abs(diff / se_independent) > stats.norm.ppf(0.975)) < 0.01


def test_two_set_inputs_are_checked():
    set_a, set_b = two_subsets()
    with pytest.raises(ValueError, match=r"patient \(set b\) must name a cluster"):
        clustered_delong_two_sets(
            *set_a,
            set_b[0],
            set_b[1],
            np.where(np.arange(len(set_b[0])) == 1, None, set_b[2]),
            cluster_name="patient",
        )
    with pytest.raises(OneClassError, match=r"RCA \(set b\)"):
        clustered_delong_two_sets(
            *set_a, np.zeros_like(set_b[0]), set_b[1], set_b[2], names=["RCA"]
        )
    with pytest.raises(ValueError, match="score_a must be 1-D"):
        clustered_delong_two_set_test(set_a[0], np.column_stack([set_a[1]] * 2), set_a[2], *set_b)
