"""ecglib.chapters.discrimination: AUC per prediction set, folds, the best fold, the bootstrap."""

import math

import numpy as np
import pandas as pd
import pytest
from chapter_support import joined_predictions

from ecglib import schema
from ecglib.chapters import discrimination as ch
from ecglib.metrics.roc import delong_auc, vessel_auc_table


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


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    chapter = ch.analyse(ci_run)
    oof = chapter.roc_sets["pooled OOF"]
    aucs = chapter.aucs.set_index(["set", "vessel"])
    for vessel in schema.vessels_of(oof):
        want = delong_auc(oof[schema.label_col(vessel)], oof[schema.prob_col(vessel)]).auc
        assert aucs.loc[("internal, pooled out-of-fold", vessel), "auc"] == pytest.approx(want)
    assert chapter.auc_wide().index[0] == "internal, pooled out-of-fold"
    assert chapter.numbers()["best_fold"] == chapter.best
    assert set(chapter.outputs()) == {
        "discrimination_auc",
        "discrimination_paper_layout",
        "discrimination_folds",
        "discrimination_patient_bootstrap",
        "discrimination",
    }
    assert chapter.bootstrap_comparison().columns.tolist() == [
        "AUC",
        "DeLong 95% CI",
        "patient bootstrap 95% CI",
        "resamples without both classes",
    ]
