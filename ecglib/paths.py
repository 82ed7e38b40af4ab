"""Where a run keeps its files: every path under ``runs/<name>/`` is named here, once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecglib.config import RunParams


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @classmethod
    def of(cls, params: RunParams) -> RunPaths:
        return cls(params.run_dir)

    @property
    def cohort(self) -> Path:
        """The validated canonical cohort table (one row per ECG-CCTA pair)."""
        return self.root / "cohort.csv"

    @property
    def exclusions(self) -> Path:
        """The exclusion flow: counts per rule, no identifiers."""
        return self.root / "exclusions.csv"

    @property
    def store(self) -> Path:
        """The preprocessed ECG store (memory-mapped array, index, metadata)."""
        return self.root / "store"

    @property
    def folds(self) -> Path:
        return self.root / "folds.csv"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def manifest(self) -> Path:
        """What the run was computed with: versions, params, code, input hashes (ecglib.report.manifest)."""
        return self.root / "manifest.json"

    @property
    def folds_meta(self) -> Path:
        """What the fold assignment was computed from (cohort hash, seed, number of folds)."""
        return self.root / "folds.json"

    # ---- per-fold training outputs (ecglib.train) ---------------------------------------------
    def last_checkpoint(self, fold: int) -> Path:
        """Resume state of a fold, rewritten atomically after every epoch."""
        return self.checkpoints / f"fold{int(fold)}_last.pt"

    def best_checkpoint(self, fold: int) -> Path:
        """The fold's model at the epoch with the best inner-validation macro-AUC."""
        return self.checkpoints / f"fold{int(fold)}_best.pt"

    def train_history(self, fold: int) -> Path:
        """Per-epoch training metrics of a fold (CSV)."""
        return self.metrics / f"train_fold{int(fold)}.csv"

    def train_summary(self, fold: int) -> Path:
        """A finished fold's summary (JSON); its presence marks the fold as done."""
        return self.metrics / f"train_fold{int(fold)}.json"

    def oof_predictions(self, fold: int) -> Path:
        """Out-of-fold predictions of the held-out fold by the fold's best model."""
        return self.predictions / f"oof_fold{int(fold)}.csv"

    def external_predictions(self, fold: int) -> Path:
        """The external cohort's predictions by one fold's best model."""
        return self.predictions / f"external_fold{int(fold)}.csv"

    @property
    def external_mean(self) -> Path:
        """The external cohort's predictions averaged over the fold models."""
        return self.predictions / "external_mean.csv"

    @property
    def oof_all(self) -> Path:
        """Every fold's out-of-fold predictions in one table."""
        return self.predictions / "oof.csv"

    # ---- run variants (ecglib.train.variants) -------------------------------------------------
    @property
    def variants(self) -> Path:
        """Where the run's variants train, one folder each."""
        return self.root / "variants"

    def variant(self, name: str) -> RunPaths:
        """The folder of run variant ``name``: the same layout as a run (checkpoints/,
        metrics/train_fold{k}.json/.csv, predictions/oof_fold{k}.csv, oof.csv,
        external_fold{k}.csv, external_mean.csv), so that whatever reads a run's predictions
        reads a variant's the same way. A variant has no cohort, store or folds of its own: it
        trains on its parent run's."""
        return RunPaths(self.root / "variants" / name)

    def ensure(self) -> RunPaths:
        for folder in (self.root, self.figures, self.metrics, self.predictions, self.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
        return self
