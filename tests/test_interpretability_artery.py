"""ecglib.chapters.interpretability_artery: chapter 10's wording follows the which-artery
analysis, on a toy where one head is vessel-specific and the others score any disease."""

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.interpretability_artery import (
    ABOVE_CHANCE,
    NOT_SHOWN,
    SPECIFIC,
    head_specificity,
    which_artery_sentence,
)
from ecglib.metrics.vessel_specificity import cross_vessel_matrix


def _toy(specific_heads, n=3000, seed=0):
    """Correlated labels (a shared burden); the heads in ``specific_heads`` see their own
    label, the others only the number of diseased vessels."""
    rng = np.random.default_rng(seed)
    burden = rng.normal(size=n)
    table = pd.DataFrame({"patient": np.arange(n) // 2})
    for v in schema.VESSELS:
        table[schema.label_col(v)] = (burden + rng.normal(size=n) > 1.0).astype(int)
    anyd = table[schema.label_cols()].sum(axis=1).to_numpy()
    for v in schema.VESSELS:
        own = table[schema.label_col(v)].to_numpy()
        signal = 2.0 * own if v in specific_heads else 1.0 * anyd
        table[schema.prob_col(v)] = 1 / (1 + np.exp(-(signal + rng.normal(size=n) - 2)))
    return table


def test_a_specific_head_and_any_disease_heads_are_told_apart():
    specific = cross_vessel_matrix(_toy({"RCA"}), within_other_disease=True)
    kinds = head_specificity(specific)
    assert kinds["RCA"] == SPECIFIC
    assert all(kinds[v] != SPECIFIC for v in ("LM", "LAD", "LCX"))
    text = which_artery_sentence(specific)
    assert "shows the RCA head vessel-specific" in text
    assert "coronary disease in general" in text or ABOVE_CHANCE.split(",")[0] in text


def test_all_or_none_specific_read_as_such():
    every = cross_vessel_matrix(_toy(set(schema.VESSELS)), within_other_disease=True)
    assert set(head_specificity(every).values()) == {SPECIFIC}
    assert "every head vessel-specific" in which_artery_sentence(every)
    none = cross_vessel_matrix(_toy(set()), within_other_disease=True)
    assert SPECIFIC not in set(head_specificity(none).values())
    assert "vessel-specific (above" not in which_artery_sentence(none)


def test_without_a_matrix_the_sentence_says_so():
    empty = pd.DataFrame(columns=["outcome", "own"])
    assert head_specificity(empty) == {}
    assert "could not be computed" in which_artery_sentence(empty)
    assert NOT_SHOWN == "not shown"
