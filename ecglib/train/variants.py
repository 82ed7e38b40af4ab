"""Run variants (ablations): the run's folds trained again with a few ``model:``/``train:``
settings changed, on the same ECGs.

A params file's ``variants:`` mapping names each variant and its overlay
(:class:`ecglib.config.Variant`, validated when the params are read). A variant trains every
fold of the run with :meth:`RunParams.variant`'s params through :func:`ecglib.train.fit.fit_fold`
(the fold code of the run itself: the run's cohort, ECG store and folds, the same fingerprint
rule, resume and progress bars) into its own folder, ``runs/<name>/variants/<variant>/``
(:meth:`ecglib.paths.RunPaths.variant`, the layout of a run). A finished variant fold whose
settings and data are unchanged is reused, an interrupted one resumes, a changed one retrains.
Once every fold is finished, :func:`pool_variant` writes the variant's ``predictions/oof.csv``
(every fold's out-of-fold predictions) and ``predictions/external_mean.csv`` (the fold models'
mean on the external cohort) with the functions the run's chapters read predictions with
(:func:`ecglib.train.predict.read_oof`, :func:`ecglib.train.predict.mean_external`), and
``variant.json`` (its name and overlay).

    python -m ecglib.train params/demo.yaml --variant lead_i --fold 2   # one cluster job
    python -m ecglib run params/demo.yaml --variants                     # every variant, every fold
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ecglib.config import RunParams
from ecglib.data.prepare import read_cohort
from ecglib.data.store import EcgStore, open_store
from ecglib.paths import RunPaths
from ecglib.train.fit import FoldResult, fit_fold, training_fingerprint
from ecglib.train.predict import mean_external, read_oof, write_predictions

__all__ = [
    "VariantResult",
    "fit_variant_fold",
    "fit_variant",
    "fit_variants",
    "pool_variant",
    "pool_if_complete",
    "finished_variants",
    "fold_problem",
]


@dataclass
class VariantResult:
    """One variant's folds (:class:`~ecglib.train.fit.FoldResult`, in fold order) and, once
    every fold is finished, its pooled predictions (``oof``; ``external`` is ``None`` without
    an external cohort)."""

    name: str
    describe: str
    paths: RunPaths
    folds: list[FoldResult] = field(default_factory=list)
    oof: pd.DataFrame | None = None
    external: pd.DataFrame | None = None

    @property
    def finished(self) -> bool:
        return bool(self.folds) and all(r.finished for r in self.folds)


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def fit_variant_fold(params: RunParams, name: str, fold: int, **kwargs) -> FoldResult:
    """Train (reuse, resume) fold ``fold`` of variant ``name`` of the run ``params``:
    :func:`~ecglib.train.fit.fit_fold` with ``variant=name`` (its keyword arguments)."""
    return fit_fold(params, fold, variant=name, **kwargs)


def fit_variant(
    params: RunParams,
    name: str,
    *,
    folds: list[int] | None = None,
    cohort: pd.DataFrame | None = None,
    store: EcgStore | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    force: bool = False,
) -> VariantResult:
    """Every fold (or ``folds``) of variant ``name``, then its pooled predictions when all of
    the run's folds are finished (:func:`pool_variant`)."""
    variant = {v.name: v for v in params.variants}.get(name)
    params.variant(name)  # an unknown name: the error listing the declared ones
    paths = RunPaths.of(params).variant(name)
    paths_run = RunPaths.of(params)
    cohort = read_cohort(paths_run.cohort) if cohort is None else cohort
    store = open_store(paths_run.store) if store is None else store
    folds = list(range(params.folds.n_folds)) if folds is None else list(folds)
    result = VariantResult(name=name, describe=variant.describe(), paths=paths)
    for fold in folds:
        result.folds.append(
            fit_variant_fold(
                params,
                name,
                fold,
                cohort=cohort,
                store=store,
                progress=progress,
                stop_after=stop_after,
                force=force,
            )
        )
    if result.finished and _is_main():
        pooled = pool_if_complete(params, name, cohort=cohort, store=store)
        if pooled is not None:
            result.oof, result.external = pooled
    return result


def pool_if_complete(
    params: RunParams,
    name: str,
    *,
    cohort: pd.DataFrame | None = None,
    store: EcgStore | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
    """:func:`pool_variant` when every fold of variant ``name`` is finished with the current
    settings and data (a cluster's last fold job pools the variant), else ``None``."""
    run = RunPaths.of(params)
    cohort = read_cohort(run.cohort) if cohort is None else cohort
    store = open_store(run.store) if store is None else store
    vparams, paths = params.variant(name), run.variant(name)
    if not any(fold_problem(vparams, paths, cohort, store, k) for k in range(params.folds.n_folds)):
        return pool_variant(params, name)
    return None


def fit_variants(
    params: RunParams,
    names: list[str] | None = None,
    *,
    progress: bool = True,
    stop_after: int | None = None,
    force: bool = False,
) -> list[VariantResult]:
    """Every fold of every variant (or of ``names``), in the params file's order; one bar over
    the variants beside each fold's own."""
    names = [v.name for v in params.variants] if names is None else list(names)
    paths_run = RunPaths.of(params)
    cohort, store = read_cohort(paths_run.cohort), open_store(paths_run.store)
    results = []
    bar = tqdm(names, desc="variants", unit="variant", disable=not (progress and _is_main()))
    for name in bar:
        bar.set_postfix_str(name)
        results.append(
            fit_variant(
                params,
                name,
                cohort=cohort,
                store=store,
                progress=progress,
                stop_after=stop_after,
                force=force,
            )
        )
    bar.close()
    return results


def pool_variant(params: RunParams, name: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Write variant ``name``'s ``predictions/oof.csv``, ``predictions/external_mean.csv`` (when
    its folds predicted an external cohort) and ``variant.json``; return the two tables."""
    variant = {v.name: v for v in params.variants}[name]
    vparams = params.variant(name)
    paths = RunPaths.of(params).variant(name)
    oof = read_oof(vparams, paths=paths)
    write_predictions(oof, paths.oof_all)
    external = None
    if paths.external_predictions(0).exists():
        external = mean_external(vparams, paths=paths, write=True)
    info = {"name": name, "overlay": variant.overlay, "describe": variant.describe()}
    tmp = paths.root / f".variant.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(info, indent=1, default=list))
    tmp.replace(paths.root / "variant.json")
    return oof, external


def finished_variants(params: RunParams) -> list[str]:
    """The declared variants whose every fold is finished with the current settings and data
    (the fold fingerprint of :func:`~ecglib.train.fit.training_fingerprint`) and whose pooled
    ``oof.csv`` is written after them, in the params file's order."""
    if not params.variants:
        return []
    run = RunPaths.of(params)
    if not (run.cohort.exists() and run.store.exists()):
        return []
    cohort, store = read_cohort(run.cohort), open_store(run.store)
    done = []
    for variant in params.variants:
        paths = run.variant(variant.name)
        if not paths.oof_all.exists():
            continue
        vparams = params.variant(variant.name)
        folds = range(params.folds.n_folds)
        current = not any(fold_problem(vparams, paths, cohort, store, k) for k in folds)
        pooled_after = current and paths.oof_all.stat().st_mtime_ns >= max(
            paths.train_summary(k).stat().st_mtime_ns for k in folds
        )
        if pooled_after:
            done.append(variant.name)
    return done


def fold_problem(
    params: RunParams, paths: RunPaths, cohort: pd.DataFrame, store: EcgStore, fold: int
) -> str:
    """Why fold ``fold`` of the variant whose params are ``params`` and folder ``paths`` is not
    finished, ``""`` when it is: its summary is readable, its held-out predictions (and, when it
    predicted external ECGs, their file) exist, and the summary's fingerprint is the one
    ``params`` give now (:func:`~ecglib.train.fit.training_fingerprint`), so a variant whose
    overlay was edited after training is not reused or compared under its new description."""
    summary_path: Path = paths.train_summary(fold)
    if not summary_path.exists():
        return "not trained"
    try:
        summary = json.loads(summary_path.read_text())
    except json.JSONDecodeError:
        return f"its summary ({summary_path.name}) is not readable JSON"
    if not paths.oof_predictions(fold).exists():
        return f"its held-out predictions ({paths.oof_predictions(fold).name}) are missing"
    if (
        summary.get("n_rows", {}).get("external", 0)
        and not paths.external_predictions(fold).exists()
    ):
        return f"its external predictions ({paths.external_predictions(fold).name}) are missing"
    processes = int(summary.get("world_size", 1))
    if summary.get("fingerprint") != training_fingerprint(params, cohort, store, fold, processes):
        return "trained with other settings or data than the variant's params give now"
    return ""
