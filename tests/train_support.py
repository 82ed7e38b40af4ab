"""A tiny prepared run for the training tests: cohort table, ECG store and params.

The signals are short (``LENGTH`` samples) and carry a planted, vessel-specific offset in a few
leads so that a tiny Net1D learns something within a few epochs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ecglib import schema
from ecglib.config import (
    DataParams,
    FoldParams,
    ModelParams,
    RunParams,
    TrainParams,
    params_to_dict,
)
from ecglib.data.store import STORE_VERSION, open_store
from ecglib.paths import RunPaths

LENGTH = 256
#: Leads carrying each vessel's planted offset.
PLANTED = {"RCA": [1, 2, 5], "LM": [3], "LAD": [6, 7, 8], "LCX": [0, 4, 10]}

TINY_MODEL = ModelParams(
    base_filters=8,
    ratio=1.0,
    filter_list=(8, 16),
    m_blocks_list=(1, 1),
    kernel_size=5,
    stride=2,
    groups_width=8,
    use_bn=True,
    use_do=True,
    pretrained=None,
)
TINY_TRAIN = TrainParams(
    epochs=3,
    batch_size=16,
    lr=3e-3,
    weight_decay=5e-4,
    warmup_fraction=0.1,
    final_lr_fraction=0.01,
    loss_weighting="uncertainty",
    gradient_surgery="pcgrad",
    augment=True,
    device="cpu",
    num_workers=0,
)


def make_cohort(n_internal: int = 48, n_external: int = 8, seed: int = 0) -> pd.DataFrame:
    """Canonical cohort rows: 1-3 ECGs per patient, correlated grades, an external site."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_internal + n_external):
        site = "internal" if p < n_internal else "external"
        risk = rng.uniform()
        grades = [
            int(
                rng.choice(
                    5, p=[0.45, 0.2, 0.1, 0.15, 0.1] if risk > 0.5 else [0.7, 0.2, 0.05, 0.04, 0.01]
                )
            )
            for _ in schema.VESSELS
        ]
        if p % 7 == 0:
            grades[1] = 3  # a few LM positives
        for e in range(int(rng.integers(1, 4))):
            i = len(rows)
            rows.append(
                {
                    "patient_id": f"P{p:04d}",
                    "ecg_id": f"E{i:05d}",
                    "ecg_path": f"/data/ecg/E{i:05d}.npy",
                    "ecg_time": pd.Timestamp("2024-01-01") + pd.Timedelta(days=p, hours=e),
                    "ccta_time": pd.Timestamp("2024-01-01") + pd.Timedelta(days=p + 1),
                    "site": site,
                    "age": 60.0,
                    "sex": "male",
                    **{schema.grade_col(v): g for v, g in zip(schema.VESSELS, grades)},
                }
            )
    cohort = pd.DataFrame(rows)
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    return cohort


def make_signals(cohort: pd.DataFrame, seed: int = 0, length: int = LENGTH) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    t = np.arange(length) / 50.0
    x = np.sin(2 * np.pi * 1.1 * t)[None, None, :] * rng.uniform(0.5, 1.5, (len(cohort), 12, 1))
    x = x + 0.5 * rng.standard_normal((len(cohort), 12, length))
    labels = schema.binarise_grades(cohort).to_numpy()
    for j, v in enumerate(schema.VESSELS):
        x[:, PLANTED[v], length // 3 : length // 2] += 0.8 * labels[:, j, None, None]
    return x.astype(np.float32)


def write_run(
    tmp_path: Path, *, params: RunParams | None = None, seed: int = 0, **cohort_kwargs
) -> RunParams:
    """Write cohort.csv and the store of a tiny run under ``tmp_path/runs``; return its params."""
    params = params or tiny_params(tmp_path)
    paths = RunPaths.of(params).ensure()
    cohort = make_cohort(seed=seed, **cohort_kwargs)
    cohort.to_csv(paths.cohort, index=False)
    signals = make_signals(cohort, seed=seed)
    write_store(paths, cohort, signals, f"synthetic-{seed}")
    return params


def write_store(paths: RunPaths, cohort: pd.DataFrame, signals: np.ndarray, fingerprint: str):
    """An ECG store of ``signals`` (one row per cohort row, in order) under ``paths.store``,
    with an index and meta that ``open_store`` accepts (no files behind it)."""
    paths.store.mkdir(parents=True, exist_ok=True)
    np.save(paths.store / "signals.npy", signals)
    pd.DataFrame(
        {
            "row": np.arange(len(cohort)),
            "ecg_path": cohort["ecg_path"],
            "size": 0,
            "mtime_ns": 0,
            "sha256": "x",
        }
    ).to_csv(paths.store / "index.csv", index=False)
    (paths.store / "meta.json").write_text(
        json.dumps(
            {
                "version": STORE_VERSION,
                "fingerprint": fingerprint,
                "shape": list(signals.shape),
                "failures": [],
            }
        )
    )


def tiny_params(tmp_path: Path, **train_overrides) -> RunParams:
    return RunParams(
        name="tiny",
        seed=11,
        data=DataParams(table="unused.csv", map="unused.yaml"),
        folds=FoldParams(n_folds=3, inner_val_fraction=0.25),
        model=TINY_MODEL,
        train=replace(TINY_TRAIN, **train_overrides),
        runs_dir=str(tmp_path / "runs"),
    )


def write_params_yaml(params: RunParams, path: Path) -> Path:
    """The params as a YAML file that ``load_params`` reads back (for subprocess runs)."""
    data = params_to_dict(params)
    data["model"]["filter_list"] = list(data["model"]["filter_list"])
    data["model"]["m_blocks_list"] = list(data["model"]["m_blocks_list"])
    data = {k: v for k, v in data.items() if v is not None}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def store_of(params: RunParams):
    return open_store(RunPaths.of(params).store)
