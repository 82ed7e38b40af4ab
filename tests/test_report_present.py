"""ecglib.report.present: how estimates and p-values read in the book."""

import math

import numpy as np
import pandas as pd

from ecglib.chapters.parts import Skipped
from ecglib.report import present as results


def test_format_estimate():
    assert results.format_estimate(0.7123, 0.65, 0.77) == "0.712 [0.650-0.770]"
    assert results.format_estimate(0.01, -0.05, 0.07) == "0.010 [-0.050 to 0.070]"
    assert results.format_estimate(0.5, math.nan, 0.6) == "0.500 [CI n/a]"
    assert results.format_estimate(math.nan) == "n/a"
    assert results.format_estimate(0.5, digits=1) == "0.5"


def test_format_p_has_one_rule_for_text_tables_and_figures():
    assert results.format_p(0.0004) == "< 0.001"
    assert results.format_p(0.04321) == "0.043"
    assert results.format_p(0.4321) == "0.43"
    assert results.format_p(math.nan) == "n/a" and results.format_p(None) == "n/a"
    assert results.format_p(0.0004, prefix="p") == "p < 0.001"
    assert results.format_p(0.04321, prefix="p") == "p = 0.043"
    assert results.format_p(np.nan, prefix="p") == "p = n/a"


def test_wide_estimates_puts_vessels_in_the_papers_order_and_keeps_row_order():
    long = pd.DataFrame(
        {
            "set": ["b", "b", "a"],
            "vessel": ["LAD", "RCA", "RCA"],
            "auc": [0.7, 0.8, 0.6],
            "ci_low": [0.6, 0.7, math.nan],
            "ci_high": [0.8, 0.9, math.nan],
        }
    )
    wide = results.wide_estimates(long, "set")
    assert wide.columns.tolist() == ["RCA", "LAD"] and wide.index.tolist() == ["b", "a"]
    assert wide.loc["b", "RCA"] == "0.800 [0.700-0.900]" and wide.loc["a", "RCA"] == "0.600"


def test_numbers_from_gives_every_key_and_nan_for_a_part_not_computed():
    table = pd.DataFrame({"vessel": ["RCA", "LAD"], "share": [0.25, 0.5]})
    out = results.numbers_from(table, ["share"], prefix="x_", scale=100)
    assert out["x_share_RCA"] == 25.0 and out["x_share_LAD"] == 50.0
    assert math.isnan(out["x_share_LM"]) and set(out) == {
        f"x_share_{v}" for v in ("RCA", "LM", "LAD", "LCX")
    }
    skipped = results.numbers_from(Skipped("x", "y"), ["share"])
    assert all(math.isnan(v) for v in skipped.values())
