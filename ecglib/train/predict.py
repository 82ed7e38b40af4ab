"""Predicted probabilities from one or several fold models, and the prediction tables.

Prediction tables identify ECGs only by ``row``, the row of the run's cohort table
(``runs/<name>/cohort.csv``, the index of :func:`ecglib.data.prepare.read_cohort`), never by patient or
ECG id; labels, grades and every covariate join from the cohort table on that row
(:func:`join_cohort`). Probabilities are in the ``p_<vessel>`` columns of
:func:`ecglib.schema.prob_cols`.

* ``predictions/oof_fold{k}.csv``: ``row``, ``fold``, ``p_*``: the held-out fold ``k`` predicted
  once by fold ``k``'s best model (:func:`read_oof` concatenates the folds).
* ``predictions/external_fold{k}.csv``: ``row``, ``p_*``: the external cohort by fold ``k``'s model.
* ``predictions/external_mean.csv``: ``row``, ``n_models``, ``p_*``: the mean of the fold models'
  probabilities (:func:`mean_external`), the paper's external prediction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ecglib import schema
from ecglib.config import RunParams
from ecglib.errors import DataError
from ecglib.model import Net1D, PerVesselNets, model_from_config
from ecglib.paths import RunPaths
from ecglib.train.checkpoint import load_checkpoint, load_state_strict
from ecglib.train.distributed import DistContext, gather_rows

__all__ = [
    "predict_probs",
    "predict_mean",
    "load_fold_model",
    "predictions_frame",
    "write_predictions",
    "read_predictions",
    "read_oof",
    "mean_external",
    "join_cohort",
]


@torch.no_grad()
def predict_probs(
    model: Net1D,
    signals: np.ndarray,
    rows: np.ndarray,
    *,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    amp_dtype: torch.dtype | None = None,
    ctx: DistContext | None = None,
) -> np.ndarray:
    """Sigmoid probabilities ``(len(rows), 4)`` (float64) of ``signals[rows]``, model in eval mode
    (restored afterwards). Under several processes each predicts a shard and all get the whole.
    ``amp_dtype``: autocast of the trunk; the head runs in float32 as in training (``model(x)``
    is :meth:`Net1D.forward_features_and_logits`'s logits)."""
    ctx = ctx or DistContext(device=torch.device(device))
    device = torch.device(device)
    rows = np.asarray(rows, dtype=np.int64)
    positions = np.arange(len(rows))[ctx.rank :: ctx.world_size]
    was_training = model.training
    model.eval()
    out = np.empty((len(positions), model.n_classes), dtype=np.float64)
    try:
        for start in range(0, len(positions), batch_size):
            pos = positions[start : start + batch_size]
            x = torch.from_numpy(np.ascontiguousarray(signals[rows[pos]], dtype=np.float32))
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(x.to(device))
            out[start : start + len(pos)] = torch.sigmoid(logits.float()).cpu().numpy()
    finally:
        model.train(was_training)
    return gather_rows(out, positions, len(rows), ctx)


def predict_mean(
    models: Sequence[Net1D], signals: np.ndarray, rows: np.ndarray, **kwargs
) -> np.ndarray:
    """Mean of the models' probabilities (not of their logits), ``(len(rows), 4)``."""
    if not models:
        raise ValueError("no models to average")
    return np.mean([predict_probs(m, signals, rows, **kwargs) for m in models], axis=0)


def load_fold_model(
    params: RunParams,
    fold: int,
    device: torch.device | str = "cpu",
    *,
    paths: RunPaths | None = None,
) -> Net1D | PerVesselNets:
    """Fold ``fold``'s best model (eval mode), loaded strictly from its checkpoint (a run
    variant's with ``paths=RunPaths.of(params).variant(name)``)."""
    path = (paths or RunPaths.of(params)).best_checkpoint(fold)
    ckpt = load_checkpoint(path, map_location=device)
    model = model_from_config(ckpt["model_config"])
    load_state_strict(model, ckpt["state_dict"], str(path))
    return model.to(device).eval()


def trained_vessels(params: RunParams, fold: int) -> tuple[str, ...]:
    """The vessels fold ``fold``'s model was trained on: its checkpoint's ``vessels`` (a vessel
    the cohort does not assess is not a task, and its head's output means nothing); all four
    for a checkpoint that does not say."""
    ckpt = load_checkpoint(RunPaths.of(params).best_checkpoint(fold), map_location="cpu")
    return tuple(ckpt.get("vessels", schema.VESSELS))


def predictions_frame(rows: np.ndarray, probs: np.ndarray, fold: int | None = None) -> pd.DataFrame:
    """``row`` (cohort-table row), optional ``fold``, and ``p_<vessel>`` columns."""
    frame = pd.DataFrame({"row": np.asarray(rows, dtype=np.int64)})
    if fold is not None:
        frame["fold"] = int(fold)
    probs = np.asarray(probs, dtype=float)
    for j, col in enumerate(schema.prob_cols()):
        frame[col] = probs[:, j]
    return frame


def write_predictions(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """CSV, replaced atomically; refuses identifying columns."""
    banned = {"patient_id", "ecg_id", "ecg_path", "ccta_id"} & set(frame.columns)
    if banned:
        raise ValueError(f"prediction tables never hold identifiers; drop {sorted(banned)}")
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    frame.to_csv(tmp, index=False, float_format="%.9g")
    os.replace(tmp, path)


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    if not os.path.exists(path):
        raise DataError(
            str(path), "no predictions here; run notebooks/02_train_fold.ipynb for this fold first"
        )
    return pd.read_csv(path)


def read_oof(
    params: RunParams, folds: Sequence[int] | None = None, *, paths: RunPaths | None = None
) -> pd.DataFrame:
    """Out-of-fold predictions of every fold (``row``, ``fold``, ``p_*``), sorted by row; a row
    predicted twice raises. ``paths``: a run variant's folder (default: the run's)."""
    paths = paths or RunPaths.of(params)
    folds = range(params.folds.n_folds) if folds is None else folds
    oof = pd.concat([read_predictions(paths.oof_predictions(k)) for k in folds], ignore_index=True)
    dup = oof["row"].duplicated()
    if dup.any():
        raise DataError(
            f"row {int(oof.loc[dup, 'row'].iloc[0])}",
            "predicted by more than one fold: the folds overlap",
        )
    return oof.sort_values("row", ignore_index=True)


def mean_external(
    params: RunParams,
    folds: Sequence[int] | None = None,
    *,
    write: bool = True,
    paths: RunPaths | None = None,
) -> pd.DataFrame:
    """The external cohort's probabilities averaged over the fold models (mean of probabilities),
    ``row``, ``n_models``, ``p_*``; written to ``predictions/external_mean.csv`` when ``write``.
    Every fold's file must cover the same rows. ``paths``: a run variant's folder (default: the
    run's)."""
    paths = paths or RunPaths.of(params)
    folds = list(range(params.folds.n_folds) if folds is None else folds)
    frames = [
        read_predictions(paths.external_predictions(k)).sort_values("row", ignore_index=True)
        for k in folds
    ]
    rows = frames[0]["row"].to_numpy()
    for k, frame in zip(folds, frames):
        if not np.array_equal(frame["row"].to_numpy(), rows):
            raise DataError(
                str(paths.external_predictions(k)),
                "covers other external rows than fold "
                f"{folds[0]}'s file: re-run the folds on the same cohort",
            )
    cols = schema.prob_cols()
    mean = np.mean([f[cols].to_numpy() for f in frames], axis=0)
    out = predictions_frame(rows, mean)
    out.insert(1, "n_models", len(frames))
    if write:
        write_predictions(out, paths.external_mean)
    return out


def join_cohort(
    predictions: pd.DataFrame, cohort: pd.DataFrame, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Predictions with cohort columns attached by row: by default the grades and the labels
    (derived from the grades by :func:`ecglib.schema.binarise_grades`), else ``columns``."""
    picked = cohort.loc[predictions["row"].to_numpy()].reset_index(drop=True)
    if columns is None:
        attached = picked[schema.grade_cols()].join(schema.binarise_grades(picked))
    else:
        attached = picked[list(columns)]
    return pd.concat([predictions.reset_index(drop=True), attached], axis=1)
