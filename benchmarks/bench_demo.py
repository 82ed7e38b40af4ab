"""Benchmark the demo export, and measure how strong the planted signal is.

Generates and writes a demo export (default: the paper's size) into a temporary directory, then
prints one JSON object with the seconds taken, the number of ECGs, the MB written, and, for the
record, the per-vessel AUC of a logistic regression on per-lead ST levels (5-fold cross-validation
grouped by patient, before-CCTA internal rows; plus the normal-read subset and the external site
scored by a model fitted on all internal rows). The target is <= 120 s on a 2-core machine and AUCs
of roughly 0.75-0.88: learnable, far from perfect (the JSON's ``headline`` checks both for the
paper size; a small export has no targets). Progress goes to stderr.

Usage: ``python benchmarks/bench_demo.py [--size paper|small] [--seed 0] [--out DIR]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ecglib.demo import GRADE_TEXT, write_demo_export
from ecglib.demo.cohort import INTERNAL
from ecglib.demo.measure import measure_st_levels
from ecglib.report.benchmarks import emit, headline
from ecglib.schema import LEADS, N_SAMPLES, POSITIVE_GRADE, VESSELS

TARGET_S = 120
#: The planted signal's aimed strength: internal cross-validated AUCs of roughly this range.
TARGET_AUC = (0.75, 0.88)


def _st_features(root: Path, files: pd.Series, batch: int = 256) -> np.ndarray:
    """Per-lead ST levels of every exported file, read back as any user would (either orientation)."""
    out = np.empty((len(files), len(LEADS)))
    for start in range(0, len(files), batch):
        signals = []
        for name in files.iloc[start : start + batch]:
            x = np.load(root / name)
            signals.append(x.T if x.shape == (N_SAMPLES, len(LEADS)) else x)
        out[start : start + len(signals)] = measure_st_levels(np.stack(signals))
    return out


def _labels(table: pd.DataFrame) -> pd.DataFrame:
    positive = {text for grade, text in GRADE_TEXT.items() if grade >= POSITIVE_GRADE}
    return pd.DataFrame({v: table[v].isin(positive).astype(int) for v in VESSELS})


def _model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def st_feature_aucs(
    table: pd.DataFrame, features: np.ndarray, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Cross-validated (internal), normal-read (internal, out-of-fold) and external AUCs per vessel."""
    before = pd.to_datetime(table["ECG acquired"]) < pd.to_datetime(table["CCTA date"])
    internal = (table["Hospital"] == INTERNAL.hospital) & before
    external = (table["Hospital"] != INTERNAL.hospital) & before
    normal = table["ECG interpretation"].str.contains("ormal ECG")
    labels = _labels(table)
    result: dict[str, dict[str, float]] = {
        "internal_cv": {},
        "internal_normal_read": {},
        "external": {},
    }
    x_int, groups = features[internal], table.loc[internal, "Patient ID"]
    for vessel in VESSELS:
        y = labels.loc[internal, vessel].to_numpy()
        folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
        oof = cross_val_predict(
            _model(), x_int, y, groups=groups, cv=folds, method="predict_proba"
        )[:, 1]
        result["internal_cv"][vessel] = _auc(y, oof)
        sub = normal[internal].to_numpy()
        result["internal_normal_read"][vessel] = _auc(y[sub], oof[sub])
        p_ext = _model().fit(x_int, y).predict_proba(features[external])[:, 1]
        result["external"][vessel] = _auc(labels.loc[external, vessel].to_numpy(), p_ext)
    return result


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """AUC, or None (JSON null) when a subset holds one class only (e.g. LM in the small cohort)."""
    return round(float(roc_auc_score(y, score)), 3) if 0 < y.sum() < len(y) else None


def main(argv: list[str] | None = None) -> dict:
    return emit(measure, argv)


def measure(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="paper", choices=["small", "paper"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=None, help="keep the export here (default: a temp dir)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        out = args.out or Path(tmp) / "raw"
        start = time.perf_counter()
        table_path = write_demo_export(out, size=args.size, seed=args.seed, progress=True)
        seconds = time.perf_counter() - start
        files = [p for p in table_path.parent.rglob("*") if p.is_file()]
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        table = pd.read_csv(table_path, keep_default_na=False)
        start = time.perf_counter()
        features = _st_features(table_path.parent, table["ECG file"])
        feature_seconds = time.perf_counter() - start
        before = pd.to_datetime(table["ECG acquired"]) < pd.to_datetime(table["CCTA date"])
        report = {
            "size": args.size,
            "seed": args.seed,
            "seconds_generate_and_write": round(seconds, 1),
            "target_seconds": TARGET_S,
            "n_ecgs": len(table),
            "n_before_ccta": int(before.sum()),
            "mb_written": round(megabytes, 1),
            "seconds_st_features": round(feature_seconds, 1),
            "prevalence_internal_exams": {
                v: round(
                    float(
                        _labels(table)[v][table["Hospital"] == INTERNAL.hospital]
                        .groupby(table["Exam ID"])
                        .first()
                        .mean()
                    ),
                    3,
                )
                for v in VESSELS
            },
            "st_logistic_auc": st_feature_aucs(table, features, seed=args.seed),
        }
    report["headline"] = headlines(report)
    return report


def headlines(report: dict) -> list[dict]:
    """Generation time and the planted signal's internal cross-validated AUC per vessel; the
    targets apply to the paper-sized export only. A vessel without an AUC (one class) is left out."""
    paper = report["size"] == "paper"
    seconds = report["seconds_generate_and_write"]
    rows = [
        headline(
            f"demo export, {report['size']} size ({report['n_ecgs']:,} ECGs, "
            f"{report['mb_written']:,.0f} MB), generate and write",
            seconds,
            "s",
            f"<= {TARGET_S:g} s" if paper else None,
            seconds <= TARGET_S if paper else None,
        )
    ]
    low, high = TARGET_AUC
    for vessel, auc in report["st_logistic_auc"]["internal_cv"].items():
        if auc is None:
            continue
        rows.append(
            headline(
                f"demo planted signal, {vessel}: AUC of ST levels (logistic, internal 5-fold CV)",
                auc,
                "AUC",
                f"roughly {low:g} to {high:g}" if paper else None,
                low <= auc <= high if paper else None,
            )
        )
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
