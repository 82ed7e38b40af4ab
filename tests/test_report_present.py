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


def test_counts_percentages_and_plurals():
    assert results.format_count(557.0) == "557" and results.format_count(12345) == "12,345"
    assert results.format_count(math.nan) == results.MISSING
    try:
        results.format_count(2.5)
    except ValueError as exc:
        assert "whole number" in str(exc)
    else:
        raise AssertionError("a fractional count must be refused")
    assert results.format_percent(0.204) == "20.4%"
    assert results.format_percent(math.nan) == results.MISSING
    assert results.plural(1, "missed event") == "1 missed event"
    assert results.plural(4, "missed event") == "4 missed events"
    assert results.plural(0, "event") == "0 events"
    assert results.plural(2, "analysis", "analyses") == "2 analyses"
    assert results.plural(1, "stratum", "strata", number=False) == "stratum"


def test_present_table_reads_as_a_book_table():
    table = pd.DataFrame(
        {
            "vessel": ["LAD", "LM"],
            "n": [557.0, 40.0],
            "events": [85.0, np.nan],
            "auc": [0.712345, np.nan],
            "p_value": [0.00004, 0.4321],
            "collapsed": [False, True],
            "settings": [{"epochs": 10}, ["a", "b"]],
            "note": ["fine", None],
        }
    ).set_index("vessel")
    shown, missing = results.present_table(table)
    assert missing
    assert list(shown.columns) == [
        "Vessel",
        "n",
        "Events",
        "AUC",
        "p",
        "Collapsed",
        "Settings",
        "Note",
    ]
    assert shown.iloc[0].tolist() == [
        "LAD",
        "557",
        "85",
        "0.712",
        "< 0.001",
        "no",
        "Epochs: 10",
        "fine",
    ]
    assert shown.iloc[1].tolist() == ["LM", "40", "—", "—", "0.43", "yes", "a, b", "—"]


def test_render_table_has_no_index_column_and_explains_the_dash():
    plain = pd.DataFrame({"auc": [0.7, 0.8]})
    html = results.render_table(plain)
    assert "<th>AUC</th>" in html and "<th></th>" not in html and "table-note" not in html
    gap = pd.DataFrame({"auc": [0.7, math.nan]})
    gap.attrs["missing"] = "too few events"
    assert "— : too few events".replace(" :", ":") in results.render_table(gap)
    long = pd.DataFrame({"x": range(40)})
    html = results.render_table(long, max_rows=10)
    assert "Show all 40 rows" in html and html.count("<table") == 2


def test_human_names():
    assert results.human_name("ci_low") == "CI low"
    assert results.human_name("n_events") == "n events"
    assert results.human_name("scaled_brier") == "Scaled brier"
    assert results.human_name("ECGs (fitting set)") == "ECGs (fitting set)"


def test_cite_writes_author_year_from_the_books_bibliography(tmp_path):
    assert (
        results.cite("bousseljot1995ptb, goldberger2000physionet")
        == "Bousseljot et al. (1995); Goldberger et al. (2000)"
    )
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{a2020,\n author = {Smith, Ann and Jones, Bo},\n year = {2020}\n}\n")
    assert results.cite(["a2020"], bib) == "Smith and Jones (2020)"
    try:
        results.cite(["nosuchkey2000"], bib)
    except KeyError as exc:
        assert "nosuchkey2000" in str(exc)
    else:
        raise AssertionError("an unknown key must be an error")


def test_verbatim_columns_are_quoted_as_code_and_everything_else_is_escaped():
    table = pd.DataFrame({"input": ["<x>"], "message": ["got {'a': 1} and ['b', 'c']"]})
    table.attrs["verbatim"] = ["message"]
    html = results.render_table(table)
    assert "<td>&lt;x&gt;</td>" in html
    assert '<code class="ecglib-verbatim">got {&#x27;a&#x27;: 1}' in html


def test_nullable_columns_all_missing_or_partly_missing_read_as_dashes():
    table = pd.DataFrame(
        {
            "shift": pd.array([pd.NA, pd.NA], dtype="Float64"),
            "n": pd.array([3, pd.NA], dtype="Int64"),
            "x": pd.array([1.23456, pd.NA], dtype="Float64"),
        }
    )
    shown, missing = results.present_table(table)
    assert missing
    assert shown.values.tolist() == [["—", "3", "1.235"], ["—", "—", "—"]]


def test_powers_of_ten_as_a_paper_prints_them():
    assert results.format_scientific(3.7e-8) == "3.7 × 10⁻⁸"
    assert results.format_scientific(1e-5) == "10⁻⁵" and results.format_scientific(-1e-5) == "-10⁻⁵"
    assert results.format_scientific(1.8649e-9, 3) == "1.86 × 10⁻⁹"
    assert (
        results.format_scientific(0) == "0"
        and results.format_scientific(float("nan")) == results.MISSING
    )
    assert results.unexponent("diff 1.86e-09 < 1e-05, 3E-8") == "diff 1.86 × 10⁻⁹ < 10⁻⁵, 3 × 10⁻⁸"
    assert results.unexponent("v1e-5 and 0.001") == "v1e-5 and 0.001"  # only free-standing numbers


def test_an_interval_without_width_says_so_instead_of_looking_certain():
    # a percentile bootstrap of an NPV with no missed event in any resample
    assert results.format_estimate(1.0, 1.0, 1.0) == "1.000 (zero-width interval)"
    assert results.format_estimate(0.0, 0.0, 0.00001) == "0.000 (zero-width interval)"
    assert results.format_estimate(0.5, 0.499, 0.501) == "0.500 [0.499-0.501]"
    assert results.format_bounds(0.667, 1.0) == "95% CI 0.667 to 1.000"
    assert results.format_bounds(1.0, 1.0) == "zero-width 95% CI"
    assert results.format_bounds(math.nan, 1.0) == "no 95% CI"
