"""The run variants of chapter 13 on disk: which folds are finished, what training cost, how to
run the rest and about how long that takes.

**Finished.** A variant's fold is finished by the rule training reuses it by
(:func:`ecglib.train.variants.fold_problem`): its summary (``metrics/train_fold{k}.json`` under
:meth:`ecglib.paths.RunPaths.variant`) is readable, its held-out predictions (and, when it
predicted external ECGs, their file) exist, and the summary's fingerprint is the one the
variant's params give now: a variant whose overlay was edited after training is not compared
under its new description.

**Cost** (:func:`training_cost`), from what training records: the summary's ``seconds`` (every
epoch plus the final predictions of the held-out fold and the external ECGs) gives the training
minutes; the seconds per step are not recorded, so they are derived as the epochs' own seconds
(``seconds`` of ``metrics/train_fold{k}.csv``) over the optimiser steps, ``epochs x
ceil(ceil(n_train / P) / (batch / P))`` (``P`` processes; the loader keeps the last, smaller
batch). An epoch's seconds include its inner-validation pass, so this is the cost of a step
with its share of validation, slightly above the step alone. PCGrad's conflicts: the history's
``pcgrad_conflicts`` is the mean number of conflicting task pairs per step; its mean over the
epochs, over the ``T (T - 1) / 2`` pairs, is the share of task pairs in conflict; the history's
``pcgrad_conflict_steps`` is the share of an epoch's steps with at least one conflicting pair
(the steps on which PCGrad projected anything), averaged over the epochs (NaN in a history
written before training recorded it).

**Estimate** (:func:`estimated_minutes`): the base run's measured minutes per fold times the
variant's epochs over the base's times a relative step cost counted, not measured, in
forward-pass units (a backward pass counted as two forward passes, the usual rule of thumb):
``networks x ECGs per step x (1 + 2 x backward passes)``, where augmentation doubles the ECGs
of a step, PCGrad (``pcgrad``, ``pcgrad_authors``) takes one backward pass per task and the
other settings one, and a single-task variant trains one network per vessel with one backward
pass each. Zeroed leads cost nothing. A change of the network's size is not in the estimate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecglib.config import PROJECT_ROOT, RunParams
from ecglib.data.prepare import read_cohort
from ecglib.data.store import open_store
from ecglib.paths import RunPaths
from ecglib.train.variants import fold_problem

__all__ = [
    "FULL",
    "VariantState",
    "variant_states",
    "training_cost",
    "relative_step_cost",
    "estimated_minutes",
    "params_argument",
    "run_commands",
]

#: The name of the run's own (full) method in the chapter's tables.
FULL = "full method"


@dataclass(frozen=True)
class VariantState:
    """One declared variant: its overlay, and which of the run's folds it has finished."""

    name: str
    description: str
    n_folds: int
    finished: tuple[int, ...]
    #: Fold -> why it does not count as finished (absent, stale, incomplete).
    missing: dict[int, str]

    @property
    def done(self) -> bool:
        return len(self.finished) == self.n_folds


def variant_states(run: RunParams) -> list[VariantState]:
    """Every declared variant's :class:`VariantState`, in the params' order."""
    if not run.variants:
        return []
    paths = RunPaths.of(run)
    cohort = read_cohort(paths.cohort)
    store = open_store(paths.store)
    out = []
    for variant in run.variants:
        params = run.variant(variant.name)
        vpaths = paths.variant(variant.name)
        finished, missing = [], {}
        for k in range(run.folds.n_folds):
            reason = fold_problem(params, vpaths, cohort, store, k)
            if reason:
                missing[k] = reason
            else:
                finished.append(k)
        out.append(
            VariantState(
                name=variant.name,
                description=variant.describe(),
                n_folds=run.folds.n_folds,
                finished=tuple(finished),
                missing=missing,
            )
        )
    return out


def _summary(paths: RunPaths, fold: int) -> dict | None:
    path = paths.train_summary(fold)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def training_cost(paths: RunPaths, folds, batch_size: int, n_tasks: int) -> dict[str, float]:
    """What training the ``folds`` under ``paths`` cost (module docstring): ``minutes`` (all
    folds), ``minutes_per_fold``, ``steps``, ``seconds_per_step``, ``conflict_share`` (mean
    share of the task pairs in conflict per step) and ``conflict_steps`` (mean share of the
    steps with at least one conflict); both NaN without gradient surgery."""
    seconds, epoch_seconds, steps, conflicts, conflict_steps = 0.0, 0.0, 0, [], []
    folds = list(folds)
    for k in folds:
        summary = _summary(paths, k)
        if summary is None:
            raise FileNotFoundError(f"{paths.train_summary(k)}: no readable fold summary")
        history = pd.read_csv(paths.train_history(k))
        seconds += float(summary["seconds"])
        epoch_seconds += float(history["seconds"].sum())
        processes = int(summary.get("world_size", 1))
        per_process = math.ceil(int(summary["n_rows"]["train"]) / processes)
        steps += len(history) * math.ceil(per_process / (batch_size // processes))
        if "pcgrad_conflicts" in history and history["pcgrad_conflicts"].notna().any():
            conflicts.append(float(history["pcgrad_conflicts"].mean()))
        if "pcgrad_conflict_steps" in history and history["pcgrad_conflict_steps"].notna().any():
            conflict_steps.append(float(history["pcgrad_conflict_steps"].mean()))
    pairs = n_tasks * (n_tasks - 1) / 2
    return {
        "folds": len(folds),
        "minutes": seconds / 60,
        "minutes_per_fold": seconds / 60 / len(folds) if folds else math.nan,
        "steps": steps,
        "seconds_per_step": epoch_seconds / steps if steps else math.nan,
        "conflict_share": (sum(conflicts) / len(conflicts) / pairs)
        if conflicts and pairs
        else math.nan,
        "conflict_steps": sum(conflict_steps) / len(conflict_steps) if conflict_steps else math.nan,
    }


def _step_units(params: RunParams, n_tasks: int) -> float:
    ecgs = 2.0 if params.train.augment else 1.0
    if params.train.single_task:
        return n_tasks * ecgs * (1 + 2 * 1)
    backward = n_tasks if params.train.gradient_surgery in ("pcgrad", "pcgrad_authors") else 1
    return ecgs * (1 + 2 * backward)


def relative_step_cost(base: RunParams, variant: RunParams, n_tasks: int) -> float:
    """The variant's step cost over the base run's, counted in forward-pass units (module
    docstring): an estimate, not a measurement."""
    return _step_units(variant, n_tasks) / _step_units(base, n_tasks)


def estimated_minutes(
    base_minutes_per_fold: float, base: RunParams, variant: RunParams, n_tasks: int, folds: int
) -> float:
    """Minutes to train ``folds`` folds of ``variant`` on this configuration: the base run's
    measured minutes per fold x epochs ratio x :func:`relative_step_cost` (an estimate)."""
    epochs = variant.train.epochs / base.train.epochs
    return base_minutes_per_fold * epochs * relative_step_cost(base, variant, n_tasks) * folds


def params_argument(run: RunParams) -> str:
    """The run's params file as a command line names it (relative to the repository)."""
    source = Path(run.source) if run.source else Path("params") / f"{run.name}.yaml"
    try:
        return str(source.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(source)


def run_commands(run: RunParams, name: str | None = None) -> list[str]:
    """The commands that train the run's variants (all of them, and one fold of ``name`` as a
    cluster job)."""
    params = params_argument(run)
    one = name or "NAME"
    return [
        f"PARAMS={params} make ablations",
        f"python -m ecglib run {params} --variants",
        f"python -m ecglib.train {params} --variant {one} --fold K   "
        f"# one fold (K = 0..{run.folds.n_folds - 1}), e.g. one SLURM array task",
    ]
