"""Chapter 02, training one fold: the page the pipeline runs once per outer fold (``fold``).

:func:`analyse` trains fold ``fold`` of the run (:func:`ecglib.train.fit.fit_fold`, which reuses
a finished fold whose params and data are unchanged), and gives the page where the network's
weights started from (:func:`initialisation_note`), the folds' sizes and prevalences
(:func:`ecglib.data.folds.fold_prevalence_table`), the training history behind the learning
curves, and the AUC per vessel on this fold's two evaluation splits (:func:`split_auc_table`):
the inner validation split that chose the epoch and the held-out fold, predicted once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecglib import schema
from ecglib.chapters import framing as framing_module
from ecglib.config import RunParams
from ecglib.data.folds import fold_prevalence_table
from ecglib.data.prepare import read_cohort
from ecglib.data.run_folds import ensure_folds, fold_roles, internal_mask
from ecglib.paths import RunPaths
from ecglib.report.present import format_percent
from ecglib.train.fit import FoldResult, fit_fold
from ecglib.train.validate import macro_auc, vessel_aucs

__all__ = [
    "Training",
    "analyse",
    "initialisation_note",
    "split_auc_table",
    "fold_counts_display",
    "heldout_aucs",
    "INNER_AUC",
    "HELDOUT_AUC",
]

#: The columns of :func:`split_auc_table` that hold the AUCs.
INNER_AUC = "inner-validation AUC (chose the epoch)"
HELDOUT_AUC = "held-out fold AUC (reported)"


@dataclass(frozen=True)
class Training:
    """What chapter 02 shows for one fold (:func:`analyse`)."""

    fold: int
    #: What :func:`ecglib.train.fit.fit_fold` did (its history, chosen epoch, row counts).
    result: FoldResult
    #: Markdown: where the network's starting weights came from (:func:`initialisation_note`).
    initialisation: str
    #: Patients, ECGs and positives per fold of the internal cohort.
    folds: pd.DataFrame
    #: AUC per vessel (and macro) on the inner validation split and the held-out fold, with the
    #: positive ECGs of each (:func:`split_auc_table`).
    aucs: pd.DataFrame
    #: What the run trains, beside the study (:mod:`ecglib.chapters.framing`).
    framing: framing_module.Framing

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch metrics (``metrics/train_fold{k}.csv``): the learning curves' input."""
        return self.result.history

    @property
    def best_epoch(self) -> int:
        return self.result.best_epoch

    @property
    def figure_name(self) -> str:
        """The learning curves' file name (one per fold)."""
        return f"learning_curves_fold{self.fold}"

    @property
    def title(self) -> str:
        return f"fold {self.fold}"

    def initialisation_note(self):
        """:attr:`initialisation` for display."""
        from IPython.display import Markdown

        return Markdown(self.initialisation)

    def fit_summary(self) -> pd.DataFrame:
        """The chosen epoch, how it was chosen, and what training warned about."""
        warnings = "; ".join(self.result.warnings) or "none"
        items = {
            "best epoch": str(self.result.best_epoch),
            "selected by": self.result.selection,
            "warnings": warnings,
        }
        return pd.DataFrame(
            {"value": list(items.values())}, index=pd.Index(list(items), name=f"fold {self.fold}")
        )

    def fold_table(self) -> pd.DataFrame:
        """:attr:`folds` as a compact counts table (:func:`fold_counts_display`)."""
        return fold_counts_display(self.folds)

    def auc_table(self) -> pd.DataFrame:
        """:attr:`aucs` rounded for the page; a missing count or AUC says why."""
        table = self.aucs.round(3)
        table.attrs["missing"] = (
            "no positives count for the macro row (it averages the vessels' AUCs), and no "
            "value for a vessel the cohort does not assess or whose split has a single class"
        )
        return table

    def numbers(self) -> dict[str, object]:
        r = self.result
        return {
            "fold": self.fold,
            **{f"n_{key}": r.n_rows[key] for key in ("train", "val", "test", "external")},
            "n_epochs": len(r.history),
            "train_minutes": r.seconds / 60,
            "device": f"{r.world_size} x {r.device}" if r.world_size > 1 else r.device,
            "reused_text": (
                "reused the finished fold of an earlier run" if r.reused else "trained the fold"
            ),
            "best_epoch": r.best_epoch,
            "inner_macro": float(self.aucs.at["macro", INNER_AUC]),
            "heldout_macro": float(self.aucs.at["macro", HELDOUT_AUC]),
            # What the run trains; the fold's own device is glued as ``device`` above.
            "what_trained": self.framing.sentence(device=False),
            "study_trained": self.framing.study_sentence(),
            "trained_consequence": self.framing.consequence(),
        }

    def outputs(self) -> dict[str, object]:
        """The folds' counts (``metrics/fold_prevalence.csv``, the same for every fold's page);
        training wrote the rest itself (``metrics/train_fold{k}.csv`` and ``.json``, the
        checkpoints and predictions)."""
        return {"fold_prevalence": self.folds}

    def skipped(self) -> list:
        return []


def analyse(run: RunParams, fold: int, *, progress: bool = True) -> Training:
    """Chapter 02 of ``run`` for fold ``fold`` (module docstring): trains the fold, or reuses it
    when it has finished with the same params and data."""
    cohort = read_cohort(RunPaths.of(run).cohort)
    folds = ensure_folds(run, cohort)
    roles = fold_roles(run, cohort, folds, fold)
    result = fit_fold(run, fold, progress=progress)
    return Training(
        fold=int(fold),
        result=result,
        initialisation=initialisation_note(run),
        folds=fold_prevalence_table(cohort.loc[internal_mask(cohort)], folds),
        aucs=split_auc_table(result, cohort, roles),
        framing=framing_module.analyse(run),
    )


def fold_counts_display(folds: pd.DataFrame) -> pd.DataFrame:
    """The folds' sizes and positives for reading: one row per fold (and all), patients, ECGs,
    and per vessel its positive ECGs with their share of the fold's ECGs, ``"85 (15.8%)"``
    (the per-patient counts stay in the saved table)."""
    out = pd.DataFrame(index=folds.index)
    out["patients"] = folds["n_patients"].astype(int)
    out["ECGs"] = folds["n_ecgs"].astype(int)
    for v in schema.VESSELS:
        if f"{v}_positives" in folds:
            out[f"{v} positive ECGs"] = [
                f"{int(n):,} ({format_percent(p)})"
                for n, p in zip(folds[f"{v}_positives"], folds[f"{v}_prevalence"])
            ]
    return out


def initialisation_note(params: RunParams) -> str:
    """A Markdown statement of where the network's starting weights came from."""
    if params.model.pretrained is None:
        return (
            "**Random initialisation.** This run's `model.pretrained` is `null`: Net1D starts from "
            "random weights (seeded from the run's seed and the fold), **not** from the pretrained "
            "ECGFounder checkpoint that the paper fine-tunes. The numbers below therefore show what "
            "the pipeline does on this cohort, not the paper's fine-tuning result. To fine-tune "
            "ECGFounder, put its released `12_lead_ECGFounder.pth` on this machine and set "
            "`model.pretrained` to its path (see `params/paper.yaml`)."
        )
    return (
        f"**Pretrained initialisation.** Net1D starts from the ECGFounder weights in "
        f"`{params.model.pretrained}`, loaded strictly (every tensor but the replaced 150-class "
        "head must match); the new 4-logit head is randomly initialised."
    )


def heldout_aucs(result: FoldResult, cohort: pd.DataFrame) -> dict[str, float]:
    """Per-vessel AUCs and ``macro`` of the fold's out-of-fold predictions (NaN if undefined)."""
    if result.oof is None:
        raise ValueError(f"fold {result.fold} has not finished: no out-of-fold predictions")
    rows = result.oof["row"].to_numpy()
    aucs = vessel_aucs(
        schema.binarise_grades(cohort.loc[rows]).to_numpy(),
        result.oof[schema.prob_cols()].to_numpy(),
    )
    return {**aucs, "macro": macro_auc(aucs)}


def split_auc_table(
    result: FoldResult, cohort: pd.DataFrame, roles: pd.Series | None = None
) -> pd.DataFrame:
    """One fold's AUCs on its two evaluation splits, per vessel (and macro): the chosen epoch's
    inner-validation AUC (the split that chose the epoch) and the held-out fold's AUC (predicted
    once, reported), with the number of positive ECGs of each split (when ``roles``, the fold's
    :func:`ecglib.data.run_folds.fold_roles`, is given). A vessel the cohort does not assess has
    missing AUCs and counts."""
    heldout = heldout_aucs(result, cohort)
    table = pd.DataFrame(
        {
            INNER_AUC: {**result.inner_auc, "macro": result.inner_macro_auc},
            HELDOUT_AUC: heldout,
        }
    )
    if roles is not None:
        labels = schema.binarise_grades(cohort)
        assessed = schema.assessed_vessels(labels)
        for role, name in (("val", "inner-validation positives"), ("test", "held-out positives")):
            counts = labels.loc[(roles == role).to_numpy()].sum()
            table[name] = pd.array(
                [
                    int(counts[schema.label_col(v)]) if v in assessed else None
                    for v in schema.VESSELS
                ]
                + [None],
                dtype="Int64",
            )
    table.index.name = "vessel"
    return table
