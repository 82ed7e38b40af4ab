"""The saved diagnosis of the demo settings (issue 17), for the training page.

``benchmarks/diagnose_demo.py`` trains variants of a params file on its run's folds and compares
each vessel's out-of-fold AUC with a logistic regression on the 12 per-lead ST levels fitted on the
same folds, and each output's vessel-specificity (its own AUC among ECGs with severe disease in
another vessel, minus the best other output's). It saves ``benchmarks/results/<name>.json``;
this module reads it back for the book, with the date and commit of every run that made it, and
checks the demo's targets (network within :data:`GAP` of the regression, own output ahead of the
others by :data:`MARGIN`, for RCA, LAD and LCX).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ecglib.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "results"
#: The diagnosis of params/demo.yaml (small cohort) and of params/demo_large.yaml (medium cohort).
DEMO_DIAGNOSES = ("diagnose_demo", "diagnose_demo_large")
REFERENCE = "st_logistic"
#: The targets of issue 17: the network's out-of-fold AUC at most GAP below the ST-level
#: regression's, and its own output at least MARGIN ahead of every other output among ECGs with
#: disease in another vessel, for these vessels (LM has too few events for either).
TARGET_VESSELS = ("RCA", "LAD", "LCX")
GAP = 0.03
MARGIN = 0.05

_COLUMNS = {
    "variant": "Settings",
    "vessel": "Vessel",
    "auc": "Network AUC",
    "auc_lr": "ST-level regression AUC",
    "gap_to_lr": "Difference",
    "own_among_other": "Own output, other-diseased ECGs",
    "best_other_head": "Best other output",
    "specificity_margin": "Margin",
    "relative_cost": "Relative cost",
}


@dataclass(frozen=True)
class Diagnosis:
    """One saved diagnosis: the base params file, its five-fold rows and the runs that made it."""

    name: str
    base: str
    rows: pd.DataFrame
    runs: pd.DataFrame
    #: The base params' model and train sections when the diagnosis was saved, and each
    #: settings' overlay of them (``baseline``: none).
    base_settings: dict = field(default_factory=dict)
    overlays: dict = field(default_factory=dict)

    def settings_matching(self, model: Mapping, train: Mapping) -> str | None:
        """The five-fold settings whose model and train sections equal ``model`` and ``train``
        (the keys the diagnosis recorded), or None: which row describes a run's own training."""
        for variant in dict.fromkeys(self.rows["variant"]):
            if variant == REFERENCE or variant not in self.overlays:
                continue
            overlay = self.overlays[variant]
            wanted = {
                section: {**self.base_settings.get(section, {}), **overlay.get(section, {})}
                for section in ("model", "train")
            }
            given = {"model": dict(model), "train": dict(train)}
            if all(
                _same(given[section].get(key), value)
                for section, values in wanted.items()
                for key, value in values.items()
            ):
                return variant
        return None

    def table(self) -> pd.DataFrame:
        """The five-fold rows for the page: one row per settings and vessel, human column names."""
        frame = self.rows.loc[self.rows["variant"] != REFERENCE, list(_COLUMNS)]
        return frame.rename(columns=_COLUMNS).reset_index(drop=True)

    def targets(self) -> pd.DataFrame:
        """Per settings and target vessel: whether the gap and the margin targets hold."""
        rows = self.rows[
            (self.rows["variant"] != REFERENCE) & self.rows["vessel"].isin(TARGET_VESSELS)
        ]
        out = rows[["variant", "vessel", "gap_to_lr", "specificity_margin"]].copy()
        out["gap_met"] = out["gap_to_lr"] >= -GAP
        out["margin_met"] = out["specificity_margin"] >= MARGIN
        return out.reset_index(drop=True)

    def met(self, variant: str) -> bool:
        """Whether ``variant`` meets both targets for every target vessel."""
        t = self.targets()
        t = t[t["variant"] == variant]
        if t.empty:
            raise KeyError(f"{self.name}: no five-fold rows for settings {variant!r}")
        return bool((t["gap_met"] & t["margin_met"]).all())

    def shortfalls(self, variant: str) -> list[str]:
        """Plain-language misses of ``variant`` (e.g. 'LCX 0.057 below the regression')."""
        t = self.targets()
        out = []
        for row in t[t["variant"] == variant].itertuples():
            if not row.gap_met:
                out.append(f"{row.vessel} {-row.gap_to_lr:.3f} below the regression")
            if not row.margin_met:
                out.append(
                    f"{row.vessel} output only {row.specificity_margin:.3f} ahead of the others"
                )
        return out


def read_diagnosis(path: str | Path) -> Diagnosis:
    """A diagnosis saved by ``benchmarks/diagnose_demo.py`` (its ``.json``), five-fold rows only
    (rows of a single-fold screen are left to the CSV)."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no saved diagnosis; run benchmarks/diagnose_demo.py to make it"
        ) from None
    missing = {"base", "runs", "rows"} - set(meta)
    if missing:
        raise ValueError(
            f"{path}: not a diagnosis saved by diagnose_demo.py (no {sorted(missing)})"
        )
    rows = pd.DataFrame(meta["rows"])
    n_folds = rows["folds"].astype(str).str.split().str.len()
    rows = rows[n_folds == n_folds.max()].reset_index(drop=True)
    runs = pd.DataFrame(
        [
            {
                "date": run["date"][:10],
                "commit": run["commit"][:7]
                + (" (uncommitted changes)" if "dirty" in run["commit"] else ""),
                "folds": " ".join(str(k) for k in run["folds"]),
                "settings": ", ".join(run["variants"]),
            }
            for run in meta["runs"]
        ]
    )
    overlays = {"baseline": {}}
    for run in meta["runs"]:
        overlays.update(run["variants"])
    base_settings = {"model": meta.get("base_model", {}), "train": meta.get("base_train", {})}
    return Diagnosis(
        name=path.stem,
        base=meta["base"],
        rows=rows,
        runs=runs,
        base_settings=base_settings,
        overlays=overlays,
    )


def _same(a, b) -> bool:
    """Equal settings values, a list and a tuple of the same items included."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b


def demo_diagnoses(folder: Path = RESULTS) -> dict[str, Diagnosis]:
    """The saved diagnoses of the demo params files that exist, by name."""
    return {
        name: read_diagnosis(folder / f"{name}.json")
        for name in DEMO_DIAGNOSES
        if (folder / f"{name}.json").exists()
    }
