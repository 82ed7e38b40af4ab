"""ecglib.chapters.incidence: cumulative incidence by AI risk group, one patient each (chapter 09)."""

import math

import matplotlib
import numpy as np
import pytest
from chapter_support import joined_predictions, make_cohort, write_run
from lifelines import KaplanMeierFitter

from ecglib import schema
from ecglib.chapters import incidence as ch
from ecglib.chapters.parts import Skipped, attempt
from ecglib.chapters.predictions import load_results
from ecglib.chapters.risk_strata import index_ecgs
from ecglib.metrics.strata import STRATA, crossfit_vessel_strata
from ecglib.report.present import format_p

matplotlib.use("Agg")

TARGETS_90 = {v: {"sensitivity": 0.9, "specificity": 0.9} for v in schema.VESSELS}
THRESHOLDS = {"RCA": 0.15, "LM": 0.01, "LAD": 0.15, "LCX": 0.15}


def _analysis():
    p = joined_predictions(600)
    strata, _, _ = crossfit_vessel_strata(p, TARGETS_90)
    p.loc[p.index[:4], ["followup_days", "followup_event"]] = np.nan
    return p, strata, ch.followup_analysis(p, strata, THRESHOLDS, horizon=365)


def test_followup_analysis_uses_kaplan_meier_per_patient():
    p, strata, fu = _analysis()
    index = index_ecgs(p, "patient")
    assert fu.n_patients + fu.n_without_followup == len(index) and fu.n_without_followup > 0
    assert fu.time.max() <= 365
    numbers = fu.numbers("int_")
    assert set(numbers) == {f"int_{k}" for k in ch.FOLLOWUP_NUMBER_KEYS}
    s = fu.summary
    # with censoring before the horizon, 1 - KM is at least events / n
    assert (s["cumulative_incidence"] >= s["naive_events_over_n"] - 1e-12).all()
    high = np.asarray(fu.group == "high")
    kmf = KaplanMeierFitter().fit(fu.time[high], fu.event[high])
    assert s.at["high", "cumulative_incidence"] == pytest.approx(
        1 - kmf.survival_function_at_times(365).iloc[0]
    )
    assert numbers["int_high_km"] == pytest.approx(100 * s.at["high", "cumulative_incidence"])
    assert set(fu.by_vessel["vessel"]) == set(schema.VESSELS)


def test_displays_for_reading():
    _, _, fu = _analysis()
    display = ch.incidence_display(fu)
    assert display.index.name == "AI risk group" and display.index.tolist() == list(STRATA)
    assert display["patients"].sum() == fu.n_patients
    # naming the display's index leaves the summary (a saved table) alone
    assert fu.summary.index.name == "group"
    by_vessel = ch.by_vessel_display(fu)
    assert by_vessel.columns[-1] == "log-rank p"
    b = fu.by_vessel.set_index("vessel")
    assert by_vessel.loc["RCA", "log-rank p"] == format_p(b.at["RCA", "logrank_p"])
    assert by_vessel.loc["LM", "threshold"] == "≥ 1%"


def test_the_figure_shows_the_groups_and_the_log_rank_p():
    from ecglib.plots.survival import followup_figure

    _, _, fu = _analysis()
    fig = followup_figure(fu, title="internal cohort")
    curves, table = fig.axes
    assert curves.get_title(loc="left") == "internal cohort"
    counts = {g: int(np.sum(np.asarray(fu.group == g))) for g in STRATA}
    legend = [t.get_text() for t in curves.get_legend().get_texts()]
    assert legend == [f"{g} (n = {counts[g]:,})" for g in STRATA if counts[g]]
    assert [t.get_text() for t in curves.texts] == [
        f"log-rank {format_p(fu.logrank['p_value'], prefix='p')}"
    ]
    assert table.get_xlabel() == "months since the first CCTA"
    # the number at risk at time 0 is every patient of the group
    first_column = [t.get_text() for t in table.texts if t.get_position()[0] == 0]
    assert first_column == [f"{counts[g]:,}" for g in STRATA if counts[g]]


def test_without_follow_up_the_analysis_is_skipped_with_nan_numbers():
    p, strata, _ = _analysis()
    skipped = attempt(
        "x",
        ch.followup_analysis,
        p.drop(columns=["followup_days"]),
        strata,
        THRESHOLDS,
        horizon=365,
    )
    assert isinstance(skipped, Skipped) and "followup_days" in skipped.reason
    assert all(math.isnan(v) for v in ch.followup_numbers(skipped, "x_").values())


def test_a_run_without_follow_up_or_external_site_skips_both_parts(tmp_path):
    cohort = make_cohort(n_patients=60, n_external=0).drop(
        columns=["followup_days", "followup_event"]
    )
    chapter = ch.analyse(write_run(tmp_path, cohort))
    assert isinstance(chapter.internal, Skipped)
    assert chapter.internal.part == "The cumulative-incidence analysis"
    assert chapter.external.part == "External validation"
    assert chapter.summary_table() is None and chapter.by_vessel_table() is None
    assert chapter.summary_table("external") is None
    outputs = chapter.outputs()
    assert isinstance(outputs["cumulative_incidence_internal"], Skipped)
    assert all(math.isnan(v) for v in outputs["cumulative_incidence"].values())


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    run = ci_run
    results = load_results(run)
    chapter = ch.analyse(run, results)
    # the ci cohort (the demo's) has follow-up: the chapter must compute it, not skip it
    assert not isinstance(chapter.internal, Skipped), chapter.internal.message
    fu = chapter.internal
    cohort = index_ecgs(results.oof, "patient").dropna(subset=["followup_days"])
    assert fu.n_patients == len(cohort)
    horizon = run.evaluation.followup_horizon_days
    table = chapter.summary_table("internal")
    # the demo export records competing events: Aalen-Johansen, with 1 - KM beside it
    assert table.columns.tolist() == [
        "patients",
        "events",
        "competing events",
        "censored before the horizon",
        "Aalen-Johansen, % [95% CI]",
        "1 - Kaplan-Meier (competing events censored), %",
        "events / n, % (the authors' estimate)",
    ]
    for g in table.index:
        m = np.asarray(fu.group == g)
        days = cohort["followup_days"].to_numpy()[m]
        events = cohort["followup_event"].to_numpy()[m] * (days <= horizon)
        assert table.loc[g, "patients"] == m.sum()
        assert table.loc[g, "events"] == int(events.sum())
    numbers = chapter.numbers()
    assert numbers["int_patients"] == len(cohort) and numbers["int_horizon"] == horizon
    outputs = chapter.outputs()
    assert list(outputs) == [
        "cumulative_incidence_internal",
        "cumulative_incidence_by_vessel_internal",
        "cumulative_incidence_external",
        "cumulative_incidence",
    ]
    # the old page's saved headers: "AI risk group" for the internal file, "group" external
    assert outputs["cumulative_incidence_internal"].index.name == "AI risk group"
    if not isinstance(chapter.external, Skipped):
        assert outputs["cumulative_incidence_external"].index.name == "group"
    assert chapter.by_vessel_table().index.tolist() == schema.vessels_of(results.oof)


def test_the_figure_caption_counts_patients_and_events_as_the_summary_does():
    from ecglib.plots.survival import followup_caption

    _, _, fu = _analysis()
    s = fu.summary
    text = followup_caption(fu)
    events = int(np.sum(fu.event))
    assert text.startswith(
        f"{fu.n_patients:,} patients, {events:,} event{'s' if events != 1 else ''} within 12 "
        "months (1 - Kaplan-Meier); by risk group: "
    )
    for g in s.index:
        n, e = int(s.at[g, "n"]), int(s.at[g, "events"])
        assert (
            f"{g} {n:,} patient{'s' if n != 1 else ''}, {e:,} event{'s' if e != 1 else ''}" in text
        )


def test_min_events_withholds_the_tests_on_too_few_events_only():
    p, strata, plain = _analysis()
    events = int(np.sum(plain.event))
    assert np.isfinite(plain.logrank["p_value"]) and np.isfinite(plain.trend["hr"])
    # a threshold at the run's event count keeps every test; one above withholds them all
    kept = ch.followup_analysis(p, strata, THRESHOLDS, horizon=365, min_events=events)
    assert kept.logrank["p_value"] == pytest.approx(plain.logrank["p_value"])
    assert kept.numbers("x_")["x_logrank_p_text"] == format_p(plain.logrank["p_value"], prefix="p")
    short = ch.followup_analysis(p, strata, THRESHOLDS, horizon=365, min_events=events + 1)
    text = f"too few events ({events})"
    numbers = short.numbers("x_")
    assert numbers["x_logrank_p_text"] == f"not made ({text})"
    assert numbers["x_trend_text"] == f"not estimable ({text})"
    assert math.isnan(numbers["x_trend_hr"]) and math.isnan(numbers["x_logrank_p"])
    assert short.by_vessel["logrank_p"].isna().all() and (short.by_vessel["reason"] == text).all()
    # the incidences themselves are descriptive and stay
    assert numbers["x_events"] == events
    row = ch.tests_display({"internal": short}).loc["internal"]
    assert row["log-rank p"] == text and row["Cox trend: hazard ratio per group step [95% CI]"] == (
        f"not estimable: {text}"
    )
