"""ecglib.metrics.outcomes: each definition's AUC equals scikit-learn's on the subset built by
hand, the any-vessel label and score are as documented, and the intervals are the clustered
table's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ecglib import schema
from ecglib.metrics.clustered_roc import clustered_auc_table
from ecglib.metrics.outcomes import (
    ANY_VESSEL,
    OUTCOMES,
    any_vessel_score,
    outcome_auc_table,
    outcome_labels,
)


def toy(n_patients: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n_patients), 2)
    table = pd.DataFrame({"patient": patient})
    for v in schema.VESSELS:
        g = rng.choice(5, size=n_patients, p=[0.4, 0.2, 0.15, 0.15, 0.1])[patient]
        table[schema.grade_col(v)] = g
        table[schema.prob_col(v)] = 1 / (1 + np.exp(-(0.6 * g + rng.normal(size=len(g)) - 2)))
    table[schema.label_cols()] = schema.binarise_grades(table)
    return table


#: Each definition's subset and label written out by hand.
BY_HAND = {
    "ge2": (lambda g: np.ones(len(g), bool), lambda g: g >= 2),
    "ge3": (lambda g: np.ones(len(g), bool), lambda g: g >= 3),
    "eq4": (lambda g: np.ones(len(g), bool), lambda g: g == 4),
    "ge3_vs_0": (lambda g: (g == 0) | (g >= 3), lambda g: g >= 3),
}


def test_each_definitions_auc_is_sklearns_on_the_hand_built_subset():
    t = toy()
    table = outcome_auc_table(t).set_index(["outcome", "vessel"])
    assert {o.key for o in OUTCOMES} == set(BY_HAND)
    for key, (keep, positive) in BY_HAND.items():
        for v in schema.VESSELS:
            g = t[schema.grade_col(v)].to_numpy()
            k = keep(g)
            want = roc_auc_score(positive(g[k]), t[schema.prob_col(v)].to_numpy()[k])
            row = table.loc[(key, v)]
            assert row["auc"] == pytest.approx(want, abs=1e-12), (key, v)
            assert row["n"] == k.sum() and row["excluded"] == (~k).sum()
            assert row["positives"] == positive(g[k]).sum()


def test_the_trained_definition_is_the_clustered_table():
    t = toy(seed=1)
    ours = outcome_auc_table(t).set_index(["outcome", "vessel"])
    table = clustered_auc_table(t).set_index("vessel")
    for v in schema.VESSELS:
        for column in ("auc", "se", "ci_low", "ci_high"):
            assert ours.at[("ge3", v), column] == pytest.approx(table.at[v, column], rel=1e-12)


def test_the_any_vessel_label_and_score():
    t = toy(seed=2)
    grades = t[schema.grade_cols()].to_numpy()
    probs = t[schema.prob_cols()].to_numpy()
    score = any_vessel_score(probs)
    np.testing.assert_allclose(score, 1 - np.prod(1 - probs, axis=1))
    np.testing.assert_allclose(any_vessel_score(probs, "max"), probs.max(axis=1))
    table = outcome_auc_table(t).set_index(["outcome", "vessel"])
    # grade >= 3 vs 0: positive when any vessel >= 3, negative only when every vessel is 0
    top = grades.max(axis=1)
    keep = (top >= 3) | (top == 0)
    want = roc_auc_score(top[keep] >= 3, score[keep])
    assert table.at[("ge3_vs_0", ANY_VESSEL), "auc"] == pytest.approx(want)
    assert table.at[("ge3_vs_0", ANY_VESSEL), "excluded"] == (~keep).sum()
    # grade >= 2 keeps every ECG: positive when any vessel >= 2
    want = roc_auc_score(top >= 2, score)
    assert table.at[("ge2", ANY_VESSEL), "auc"] == pytest.approx(want)
    y = outcome_labels(np.array([[0, 1], [0, 0], [3, 1]]), OUTCOMES[3])
    np.testing.assert_array_equal(y, [np.nan, 0.0, 1.0])


def test_one_class_and_bad_grades():
    t = toy(seed=3)
    t["grade_LM"] = np.minimum(t["grade_LM"], 3)
    table = outcome_auc_table(t).set_index(["outcome", "vessel"])
    assert np.isnan(table.at[("eq4", "LM"), "auc"])
    assert table.at[("eq4", "LM"), "reason"] == "no positive ECG under this definition"
    t.loc[5, "grade_RCA"] = 7
    with pytest.raises(ValueError, match="grade_RCA: grade 7.0 at row 5 "):
        outcome_auc_table(t)
    with pytest.raises(ValueError, match="unknown any-vessel method"):
        any_vessel_score(np.zeros((2, 2)), "mean")
