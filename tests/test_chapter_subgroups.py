"""ecglib.chapters.subgroups: the subgroup AUC table, its glued numbers and readable table."""

import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions

from ecglib import schema
from ecglib.chapters import subgroups as ch
from ecglib.chapters.discrimination import INTERVAL
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import DataParams, RunParams
from ecglib.metrics.clustered_roc import clustered_auc_table, clustered_delong_two_set_test
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
def test_subgroup_numbers_and_display():
    p = joined_predictions(600)
    table = subgroup_auc_table(p, age_groups(p))
    numbers = ch.subgroup_numbers(table)
    assert numbers["sub_tests"] == 4
    assert numbers["sub_significant_holm"] <= numbers["sub_significant"]
    assert numbers["sub_p_sex_RCA"] == "n/a" and numbers["sub_p_age_RCA"] != "n/a"
    assert numbers["sub_shared_age"] == ch._shared(table, "age") > 0
    assert math.isnan(numbers["sub_shared_sex"])
    display = ch.subgroup_display(table)
    assert display["subgroup"].tolist() == ["< 65", "≥ 65"] and "RCA p (Holm)" in display.columns
    skipped = ch.subgroup_numbers(Skipped("a", "b"))
    assert math.isnan(skipped["sub_tests"]) and skipped["sub_min_p"] == "n/a"


def test_display_states_unit_interval_and_both_p_values():
    p = joined_predictions(600)
    table = subgroup_auc_table(p, age_groups(p))
    display = ch.subgroup_display(table).set_index("subgroup")
    old = table[table["subgroup"] == "≥ 65"].set_index("vessel")
    for v in schema.VESSELS:
        assert display.at["≥ 65", f"{v} p"] == format_p(old.at[v, "p_value"])
        assert display.at["≥ 65", f"{v} p (Holm)"] == format_p(old.at[v, "p_holm"])
        assert display.at["< 65", f"{v} p"] == display.at["< 65", f"{v} p (Holm)"] == ""
        n_pos, pos_patients = old.at[v, "positives"], old.at[v, "positive_patients"]
        assert display.at["≥ 65", v].endswith(f"({n_pos} pos. in {pos_patients} pts)")
        older = p[(p["age"] >= 65) & (p[schema.label_col(v)] == 1)]
        assert pos_patients == older["patient"].nunique() < n_pos
    assert display["ECGs"].sum() == len(p)
    young = p[p["age"] < 65]
    assert display.at["< 65", "patients"] == young["patient"].nunique()
    shared = len(set(young["patient"]) & set(p.loc[p["age"] >= 65, "patient"]))
    assert display.at["≥ 65", "shared patients"] == f"{shared:,}"
    assert display.at["< 65", "shared patients"] == ""
    assert set(display["95% CI"]) == {INTERVAL} and "unit: patient" in INTERVAL
    assert display.at["≥ 65", "test"] == ch.TEST and display.at["< 65", "test"] == "reference"
    assert display["variable"].tolist() == ["Age", "Age"]


def test_numbers_count_tests_and_significant_ones_raw_and_holm():
    p = joined_predictions(600)
    p["p_LAD"] = np.where(p["age"] < 65, p["y_LAD"] * 0.6 + 0.2, p["p_LAD"])  # a difference
    table = subgroup_auc_table(p, age_groups(p))
    tested = table.dropna(subset=["p_value"])
    numbers = ch.subgroup_numbers(table)
    assert numbers["sub_significant"] == int((tested["p_value"] < 0.05).sum()) >= 1
    assert numbers["sub_significant_holm"] == int((tested["p_holm"] < 0.05).sum())
    assert numbers["sub_min_p"] == format_p(tested["p_value"].min())
    assert numbers["sub_min_p_holm"] == format_p(tested["p_holm"].min())
    lad = tested.set_index("vessel").loc["LAD"]
    assert numbers["sub_p_age_LAD"] == format_p(lad["p_value"])
    assert numbers["sub_p_holm_age_LAD"] == format_p(lad["p_holm"])
    assert set(numbers) == {
        "sub_tests",
        "sub_significant",
        "sub_significant_holm",
        "sub_min_p",
        "sub_min_p_holm",
        *(
            f"sub_p{h}_{var}_{v}"
            for h in ("", "_holm")
            for var in ("age", "sex", "interval")
            for v in schema.VESSELS
        ),
        *(f"sub_shared_{var}" for var in ("age", "sex", "interval")),
    }


def test_shared_sentence_counts_each_variables_patients():
    p = joined_predictions(600)
    p["grp"] = pd.Categorical(np.where(p["row"] % 2, "b", "a"), categories=["a", "b"])
    table = subgroup_auc_table(p, pd.concat([age_groups(p), p[["grp"]]], axis=1), ["RCA"])
    shared_age = len(set(p.loc[p["age"] < 65, "patient"]) & set(p.loc[p["age"] >= 65, "patient"]))
    assert ch.shared_sentence(table, 300) == (
        f"Patients with ECGs in both subgroups: {shared_age:,} of 300 for age and 300 for grp."
    )
    assert "skipped" in ch.shared_sentence(Skipped("a", "b"), 10)


def test_the_params_subgroups_reach_the_page():
    results = synthetic_results(joined_predictions(600))
    run = replace(
        results.params,
        evaluation=replace(
            results.params.evaluation,
            subgroup_variables=("sex", "age"),
            subgroup_age_cut_years=60.0,
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no interval asked for: no warning about it
        chapter = ch.analyse(run, results)
    assert list(dict.fromkeys(chapter.table["variable"])) == ["sex", "age"]
    assert set(chapter.table["subgroup"]) == {"male", "female", "< 60", "≥ 60"}
    numbers = chapter.numbers()
    assert numbers["sub_age_cut"] == "60" and numbers["sub_interval_cut"] == "3"
    assert numbers["sub_patients"] == 300 and numbers["sub_ecgs"] == 600
    assert numbers["sub_p_interval_RCA"] == "n/a" and math.isnan(numbers["sub_shared_interval"])
    sentence = numbers["sub_shared_sentence"]
    assert sentence.startswith("Patients with ECGs in both subgroups: ")
    assert f"{numbers['sub_shared_sex']:,} of 300 for sex and " in sentence
    assert sentence.endswith(f" {numbers['sub_shared_age']:,} for age.")


def test_a_cohort_without_age_skips_the_chapter_once():
    results = synthetic_results(joined_predictions().drop(columns=["age"]))
    chapter = ch.analyse(results.params, results)
    assert isinstance(chapter.table, Skipped) and "no age column" in chapter.table.reason
    assert chapter.display() is None
    assert [s.part for s in chapter.skipped()] == [ch.PART]
    assert chapter.outputs() == {"subgroups_auc": chapter.table}
    numbers = chapter.numbers()
    assert all(
        math.isnan(v) if isinstance(v, float) else v == "n/a"
        for k, v in numbers.items()
        if k.startswith(("sub_p_", "sub_min", "sub_sig", "sub_tests", "sub_shared_"))
        and k != "sub_shared_sentence"
    )
    assert "skipped" in numbers["sub_shared_sentence"]


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    results = load_results(ci_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a cohort without intervals
        chapter = ch.analyse(results.params, results)
    table = chapter.table
    assert list(table.columns) == list(COLUMNS)
    assert set(table["variable"]) <= {"age", "sex", "interval"} and "age" in set(table["variable"])
    oof = results.oof
    young, old = oof[oof["age"] < 65], oof[oof["age"] >= 65]
    want = clustered_auc_table(young, schema.vessels_of(oof)).set_index("vessel")
    for vessel in schema.vessels_of(oof):
        rows = table[(table["variable"] == "age") & (table["vessel"] == vessel)]
        row = rows.set_index("subgroup").loc["< 65"]
        assert row["n"] == len(young) and row["patients"] == young["patient"].nunique()
        if row["reason"] == "":
            assert row["auc"] == pytest.approx(want.at[vessel, "auc"], abs=1e-12)
            assert row["se"] == pytest.approx(want.at[vessel, "se"], rel=1e-12)
        other = rows.set_index("subgroup").loc["≥ 65"]
        if np.isfinite(other["p_value"]):
            test = clustered_delong_two_set_test(
                old[schema.label_col(vessel)],
                old[schema.prob_col(vessel)],
                old["patient"],
                young[schema.label_col(vessel)],
                young[schema.prob_col(vessel)],
                young["patient"],
            )
            assert other["p_value"] == pytest.approx(test.p_value, rel=1e-12)
    display = chapter.display()
    assert display.columns[:4].tolist() == ["variable", "subgroup", "ECGs", "patients"]
    assert len(display) == len(table.drop_duplicates(["variable", "subgroup"]))
    numbers = chapter.numbers()
    assert numbers["sub_tests"] == int(table["p_value"].notna().sum())
    assert numbers["sub_patients"] == oof["patient"].nunique()
    for variable in set(table["variable"]):
        assert f"{numbers[f'sub_shared_{variable}']:,}" in numbers["sub_shared_sentence"]
    assert chapter.skipped() == [] and list(chapter.outputs()) == ["subgroups_auc"]
