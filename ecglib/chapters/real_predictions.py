"""What a run's fold models predict for the real records (chapter 11, ``11_real_ecgs``).

:func:`real_predictions`: the run's fold models (``checkpoints/fold{k}_best.pt``, loaded
strictly), averaged (mean of the probabilities), predict every real record that passed loading,
preprocessed exactly as the run's ECG store (``signals.length_policy``, ``signals.filter``,
lead-wise z-score; :func:`real_model_inputs`). **No coronary label exists for these records**:
the predictions are a distribution, never an AUC. Without a trained fold the part raises
:class:`~ecglib.errors.MissingInputError`. :func:`oof_reference` gives the run's own pooled
out-of-fold predictions to draw beside them. Records are keyed by ``row``, never their name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import RunParams
from ecglib.errors import MissingInputError
from ecglib.paths import RunPaths
from ecglib.real.beat_yield import RealBeats

__all__ = [
    "real_model_inputs",
    "trained_folds",
    "real_predictions",
    "oof_reference",
    "training_cohort",
]


def real_model_inputs(
    real: RealBeats, params: RunParams, rows: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, signals)``: the model inputs (n, 12, 5000) float32 of the loaded records (or of
    ``rows`` among them), preprocessed as the run's ECG store (``signals.length_policy``,
    ``signals.filter``, lead-wise z-score)."""
    from ecglib.signals import ecg_preprocess

    loaded = real.records[real.records["status"] == "ok"]
    if rows is not None:
        loaded = loaded[loaded["row"].isin(rows)]
    signals = np.empty((len(loaded), len(schema.LEADS), schema.N_SAMPLES), dtype=np.float32)
    for i, (path, record) in enumerate(zip(loaded["path"], loaded["record"])):
        signals[i] = ecg_preprocess(
            path,
            record_id=record,
            fs=None,
            length_policy=params.signals.length_policy,
            filter=params.signals.filter,
        )
    return loaded["row"].to_numpy(dtype=np.int64), signals


def trained_folds(params: RunParams) -> list[int]:
    """The folds of the run with a best checkpoint; :class:`MissingInputError` when none has."""
    paths = RunPaths.of(params)
    folds = [k for k in range(params.folds.n_folds) if paths.best_checkpoint(k).is_file()]
    if not folds:
        raise MissingInputError(
            f"the run {params.name!r} has no trained fold model ({paths.checkpoints} holds no "
            f"fold*_best.pt): this part needs a trained run (train every fold with "
            f"notebooks/02_train_fold.ipynb or python -m ecglib run first)"
        )
    return folds


def real_predictions(
    real: RealBeats,
    params: RunParams,
    *,
    device: str = "cpu",
    write: bool = True,
    chunk_size: int = 1000,
) -> pd.DataFrame:
    """The mean of the run's fold models' probabilities for every loaded real record: ``row``,
    ``source``, ``rhythm_category``, ``st_group``, ``n_models``, ``p_<vessel>``; written to
    ``predictions/real_mean.csv`` when ``write``. Raises :class:`MissingInputError` without a
    trained fold. There are no labels: nothing here is an accuracy. A vessel the run's cohort
    does not assess has missing probabilities: its head was never trained
    (:func:`ecglib.train.predict.trained_vessels`)."""
    from ecglib.train.predict import (
        load_fold_model,
        predict_mean,
        trained_vessels,
        write_predictions,
    )

    folds = trained_folds(params)
    models = [load_fold_model(params, k, device=device) for k in folds]
    loaded = real.records.loc[real.records["status"] == "ok", "row"].to_numpy(dtype=np.int64)
    parts = []
    for start in range(0, len(loaded), chunk_size):  # bounded memory for large folders
        chunk, signals = real_model_inputs(real, params, loaded[start : start + chunk_size])
        assert np.array_equal(chunk, loaded[start : start + chunk_size])
        parts.append(predict_mean(models, signals, np.arange(len(chunk)), device=device))
    probs = np.concatenate(parts) if parts else np.empty((0, len(schema.VESSELS)))
    meta = real.records.set_index("row").loc[loaded]
    out = pd.DataFrame(
        {
            "row": loaded,
            "source": meta["source"].to_numpy(),
            "rhythm_category": meta["rhythm_category"].to_numpy(),
            "st_group": meta["st_group"].to_numpy(),
            "n_models": len(folds),
        }
    )
    for j, col in enumerate(schema.prob_cols()):
        out[col] = probs[:, j]
    trained = set.intersection(*(set(trained_vessels(params, k)) for k in folds))
    for vessel in schema.VESSELS:
        if vessel not in trained:
            out[schema.prob_col(vessel)] = np.nan
    if write:
        RunPaths.of(params).ensure()
        write_predictions(out, RunPaths.of(params).predictions / "real_mean.csv")
    return out


def oof_reference(params: RunParams) -> pd.DataFrame:
    """The run's pooled out-of-fold predictions (``row``, ``fold``, ``p_*``), the distribution
    the real records' predictions are drawn beside. Raises :class:`MissingInputError` unless
    every fold has its out-of-fold file."""
    from ecglib.train.predict import read_oof

    paths = RunPaths.of(params)
    missing = [k for k in range(params.folds.n_folds) if not paths.oof_predictions(k).is_file()]
    if missing:
        raise MissingInputError(
            f"fold(s) {missing} of the run {params.name!r} have no out-of-fold predictions yet"
        )
    return read_oof(params)


def training_cohort(params: RunParams) -> str:
    """What the run's models were trained on, for the chapter's text."""
    if params.demo is not None:
        return f"the synthetic demo cohort ({params.demo.size} size)"
    return "the run's own cohort"
