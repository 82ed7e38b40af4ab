"""Tests for ecglib.metrics.vessel_specificity and ecglib.metrics.auc_contrasts.

The matrix is checked against scikit-learn's AUC and the pairwise clustered test computed one
pair at a time; the vessel-specific view on a toy where the RCA head sees only RCA disease and
the LAD head only whether any vessel is diseased: the full matrix cannot tell them apart by
their own AUCs, the restriction to ECGs with disease elsewhere can.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ecglib import schema
from ecglib.metrics.auc_contrasts import clustered_auc_contrasts
from ecglib.metrics.clustered_roc import clustered_auc_table, clustered_delong_test
from ecglib.metrics.vessel_specificity import (
    MATRIX_COLUMNS,
    cross_vessel_matrix,
    other_vessel_disease,
)


def toy(n_patients: int = 400, seed: int = 0) -> pd.DataFrame:
    """Two ECGs per patient sharing the patient's labels; correlated vessel disease. The RCA
    head is vessel-specific (RCA label + noise), the LAD head an "any disease" score, the LM
    and LCX heads their own label + more noise."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n_patients)
    labels = {
        v: (latent + rng.normal(scale=1.0, size=n_patients) > q).astype(int)
        for v, q in zip(schema.VESSELS, (0.8, 1.6, 0.5, 0.9))
    }
    any_disease = np.max(np.column_stack(list(labels.values())), axis=1)
    patient = np.repeat(np.arange(n_patients), 2)
    table = pd.DataFrame({"patient": patient})
    for v in schema.VESSELS:
        table[schema.label_col(v)] = labels[v][patient]
    noise = rng.normal(scale=0.5, size=(2 * n_patients, 4))
    table["p_RCA"] = table["y_RCA"] + noise[:, 0]
    table["p_LAD"] = any_disease[patient] + noise[:, 1]
    table["p_LM"] = table["y_LM"] + 1.5 * noise[:, 2]
    table["p_LCX"] = table["y_LCX"] + 1.5 * noise[:, 3]
    return table


def test_contrasts_equal_the_pairwise_clustered_test():
    t = toy(120, seed=3)
    names = ["RCA", "LAD", "LCX"]
    out = clustered_auc_contrasts(
        t["y_RCA"], t[["p_RCA", "p_LAD", "p_LCX"]], t["patient"], names, reference="RCA"
    ).set_index("score")
    for name in ("LAD", "LCX"):
        ref = clustered_delong_test(t["y_RCA"], t["p_RCA"], t[f"p_{name}"], t["patient"])
        assert out.at[name, "diff"] == pytest.approx(ref.diff, abs=1e-12)
        assert out.at[name, "diff_se"] == pytest.approx(ref.se, rel=1e-10)
        assert out.at[name, "p_value"] == pytest.approx(ref.p_value, rel=1e-8)
        assert out.at[name, "diff_low"] == pytest.approx(ref.ci_low, rel=1e-10)
        assert out.at[name, "diff_high"] == pytest.approx(ref.ci_high, rel=1e-10)
    assert np.isnan(out.at["RCA", "diff"]) and np.isnan(out.at["RCA", "p_value"])
    with pytest.raises(ValueError, match="reference 'LM'"):
        clustered_auc_contrasts(t["y_RCA"], t[["p_RCA"]], t["patient"], ["RCA"], reference="LM")


def test_matrix_aucs_are_sklearns_and_the_diagonal_is_the_clustered_table():
    t = toy(150, seed=1)
    m = cross_vessel_matrix(t)
    assert list(m.columns) == list(MATRIX_COLUMNS)
    assert len(m) == 16 and m["own"].sum() == 4
    for r in m.itertuples():
        assert r.auc == pytest.approx(roc_auc_score(t[f"y_{r.outcome}"], t[f"p_{r.head}"]))
    table = clustered_auc_table(t).set_index("vessel")
    diag = m[m["own"]].set_index("outcome")
    for v in schema.VESSELS:
        assert diag.at[v, "ci_low"] == pytest.approx(table.at[v, "ci_low"], rel=1e-10)
        assert diag.at[v, "ci_high"] == pytest.approx(table.at[v, "ci_high"], rel=1e-10)
        assert diag.at[v, "patients"] == 150


def test_the_restriction_tells_a_vessel_specific_head_from_an_any_disease_head():
    t = toy()
    full = cross_vessel_matrix(t).set_index(["outcome", "head"])
    # in the whole cohort the "any disease" LAD head separates RCA disease, though not its own
    assert full.at[("RCA", "LAD"), "auc"] > 0.7
    # and its own AUC looks as good as a specific head's would
    assert full.at[("LAD", "LAD"), "auc"] > 0.75
    within = cross_vessel_matrix(t, within_other_disease=True).set_index(["outcome", "head"])
    assert (within["population"] != full["population"]).all()
    # the specific head keeps its AUC among ECGs with disease elsewhere, and beats the others
    assert within.at[("RCA", "RCA"), "auc"] > 0.8
    for head in ("LM", "LAD", "LCX"):
        row = within.loc[("RCA", head)]
        assert row["own_minus_head"] > 0 and row["diff_low"] > 0 and row["p_value"] < 0.05
    # the any-disease head cannot separate LAD disease there: every such ECG has disease
    lad = within.loc[("LAD", "LAD")]
    assert abs(lad["auc"] - 0.5) < 0.1
    assert lad["ci_low"] < 0.5 < lad["ci_high"]
    # the restricted rows are exactly those with disease in another vessel
    mask = other_vessel_disease(t, "RCA", schema.VESSELS)
    assert within.at[("RCA", "RCA"), "n"] == mask.sum()
    expected = roc_auc_score(t.loc[mask, "y_RCA"], t.loc[mask, "p_RCA"])
    assert within.at[("RCA", "RCA"), "auc"] == pytest.approx(expected)


def test_an_outcome_with_one_class_is_nan_with_a_reason():
    t = toy(60, seed=2)
    t["y_LM"] = 0
    m = cross_vessel_matrix(t).set_index(["outcome", "head"])
    assert np.isnan(m.at[("LM", "LM"), "auc"])
    assert "no positive ECG for the LM" in m.at[("LM", "LM"), "reason"]
    assert np.isfinite(m.at[("RCA", "RCA"), "auc"])


def test_missing_columns_are_named():
    t = toy(30).drop(columns="patient")
    with pytest.raises(KeyError, match="patient"):
        cross_vessel_matrix(t)
