"""Where a run keeps its files: every path under ``runs/<name>/`` is named here, once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import RunParams


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @classmethod
    def of(cls, params: RunParams) -> "RunPaths":
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

    def ensure(self) -> "RunPaths":
        for folder in (self.root, self.figures, self.metrics, self.predictions, self.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
        return self
