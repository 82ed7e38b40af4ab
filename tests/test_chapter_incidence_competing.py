"""Chapter 09 with competing events (Aalen-Johansen) and the Cox trend test across the ordered
AI risk groups."""

import math

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions

from ecglib import schema
from ecglib.chapters import incidence as ch
from ecglib.chapters.predictions import load_results
from ecglib.chapters.risk_strata import index_ecgs
from ecglib.metrics import survival
from ecglib.metrics.strata import crossfit_vessel_strata
from ecglib.report.present import format_p

TARGETS_90 = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}
THRESHOLDS = {"RCA": 0.15, "LM": 0.01, "LAD": 0.15, "LCX": 0.15}


def _groups(values):
    return pd.Categorical(values, categories=["low", "intermediate", "high"], ordered=True)


def _predictions(competing: bool = True, seed: int = 0):
    p = joined_predictions(600, seed=seed)
    if competing:
        rng = np.random.default_rng(seed + 10)
        # a competing event for a sixth of the patients without the outcome
        died = (rng.uniform(size=len(p)) < 1 / 6) & (p["followup_event"] == 0)
        p["followup_competing"] = died.astype(float)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    return p, strata


def _analysis(competing: bool = True):
    p, strata = _predictions(competing)
    return p, ch.followup_analysis(p, strata, THRESHOLDS, horizon=365)


def test_with_competing_events_the_incidence_is_aalen_johansen():
    p, fu = _analysis()
    assert fu.method == "Aalen-Johansen" and fu.competing is not None
    cohort = ch.followup_cohort(p)
    days = cohort["followup_days"].to_numpy()
    assert fu.competing.tolist() == (cohort["followup_competing"] * (days <= 365)).tolist()
    s = fu.summary
    for g in s.index:
        m = np.asarray(fu.group == g)
        aj = survival.aalen_johansen(fu.time[m], fu.event[m], fu.competing[m], [365])
        assert s.at[g, "cumulative_incidence"] == pytest.approx(aj["cumulative_incidence"][0])
        assert s.at[g, "competing_events"] == fu.competing[m].sum()
    assert (s["one_minus_km"] >= s["cumulative_incidence"] - 1e-12).all()
    assert (s["one_minus_km"] > s["cumulative_incidence"]).any()
    numbers = fu.numbers("int_")
    assert set(numbers) == {f"int_{k}" for k in ch.FOLLOWUP_NUMBER_KEYS}
    assert numbers["int_high_cif"] == pytest.approx(100 * s.at["high", "cumulative_incidence"])
    assert numbers["int_high_km"] == pytest.approx(100 * s.at["high", "one_minus_km"])
    assert numbers["int_competing"] == fu.competing.sum() > 0
    display = ch.incidence_display(fu)
    assert "Aalen-Johansen, % [95% CI]" in display.columns
    assert "1 - Kaplan-Meier (competing events censored), %" in display.columns
    assert display["competing events"].sum() == fu.competing.sum()
    by_vessel = ch.by_vessel_display(fu)
    assert "high risk: Aalen-Johansen, %" in by_vessel.columns
    text = ch.competing_sentence(fu)
    assert "Aalen-Johansen" in text and "cause-specific" in text
    count = numbers["int_competing_events_text"]
    assert count.startswith(f"{int(fu.competing.sum()):,} patients' follow-up ended with a comp")


def test_without_the_column_the_page_says_competing_risks_are_not_modelled():
    _, fu = _analysis(competing=False)
    assert fu.method == "1 - Kaplan-Meier" and fu.competing is None
    assert "1 - Kaplan-Meier, % [95% CI]" in ch.incidence_display(fu).columns
    assert "competing_events" not in fu.summary.columns
    numbers = fu.numbers("x_")
    assert numbers["x_high_cif"] == numbers["x_high_km"] and math.isnan(numbers["x_competing"])
    text = ch.competing_sentence(fu)
    assert "not modelled" in text and "overestimates" in text
    # a column without any value is no competing-event column
    p, strata = _predictions(competing=False)
    p["followup_competing"] = np.nan
    assert ch.followup_analysis(p, strata, THRESHOLDS, horizon=365).competing is None


def test_bad_competing_flags_raise():
    p, strata = _predictions()
    index = index_ecgs(p, "patient").index
    unknown = p.copy()
    unknown.loc[index[:3], "followup_competing"] = np.nan
    with pytest.raises(ValueError, match="3 of 300 patients with follow-up lack followup_compet"):
        ch.followup_analysis(unknown, strata, THRESHOLDS, horizon=365)
    both = p.copy()
    first = index[both.loc[index, "followup_event"].to_numpy() == 1][0]
    both.loc[first, "followup_competing"] = 1.0
    with pytest.raises(ValueError, match="both an event and a competing event"):
        ch.followup_analysis(both, strata, THRESHOLDS, horizon=365)


def test_the_trend_test_is_the_clustered_cox_model_of_the_group_rank():
    p, fu = _analysis()
    cohort = ch.followup_cohort(p)
    expected = survival.cox_trend(
        fu.time, fu.event, np.asarray(fu.group.codes, float), cluster=cohort["patient"]
    )
    for key in ("hr", "ci_lo", "ci_hi", "p_value", "n_clusters"):
        assert fu.trend[key] == pytest.approx(expected[key])
    assert fu.trend["robust"] == 1.0 and fu.trend["reason"] == ""
    assert list(fu.group.categories) == ["low", "intermediate", "high"]  # ranks 0, 1, 2
    numbers = fu.numbers("int_")
    assert numbers["int_trend_p_text"] == format_p(expected["p_value"])
    assert numbers["int_trend_text"].startswith("hazard ratio ")
    assert numbers["int_trend_text"].endswith(format_p(expected["p_value"], prefix="p"))
    assert numbers["int_logrank_p_text"] == format_p(fu.logrank["p_value"], prefix="p")
    table = ch.tests_display({"internal": fu})
    assert table.loc["internal", "trend p"] == format_p(expected["p_value"])
    assert table.loc["internal", "patients"] == fu.n_patients
    assert f"{fu.n_patients:,} clusters" in table.loc["internal", "trend variance"]


def test_a_trend_that_is_not_estimable_says_why():
    t = np.array([10.0, 20, 30, 40])
    e = np.array([0, 1, 0, 1])
    one_group = ch.trend_test(t, e, _groups(["high"] * 4), np.arange(4))
    assert math.isnan(one_group["hr"]) and "two groups" in one_group["reason"]
    assert ch.trend_sentence(one_group).startswith("not estimable (the trend test needs")
    top_only = ch.trend_test(t, e, _groups(["low", "high", "low", "high"]), np.arange(4))
    assert "monotone likelihood" in top_only["reason"]


def test_the_ci_run_uses_aalen_johansen_with_the_demo_competing_events(ci_run):
    results = load_results(ci_run)
    assert "followup_competing" in results.oof.columns
    chapter = ch.analyse(ci_run, results)
    fu = chapter.internal
    assert fu.method == "Aalen-Johansen"
    cohort = ch.followup_cohort(results.oof)
    horizon = ci_run.evaluation.followup_horizon_days
    days = cohort["followup_days"].to_numpy()
    assert fu.competing.sum() == int(
        ((days <= horizon) & (cohort["followup_competing"] == 1)).sum()
    )
    numbers = chapter.numbers()
    assert "Aalen-Johansen" in numbers["competing_text"]
    assert isinstance(numbers["int_trend_text"], str) and numbers["int_trend_text"] != "n/a"
    assert chapter.tests_table().index.tolist()[0] == "internal"


def test_the_sentences_name_empty_groups_and_groups_without_events():
    p, strata = _predictions()
    no_low = strata.astype(str).replace("low", "intermediate")
    fu = ch.followup_analysis(p, no_low, THRESHOLDS, horizon=365)
    assert "low" not in fu.summary.index
    texts = {k: v for k, v in fu.numbers("x_").items() if k.endswith("_text")}
    assert texts["x_incidence_text"].endswith("; no patient is in the low-risk group")
    assert texts["x_naive_text"].count("%") == 2
    assert not [k for k, v in texts.items() if "nan" in v]
    quiet = p.assign(followup_event=0.0)
    fu = ch.followup_analysis(quiet, strata, THRESHOLDS, horizon=365)
    assert "0.0% (no events) in the high-risk group" in fu.numbers("x_")["x_incidence_text"]
    assert fu.numbers("x_")["x_trend_text"] == "not estimable (no events)"


def test_one_patient_reads_in_the_singular():
    from types import SimpleNamespace

    summary = pd.DataFrame(
        {
            "n": [1, 40, 12],
            "events": [0, 3, 2],
            "cumulative_incidence": [0.0, 0.075, 0.17],
            "ci_lo": [0.0, 0.02, 0.04],
            "ci_hi": [0.0, 0.2, 0.45],
            "one_minus_km": [0.0, 0.076, 0.18],
            "naive_events_over_n": [0.0, 0.075, 0.167],
        },
        index=pd.Index(["low", "intermediate", "high"], name="group"),
    )
    texts = ch.incidence_sentences(SimpleNamespace(summary=summary, competing=np.array([1, 0])))
    assert "in the low-risk group (1 patient)" in texts["incidence_text"]
    assert "(40 patients)" in texts["incidence_text"]
    assert texts["competing_events_text"].startswith("1 patient's follow-up ended")
    two = ch.incidence_sentences(SimpleNamespace(summary=summary, competing=np.array([1, 1])))
    assert two["competing_events_text"].startswith("2 patients' follow-up ended")
