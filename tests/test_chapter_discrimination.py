"""ecglib.chapters.discrimination: AUC per prediction set (patient-clustered), folds, the best
fold, and the out-of-fold AUC's intervals side by side (ECG-level, clustered, bootstrap, index
ECG, fold spread)."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from chapter_support import joined_predictions  # noqa: E402

from ecglib import schema  # noqa: E402
from ecglib.chapters import discrimination as ch  # noqa: E402
from ecglib.chapters.parts import Skipped  # noqa: E402
from ecglib.metrics.clustered_roc import clustered_auc_table  # noqa: E402
from ecglib.metrics.roc import delong_auc, vessel_auc_table  # noqa: E402
from ecglib.plots.roc import roc_figure  # noqa: E402
from ecglib.report.present import format_estimate  # noqa: E402


def test_best_fold_uses_vessels_defined_in_every_fold():
    folds = pd.DataFrame(
        {"fold": [0, 0, 1, 1], "vessel": ["RCA", "LM"] * 2, "auc": [0.70, 0.99, 0.80, np.nan]}
    )
    assert ch.common_vessels(folds) == ["RCA"]
    assert ch.best_fold(folds) == (1, 0.80)
    with pytest.raises(ValueError, match="no vessel"):
        ch.best_fold(folds.assign(auc=np.nan))


def test_auc_numbers_always_have_every_key():
    p = joined_predictions()
    aucs = ch.auc_tables({"a": p, "b": p[p["fold"] == 0]})
    numbers = ch.auc_numbers(aucs, {"oof": "a", "best": "b", "external": "absent"})
    assert numbers["n_oof"] == len(p) and numbers["n_best"] == int((p["fold"] == 0).sum())
    assert math.isnan(numbers["auc_external_RCA"]) and math.isnan(numbers["n_external"])
    assert numbers["macro_oof"] == pytest.approx(aucs[aucs["set"] == "a"]["auc"].mean())


def test_per_fold_aucs_are_each_folds_own_auc():
    p = joined_predictions()
    folds = ch.per_fold_aucs(p)
    assert folds["fold"].tolist() == sorted(folds["fold"]) and len(folds) == 3 * 4
    one = p[p["fold"] == 2]
    want = delong_auc(one["y_LAD"], one["p_LAD"]).auc
    got = folds[(folds["fold"] == 2) & (folds["vessel"] == "LAD")]["auc"].item()
    assert got == pytest.approx(want, abs=1e-14)


def test_defined_vessels_leave_out_a_vessel_without_an_auc():
    p = joined_predictions()
    p["y_LM"] = 0
    assert ch.defined_vessels(vessel_auc_table(p)) == ["RCA", "LAD", "LCX"]


def test_auc_tables_are_clustered_by_patient_and_say_so():
    p = joined_predictions()
    aucs = ch.auc_tables({"a": p})
    want = clustered_auc_table(p, cluster_col="patient")
    cols = ["vessel", "n", "auc", "se", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(aucs[cols], want[cols], check_exact=False, rtol=0, atol=1e-14)
    assert (aucs["patients"] == p["patient"].nunique()).all()
    assert (aucs["interval"] == ch.INTERVAL).all() and "patient" in ch.INTERVAL
    folds = ch.per_fold_aucs(p)
    assert (folds["interval"] == ch.INTERVAL).all()


def test_index_ecg_set_is_the_first_exams_latest_ecg_of_each_patient():
    p = joined_predictions()
    p.loc[p["patient"] % 4 == 0, "exam_order"] = 2  # no index ECG for these: not a first exam
    index = ch.index_ecg_set(p)
    assert (index["exam_order"] == 1).all() and (index["ecg_order"] == 1).all()
    assert index["patient"].is_unique
    assert set(index["patient"]) == set(p.loc[p["exam_order"] == 1, "patient"])


def test_fold_spread_is_mean_and_sample_sd_over_the_folds_with_an_auc():
    folds = pd.DataFrame(
        {
            "fold": [0, 1, 2] * 2,
            "vessel": ["RCA"] * 3 + ["LM"] * 3,
            "auc": [0.70, 0.80, 0.75, 0.60, np.nan, np.nan],
        }
    )
    spread = ch.fold_spread(folds).set_index("vessel")
    assert spread.at["RCA", "fold_mean"] == pytest.approx(0.75)
    assert spread.at["RCA", "fold_sd"] == pytest.approx(np.std([0.70, 0.80, 0.75], ddof=1))
    assert spread.at["LM", "folds_with_auc"] == 1 and math.isnan(spread.at["LM", "fold_sd"])


def test_width_sentence_says_which_vessels_have_no_ratio():
    p = joined_predictions()
    p["y_LM"] = 0
    clustered = ch.auc_tables({"oof": p}).drop(columns="set")
    values = ch.interval_values(
        clustered,
        vessel_auc_table(p),
        ch.patient_bootstrap(p, clustered, n_boot=50, seed=1),
        vessel_auc_table(ch.index_ecg_set(p)),
        ch.fold_spread(ch.per_fold_aucs(p)),
    )
    ratios = values.set_index("vessel")["width_ratio"]
    assert math.isnan(ratios["LM"]) and ratios[["RCA", "LAD", "LCX"]].notna().all()
    sentence = ch.width_sentence(values)
    assert f"on average {ratios.mean():.2f} times as wide" in sentence
    assert "The LM has no AUC (one class: no positives" in sentence
    table = ch.interval_table(values, n_boot=50)
    assert (
        list(table.columns) == list(schema.VESSELS)
        and table.at["AUC (pooled OOF ECGs)", "LM"] == "n/a"
    )


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    chapter = ch.analyse(ci_run)
    oof = chapter.roc_sets["pooled OOF"]
    aucs = chapter.aucs.set_index(["set", "vessel"])
    for vessel in schema.vessels_of(oof):
        want = delong_auc(oof[schema.label_col(vessel)], oof[schema.prob_col(vessel)]).auc
        row = aucs.loc[("internal, pooled out-of-fold", vessel)]
        if row["withheld"]:  # the small-count policy (report.min_events)
            assert math.isnan(row["auc"])
            assert min(row["positives"], row["negatives"]) < ci_run.report.min_events
        else:
            assert row["auc"] == pytest.approx(want)
    assert chapter.auc_wide().index[0] == "internal, pooled out-of-fold"
    assert {"ECGs", "patients", "95% CI"} <= set(chapter.auc_wide().columns)
    assert {"ECGs", "patients", "95% CI"} <= set(chapter.fold_wide().columns)
    assert "interval" in chapter.paper_layout().columns
    assert chapter.numbers()["best_fold"] == chapter.best
    # what does not fit is said, computed from the tables
    caveats = chapter.numbers()["caveats"]
    shown = pd.concat([chapter.aucs, chapter.folds])
    assert ("below 0.5" in caveats) == bool((shown["auc"] < 0.5).any())
    assert ("not reported" in caveats) == bool(shown["withheld"].astype(bool).any())
    has_external = not isinstance(chapter.external, Skipped)
    assert ("not directly comparable" in caveats) == (has_external and chapter.n_models > 1)
    assert set(chapter.outputs()) == {
        "discrimination_auc",
        "discrimination_paper_layout",
        "discrimination_folds",
        "discrimination_patient_bootstrap",
        "discrimination_index_ecg",
        "discrimination_intervals",
        "discrimination",
    }


def test_the_ci_runs_intervals_are_patient_level_and_side_by_side(ci_run):
    chapter = ch.analyse(ci_run)
    numbers = chapter.numbers()
    oof = chapter.roc_sets["pooled OOF"]
    vessels = schema.vessels_of(oof)

    # the out-of-fold AUC's interval is the clustered DeLong of the OOF predictions
    clustered = clustered_auc_table(oof, cluster_col="patient").set_index("vessel")
    ours = chapter.aucs[chapter.aucs["set"] == "internal, pooled out-of-fold"].set_index("vessel")
    min_events = ci_run.report.min_events
    for v in vessels:
        few = min(clustered.at[v, "positives"], clustered.at[v, "negatives"]) < min_events
        assert bool(ours.at[v, "withheld"]) == few
        if few:  # withheld: no number anywhere, the reason in the text
            assert np.isnan(ours.loc[v, ["auc", "se", "ci_low", "ci_high"]].astype(float)).all()
            assert numbers[f"auc_oof_{v}_text"].startswith("too few")
            continue
        for column in ("auc", "se", "ci_low", "ci_high"):
            assert ours.at[v, column] == pytest.approx(clustered.at[v, column], abs=1e-14)
        assert numbers[f"auc_oof_{v}_lo"] == pytest.approx(clustered.at[v, "ci_low"], abs=1e-14)
        assert numbers[f"auc_oof_{v}_hi"] == pytest.approx(clustered.at[v, "ci_high"], abs=1e-14)
    assert numbers["patients_oof"] == oof["patient"].nunique() < numbers["n_oof"]

    # the index-ECG set: one ECG per patient, ordinary DeLong on it
    index = oof[(oof["exam_order"] == 1) & (oof["ecg_order"] == 1)]
    assert len(index) == oof["patient"].nunique() == index["patient"].nunique()
    assert numbers["n_index"] == len(index)
    want = vessel_auc_table(index)
    cols = ["vessel", "n", "positives", "auc", "se", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(
        chapter.index_aucs[cols], want[cols], check_exact=False, rtol=0, atol=1e-14
    )

    # the folds' mean and SD of their own (held-out) AUCs
    for v in vessels:
        tables = [
            clustered_auc_table(oof[oof["fold"] == k]).set_index("vessel").loc[v]
            for k in sorted(oof["fold"].unique())
        ]
        # a fold AUC on too few events is withheld, and left out of the mean
        per_fold = [
            t["auc"]
            for t in tables
            if np.isfinite(t["auc"]) and min(t["positives"], t["negatives"]) >= min_events
        ]
        mean = np.mean(per_fold) if per_fold else math.nan
        sd = np.std(per_fold, ddof=1) if len(per_fold) > 1 else math.nan
        assert numbers[f"fold_mean_{v}"] == pytest.approx(mean, abs=1e-14, nan_ok=True)
        assert numbers[f"fold_sd_{v}"] == pytest.approx(sd, abs=1e-14, nan_ok=True)

    # the width ratio, from the two tables
    ecg = vessel_auc_table(oof).set_index("vessel")
    shown = [v for v in vessels if not ours.at[v, "withheld"]]
    ratios = [
        (clustered.at[v, "ci_high"] - clustered.at[v, "ci_low"])
        / (ecg.at[v, "ci_high"] - ecg.at[v, "ci_low"])
        for v in shown
    ]
    ratios = [r for r in ratios if np.isfinite(r)]
    assert numbers["width_ratio_mean"] == pytest.approx(np.mean(ratios), abs=1e-12)
    assert f"on average {np.mean(ratios):.2f} times as wide" in numbers["width_sentence"]
    rows = chapter.interval_table().index
    assert any("unit: ECG" in r for r in rows) and any("unit: patient" in r for r in rows)

    # the ROC legend shows the clustered interval, drawn as the notebook draws it
    fig = roc_figure(chapter.roc_sets, aucs=chapter.roc_aucs, interval="patient-clustered")
    for ax, v in zip(fig.axes, vessels):
        legend = ax.get_legend()
        texts = [t.get_text() for t in legend.get_texts()]
        c = clustered.loc[v]
        if ours.at[v, "withheld"]:
            assert f"pooled OOF: {ours.at[v, 'withheld']}" in texts
            continue
        assert f"pooled OOF: {format_estimate(c['auc'], c['ci_low'], c['ci_high'])}" in texts
        e = ecg.loc[v]
        assert not any(format_estimate(e["auc"], e["ci_low"], e["ci_high"]) in t for t in texts)
        assert legend.get_title().get_text() == "AUC [95% CI, patient-clustered]"
    plt.close(fig)


def test_the_fold_spread_reads_as_text_never_nan():
    from ecglib.chapters.discrimination import fold_spread_text

    assert fold_spread_text(0.8491, 0.0687) == "0.849 ± 0.069"
    assert fold_spread_text(0.8491, float("nan")) == "0.849 ± n/a"
    assert fold_spread_text(float("nan"), float("nan")) == "no fold AUC"
