"""The run's fold assignment, computed once and reused by every fold, and each row's role.

:func:`ensure_folds` assigns the internal rows (``site != "external"``) to ``folds.n_folds``
patient-grouped, multilabel-stratified folds (:func:`ecglib.data.folds.assign_folds`, the run's seed)
and writes ``runs/<name>/folds.csv`` (``row``: the cohort table's row, ``fold``) with
``folds.json`` recording what it was computed from. Later calls read the file back while the
cohort's patients, sites and labels, the seed and the number of folds are unchanged (a stale file
is recomputed and replaced). The assignment is deterministic, so processes that compute it
concurrently (torchrun ranks, fold notebooks run in parallel) agree, and the file is replaced
atomically.

:func:`fold_roles` says what each cohort row is when training one fold: ``train``, ``val`` (the
inner, patient-grouped validation split of the training folds, :func:`ecglib.data.folds.split_roles`,
used only to choose the epoch), ``test`` (the held-out fold, predicted once at the end) or
``external``.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import RunParams
from ecglib.data import folds as folds_mod
from ecglib.paths import RunPaths

__all__ = ["EXTERNAL", "internal_mask", "cohort_digest", "ensure_folds", "read_folds", "fold_roles"]

#: The ``site`` value of the external validation cohort.
EXTERNAL = "external"
ROLES = ("train", "val", "test", EXTERNAL)


def internal_mask(cohort: pd.DataFrame) -> pd.Series:
    """True for the development cohort's rows (every row whose ``site`` is not ``external``)."""
    if "site" not in cohort:
        return pd.Series(True, index=cohort.index)
    return cohort["site"].astype(str) != EXTERNAL


def cohort_digest(cohort: pd.DataFrame) -> str:
    """Hash of what folds depend on: each row's position, patient, site and vessel labels."""
    cols = ["patient_id"] + (["site"] if "site" in cohort else [])
    frame = cohort[cols].astype(str).join(schema.binarise_grades(cohort))
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def ensure_folds(params: RunParams, cohort: pd.DataFrame, *, write: bool = True) -> pd.Series:
    """The fold of every internal row (Series named ``fold``, indexed by cohort row), read from
    ``folds.csv`` when it matches, else computed (and written when ``write``)."""
    paths = RunPaths.of(params)
    wanted = {
        "cohort": cohort_digest(cohort),
        "seed": int(params.seed),
        "n_folds": int(params.folds.n_folds),
        "n_rows": int(len(cohort)),
    }
    if paths.folds.exists() and paths.folds_meta.exists():
        try:
            same = json.loads(paths.folds_meta.read_text()) == wanted
        except json.JSONDecodeError:
            same = False
        if same:
            return read_folds(params)
    internal = cohort.loc[internal_mask(cohort)]
    folds = folds_mod.assign_folds(internal, n_folds=params.folds.n_folds, seed=params.seed)
    folds.index.name = "row"
    if write:
        paths.root.mkdir(parents=True, exist_ok=True)
        _write_text(paths.folds, folds.rename("fold").to_frame().to_csv())
        _write_text(paths.folds_meta, json.dumps(wanted, indent=1))
    return folds


def read_folds(params: RunParams) -> pd.Series:
    """``folds.csv`` as a Series of folds indexed by cohort row."""
    table = pd.read_csv(RunPaths.of(params).folds, index_col="row")
    return table["fold"].astype(np.int64)


def fold_roles(params: RunParams, cohort: pd.DataFrame, folds: pd.Series, fold: int) -> pd.Series:
    """Role of every cohort row when training ``fold`` (``train``/``val``/``test``/``external``)."""
    internal = cohort.loc[internal_mask(cohort)]
    if not folds.index.equals(internal.index):
        raise ValueError(
            "folds do not match the cohort's internal rows; recompute them with ensure_folds"
        )
    roles = pd.Series(EXTERNAL, index=cohort.index, name="role", dtype=object)
    roles.loc[internal.index] = folds_mod.split_roles(
        internal, folds, fold, val_fraction=params.folds.inner_val_fraction, seed=params.seed
    )
    return roles


def _write_text(path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
