"""Test helpers for the chapter modules: small canonical cohorts, runs with predictions on
disk, and joined-prediction tables like :func:`ecglib.chapters.predictions.load_results` gives."""

from dataclasses import replace

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import DataParams, RunParams
from ecglib.paths import RunPaths
from ecglib.train.predict import predictions_frame, write_predictions

N_FOLDS = 3


def make_cohort(n_patients: int = 30, n_external: int = 6, seed: int = 0) -> pd.DataFrame:
    """Canonical cohort rows: some patients with two CCTA exams, exams with one to three ECGs."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        site = "external" if p >= n_patients - n_external else "internal"
        n_exams = 2 if p % 5 == 0 else 1
        for e in range(n_exams):
            ccta = pd.Timestamp("2023-01-01") + pd.Timedelta(days=10 * p + 200 * (n_exams - 1 - e))
            grades = rng.integers(0, 5, size=4)
            for k in range(1 + (p + e) % 3):
                ecg = ccta - pd.Timedelta(hours=2 + 30 * k)
                rows.append(
                    {
                        "patient_id": f"P{p:03d}",
                        "ccta_id": f"C{p:03d}-{e}",
                        "ecg_id": f"E{len(rows):04d}",
                        "ecg_path": f"/x/E{len(rows):04d}.npy",
                        "ecg_time": ecg,
                        "ccta_time": ccta,
                        "site": site,
                        "age": float(40 + p),
                        "sex": "male" if p % 2 else "female",
                        "symptom": "typical",
                        "normal_ecg": float(p % 3 == 0),
                        "ecg_ccta_hours": (ccta - ecg).total_seconds() / 3600,
                        "followup_days": 300.0 + p,
                        "followup_event": float(p % 7 == 0),
                        **{schema.grade_col(v): int(g) for v, g in zip(schema.VESSELS, grades)},
                    }
                )
    cohort = pd.DataFrame(rows)
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    return cohort


def write_run(tmp_path, cohort: pd.DataFrame, *, external: bool = True) -> RunParams:
    params = RunParams(
        name="t", seed=1, data=DataParams(table="x.csv", map="m.yaml"), runs_dir=str(tmp_path)
    )
    params = replace(params, folds=replace(params.folds, n_folds=N_FOLDS))
    paths = RunPaths.of(params).ensure()
    cohort.to_csv(paths.cohort, index=False)
    rng = np.random.default_rng(3)
    internal = cohort.index[cohort["site"] == "internal"].to_numpy()
    patients = pd.factorize(cohort.loc[internal, "patient_id"])[0]
    for k in range(N_FOLDS):
        rows = internal[patients % N_FOLDS == k]
        write_predictions(
            predictions_frame(rows, rng.uniform(size=(len(rows), 4)), fold=k),
            paths.oof_predictions(k),
        )
        ext = cohort.index[cohort["site"] == "external"].to_numpy()
        if external and len(ext):
            write_predictions(
                predictions_frame(ext, rng.uniform(size=(len(ext), 4))),
                paths.external_predictions(k),
            )
    return params


# ------------------------------------------------------------------------------------------


def joined_predictions(n: int = 400, seed: int = 0, n_folds: int = 3) -> pd.DataFrame:
    """A joined-predictions-like table: labels with signal, folds, keys, covariates."""
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"row": np.arange(n), "fold": np.arange(n) % n_folds})
    for _k, v in enumerate(schema.VESSELS):
        y = (rng.uniform(size=n) < (0.05 if v == "LM" else 0.25)).astype(int)
        out[schema.label_col(v)] = y
        out[schema.grade_col(v)] = np.where(y == 1, rng.integers(3, 5, n), rng.integers(0, 3, n))
        out[schema.prob_col(v)] = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y - 1.5)))
    out["patient"] = np.arange(n) // 2
    out["exam"] = np.arange(n) // 2
    out["exam_order"] = 1
    out["ecg_order"] = np.arange(n) % 2 + 1
    out["age"] = rng.uniform(35, 85, n).round()
    out["sex"] = np.where(rng.uniform(size=n) < 0.5, "male", "female")
    out["symptom"] = rng.choice(schema.SYMPTOMS, n)
    out["followup_days"] = rng.uniform(30, 400, n).round()
    out["followup_event"] = (rng.uniform(size=n) < 0.1).astype(float)
    return out
