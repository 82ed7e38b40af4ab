"""ecglib.chapters.glance and discussion: the results-at-a-glance page repeats the
discrimination chapter's numbers, and the discussion's limitations are computed from the run."""

import math
from dataclasses import replace

import pandas as pd
import pytest
from chapter_support import make_cohort, write_run

from ecglib import schema
from ecglib.chapters import discrimination, discussion, glance
from ecglib.chapters.parts import Skipped


def _run(tmp_path, **kwargs):
    run = write_run(tmp_path, make_cohort(), **kwargs)
    return replace(run, evaluation=replace(run.evaluation, n_bootstrap=20))


def test_the_glance_numbers_are_the_discrimination_chapters(tmp_path):
    run = _run(tmp_path)
    page = glance.analyse(run).numbers()
    chapter = discrimination.analyse(run).numbers()
    compared = 0
    for key in ("oof", "external"):
        for v in schema.VESSELS:
            for suffix in ("", "_lo", "_hi"):
                ours, theirs = page[f"gl_auc_{key}_{v}{suffix}"], chapter[f"auc_{key}_{v}{suffix}"]
                assert ours == pytest.approx(theirs, nan_ok=True), (key, v, suffix)
                compared += not math.isnan(theirs)
            assert page[f"gl_pos_{key}_{v}"] == chapter[f"pos_{key}_{v}"]
    assert compared >= 12
    table = glance.analyse(run).table()
    assert list(table.index) == list(schema.VESSELS)
    rca = chapter["auc_oof_RCA"], chapter["auc_oof_RCA_lo"], chapter["auc_oof_RCA_hi"]
    assert table.at["RCA", "internal AUC [95% CI]"] == "{:.3f} [{:.3f}-{:.3f}]".format(*rca)
    assert "mean of the 3 fold models" in page["gl_external_sentence"]


def test_without_an_external_site_the_glance_says_why(tmp_path):
    cohort = make_cohort(n_external=0)
    run = replace(write_run(tmp_path, cohort, external=False))
    page = glance.analyse(run)
    assert isinstance(page.external, Skipped)
    assert "no external site" in page.numbers()["gl_external_sentence"]
    assert [c for c in page.table().columns if c.startswith("external")] == []


def test_range_sentence_names_the_best_and_worst_vessel_and_those_without_an_auc():
    rows = pd.DataFrame(
        {
            "auc": [0.8, math.nan, 0.6, 0.7],
            "ci_low": [0.7, math.nan, 0.5, 0.6],
            "ci_high": [0.9, math.nan, 0.7, 0.8],
            "n": [100, 100, 100, 100],
        },
        index=pd.Index(list(schema.VESSELS), name="vessel"),
    )
    text = glance.range_sentence(rows, "internally")
    assert text == (
        "The AUC internally is highest for RCA 0.800 [0.700-0.900] and lowest for LAD "
        "0.600 [0.500-0.700]. LM has no AUC internally (one class only)."
    )


def test_the_limitations_follow_from_the_run(tmp_path):
    run = _run(tmp_path)
    page = discussion.analyse(run)
    events = page.internal_events
    results_oof = page.glance.rows("oof")
    # counts are the predictions' own: positive ECGs equal the AUC table's positives
    assert (events["positive ECGs"] == results_oof.loc[events.index, "positives"]).all()
    assert (events["positive patients"] <= events["positive ECGs"]).all()
    text = "\n".join(page.limitations())
    rarest = events["positive patients"].idxmin()
    assert f"the rarest outcome, {rarest}, rests on" in text
    assert "mean of the 3 fold models" in text
    # write_run's params have no demo section: not a synthetic cohort, and random weights
    assert "synthetic" not in text and "Not the study's model" in text
    # random predictions: some interval includes 0.5, and the page says which
    chance = discussion.chance_vessels(results_oof)
    assert chance and all(v in text.split("Separation indistinguishable")[1] for v in chance)


def test_chance_vessels_are_those_whose_interval_includes_one_half():
    rows = pd.DataFrame(
        {"ci_low": [0.55, 0.45, math.nan], "ci_high": [0.7, 0.6, math.nan]},
        index=["RCA", "LM", "LAD"],
    )
    assert discussion.chance_vessels(rows) == ["LM"]


def test_an_estimate_withheld_on_few_events_says_why_in_the_limitations(tmp_path):
    run = _run(tmp_path)
    run = replace(run, report=replace(run.report, min_events=10_000))  # every AUC withheld
    page = discussion.analyse(run)
    text = "\n".join(page.limitations())
    rarest = page.external_events["positive patients"].idxmin()
    positives = int(page.glance.rows("external").loc[rarest, "positives"])
    assert f"({rarest}: too few events ({positives}))" in text
    assert "n/a" not in text
