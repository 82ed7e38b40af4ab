"""Train one outer fold: epochs, honest epoch selection, resumable checkpoints, predictions.

:func:`fit_fold` is the whole of ``notebooks/02_train_fold.ipynb``'s work for fold ``k``:

1. **Rows.** The run's folds (:func:`~ecglib.data.run_folds.ensure_folds`, computed once per run)
   give fold ``k``'s held-out rows (``test``); the other folds are split, patient-grouped, into
   ``train`` and an inner validation split ``val`` (``folds.inner_val_fraction`` of their
   patients). The epoch is chosen on ``val`` only; the held-out fold is predicted once, by the
   chosen epoch's model, after training. (The authors' code chose the epoch on the fold it then
   reported, which inflates every reported AUC.)
2. **Model.** Net1D from ``model:`` (ECGFounder's weights when ``model.pretrained`` is set, random
   initialisation seeded from the run's seed and the fold otherwise) with one logit per vessel.
   The two parameters the forward pass never uses (``Net1D.unused_parameter_names``) are frozen.
   ``model.input_leads`` zeroes the other leads at the network's input (training and
   prediction). ``train.single_task``: one independent one-logit Net1D per vessel
   (:class:`~ecglib.model.PerVesselNets`, no gradient surgery: they share no parameter), each
   kept at its own vessel's best inner-validation epoch (:mod:`ecglib.train.single_task`).
   A run variant (``variant=``, :mod:`ecglib.train.variants`) trains in its own folder.
3. **Objective.** Per-vessel binary cross-entropy ``L_t`` over a batch holding the ECGs and their
   augmented copies (``train.augment``; strength ``0.5 + 0.25 (1 + cos(pi e / E))`` at epoch
   ``e`` of ``E``), weighted by learned uncertainty (``train.loss_weighting: uncertainty``:
   ``exp(-s_t) L_t + s_t``) or summed (``equal``), with gradient surgery on the shared trunk
   (``train.gradient_surgery``: ``pcgrad`` = Yu et al.'s PCGrad, ``pcgrad_authors`` = the authors'
   one-sided variant, ``pcgrad_features`` = the feature-level approximation, ``none``). The head
   and the ``s_t`` get their plain gradients. A vessel the cohort does not assess (no label in
   any row, a column map's ``not_assessed``) is not a task: it has no ``L_t`` and no ``s_t``, its
   logit is never trained, and its predictions are written as missing.
4. **Optimiser.** AdamW (``train.lr``, ``train.weight_decay``, on every trainable parameter
   including ``s_t``, as in the authors' code), learning rate warmed up linearly over
   ``train.warmup_fraction`` of the steps, then cosine-decayed to ``train.final_lr_fraction`` of
   the peak (:mod:`ecglib.train.schedule`), stepped per batch.
5. **Each epoch.** Inner-validation AUC per vessel (NaN for a vessel with one class there, left out
   of the macro mean with a logged warning) and macro-AUC; the best epoch's model is kept
   (``checkpoints/fold{k}_best.pt``); the per-epoch metrics go to ``metrics/train_fold{k}.csv``; and
   the full training state goes atomically to ``checkpoints/fold{k}_last.pt``.
6. **Predictions.** The best model predicts the held-out fold (``predictions/oof_fold{k}.csv``)
   and the external cohort (``predictions/external_fold{k}.csv``); ``metrics/train_fold{k}.json``
   marks the fold as done.

**Reproducibility and resume.** Every random stream is seeded from (run seed, fold, epoch[, rank])
at the start of each epoch (:func:`~ecglib.train.data.derive_seed`): the data order (the
sampler's generator), the augmentation generator, PCGrad's visiting order and the global torch RNG
(dropout). The last checkpoint holds the model, optimiser, scheduler, uncertainty weights, the
fp16 gradient scaler, every process's global RNG states, the sampler's seed, the history and the
best epoch so far. Re-running an interrupted fold resumes after the last finished epoch and ends,
on the CPU, with exactly the weights and predictions of an uninterrupted run; a finished fold
whose fingerprint (params, cohort, store and number of processes) is unchanged is not retrained.
Resume reads the checkpoint to the CPU, so that a GPU job restarted after a time limit, with as
many GPUs visible as before or not, can restore the RNG states
(:func:`~ecglib.train.checkpoint.set_rng_state` says which, and why they do not change the result).

**Devices and precision.** ``train.device: auto`` takes CUDA when available and the CPU
otherwise; ``train.precision`` sets the trunk's autocast (``auto``: bf16 on a GPU that computes it
natively, else float32; ``fp16`` adds a gradient scaler). The head runs in float32 in training and
prediction alike (:meth:`~ecglib.model.Net1D.forward_features_and_logits`). Under ``torchrun
--nproc_per_node N`` (``python -m ecglib.train``: one process group for all its folds) the model
is wrapped in DistributedDataParallel, ``train.batch_size`` stays the global batch (each process
takes ``batch_size / N`` ECGs of every step), rank 0 writes every file, and PCGrad reduces the
per-task gradients across processes *before* the surgery. The number of processes enters the
fingerprint and the fold's summary; batch-norm statistics are per process (see
:mod:`ecglib.train.distributed` for what else differs from one process).

**Size.** Longer than the project's ~400-line aim: one fold's training read top to bottom (set-up,
resume, the epoch loop, checkpoints, predictions). Its split along those seams is left to the
planned rework of the training loop, which changes this module anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from ecglib import schema
from ecglib.config import RunParams, params_to_dict
from ecglib.data.prepare import read_cohort
from ecglib.data.run_folds import ensure_folds, fold_roles
from ecglib.data.store import EcgStore, open_store
from ecglib.errors import CheckpointError, DataError
from ecglib.model import Net1D, PerVesselNets, build_model
from ecglib.paths import RunPaths
from ecglib.train import distributed as D
from ecglib.train.augment import augment_strength
from ecglib.train.checkpoint import (
    load_checkpoint,
    load_state_strict,
    rng_state,
    save_atomic,
    set_rng_state,
)
from ecglib.train.data import EcgDataset, derive_seed, train_loader
from ecglib.train.predict import (
    predict_probs,
    predictions_frame,
    read_predictions,
    write_predictions,
)
from ecglib.train.schedule import warmup_cosine_scheduler
from ecglib.train.single_task import PerVesselSelection
from ecglib.train.step import TrainStep, running_sums
from ecglib.train.threads import size_threads
from ecglib.train.uncertainty import UncertaintyWeighting
from ecglib.train.validate import macro_auc, undefined_vessels, vessel_aucs

__all__ = [
    "FoldResult",
    "TaskModel",
    "fit_fold",
    "fold_trainer",
    "model_config",
    "training_fingerprint",
    "history_columns",
]

log = logging.getLogger(__name__)

#: Bumped when a change to the training code makes older checkpoints incomparable. 2:
#: ``train.batch_size`` is the global batch (it was per process under torchrun).
TRAIN_VERSION = 2


@dataclass
class FoldResult:
    """What :func:`fit_fold` did for one fold.

    ``best_epoch`` is 1-based; ``inner_auc`` holds the per-vessel inner-validation AUCs of that
    epoch (NaN where undefined) and ``inner_macro_auc`` their mean; ``selection`` says how the
    epoch was chosen. ``oof``/``external`` are the prediction tables (``None`` until the fold is
    finished, ``external`` also when the run has no external rows). ``n_rows`` counts the rows per
    role. ``reused``: a finished fold was read back instead of trained; ``resumed_after``: the
    epoch an interrupted run resumed after.
    """

    fold: int
    finished: bool
    best_epoch: int
    selection: str
    inner_auc: dict[str, float]
    inner_macro_auc: float
    history: pd.DataFrame
    n_rows: dict[str, int]
    pretrained: str | None
    fingerprint: str
    seconds: float
    reused: bool = False
    resumed_after: int | None = None
    device: str = "cpu"
    world_size: int = 1
    precision: str = "fp32"
    oof: pd.DataFrame | None = None
    external: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


class TaskModel(nn.Module):
    """Net1D and the uncertainty weights in one module (one DDP wrapper, one optimiser).

    ``forward(x) -> (features, logits)``: :meth:`Net1D.forward_features_and_logits`, the head in
    float32 outside autocast, as in prediction.
    """

    def __init__(self, net: Net1D, weighting: UncertaintyWeighting | None):
        super().__init__()
        self.net = net
        self.weighting = weighting

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.forward_features_and_logits(x)

    def objective_terms(self, task_losses: torch.Tensor) -> torch.Tensor:
        """Per-task terms whose sum is the objective: ``exp(-s_t) L_t + s_t`` or ``L_t``."""
        return self.weighting(task_losses) if self.weighting is not None else task_losses


def model_config(params: RunParams) -> dict:
    """Net1D constructor arguments from the run's ``model:`` section (4 outputs, 12 leads)."""
    m = params.model
    leads = schema.input_leads(m.input_leads)
    mask = {} if leads == schema.LEADS else {"input_mask": [int(x in leads) for x in schema.LEADS]}
    return mask | {
        "in_channels": len(schema.LEADS),
        "base_filters": m.base_filters,
        "ratio": m.ratio,
        "filter_list": list(m.filter_list),
        "m_blocks_list": list(m.m_blocks_list),
        "kernel_size": m.kernel_size,
        "stride": m.stride,
        "groups_width": m.groups_width,
        "n_classes": len(schema.VESSELS),
        "use_bn": m.use_bn,
        "use_do": m.use_do,
    }


def history_columns() -> list[str]:
    """Columns of ``metrics/train_fold{k}.csv``."""
    v = schema.VESSELS
    return (
        ["epoch", "lr", "augment_strength", "train_loss"]
        + [f"loss_{x}" for x in v]
        + [f"sigma_{x}" for x in v]
        + ["pcgrad_conflicts", "pcgrad_conflict_steps"]
        + [f"val_auc_{x}" for x in v]
        + ["val_macro_auc", "seconds"]
    )


#: The params sections a trained fold depends on (:func:`training_fingerprint`).
FINGERPRINT_SECTIONS: tuple[str, ...] = ("seed", "data", "signals", "folds", "model", "train")


#: (section, key, default) of the training settings added after folds were first finished.
_LATER_SETTINGS: tuple[tuple[str, str, object], ...] = (
    ("model", "input_leads", "all"),
    ("train", "single_task", False),
)


def training_fingerprint(
    params: RunParams, cohort: pd.DataFrame, store: EcgStore, fold: int, world_size: int = 1
) -> str:
    """Hash of everything a fold's result depends on: the training sections of the params
    (:data:`FINGERPRINT_SECTIONS`, without ``train.num_workers`` and ``train.threads``, which
    change the speed, not the model), the cohort's content, the store's fingerprint, the fold and
    the number of processes that train it (batch-norm statistics and the random streams are per
    process). The run's name, folder and evaluation settings are left out: changing a threshold
    of a results chapter must not retrain the folds; the demo export's settings reach the hash
    through the cohort and the store."""
    from ecglib.data.run_folds import cohort_digest

    everything = params_to_dict(params)
    settings = {key: everything[key] for key in FINGERPRINT_SECTIONS}
    settings["train"].pop("num_workers", None)
    settings["train"].pop("threads", None)
    # settings added after folds were finished enter the hash only when changed from their
    # default, so that folds trained before they existed are still reused
    for section, key, default in _LATER_SETTINGS:
        if settings[section].get(key) == default:
            settings[section].pop(key, None)
    meta = Path(store.folder) / "meta.json"
    store_id = (
        json.loads(meta.read_text()).get("fingerprint")
        if meta.exists()
        else hashlib.sha256(store.index.to_csv().encode()).hexdigest()
    )
    payload = json.dumps(
        {
            "params": settings,
            "cohort": cohort_digest(cohort),
            "store": store_id,
            "fold": int(fold),
            "processes": int(world_size),
            "version": TRAIN_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# the fold
# --------------------------------------------------------------------------------------------
def fit_fold(
    params: RunParams,
    fold: int,
    *,
    cohort: pd.DataFrame | None = None,
    store: EcgStore | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    force: bool = False,
    variant: str | None = None,
) -> FoldResult:
    """Train fold ``fold`` (or reuse / resume it) and write its predictions (module docstring).

    ``variant``: train that run variant's fold instead (:meth:`RunParams.variant`'s params, the
    run's cohort, store and folds, files under :meth:`RunPaths.variant`; ecglib.train.variants).

    ``cohort``/``store`` default to the run's (``read_cohort``, ``open_store``). ``stop_after``:
    stop after that many epochs (the fold stays resumable; the result has ``finished=False``), as
    a job with a time limit would. ``force``: retrain from scratch even if a finished or partial
    fold matches. Under torchrun every process calls this; rank 0 writes. It joins the job's
    process group, or starts it if there is none yet, and leaves it up for the next fold
    (:func:`ecglib.train.distributed.setup`).
    """
    paths = RunPaths.of(params)
    if variant is not None:
        params, paths = params.variant(variant), paths.variant(variant)
    ctx = D.setup(params.train.device)
    fold_ = _Fold(params, int(fold), ctx, cohort, store, progress, paths=paths, label=variant)
    return fold_.run(stop_after, force)


def fold_trainer(
    params: RunParams,
    fold: int,
    *,
    cohort: pd.DataFrame | None = None,
    store: EcgStore | None = None,
) -> _Fold:
    """Fold ``fold`` set up exactly as :func:`fit_fold` trains it (rows, threads, model,
    optimiser, schedule, loader, :class:`~ecglib.train.step.TrainStep`), without reusing,
    resuming, training or writing anything but the run's folds: ``trainer.train_epoch(e)``
    runs epoch ``e``'s steps as the fold does. For benchmarks and profiling
    (``benchmarks/bench_train_step.py``)."""
    trainer = _Fold(params, int(fold), D.setup(params.train.device), cohort, store, False)
    trainer.build()
    return trainer


class _Fold:
    """One fold's training state; :meth:`run` is :func:`fit_fold`."""

    def __init__(
        self,
        params: RunParams,
        fold: int,
        ctx: D.DistContext,
        cohort: pd.DataFrame | None,
        store: EcgStore | None,
        progress: bool,
        paths: RunPaths | None = None,
        label: str | None = None,
    ):
        self.params, self.fold, self.ctx = params, fold, ctx
        self.progress = progress and ctx.is_main
        # a variant's files go to its own folder; its cohort, store and folds are the run's
        run = RunPaths.of(params)
        self.paths = paths or run
        self.name = f"{label} fold {fold}" if label else f"fold {fold}"
        if ctx.is_main:
            self.paths.ensure()
        self.cohort = read_cohort(run.cohort) if cohort is None else cohort
        self.store = open_store(run.store) if store is None else store
        if not 0 <= fold < params.folds.n_folds:
            raise ValueError(f"fold must be in 0..{params.folds.n_folds - 1}, got {fold}")
        folds = ensure_folds(params, self.cohort, write=ctx.is_main)
        D.barrier(ctx)
        self.roles = fold_roles(params, self.cohort, folds, fold)
        self.n_rows = {
            r: int((self.roles == r).sum()) for r in ("train", "val", "test", "external")
        }
        if self.n_rows["train"] == 0 or self.n_rows["val"] == 0 or self.n_rows["test"] == 0:
            raise DataError(f"fold {fold}", f"an empty role: {self.n_rows}")
        self.fingerprint = training_fingerprint(
            params, self.cohort, self.store, fold, ctx.world_size
        )
        self.amp_dtype = D.autocast_dtype(params.train.precision, ctx.device)
        self.precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[
            self.amp_dtype
        ]
        self.store_rows = self.store.rows_for(self.cohort["ecg_path"])
        self.labels = schema.binarise_grades(self.cohort).to_numpy().astype(np.float32)
        # A vessel the cohort does not assess (labels missing in every row) is not a task: the
        # loss, the uncertainty weights and PCGrad see only the assessed vessels, its head's
        # output is never trained, and its predictions are written as missing.
        self.tasks = [schema.VESSELS.index(v) for v in schema.assessed_vessels(self.cohort)]
        # one network per vessel shares no parameter: no two task gradients can conflict, so
        # gradient surgery would return the plain sum at the cost of a backward pass per task
        self.surgery = "none" if params.train.single_task else params.train.gradient_surgery
        self.warnings: list[str] = []
        self.retrain = False

    # ---- helpers ----------------------------------------------------------------------------
    def _rows(self, role: str) -> np.ndarray:
        """Cohort-table rows of a role, in cohort order."""
        return self.cohort.index[(self.roles == role).to_numpy()].to_numpy()

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.ctx.is_main:
            log.warning("%s: %s", self.name, message)

    def _finished_summary(self) -> dict | None:
        summary_path = self.paths.train_summary(self.fold)
        if not summary_path.exists():
            return None
        try:
            summary = json.loads(summary_path.read_text())
        except json.JSONDecodeError:
            return None
        needed = [self.paths.best_checkpoint(self.fold), self.paths.oof_predictions(self.fold)]
        if summary.get("n_rows", {}).get("external", 0):
            needed.append(self.paths.external_predictions(self.fold))
        # a fold finished by another number of processes is the same recipe (global batch) and
        # is reused, checked against its own count, which its result and page report
        processes = int(summary.get("world_size", 1))
        expected = (
            self.fingerprint
            if processes == self.ctx.world_size
            else training_fingerprint(self.params, self.cohort, self.store, self.fold, processes)
        )
        if summary.get("fingerprint") != expected or not all(p.exists() for p in needed):
            return None
        best = self.paths.best_checkpoint(self.fold)
        try:
            if "state_dict" not in load_checkpoint(best, map_location="cpu"):
                raise CheckpointError(f"{best}: no state_dict")
        except CheckpointError as exc:
            # reused, it would fail later in a chapter; its last checkpoint leads to it again
            self._warn(
                f"the finished fold's best checkpoint {best} is unreadable ({exc}): retraining"
            )
            self.retrain = True
            return None
        return summary

    # ---- the run ------------------------------------------------------------------------------
    def run(self, stop_after: int | None, force: bool) -> FoldResult:
        summary = None if force else self._finished_summary()
        force = force or self.retrain
        if summary is not None:
            if int(summary.get("world_size", 1)) != self.ctx.world_size and self.ctx.is_main:
                log.info(
                    "%s: reusing the fold finished by %s process(es)",
                    self.name,
                    summary.get("world_size", 1),
                )
            return self._reused(summary)
        self.build()
        return self._train(stop_after, force)

    def build(self) -> None:
        """Threads, model, optimiser, schedule, loader and the step, as the fold trains with
        them (:func:`fold_trainer` stops here)."""
        tp = self.params.train
        ctx = self.ctx
        dev = ctx.device
        threads = size_threads(tp.threads)
        if ctx.is_main:
            log.info("%s: training with %s", self.name, threads.describe())
            if tp.single_task and tp.gradient_surgery != "none":
                log.info("%s: one network per vessel, no gradient surgery", self.name)

        # model, weighting, optimiser ---------------------------------------------------------
        torch.manual_seed(derive_seed(self.params.seed, self.fold, "init"))
        pretrained = self.params.model.pretrained
        weights = self.params.path(pretrained) if pretrained else None
        if tp.single_task:
            net = PerVesselNets(
                [self._vessel_net(t, weights) for t in self.tasks], self.tasks, len(schema.VESSELS)
            )
        else:
            net = build_model(model_config(self.params), weights)
        # single task: every vessel's network keeps its own best epoch (train/single_task.py)
        self.selection = PerVesselSelection(net) if tp.single_task else None
        unused = set(net.unused_parameter_names())
        for name, p in net.named_parameters():
            if name in unused:
                p.requires_grad_(False)  # never in the forward pass: no gradient, no decay
        weighting = (
            UncertaintyWeighting(len(self.tasks)) if tp.loss_weighting == "uncertainty" else None
        )
        self.model = TaskModel(net, weighting).to(dev)
        self.net = net
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.shared = net.trunk_parameters()
        self.others = net.head_parameters() + (list(weighting.parameters()) if weighting else [])
        self.wrapped = (
            DistributedDataParallel(self.model, device_ids=[dev] if dev.type == "cuda" else None)
            if ctx.distributed
            else self.model
        )
        self.optimizer = torch.optim.AdamW(trainable, lr=tp.lr, weight_decay=tp.weight_decay)
        # fp16 only: its 5 exponent bits flush small gradients to zero unless the loss is scaled
        self.scaler = torch.amp.GradScaler(dev.type, enabled=self.amp_dtype == torch.float16)
        if (
            tp.precision == "bf16"
            and dev.type == "cuda"
            and not torch.cuda.is_bf16_supported(including_emulation=False)
        ):
            self._warn(
                f"precision bf16 is emulated on {torch.cuda.get_device_name(dev)}, slower "
                "than fp32; precision auto takes fp32 there"
            )

        # data ------------------------------------------------------------------------------------
        train_rows = self._rows("train")
        # workers re-open the memory map from its file instead of receiving a pickled copy
        source = Path(self.store.folder) / "signals.npy"
        dataset = EcgDataset(
            source if tp.num_workers > 0 and source.exists() else self.store.signals,
            self.store_rows[train_rows],
            self.labels[train_rows],
        )
        self.loader = train_loader(
            dataset,
            batch_size=D.per_process_batch(tp.batch_size, ctx.world_size),
            seed=derive_seed(self.params.seed, self.fold, "order"),
            rank=ctx.rank,
            world_size=ctx.world_size,
            num_workers=tp.num_workers,
            pin_memory=dev.type == "cuda",
        )
        total_steps = tp.epochs * len(self.loader)
        self.scheduler = warmup_cosine_scheduler(
            self.optimizer, total_steps, tp.warmup_fraction, tp.final_lr_fraction
        )
        self.val_rows = self._rows("val")
        val_labels = self.labels[self.val_rows]
        for vessel in undefined_vessels(val_labels):
            if schema.VESSELS.index(vessel) not in self.tasks:
                continue
            missing = (
                "positive" if val_labels[:, schema.VESSELS.index(vessel)].max() == 0 else "negative"
            )
            self._warn(
                f"the inner validation split has no {missing} {vessel} ECG: its AUC is "
                "undefined (NaN) and left out of the macro-AUC that chooses the epoch"
            )
        self.step = TrainStep(
            model=self.model,
            wrapped=self.wrapped,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            shared=self.shared,
            others=self.others,
            tasks=self.tasks,
            surgery=self.surgery,
            augment=tp.augment,
            amp_dtype=self.amp_dtype,
            ctx=ctx,
        )

    def _train(self, stop_after: int | None, force: bool) -> FoldResult:
        tp, ctx, dev = self.params.train, self.ctx, self.ctx.device
        # resume ----------------------------------------------------------------------------------
        history: list[dict] = []
        best = {"epoch": 0, "macro": float("nan"), "aucs": {}}
        start, resumed_after = 0, None
        last = self.paths.last_checkpoint(self.fold)
        if last.exists() and not force:
            # to the CPU: torch.set_rng_state refuses a state mapped to a GPU, and load_state_dict
            # copies the model's and the optimiser's tensors to the device anyway
            state = load_checkpoint(last, map_location="cpu")
            saved = int(state.get("world_size", 1))
            expected = (
                self.fingerprint
                if saved == ctx.world_size
                else training_fingerprint(self.params, self.cohort, self.store, self.fold, saved)
            )
            if state.get("fingerprint") == expected:
                load_state_strict(self.model, state["model"], str(last))
                self.optimizer.load_state_dict(state["optimizer"])
                self.scheduler.load_state_dict(state["scheduler"])
                if self.scaler.is_enabled() and state.get("scaler"):
                    self.scaler.load_state_dict(state["scaler"])
                set_rng_state(state["rng"][min(ctx.rank, len(state["rng"]) - 1)], dev)
                history, best = list(state["history"]), dict(state["best"])
                if self.selection is not None and best.get("vessel_epochs"):
                    kept = load_checkpoint(self.paths.best_checkpoint(self.fold), "cpu")
                    self.selection.restore(best, kept["state_dict"])
                start = resumed_after = int(state["epoch"])
                if saved != ctx.world_size:
                    self._warn(
                        f"resuming a run of {saved} process(es) with {ctx.world_size}: "
                        "the same global batches, but batch-norm statistics and the "
                        "augmentation and dropout streams differ from an uninterrupted run"
                    )
                if ctx.is_main:
                    log.info("%s: resuming after epoch %d", self.name, start)
            else:
                self._warn(f"{last.name} belongs to other settings or data: training from scratch")

        # epochs ------------------------------------------------------------------------------------
        bar = tqdm(
            total=tp.epochs,
            initial=start,
            desc=self.name,
            unit="epoch",
            disable=not self.progress,
        )
        t_run = time.perf_counter()
        for epoch in range(start, tp.epochs):
            t0 = time.perf_counter()
            row = self._train_epoch(epoch)
            aucs = self._validate()
            row.update({f"val_auc_{v}": aucs[v] for v in schema.VESSELS})
            row["val_macro_auc"] = macro_auc(aucs)
            row["seconds"] = time.perf_counter() - t0
            history.append(row)
            if self.selection is not None:
                if self.selection.update(epoch + 1, aucs):
                    best = self.selection.best()
                    self._save_best(epoch + 1, best["aucs"], self.selection.state)
            elif not math.isnan(row["val_macro_auc"]) and (
                math.isnan(best["macro"]) or row["val_macro_auc"] > best["macro"]
            ):
                best = {"epoch": epoch + 1, "macro": row["val_macro_auc"], "aucs": aucs}
                self._save_best(epoch + 1, aucs)
            self._save_last(epoch + 1, history, best)
            bar.update(1)
            bar.set_postfix(
                loss=f"{row['train_loss']:.3f}",
                inner_auc=f"{row['val_macro_auc']:.3f}",
                best=best["epoch"],
            )
            if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < tp.epochs:
                bar.close()
                return self._result(
                    history,
                    best,
                    finished=False,
                    resumed_after=resumed_after,
                    seconds=time.perf_counter() - t_run,
                )
        bar.close()

        # the chosen epoch predicts the held-out fold and the external cohort ------------------------
        selection = "best inner-validation macro-AUC"
        if self.selection is not None:
            undefined = self.selection.fill_unselected(tp.epochs)
            if undefined:
                self._warn(
                    f"{', '.join(undefined)}: no epoch with a defined inner-validation AUC; "
                    "the last epoch's network is used"
                )
            best = self.selection.best()
            self._save_best(best["epoch"], best["aucs"], self.selection.state)
            selection = (
                "each vessel's network at its own best inner-validation AUC "
                f"(epochs {self.selection.describe()})"
            )
        if best["epoch"] == 0:  # no epoch had a defined inner macro-AUC
            selection = "last epoch (inner-validation macro-AUC undefined at every epoch)"
            self._warn(
                "no vessel has both classes in the inner validation split: the last epoch is used"
            )
            best = {
                "epoch": tp.epochs,
                "macro": float("nan"),
                "aucs": {v: float("nan") for v in schema.VESSELS},
            }
            self._save_best(tp.epochs, best["aucs"])
        D.barrier(ctx)
        t_pred = time.perf_counter()
        ckpt = load_checkpoint(self.paths.best_checkpoint(self.fold), map_location=dev)
        load_state_strict(self.net, ckpt["state_dict"], str(self.paths.best_checkpoint(self.fold)))
        oof_rows, ext_rows = self._rows("test"), self._rows("external")
        oof = predictions_frame(oof_rows, self._predict(oof_rows), fold=self.fold)
        external = predictions_frame(ext_rows, self._predict(ext_rows)) if len(ext_rows) else None
        seconds = float(sum(h["seconds"] for h in history)) + time.perf_counter() - t_pred
        result = self._result(
            history,
            best,
            finished=True,
            resumed_after=resumed_after,
            seconds=seconds,
            selection=selection,
            oof=oof,
            external=external,
        )
        if ctx.is_main:
            write_predictions(oof, self.paths.oof_predictions(self.fold))
            if external is not None:
                write_predictions(external, self.paths.external_predictions(self.fold))
            self._write_summary(result)
        D.barrier(ctx)
        return result

    # ---- one epoch ----------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict:
        """The steps of epoch ``epoch`` (0-based) and its history row, as :meth:`run` trains
        it (after :meth:`build`)."""
        return self._train_epoch(epoch)

    def _train_epoch(self, epoch: int) -> dict:
        tp, ctx, dev = self.params.train, self.ctx, self.ctx.device
        seed, fold = self.params.seed, self.fold
        # every stream from (seed, fold, epoch[, rank]): a resumed epoch replays exactly
        torch.manual_seed(derive_seed(seed, fold, "dropout", epoch, ctx.rank))
        aug_gen = torch.Generator(device=dev).manual_seed(
            derive_seed(seed, fold, "augment", epoch, ctx.rank)
        )
        pc_gen = torch.Generator().manual_seed(derive_seed(seed, fold, "pcgrad", epoch))
        self.loader.sampler.set_epoch(epoch)
        strength = augment_strength(epoch, tp.epochs)
        surgery = self.surgery
        self.wrapped.train()

        tasks = self.tasks
        n_tasks = len(tasks)
        sums = running_sums(n_tasks, dev)  # read once, after the epoch: no per-step host sync
        lr = float("nan")
        # batch-level bar in a terminal only: in a notebook's saved output it would be hundreds of lines
        batches = tqdm(
            self.loader,
            desc=f"epoch {epoch + 1}",
            unit="batch",
            leave=False,
            disable=not (self.progress and sys.stderr.isatty()),
        )
        for x, y, _ in batches:
            lr = self.step(x, y, strength=strength, aug_gen=aug_gen, pc_gen=pc_gen, sums=sums)
        sums = D.all_reduce_mean_(sums, ctx).cpu()
        steps = max(float(sums[n_tasks + 2]), 1.0)
        w = self.model.weighting
        sigmas = w.sigmas().detach().cpu().tolist() if w is not None else [1.0] * n_tasks
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "augment_strength": strength if tp.augment else 0.0,
            "train_loss": float(sums[n_tasks]) / steps,
        }
        nan = float("nan")
        row.update({f"loss_{v}": nan for v in schema.VESSELS})
        row.update({f"sigma_{v}": nan for v in schema.VESSELS})
        for j, (t, s) in enumerate(zip(tasks, sigmas)):
            v = schema.VESSELS[t]
            row[f"loss_{v}"], row[f"sigma_{v}"] = float(sums[j]) / steps, float(s)
        # PCGrad's conflicts per step (task pairs) and its share of steps with any conflict
        pcgrad = surgery != "none"
        row["pcgrad_conflicts"] = float(sums[n_tasks + 1]) / steps if pcgrad else float("nan")
        row["pcgrad_conflict_steps"] = float(sums[n_tasks + 3]) / steps if pcgrad else float("nan")
        return row

    def _vessel_net(self, task: int, weights: Path | None) -> Net1D:
        """Vessel ``task``'s own one-logit network, seeded by its vessel: it starts as it would
        trained alone."""
        torch.manual_seed(derive_seed(self.params.seed, self.fold, "init", task))
        return build_model(model_config(self.params), weights, n_outputs=1)

    def _predict(self, rows: np.ndarray) -> np.ndarray:
        D.broadcast_buffers_(self.net, self.ctx)
        probs = predict_probs(
            self.net,
            self.store.signals,
            self.store_rows[rows],
            batch_size=max(2 * self.params.train.batch_size, 32),
            device=self.ctx.device,
            amp_dtype=self.amp_dtype,
            ctx=self.ctx,
        )
        untrained = [j for j in range(len(schema.VESSELS)) if j not in self.tasks]
        probs[:, untrained] = np.nan  # a head never trained predicts nothing
        return probs

    def _validate(self) -> dict[str, float]:
        probs = self._predict(self.val_rows)
        labels = self.labels[self.val_rows].copy()
        labels[:, [j for j in range(len(schema.VESSELS)) if j not in self.tasks]] = np.nan
        return vessel_aucs(labels, probs)  # a vessel that is not a task has no AUC

    # ---- files ----------------------------------------------------------------------------------
    def _save_best(self, epoch: int, aucs: dict, state: dict | None = None) -> None:
        if not self.ctx.is_main:
            return
        save_atomic(
            {
                "state_dict": self.net.state_dict() if state is None else state,
                "model_config": self.net.config(),
                "weighting": (self.model.weighting.state_dict() if self.model.weighting else {}),
                "epoch": epoch,
                "inner_auc": dict(aucs),
                "fold": self.fold,
                "vessels": [schema.VESSELS[t] for t in self.tasks],
                "fingerprint": self.fingerprint,
            },
            self.paths.best_checkpoint(self.fold),
        )

    def _save_last(self, epoch: int, history: list[dict], best: dict) -> None:
        states = [rng_state(self.ctx.device)]
        if self.ctx.distributed:
            states = [None] * self.ctx.world_size
            torch.distributed.all_gather_object(states, rng_state(self.ctx.device))
        if self.ctx.is_main:
            save_atomic(
                {
                    "epoch": epoch,
                    "fold": self.fold,
                    "fingerprint": self.fingerprint,
                    "world_size": self.ctx.world_size,
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "rng": states,
                    "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
                    "data_order": {"sampler_seed": int(self.loader.sampler.seed), "epoch": epoch},
                    "history": history,
                    "best": best,
                },
                self.paths.last_checkpoint(self.fold),
            )
            frame = pd.DataFrame(history, columns=history_columns())
            tmp = self.paths.train_history(self.fold).with_suffix(".csv.tmp")
            frame.to_csv(tmp, index=False)
            tmp.replace(self.paths.train_history(self.fold))
        D.barrier(self.ctx)

    def _result(
        self,
        history: list[dict],
        best: dict,
        *,
        finished: bool,
        resumed_after: int | None,
        seconds: float,
        selection: str = "best inner-validation macro-AUC so far",
        oof=None,
        external=None,
    ) -> FoldResult:
        aucs = {v: float(best["aucs"].get(v, float("nan"))) for v in schema.VESSELS}
        return FoldResult(
            fold=self.fold,
            finished=finished,
            best_epoch=int(best["epoch"]),
            selection=selection,
            inner_auc=aucs,
            inner_macro_auc=float(best["macro"]),
            history=pd.DataFrame(history, columns=history_columns()),
            n_rows=dict(self.n_rows),
            pretrained=self.params.model.pretrained,
            fingerprint=self.fingerprint,
            seconds=float(seconds),
            resumed_after=resumed_after,
            device=str(self.ctx.device),
            world_size=self.ctx.world_size,
            precision=self.precision,
            oof=oof,
            external=external,
            warnings=list(self.warnings),
        )

    def _write_summary(self, result: FoldResult) -> None:
        def clean(x):
            return None if isinstance(x, float) and math.isnan(x) else x

        summary = {
            "fold": result.fold,
            "fingerprint": result.fingerprint,
            "best_epoch": result.best_epoch,
            "selection": result.selection,
            "inner_auc": {k: clean(v) for k, v in result.inner_auc.items()},
            "inner_macro_auc": clean(result.inner_macro_auc),
            "n_rows": result.n_rows,
            "pretrained": result.pretrained,
            "seconds": result.seconds,
            "device": result.device,
            "world_size": result.world_size,
            "precision": result.precision,
            "batch_per_process": self.params.train.batch_size // result.world_size,
            "resumed_after": result.resumed_after,
            "epochs": self.params.train.epochs,
            "warnings": result.warnings,
        }
        path = self.paths.train_summary(self.fold)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(summary, indent=1))
        tmp.replace(path)

    def _reused(self, summary: dict) -> FoldResult:
        def nan(x):
            return float("nan") if x is None else float(x)

        history = pd.read_csv(self.paths.train_history(self.fold))
        ext_path = self.paths.external_predictions(self.fold)
        return FoldResult(
            fold=self.fold,
            finished=True,
            best_epoch=int(summary["best_epoch"]),
            selection=summary["selection"],
            inner_auc={v: nan(summary["inner_auc"].get(v)) for v in schema.VESSELS},
            inner_macro_auc=nan(summary["inner_macro_auc"]),
            history=history,
            n_rows=dict(summary["n_rows"]),
            pretrained=summary["pretrained"],
            fingerprint=summary["fingerprint"],
            seconds=float(summary["seconds"]),
            reused=True,
            resumed_after=summary.get("resumed_after"),
            device=summary.get("device", "cpu"),
            world_size=int(summary.get("world_size", 1)),
            precision=summary.get("precision", "fp32"),
            oof=read_predictions(self.paths.oof_predictions(self.fold)),
            external=read_predictions(ext_path) if ext_path.exists() else None,
            warnings=list(summary.get("warnings", [])),
        )
