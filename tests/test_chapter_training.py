"""ecglib.chapters.training: one fold's page: its split AUC table, the initialisation note, the
learning curves, and analyse() on the ci run (a finished fold is reused, not retrained)."""

import math

import numpy as np
import pandas as pd
import pytest
from chapter_support import make_cohort
from sklearn.metrics import roc_auc_score

from conftest import CI_PARAMS
from ecglib import schema
from ecglib.chapters import training as ch
from ecglib.config import load_params
from ecglib.data.prepare import read_cohort
from ecglib.data.run_folds import ensure_folds, fold_roles
from ecglib.paths import RunPaths
from ecglib.plots.training import learning_curves_figure
from ecglib.train.fit import FoldResult, history_columns


def _fold_result(cohort: pd.DataFrame, test_rows: np.ndarray, *, oof: bool = True) -> FoldResult:
    rng = np.random.default_rng(5)
    predictions = pd.DataFrame({"row": test_rows})
    for v in schema.VESSELS:
        predictions[schema.prob_col(v)] = rng.uniform(size=len(test_rows))
    inner = {"RCA": 0.61, "LM": math.nan, "LAD": 0.72, "LCX": 0.55}
    return FoldResult(
        fold=1,
        finished=oof,
        best_epoch=3,
        selection="best inner-validation macro-AUC",
        inner_auc=inner,
        inner_macro_auc=float(np.nanmean(list(inner.values()))),
        history=pd.DataFrame(columns=history_columns()),
        n_rows={},
        pretrained=None,
        fingerprint="f",
        seconds=60.0,
        oof=predictions if oof else None,
    )


def _roles(cohort: pd.DataFrame) -> pd.Series:
    roles = np.where(
        np.arange(len(cohort)) % 3 == 0,
        "test",
        np.where(np.arange(len(cohort)) % 3 == 1, "val", "train"),
    )
    return pd.Series(roles, index=cohort.index, name="role")


def test_the_split_table_has_the_inner_and_held_out_auc_and_their_positives():
    cohort = make_cohort(n_patients=60, n_external=0)
    cohort[schema.grade_col("LM")] = np.nan  # a vessel the cohort does not assess
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    roles = _roles(cohort)
    test_rows = cohort.index[roles == "test"].to_numpy()
    result = _fold_result(cohort, test_rows)
    table = ch.split_auc_table(result, cohort, roles)
    assert list(table.index) == [*schema.VESSELS, "macro"] and table.index.name == "vessel"
    assert list(table.columns) == [
        ch.INNER_AUC,
        ch.HELDOUT_AUC,
        "inner-validation positives",
        "held-out positives",
    ]
    held = cohort.loc[test_rows]
    want = roc_auc_score(held["y_LAD"], result.oof["p_LAD"])
    assert table.at["LAD", ch.HELDOUT_AUC] == pytest.approx(want, abs=1e-12)
    assert table.at["RCA", ch.INNER_AUC] == 0.61
    assert table.at["macro", ch.INNER_AUC] == pytest.approx(np.mean([0.61, 0.72, 0.55]))
    defined = [table.at[v, ch.HELDOUT_AUC] for v in ("RCA", "LAD", "LCX")]
    assert table.at["macro", ch.HELDOUT_AUC] == pytest.approx(np.mean(defined))
    assert table.at["LCX", "inner-validation positives"] == int(
        cohort.loc[roles == "val", "y_LCX"].sum()
    )
    assert table.at["LAD", "held-out positives"] == int(held["y_LAD"].sum())
    assert math.isnan(table.at["LM", ch.HELDOUT_AUC])
    assert pd.isna(table.at["LM", "held-out positives"]) and pd.isna(
        table.at["macro", "held-out positives"]
    )


def test_an_unfinished_fold_has_no_held_out_aucs():
    cohort = make_cohort(n_external=0)
    result = _fold_result(cohort, cohort.index.to_numpy()[:5], oof=False)
    with pytest.raises(ValueError, match="fold 1 has not finished"):
        ch.heldout_aucs(result, cohort)


def test_the_initialisation_note_says_where_the_weights_came_from():
    run = load_params(CI_PARAMS)
    assert ch.initialisation_note(run).startswith("**Random initialisation.**")
    from dataclasses import replace

    pretrained = replace(run, model=replace(run.model, pretrained="weights/ecgfounder.pth"))
    note = ch.initialisation_note(pretrained)
    assert note.startswith("**Pretrained initialisation.**") and "`weights/ecgfounder.pth`" in note


def test_the_learning_curves_draw_the_assessed_vessels_and_mark_the_chosen_epoch():
    epochs = np.arange(1, 5)
    history = pd.DataFrame(
        {
            "epoch": epochs,
            "lr": [1e-3, 8e-4, 4e-4, 1e-5],
            "augment_strength": [1.0, 0.83, 0.67, 0.5],
            "val_macro_auc": [0.6, 0.65, 0.7, 0.68],
        }
    )
    for k, v in enumerate(schema.VESSELS):
        missing = v == "LM"
        history[f"loss_{v}"] = np.nan if missing else 0.7 - 0.05 * epochs
        history[f"sigma_{v}"] = np.nan if missing else 1.0 + 0.01 * epochs
        history[f"val_auc_{v}"] = np.nan if missing else 0.6 + 0.01 * k * epochs
    fig = learning_curves_figure(history, best_epoch=3, title="fold 2")
    ax_loss, ax_sigma, ax_lr, ax_auc = fig.axes[:4]
    assert [
        line.get_label() for line in ax_loss.get_lines() if not line.get_label().startswith("_")
    ] == ["RCA", "LAD", "LCX"]
    macro = next(line for line in ax_auc.get_lines() if line.get_label() == "macro")
    np.testing.assert_allclose(macro.get_ydata(), history["val_macro_auc"])
    for ax in (ax_loss, ax_sigma, ax_lr, ax_auc):
        marks = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert any(list(line.get_xdata()) == [3, 3] for line in marks)
    assert fig.get_suptitle() == "fold 2"
    assert "uncertainty weighting" in ax_sigma.get_title()
    equal = history.assign(**{f"sigma_{v}": 1.0 for v in ("RCA", "LAD", "LCX")})
    ax_equal = learning_curves_figure(equal).axes[1]
    assert ax_equal.get_title() == "task weights: equal (no uncertainty weighting)"


def test_analyse_on_the_ci_run_reuses_the_fold_and_recomputes_its_held_out_auc(ci_run):
    run = ci_run
    paths = RunPaths.of(run)
    chapter = ch.analyse(run, 0, progress=False)
    assert chapter.result.reused, "a finished fold with unchanged params and data is reused"
    cohort = read_cohort(paths.cohort)
    oof = pd.read_csv(paths.oof_predictions(0))
    held = cohort.loc[oof["row"]]
    for v in schema.assessed_vessels(cohort):
        want = roc_auc_score(held[schema.label_col(v)], oof[schema.prob_col(v)])
        assert chapter.aucs.at[v, ch.HELDOUT_AUC] == pytest.approx(want, abs=1e-12)
    roles = fold_roles(run, cohort, ensure_folds(run, cohort), 0)
    numbers = chapter.numbers()
    assert numbers["n_test"] == int((roles == "test").sum()) == len(oof)
    assert numbers["inner_macro"] == pytest.approx(chapter.result.inner_macro_auc)
    assert numbers["reused_text"] == "reused the finished fold of an earlier run"
    folds = pd.read_csv(paths.folds)
    assert chapter.folds.loc[0, "n_ecgs"] == int((folds["fold"] == 0).sum())
    assert chapter.folds.loc["all", "n_ecgs"] == len(folds)
    assert chapter.figure_name == "learning_curves_fold0"
    assert chapter.fit_summary().at["best epoch", "value"] == str(chapter.best_epoch)
    # the fold page saves its full per-fold prevalence table (it shows a compact one)
    assert set(chapter.outputs()) == {"fold_prevalence"} and chapter.skipped() == []


def test_the_fold_table_is_a_compact_counts_table():
    folds = pd.DataFrame(
        {
            "n_patients": [94, 93, 187],
            "n_ecgs": [187, 186, 373],
            "RCA_positives": [23, 21, 44],
            "RCA_prevalence": [23 / 187, 21 / 186, 44 / 373],
            "RCA_patients_positive": [10, 10, 20],
        },
        index=pd.Index([0, 1, "all"], name="fold"),
    )
    shown = ch.fold_counts_display(folds)
    assert list(shown.columns) == ["patients", "ECGs", "RCA positive ECGs"]
    # 23 / 187 = 12.299...%
    assert shown["RCA positive ECGs"].tolist() == ["23 (12.3%)", "21 (11.3%)", "44 (11.8%)"]
    assert shown["ECGs"].tolist() == [187, 186, 373]
