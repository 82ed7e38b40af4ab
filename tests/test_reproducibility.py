"""Reproducibility: the same params and seed give, in two independent runs (two run folders),
the identical demo export, cohort table, ECG store, folds and (on the CPU) predictions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglib.config import load_params
from ecglib.data.folds import assign_folds
from ecglib.data.prepare import prepare_data, read_cohort
from ecglib.data.run_folds import ensure_folds
from ecglib.paths import RunPaths
from ecglib.train.fit import fit_fold

SEED = 20251205
#: The demo run at CI size, three folds, and a tiny Net1D trained for one epoch with every
#: random part of the training on: augmentation, PCGrad's order, dropout, uncertainty weights.
PARAMS = """name: repro
seed: {seed}
runs_dir: {runs}
demo:
  size: small
data:
  table: "{{run}}/raw/export.csv"
  map: params/maps/demo_export.yaml
folds:
  n_folds: 3
  inner_val_fraction: 0.25
model:
  base_filters: 4
  filter_list: [4, 8]
  m_blocks_list: [1, 1]
  kernel_size: 5
  stride: 4
  groups_width: 4
train:
  epochs: 1
  batch_size: 32
  lr: 0.003
  device: cpu
  gradient_surgery: pcgrad
  loss_weighting: uncertainty
  augment: true
"""
#: Patients of the demo cohort that the training check uses (a subset, for speed).
N_PATIENTS = 30


def _params(folder: Path, seed: int = SEED):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "params.yaml"
    path.write_text(PARAMS.format(seed=seed, runs=folder / "runs"))
    return load_params(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same params prepared twice, in two unrelated folders."""
    out = []
    for name in ("a", "b"):
        params = _params(tmp_path_factory.mktemp(f"repro_{name}"))
        out.append((params, prepare_data(params, progress=False)))
    return out


def _raw_dir(params) -> Path:
    return params.path(params.demo.out_dir)


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _relative_paths(cohort: pd.DataFrame, params) -> pd.DataFrame:
    """The cohort with ECG paths relative to the run's export (the run folders differ)."""
    out = cohort.copy()
    out["ecg_path"] = [str(Path(p).relative_to(_raw_dir(params))) for p in out["ecg_path"]]
    return out


def test_demo_export_is_byte_identical(runs):
    (pa, _), (pb, _) = runs
    table_a, table_b = _raw_dir(pa) / "export.csv", _raw_dir(pb) / "export.csv"
    assert (
        hashlib.sha256(table_a.read_bytes()).hexdigest()
        == hashlib.sha256(table_b.read_bytes()).hexdigest()
    )
    files_a = sorted((_raw_dir(pa) / "ecg").iterdir())
    files_b = sorted((_raw_dir(pb) / "ecg").iterdir())
    assert [f.name for f in files_a] == [f.name for f in files_b] and len(files_a) > 100
    # a few ECG files one by one (first, internal and external orientation, last), then all
    for i in (0, 1, len(files_a) // 2, len(files_a) - 1):
        assert files_a[i].read_bytes() == files_b[i].read_bytes(), files_a[i].name
    assert _digest(files_a) == _digest(files_b)


def test_cohort_table_exclusions_and_store_are_identical(runs):
    (pa, da), (pb, db) = runs
    assert len(da.cohort) > 100 and da.report.table()["excluded"].sum() > 0
    ca = _relative_paths(read_cohort(RunPaths.of(pa).cohort), pa)
    cb = _relative_paths(read_cohort(RunPaths.of(pb).cohort), pb)
    pd.testing.assert_frame_equal(ca, cb)
    pd.testing.assert_frame_equal(_relative_paths(da.cohort, pa), ca, check_dtype=False)
    assert RunPaths.of(pa).exclusions.read_bytes() == RunPaths.of(pb).exclusions.read_bytes()
    ra = da.store.rows_for(da.cohort["ecg_path"])
    rb = db.store.rows_for(db.cohort["ecg_path"])
    np.testing.assert_array_equal(
        np.asarray(da.store.signals)[ra], np.asarray(db.store.signals)[rb]
    )


def test_folds_are_identical(runs):
    (pa, da), (pb, db) = runs
    fa = assign_folds(da.cohort, n_folds=pa.folds.n_folds, seed=pa.seed)
    fb = assign_folds(db.cohort, n_folds=pb.folds.n_folds, seed=pb.seed)
    pd.testing.assert_series_equal(fa, fb)
    assert fa.nunique() == pa.folds.n_folds
    other = assign_folds(da.cohort, n_folds=pa.folds.n_folds, seed=pa.seed + 1)
    assert not other.equals(fa), "the seed must matter"
    ea = ensure_folds(pa, da.cohort)
    eb = ensure_folds(pb, db.cohort)
    pd.testing.assert_series_equal(ea, eb)
    assert RunPaths.of(pa).folds.read_bytes() == RunPaths.of(pb).folds.read_bytes()


def test_training_predictions_are_identical_on_the_cpu(runs):
    results = []
    for params, data in runs:
        keep = sorted(data.cohort["patient_id"].unique())[:N_PATIENTS]
        cohort = data.cohort[data.cohort["patient_id"].isin(keep)].reset_index(drop=True)
        results.append(
            (params, fit_fold(params, 0, cohort=cohort, store=data.store, progress=False))
        )
    (pa, ra), (pb, rb) = results
    assert ra.finished and rb.finished and ra.n_rows == rb.n_rows and ra.n_rows["test"] > 0
    pd.testing.assert_frame_equal(ra.oof, rb.oof)
    assert (
        RunPaths.of(pa).oof_predictions(0).read_bytes()
        == RunPaths.of(pb).oof_predictions(0).read_bytes()
    )
    timing = [c for c in ra.history.columns if c == "seconds"]
    pd.testing.assert_frame_equal(ra.history.drop(columns=timing), rb.history.drop(columns=timing))
    import torch

    from ecglib.train.checkpoint import load_checkpoint

    sa = load_checkpoint(RunPaths.of(pa).best_checkpoint(0))
    sb = load_checkpoint(RunPaths.of(pb).best_checkpoint(0))
    weights_a, weights_b = _state(sa), _state(sb)
    assert weights_a.keys() == weights_b.keys()
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key


def _state(checkpoint) -> dict:
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint
