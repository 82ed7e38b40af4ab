"""Chapter 12's ESC 2019 PTP baseline: the PTP as a score beside the models, and the NRI of the
ECG + clinical model over the PTP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_added_value import (  # noqa: F401 (toy_measurements: autouse fixture)
    fake_network_predictions,
    toy_measurements,
    toy_results,
)

from ecglib import schema
from ecglib.chapters import added_value as ch
from ecglib.chapters.added_value_ptp import ptp_comparison, ptp_nri
from ecglib.chapters.added_value_text import NETWORK, POPULATIONS, PTP
from ecglib.metrics import nri as nri_mod
from ecglib.metrics.clustered_roc import clustered_delong_test
from ecglib.metrics.outcomes import ANY_VESSEL, any_vessel_score
from ecglib.metrics.ptp import ptp_lookup


def with_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """A few rows the guideline table does not cover: no symptom, age under 30."""
    table = table.copy()
    table.loc[table.index[:6], "symptom"] = None
    table.loc[table.index[6:10], "age"] = 25.0
    return table


def test_network_minus_ptp_is_the_paired_clustered_test_on_the_ecgs_with_a_ptp():
    results = toy_results()
    oof = with_gaps(results.oof)
    models = {NETWORK: oof[schema.prob_cols()]}
    table, coverage = ptp_comparison({"internal": (oof, models)}, schema.VESSELS, reference=NETWORK)
    cover = coverage.iloc[0]
    assert (cover["ecgs"], cover["with_ptp"], cover["without_ptp"]) == (len(oof), len(oof) - 10, 10)
    assert "age < 30" in cover["reasons"] and "6" in cover["reasons"]
    ptp = ptp_lookup(oof["age"], oof["sex"], oof["symptom"])["ptp"].to_numpy()
    known = ~np.isnan(ptp)
    sub = oof[known]
    for vessel in ("RCA", ANY_VESSEL):
        if vessel == ANY_VESSEL:
            y = sub[schema.label_cols()].max(axis=1).to_numpy()
            net = any_vessel_score(sub[schema.prob_cols()].to_numpy())
        else:
            y, net = (
                sub[schema.label_col(vessel)].to_numpy(),
                sub[schema.prob_col(vessel)].to_numpy(),
            )
        ref = clustered_delong_test(y, net, ptp[known], sub["patient"].to_numpy())
        row = table.set_index(["vessel", "model"]).loc[(vessel, PTP)]
        assert row["n"] == known.sum()
        assert row["auc"] == pytest.approx(ref.auc_b)
        assert row["diff"] == pytest.approx(ref.diff)
        assert row["p_value"] == pytest.approx(ref.p_value)
        assert (row["diff_low"], row["diff_high"]) == pytest.approx((ref.ci_low, ref.ci_high))


def test_the_chapter_glues_the_ptp_comparison_and_says_what_it_left_out(monkeypatch):
    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    results = toy_results()
    results = type(results)(
        params=results.params, oof=with_gaps(results.oof), external=results.external
    )
    chapter = ch.analyse(None, results)
    numbers = chapter.numbers()
    assert numbers["ptp_without_internal"] == 10
    assert numbers["ptp_with_internal"] == len(results.oof) - 10
    assert numbers["ptp_without_external"] == 0
    internal = chapter.ptp[chapter.ptp["population"] == POPULATIONS["internal"]]
    assert set(internal["model"]) >= {NETWORK, PTP, ch.CLINICAL, ch.COMBINED}
    assert np.isfinite(numbers["d_np_internal_any"])
    assert "PTP" in numbers["sentence_np_internal"]
    text = chapter.ptp_table()
    assert "network - PTP [95% CI]" in text.columns and "intervals" in text.columns


def test_the_nri_over_the_ptp_is_on_index_ecgs_with_the_shared_patient_resamples():
    from ecglib.metrics.ptp import ptp_category

    results = toy_results()
    oof = with_gaps(results.oof)
    rng = np.random.default_rng(5)
    probability = rng.uniform(0, 0.4, len(oof))
    resamples = results.resamples("oof")
    part = ptp_nri(oof, probability, resamples, min_grade=3)
    index = oof[oof["ecg_order"] == 1]
    ptp = ptp_lookup(index["age"], index["sex"], index["symptom"])["ptp"].to_numpy()
    known = ~np.isnan(ptp)
    assert part["exams"] == len(index) and part["with_ptp"] == known.sum()
    y = (index[schema.grade_cols()].to_numpy() >= 3).any(axis=1)[known]
    old = ptp_category(ptp[known]).codes
    new = ptp_category(probability[index.index.to_numpy()][known]).codes
    move = np.sign(new - old)
    by_hand = move[y].mean() - move[~y].mean()
    assert part["boot"]["nri"] == pytest.approx(by_hand)
    patients = index["patient"].to_numpy()[known]
    shared = nri_mod.nri_bootstrap(y.astype(int), old, new, weights=resamples.weights(patients))
    assert (part["boot"]["nri_lo"], part["boot"]["nri_hi"]) == pytest.approx(
        (shared["nri_lo"], shared["nri_hi"])
    )
    test = nri_mod.clustered_nri_test(y.astype(int), old, new, groups=patients)
    assert part["test"]["p_value"] == pytest.approx(test["p_value"])


def test_the_chapter_has_the_nri_of_the_combined_model_over_the_ptp(monkeypatch):
    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    chapter = ch.analyse(None, toy_results())
    numbers = chapter.numbers()
    for key in ("internal_severe", "internal_obstructive", "external_severe"):
        assert np.isfinite(numbers[f"nri_{key}"]), key
        assert numbers[f"nri_{key}_lo"] <= numbers[f"nri_{key}"] <= numbers[f"nri_{key}_hi"]
        assert "NRI" in numbers[f"nri_sentence_{key}"]
    table = chapter.nri_table("internal", "severe")
    assert "95% CI" in table.index and "unit" in table.index


def test_the_rule_out_protocol_is_cross_fitted_internally_and_fixed_externally(monkeypatch):
    from ecglib.chapters.added_value_rule import labelled_scores
    from ecglib.metrics.rule_out import crossfit_rule_out, npv_threshold

    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    results = toy_results()
    chapter = ch.analyse(None, results)
    table = chapter.rule_out.table.set_index(["population", "vessel"])
    index = results.oof[results.oof["ecg_order"] == 1]
    ext = results.external[results.external["ecg_order"] == 1]
    for vessel in ("RCA", ANY_VESSEL):
        y, p = labelled_scores(index, vessel, schema.VESSELS)
        out, _ = crossfit_rule_out(y, p, index["fold"], 0.95)
        row = table.loc[(POPULATIONS["internal"], vessel)]
        assert row["n"] == len(index) and row["n_ruled_out"] == out.sum()
        assert row["missed"] == int(y[out].sum())
        t = npv_threshold(y, p, 0.95)
        ye, pe = labelled_scores(ext, vessel, schema.VESSELS)
        row = table.loc[(POPULATIONS["external"], vessel)]
        assert row["threshold_value"] == t
        assert row["n_ruled_out"] == (pe <= t).sum()
        assert row["prevalence_ruled_in"] == pytest.approx(ye[pe > t].mean())
    numbers = chapter.numbers()
    assert numbers["ro_target"] == 95
    assert "examinations" in numbers["ro_sentence_internal"]
    assert "95% CI" in chapter.rule_out_table().columns


def test_the_rule_in_protocol_is_cross_fitted_internally_and_fixed_externally(monkeypatch):
    from types import SimpleNamespace

    from ecglib.chapters.added_value_rule import labelled_scores
    from ecglib.metrics.rule_out import crossfit_rule_in, ppv_threshold

    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    results = toy_results()
    # the target comes from the run's params (evaluation.rule_in_ppv)
    results.params = SimpleNamespace(
        seed=3,
        evaluation=SimpleNamespace(n_bootstrap=200, rule_in_ppv=0.4),
        report=SimpleNamespace(min_events=5),
    )
    chapter = ch.analyse(None, results)
    assert chapter.rule_in.target == 0.4
    table = chapter.rule_in.table.set_index(["population", "vessel"])
    index = results.oof[results.oof["ecg_order"] == 1]
    ext = results.external[results.external["ecg_order"] == 1]
    for vessel in ("RCA", ANY_VESSEL):
        y, p = labelled_scores(index, vessel, schema.VESSELS)
        ruled, _ = crossfit_rule_in(y, p, index["fold"], 0.4)
        row = table.loc[(POPULATIONS["internal"], vessel)]
        assert row["n"] == len(index) and row["n_ruled_in"] == ruled.sum()
        assert row["true_positives"] == int(y[ruled].sum())
        t = ppv_threshold(y, p, 0.4)
        ye, pe = labelled_scores(ext, vessel, schema.VESSELS)
        row = table.loc[(POPULATIONS["external"], vessel)]
        assert row["threshold_value"] == t
        assert row["n_ruled_in"] == (pe >= t).sum()
        if (pe >= t).any():
            assert row["prevalence_ruled_in"] == pytest.approx(ye[pe >= t].mean())
    numbers = chapter.numbers()
    assert numbers["ri_target"] == 40
    assert "examinations" in numbers["ri_sentence_internal"]
    assert "95% CI" in chapter.rule_in_table().columns


def test_a_one_class_vessel_shows_why_it_has_no_auc_even_when_no_vessel_has_one():
    from ecglib.chapters.added_value_ptp import ptp_display

    oof = toy_results().oof.copy()
    models = {NETWORK: oof[schema.prob_cols()]}
    oof[schema.label_col("LM")] = 0  # no LM disease: one class
    table, _ = ptp_comparison({"internal": (oof, models)}, schema.VESSELS, reference=NETWORK)
    shown = ptp_display(table)
    why = shown.loc[("internal", "LM"), f"{PTP}: AUC [95% CI]"]
    assert why.startswith("one class (0 positive of")
    assert shown.loc[("internal", "RCA"), f"{PTP}: AUC [95% CI]"][0].isdigit()
    # every vessel one class: the comparison has no AUC column at all, and still reads
    oof[schema.label_cols()] = 0
    table, _ = ptp_comparison({"internal": (oof, models)}, schema.VESSELS, reference=NETWORK)
    assert "auc" not in table.columns
    shown = ptp_display(table)
    assert shown[f"{PTP}: AUC [95% CI]"].str.startswith("one class").all()
    assert (shown["patients"] == f"{oof['patient'].nunique():,}").all()
