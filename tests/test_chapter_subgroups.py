"""ecglib.chapters.subgroups: the subgroup AUC table, its glued numbers and readable table."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions

from ecglib import schema
from ecglib.chapters import subgroups as ch
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import DataParams, RunParams
from ecglib.metrics.roc import delong_auc
from ecglib.metrics.subgroups import COLUMNS, subgroup_auc_table
from ecglib.report.present import format_p


def synthetic_results(oof: pd.DataFrame) -> RunResults:
    """A run without an external site around joined predictions."""
    run = RunParams(name="t", seed=1, data=DataParams(table="x", map="y"))
    return RunResults(
        params=run, oof=oof, external=None, skipped={"external": "the cohort has no external site"}
    )


def age_groups(p: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": pd.Categorical(
                np.where(p["age"] < 65, "< 65", "≥ 65"), categories=["< 65", "≥ 65"], ordered=True
            )
        }
    )


# ------------------------------------------------------------------------------------------
# moved from tests/test_evaluation.py
# ------------------------------------------------------------------------------------------
def test_subgroup_numbers_and_display():
    p = joined_predictions(600)
    table = subgroup_auc_table(p, age_groups(p))
    numbers = ch.subgroup_numbers(table)
    assert numbers["sub_tests"] == 4 and numbers["sub_bonferroni"] == pytest.approx(0.0125)
    assert math.isnan(numbers["sub_p_sex_RCA"]) and np.isfinite(numbers["sub_p_age_RCA"])
    display = ch.subgroup_display(table)
    assert display["subgroup"].tolist() == ["< 65", "≥ 65"] and "RCA p" in display.columns
    assert math.isnan(ch.subgroup_numbers(Skipped("a", "b"))["sub_tests"])


# ------------------------------------------------------------------------------------------
def test_display_uses_the_books_p_formatter_on_the_tested_rows_only():
    p = joined_predictions(600)
    table = subgroup_auc_table(p, age_groups(p))
    display = ch.subgroup_display(table).set_index("subgroup")
    old = table[table["subgroup"] == "≥ 65"].set_index("vessel")
    for v in schema.VESSELS:
        assert display.at["≥ 65", f"{v} p"] == format_p(old.at[v, "p_value"])
        assert display.at["< 65", f"{v} p"] == ""  # the reference: no test
        assert display.at["≥ 65", v].endswith(f"({old.at[v, 'positives']} pos.)")
    assert display["ECGs"].sum() == len(p)


def test_numbers_count_tests_and_significant_ones():
    p = joined_predictions(600)
    table = subgroup_auc_table(p, age_groups(p))
    tested = table["p_value"].dropna()
    numbers = ch.subgroup_numbers(table)
    assert numbers["sub_significant"] == int((tested < 0.05).sum())
    assert numbers["sub_min_p"] == tested.min()
    assert set(numbers) == {
        "sub_tests",
        "sub_significant",
        "sub_bonferroni",
        "sub_min_p",
        *(f"sub_p_{var}_{v}" for var in ("age", "sex", "interval") for v in schema.VESSELS),
    }


def test_a_cohort_without_age_skips_the_chapter_once():
    results = synthetic_results(joined_predictions().drop(columns=["age"]))
    chapter = ch.analyse(results.params, results)
    assert isinstance(chapter.table, Skipped) and "no age column" in chapter.table.reason
    assert chapter.display() is None
    assert [s.part for s in chapter.skipped()] == [ch.PART]
    assert chapter.outputs() == {"subgroups_auc": chapter.table}
    assert all(math.isnan(v) for v in chapter.numbers().values())


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    results = load_results(ci_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a cohort without intervals
        chapter = ch.analyse(results.params, results)
    table = chapter.table
    assert list(table.columns) == list(COLUMNS)
    assert set(table["variable"]) <= {"age", "sex", "interval"} and "age" in set(table["variable"])
    oof = results.oof
    young = oof[oof["age"] < 65]
    for vessel in schema.vessels_of(oof):
        row = table[
            (table["variable"] == "age")
            & (table["subgroup"] == "< 65")
            & (table["vessel"] == vessel)
        ].iloc[0]
        assert row["n"] == len(young)
        if row["reason"] == "":
            want = delong_auc(young[schema.label_col(vessel)], young[schema.prob_col(vessel)])
            assert row["auc"] == pytest.approx(want.auc, abs=1e-12)
    display = chapter.display()
    assert display.columns[:3].tolist() == ["variable", "subgroup", "ECGs"]
    assert len(display) == len(table.drop_duplicates(["variable", "subgroup"]))
    numbers = chapter.numbers()
    assert numbers["sub_tests"] == int(table["p_value"].notna().sum())
    assert chapter.skipped() == [] and list(chapter.outputs()) == ["subgroups_auc"]
