"""The small-count policy: which estimates are withheld, and what is shown instead."""

import math

import numpy as np
import pandas as pd
import pytest

from ecglib.metrics.small_counts import WITHHELD, too_few, too_few_text, withheld_list, withhold


def test_too_few_counts_the_smaller_class_against_the_threshold():
    assert too_few(4, 100, 5) and too_few(100, 4, 5)
    assert not too_few(5, 5, 5)  # exactly the threshold is enough
    assert not too_few(1, 1, 1)  # min_events 1 withholds nothing that exists
    assert not too_few(math.nan, 3, 1)
    assert too_few(math.nan, 3, 5)  # the negatives alone decide when positives are unknown
    with pytest.raises(ValueError, match="at least 1"):
        too_few(3, 3, 0)


def test_too_few_text_names_the_short_class_and_its_count():
    assert too_few_text(2, 300, 5) == "too few events (2)"
    assert too_few_text(300, 3, 5) == "too few non-events (3)"
    assert too_few_text(1, 3, 5) == "too few events (1)"
    assert too_few_text(4, 3, 5) == "too few non-events (3)"
    assert too_few_text(5, 300, 5) == ""


def test_withhold_blanks_the_estimates_of_short_rows_only_and_keeps_counts():
    table = pd.DataFrame(
        {
            "vessel": ["RCA", "LM", "LAD"],
            "n": [100, 100, 100],
            "positives": [30, 2, 95],
            "negatives": [70, 98, 5],
            "auc": [0.71, 0.97, 0.66],
            "se": [0.03, 0.01, 0.05],
            "ci_low": [0.65, 0.94, 0.55],
            "ci_high": [0.77, 0.99, 0.76],
        }
    )
    out = withhold(table, 5)
    assert out[WITHHELD].tolist() == ["", "too few events (2)", ""]
    assert np.isnan(out.loc[1, ["auc", "se", "ci_low", "ci_high"]].astype(float)).all()
    assert out.loc[0, "auc"] == 0.71 and out.loc[2, "ci_high"] == 0.76
    assert out["positives"].tolist() == [30, 2, 95]
    assert table.loc[1, "auc"] == 0.97  # the input is not changed
    out6 = withhold(table, 6)
    assert out6[WITHHELD].tolist() == ["", "too few events (2)", "too few non-events (5)"]
    assert withheld_list(out6, ["vessel"]) == [
        "LM (too few events (2))",
        "LAD (too few non-events (5))",
    ]
    with pytest.raises(KeyError, match="'negatives'"):
        withhold(table.drop(columns="negatives"), 5)


def test_withhold_groups_blanks_every_row_of_a_short_group_with_the_groups_reason():
    from ecglib.metrics.small_counts import withhold_groups

    rows = pd.DataFrame(
        {"vessel": ["RCA", "RCA", "LM", "LM", "LAD"], "rate": [0.1, 0.4, 0.0, 0.5, 0.3]}
    )
    counts = pd.DataFrame({"vessel": ["RCA", "LM"], "positives": [40, 2], "negatives": [160, 198]})
    out = withhold_groups(rows, counts, 5, ["rate"])
    assert out[WITHHELD].tolist() == ["", "", "too few events (2)", "too few events (2)", ""]
    assert out["rate"].isna().tolist() == [False, False, True, True, False]
    assert list(out.columns) == ["vessel", "rate", WITHHELD]  # the counts are not left behind
    with pytest.raises(KeyError, match="negatives"):
        withhold_groups(rows, counts.drop(columns="negatives"), 5, ["rate"])


def test_withhold_derives_the_negatives_from_a_total_column():
    table = pd.DataFrame({"n": [100, 100, 10], "positives": [40, 3, 8], "auc": [0.8, 0.7, 0.6]})
    out = withhold(table, 5, ["auc"], total="n")
    assert out[WITHHELD].tolist() == ["", "too few events (3)", "too few non-events (2)"]
    assert out["auc"].isna().tolist() == [False, True, True]
    assert list(out.columns) == ["n", "positives", "auc", WITHHELD]  # no helper column left
    with pytest.raises(KeyError, match="'n'"):
        withhold(table.drop(columns="n"), 5, ["auc"], total="n")
