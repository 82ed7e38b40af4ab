"""Chapter 12's second unfitted baseline: the ESC 2024 RF-CL beside the PTP and the models, on
the ECGs that have both."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from test_added_value import (  # noqa: F401 (toy_measurements: autouse fixture)
    fake_network_predictions,
    toy_measurements,
    toy_results,
)
from test_added_value_ptp import with_gaps

from ecglib import schema
from ecglib.chapters import added_value as ch
from ecglib.chapters.added_value_ptp import ptp_comparison
from ecglib.chapters.added_value_text import NETWORK, POPULATIONS, PTP, RF_CL
from ecglib.metrics.clustered_roc import clustered_delong_test
from ecglib.metrics.outcomes import ANY_VESSEL, any_vessel_score
from ecglib.metrics.ptp import ptp_lookup
from ecglib.metrics.rf_cl import rf_cl

#: ECGs of the internal toy population whose smoking is not recorded (no RF-CL).
NOT_RECORDED = 8


def with_risk_factors(table: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    """The five risk factors, per patient, smoking not recorded for the last NOT_RECORDED // 2
    patients (both ECGs of each; clear of :func:`with_gaps`' first rows)."""
    rng = np.random.default_rng(seed)
    table = table.copy()
    patients = table["patient"].to_numpy()
    for name in schema.RISK_FACTORS:
        per_patient = rng.integers(0, 2, patients.max() + 1).astype(float)
        table[name] = per_patient[patients]
    table.loc[table["patient"] > table["patient"].max() - NOT_RECORDED // 2, "smoking"] = np.nan
    return table


def scored(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The PTP and the RF-CL of every row, computed here from the published models."""
    ptp = ptp_lookup(table["age"], table["sex"], table["symptom"])["ptp"].to_numpy()
    count = table[list(schema.RISK_FACTORS)].sum(axis=1, min_count=5).to_numpy()
    return ptp, rf_cl(table["age"], table["sex"], table["symptom"], count)


def label_and_network(sub: pd.DataFrame, vessel: str) -> tuple[np.ndarray, np.ndarray]:
    if vessel == ANY_VESSEL:
        return (
            sub[schema.label_cols()].max(axis=1).to_numpy(),
            any_vessel_score(sub[schema.prob_cols()].to_numpy()),
        )
    return sub[schema.label_col(vessel)].to_numpy(), sub[schema.prob_col(vessel)].to_numpy()


def chapter_with_risk_factors(monkeypatch, min_events: int = 5):
    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    results = toy_results()
    params = SimpleNamespace(
        seed=3,
        evaluation=SimpleNamespace(n_bootstrap=200, rule_in_ppv=0.5),
        report=SimpleNamespace(min_events=min_events),
    )
    results = type(results)(
        params=params,
        oof=with_risk_factors(with_gaps(results.oof)),
        external=with_risk_factors(results.external, seed=3).assign(smoking=1.0),
    )
    return ch.analyse(None, results), results


def test_the_rf_cl_row_has_the_auc_of_the_rf_cl_on_the_ecgs_with_both():
    oof = with_risk_factors(with_gaps(toy_results().oof))
    table, coverage = ptp_comparison(
        {"internal": (oof, {NETWORK: oof[schema.prob_cols()]})}, schema.VESSELS, reference=NETWORK
    )
    ptp, rf = scored(oof)
    both = ~np.isnan(ptp) & ~np.isnan(rf)
    # the gaps (no PTP) and the unrecorded smoking (no RF-CL) fall on different ECGs
    assert both.sum() == len(oof) - 10 - NOT_RECORDED
    cover = coverage.iloc[0]
    assert (cover["with_ptp"], cover["without_rf_cl"], cover["compared"]) == (
        len(oof) - 10,
        NOT_RECORDED,
        both.sum(),
    )
    assert cover["rf_cl_skipped"] == "" and "a risk factor not recorded" in cover["rf_cl_reasons"]
    sub = oof[both]
    rows = table.set_index(["vessel", "model"])
    for vessel in (*schema.VESSELS, ANY_VESSEL):
        y, net = label_and_network(sub, vessel)
        row = rows.loc[(vessel, RF_CL)]
        assert row["n"] == both.sum()
        assert row["auc"] == pytest.approx(roc_auc_score(y, rf[both]))
        ref = clustered_delong_test(y, net, rf[both], sub["patient"].to_numpy())
        assert row["diff"] == pytest.approx(ref.diff)
        assert (row["diff_low"], row["diff_high"]) == pytest.approx((ref.ci_low, ref.ci_high))
        assert row["p_value"] == pytest.approx(ref.p_value)


def test_every_model_is_compared_on_the_same_ecgs(monkeypatch):
    chapter, results = chapter_with_risk_factors(monkeypatch)
    for key, frame in (("internal", results.oof), ("external", results.external)):
        ptp, rf = scored(frame)
        both = ~np.isnan(ptp) & ~np.isnan(rf)
        sub = frame[both]
        rows = chapter.ptp[chapter.ptp["population"] == POPULATIONS[key]]
        assert {NETWORK, ch.CLINICAL, ch.MEASURED, ch.COMBINED, PTP, RF_CL} <= set(rows["model"])
        for vessel, group in rows.groupby("vessel"):
            y, net = label_and_network(sub, vessel)
            assert (group["n"] == both.sum()).all(), (key, vessel)
            assert (group["positives"] == y.sum()).all(), (key, vessel)
            assert (group["patients"] == sub["patient"].nunique()).all(), (key, vessel)
            by_model = group.set_index("model")["auc"]
            assert by_model[NETWORK] == pytest.approx(roc_auc_score(y, net))
            assert by_model[PTP] == pytest.approx(roc_auc_score(y, ptp[both]))
    numbers = chapter.numbers()
    assert numbers["rfcl_without_internal"] == NOT_RECORDED
    assert numbers["rfcl_compared_internal"] == len(results.oof) - 10 - NOT_RECORDED
    assert f"{NOT_RECORDED} have no {RF_CL}" in numbers["rfcl_coverage_internal"]
    assert numbers["rfcl_without_external"] == 0
    assert numbers["rfcl_auc_internal_any"] == pytest.approx(
        chapter.ptp.set_index(["population", "vessel", "model"]).at[
            (POPULATIONS["internal"], ANY_VESSEL, RF_CL), "auc"
        ]
    )
    assert np.isfinite(numbers["d_nr_internal_RCA"]) and "RF-CL" in numbers["sentence_nr_internal"]
    text = chapter.ptp_table()
    assert {"network - RF-CL [95% CI]", "p (network - RF-CL)", "network - PTP [95% CI]"} <= set(
        text.columns
    )
    differences = chapter.unfitted_differences()
    assert len(differences) == 2 * 5 * 2  # populations, vessels and any vessel, baselines
    assert set(differences["comparison"]) == {"network - PTP", "network - RF-CL"}
    assert chapter.skipped() == []


def test_a_cohort_without_the_risk_factors_says_why_and_has_no_rf_cl_rows(monkeypatch):
    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    results = toy_results()  # age, sex and symptom, no risk factor
    chapter = ch.analyse(None, results)
    assert RF_CL not in set(chapter.ptp["model"]) and PTP in set(chapter.ptp["model"])
    # without an RF-CL nothing is dropped for one: the comparison is on the ECGs with a PTP
    assert (
        chapter.ptp["n"]
        == chapter.ptp_coverage.set_index("population")
        .loc[chapter.ptp["population"], "with_ptp"]
        .to_numpy()
    ).all()
    numbers = chapter.numbers()
    for key in POPULATIONS:
        for name in (f"sentence_nr_{key}", f"rfcl_coverage_{key}"):
            assert f"The {RF_CL} is not computed" in numbers[name], name
            assert "family_history" in numbers[name], name
        assert np.isnan(numbers[f"d_nr_{key}_RCA"]) and np.isnan(numbers[f"rfcl_auc_{key}_any"])
        assert numbers[f"rfcl_without_{key}"] == 0
    assert "PTP" in numbers["sentence_np_internal"]
    assert not any("RF-CL" in c for c in chapter.ptp_table().columns)
    assert set(chapter.unfitted_differences()["comparison"]) == {"network - PTP"}
    # the page's list of what it left out names the RF-CL of each population, with why
    skipped = chapter.skipped()
    assert [s.part for s in skipped] == [f"The {RF_CL} ({p})" for p in POPULATIONS.values()]
    assert all("family_history" in s.reason for s in skipped)


def test_no_rf_cl_where_no_ecg_with_a_ptp_has_every_risk_factor():
    oof = with_risk_factors(with_gaps(toy_results().oof))
    ptp, _ = scored(oof)
    oof.loc[~np.isnan(ptp), "diabetes"] = np.nan  # recorded only where there is no PTP
    table, coverage = ptp_comparison(
        {"internal": (oof, {NETWORK: oof[schema.prob_cols()]})}, schema.VESSELS, reference=NETWORK
    )
    assert RF_CL not in set(table["model"])
    assert (table["n"] == (~np.isnan(ptp)).sum()).all()
    assert coverage.at[0, "rf_cl_skipped"] == "no ECG with a PTP has every risk factor recorded"


def test_the_rf_cl_rows_are_withheld_on_too_few_events_as_the_ptp_rows_are(monkeypatch):
    chapter, _ = chapter_with_risk_factors(monkeypatch, min_events=20)
    rows = chapter.ptp.set_index(["population", "vessel", "model"])
    small = (POPULATIONS["external"], "RCA")  # 12 positive ECGs
    assert rows.at[(*small, NETWORK), "positives"] < 20
    for model in (PTP, RF_CL):
        assert rows.at[(*small, model), "withheld"] == "too few events (12)"
        assert np.isnan(rows.at[(*small, model), "auc"])
        assert np.isnan(rows.at[(*small, model), "diff"])
    kept = (POPULATIONS["internal"], ANY_VESSEL)
    assert rows.at[(*kept, RF_CL), "withheld"] == "" and np.isfinite(rows.at[(*kept, RF_CL), "auc"])
    shown = chapter.ptp_table().loc[small]
    assert shown[f"{RF_CL}: AUC [95% CI]"] == "too few events (12)"
    assert shown["network - RF-CL [95% CI]"] == "too few events (12)"
    numbers = chapter.numbers()
    assert "RCA: no comparison (too few events (12))" in numbers["sentence_nr_external"]
    assert "the RCA beside the guideline baselines, external" in numbers["withheld_sentence"]


def test_the_forest_figure_draws_network_minus_rf_cl(monkeypatch):
    from ecglib.plots.added_value import difference_forest_figure

    chapter, _ = chapter_with_risk_factors(monkeypatch)
    fig = difference_forest_figure(chapter.unfitted_differences())
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "RCA: network - RF-CL" in labels and "any vessel: network - RF-CL" in labels
    assert [ax.get_title() for ax in fig.axes] == list(POPULATIONS.values())
