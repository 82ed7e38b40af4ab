"""ecglib.metrics.macro_contrast: the paired clustered difference of two macro-AUCs."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from ecglib import schema
from ecglib.metrics.auc_contrasts import model_comparison_table
from ecglib.metrics.macro_contrast import clustered_macro_difference


def _toy(n_patients: int = 150, seed: int = 0):
    """Patients with one to three ECGs, correlated vessel labels, two models (b noisier, its
    noise shared by the vessels, so the vessels' differences are correlated)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, n_patients)
    patient = np.repeat(np.arange(n_patients), sizes)
    n = len(patient)
    risk = rng.normal(size=n_patients)[patient]  # shared by the vessels and the patient's ECGs
    table = pd.DataFrame({"patient": patient})
    a, b = pd.DataFrame(index=table.index), pd.DataFrame(index=table.index)
    shared_noise = rng.normal(scale=1.5, size=n)  # b's error is the same for every vessel
    for v in schema.VESSELS:
        latent = risk + rng.normal(size=n)
        table[schema.label_col(v)] = (latent > 0.6).astype(int)
        a[schema.prob_col(v)] = latent + rng.normal(scale=0.8, size=n)
        b[schema.prob_col(v)] = latent + shared_noise + rng.normal(scale=0.5, size=n)
    return table, a, b


def test_one_vessel_is_the_per_vessel_paired_test():
    table, a, b = _toy()
    got = clustered_macro_difference(table, a, b, ["LAD"])
    want = model_comparison_table(table, {"a": a, "b": b}, ["LAD"], reference="a")
    row = want[want["model"] == "b"].iloc[0]
    assert got["diff"] == pytest.approx(row["diff"], abs=1e-12)
    assert got["diff_se"] == pytest.approx(row["diff_se"], rel=1e-10)
    assert got["p_value"] == pytest.approx(row["p_value"], rel=1e-8)
    assert got["auc_a"] == pytest.approx(roc_auc_score(table["y_LAD"], a["p_LAD"]), abs=1e-12)


def test_a_vessel_copied_twice_has_the_one_vessels_variance():
    # two identical vessels: Cov(D_1, D_2) = Var(D_1), so the mean has the same variance
    table, a, b = _toy(seed=1)
    for frame, col in ((table, "y_"), (a, "p_"), (b, "p_")):
        frame[f"{col}RCA"] = frame[f"{col}LAD"]
    one = clustered_macro_difference(table, a, b, ["LAD"])
    two = clustered_macro_difference(table, a, b, ["RCA", "LAD"])
    assert two["diff"] == pytest.approx(one["diff"], abs=1e-12)
    assert two["diff_se"] == pytest.approx(one["diff_se"], rel=1e-10)


def test_identical_models_differ_by_zero_with_p_one():
    table, a, _ = _toy(seed=2)
    out = clustered_macro_difference(table, a, a.copy(), list(schema.VESSELS))
    assert out["diff"] == 0.0 and out["diff_se"] == pytest.approx(0.0, abs=1e-12)
    assert out["p_value"] == 1.0


def _auc(y, s):
    """Mann-Whitney AUC from ranks (roc_auc_score is ten times slower in this loop)."""
    r = rankdata(s)
    m = y.sum()
    return (r[y == 1].sum() - m * (m + 1) / 2) / (m * (len(y) - m))


def test_the_se_agrees_with_a_patient_bootstrap():
    # the cross-vessel covariances matter: a patient bootstrap of the macro difference is the
    # independent check (within 20%: 250 resamples, whose SD is itself uncertain by about 5%)
    table, a, b = _toy(n_patients=300, seed=3)
    vessels = list(schema.VESSELS)
    got = clustered_macro_difference(table, a, b, vessels)
    rng = np.random.default_rng(0)
    groups = table.groupby("patient").indices
    ids = np.array(list(groups))
    diffs = []
    for _ in range(250):
        rows = np.concatenate([groups[i] for i in rng.choice(ids, len(ids))])
        d = [
            _auc(table[f"y_{v}"].to_numpy()[rows], a[f"p_{v}"].to_numpy()[rows])
            - _auc(table[f"y_{v}"].to_numpy()[rows], b[f"p_{v}"].to_numpy()[rows])
            for v in vessels
        ]
        diffs.append(np.mean(d))
    assert got["diff_se"] == pytest.approx(np.std(diffs, ddof=1), rel=0.2)
    # and ignoring the cross-vessel covariances would be visibly wrong here
    per_vessel = [clustered_macro_difference(table, a, b, [v])["diff_se"] for v in vessels]
    independent = np.sqrt(np.sum(np.square(per_vessel))) / len(vessels)
    assert got["diff_se"] > 1.2 * independent


def test_misaligned_scores_are_an_error():
    table, a, b = _toy()
    with pytest.raises(ValueError, match="model b"):
        clustered_macro_difference(table, a, b.iloc[1:], ["LAD"])
