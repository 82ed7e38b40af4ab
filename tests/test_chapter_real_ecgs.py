"""ecglib.chapters.real_ecgs (chapter 11) and ecglib.chapters.real_predictions: the page's parts,
each a value or a Skipped that says why, and the run's fold models on the real records.

Tests that read the real records skip, with the reason, when ../shared/data is absent; the test
of :func:`analyse` on the prepared ci run also skips when that run has no trained folds.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from train_support import tiny_params

from ecglib import schema
from ecglib.chapters import real_ecgs
from ecglib.chapters.parts import Skipped
from ecglib.chapters.real_predictions import real_model_inputs, real_predictions
from ecglib.errors import MissingInputError
from ecglib.model import Net1D
from ecglib.paths import RunPaths
from ecglib.real.collection import REAL_DATA_ENV
from ecglib.real.prediction_groups import prediction_summary
from ecglib.real.ptb_records import ptb_predictions
from ecglib.train.fit import model_config
from ecglib.train.predict import load_fold_model, predict_probs

#: The tables the page saves, under the names the book has always used.
OUTPUTS = {
    "real_yield_source",
    "real_yield_rhythm",
    "real_exclusions",
    "real_std_shift",
    "real_ste_shift",
    "real_ptb",
    "real_predictions_summary",
}


def test_missing_records_skip_the_chapter_once_and_every_number_still_exists(monkeypatch, tmp_path):
    monkeypatch.setenv(REAL_DATA_ENV, str(tmp_path / "absent"))
    chapter = real_ecgs.analyse(tiny_params(tmp_path))
    skipped = chapter.skipped()
    assert len(skipped) == 1 and skipped[0].part == "This chapter"
    assert "not available" in skipped[0].message and "ECGLIB_REAL_DATA" in skipped[0].reason
    for name, value in chapter.outputs().items():
        assert value is skipped[0], name  # every part carries the one skip
    assert set(chapter.outputs()) == OUTPUTS
    assert chapter.shift_table("ST depression") is None and chapter.reference is None
    numbers = chapter.numbers()
    assert math.isnan(numbers["real_records"]) and numbers["std_leads_depressed"] == "n/a"
    assert numbers["ste_shift_clause"] == "no comparison (the part is skipped)"
    assert numbers["real_n_folds"] == 3 and numbers["real_training_cohort"] == (
        "the run's own cohort"
    )


def test_predictions_are_the_mean_of_the_fold_models_and_need_a_trained_run(real, tmp_path):
    params = tiny_params(tmp_path)
    subset = dataclasses.replace(real, records=real.records[real.records["source"] == "ptbdb"])
    with pytest.raises(MissingInputError, match="trained"):
        real_predictions(subset, params)
    paths = RunPaths.of(params).ensure()
    for fold in (0, 2):
        torch.manual_seed(fold)
        net = Net1D.from_config(model_config(params))
        torch.save(
            {"state_dict": net.state_dict(), "model_config": net.config()},
            paths.best_checkpoint(fold),
        )
    preds = real_predictions(subset, params)
    assert len(preds) == 6 and (preds["n_models"] == 2).all()
    assert not {"record", "patient_id", "ecg_id", "ecg_path"} & set(preds.columns)
    rows, signals = real_model_inputs(subset, params)
    expected = np.mean(
        [predict_probs(load_fold_model(params, k), signals, np.arange(len(rows))) for k in (0, 2)],
        axis=0,
    )
    np.testing.assert_allclose(preds[schema.prob_cols()].to_numpy(), expected, rtol=1e-6)
    assert pd.read_csv(paths.predictions / "real_mean.csv")["row"].tolist() == rows.tolist()
    anecdote = ptb_predictions(subset, preds)
    assert anecdote[[f"{v} p" for v in schema.VESSELS]].notna().all().all()
    summary = prediction_summary(preds, params.evaluation.high_risk_thresholds, by="group")
    assert set(summary["vessel"]) == set(schema.VESSELS)


def test_analyse_on_the_ci_run_shows_the_records_and_the_runs_predictions(data_dir, ci_run):
    params = ci_run
    paths = RunPaths.of(params)
    chapter = real_ecgs.analyse(params)
    assert chapter.skipped() == []
    assert set(chapter.outputs()) == OUTPUTS
    records = chapter.real.records
    n_headers = len(list(data_dir.rglob("*.hea")))
    assert chapter.yield_source.loc["total", "records"] == n_headers == len(records)
    numbers = chapter.numbers()
    assert numbers["real_records"] == n_headers
    assert numbers["real_averaged"] == chapter.yield_source.loc["total", "averaged"]
    assert numbers["real_yield_pct"] == pytest.approx(100 * numbers["real_averaged"] / n_headers)
    assert numbers["n_std_averaged"] == chapter.std.shift["n_group"].iloc[0]
    # the predictions: every loaded record, by the mean of the run's fold models, written
    preds = chapter.predictions
    assert len(preds) == numbers["real_predicted"] == (records["status"] == "ok").sum()
    assert (preds["n_models"] == params.folds.n_folds).all()
    written = pd.read_csv(paths.predictions / "real_mean.csv")
    np.testing.assert_allclose(
        written[schema.prob_cols()].to_numpy(), preds[schema.prob_cols()].to_numpy(), rtol=1e-6
    )
    pd.testing.assert_frame_equal(
        chapter.summary,
        prediction_summary(preds, params.evaluation.high_risk_thresholds, by="group"),
    )
    assert chapter.reference is chapter.oof and len(chapter.oof) > 0
    # the page's display of the ST shift: one row per lead, the shift with its CI as text
    shift = chapter.shift_table("ST depression")
    assert shift["lead"].tolist() == list(schema.LEADS)
    first = chapter.std.shift.iloc[0]
    assert shift["shift [95% CI] (record SD)"].iloc[0] == (
        f"{first['shift']:.2f} [{first['ci_low']:.2f}"
        f"{' to ' if min(first['ci_low'], first['ci_high']) < 0 else '-'}{first['ci_high']:.2f}]"
    )
    significant = ", ".join(chapter.std.significant.query("direction == 'depression'")["lead"])
    assert numbers["std_leads_depressed"] == (significant or "no lead")
    if significant:
        assert numbers["std_shift_clause"].startswith(
            f"a significantly lower ST segment in {significant}"
        )


def test_a_part_without_its_own_input_is_skipped_alone(real, tmp_path):
    """No trained fold: the predictions and everything drawn from them are one skip; the record
    parts are computed."""
    params = tiny_params(tmp_path)
    chapter = real_ecgs.analyse(params, data_dir=real.data_dir)
    skipped = chapter.skipped()
    assert [s.part for s in skipped] == ["The predictions part"]
    assert chapter.summary is skipped[0] and chapter.ptb_anecdote is skipped[0]
    assert chapter.oof is skipped[0] and chapter.reference is None
    assert isinstance(chapter.yield_source, pd.DataFrame)
    assert not isinstance(chapter.std, Skipped)
    assert math.isnan(chapter.numbers()["real_predicted"])


def test_the_shift_clause_says_a_direction_without_a_lead_in_words():
    from ecglib.chapters.real_ecgs import shift_clause

    assert shift_clause(["I", "II"], ["aVR"], lower_first=True) == (
        "a significantly lower ST segment in I, II and a higher one in aVR"
    )
    assert shift_clause(["V4", "V5"], [], lower_first=False) == (
        "a significantly higher ST segment in V4, V5 and no significantly lower one in any lead"
    )
    assert shift_clause([], [], lower_first=True) == (
        "no significantly lower ST segment in any lead and no significantly higher one in any lead"
    )
