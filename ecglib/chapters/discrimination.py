"""Chapter 03, discrimination: the AUC per vessel on every prediction set of the run.

:func:`analyse` computes the page: the AUC with its DeLong interval per vessel
(:func:`ecglib.metrics.roc.vessel_auc_table`) on the internal pooled out-of-fold predictions,
the best fold's held-out predictions (how the paper reports its internal results), the external
site (mean of the fold models) and the ECGs read as normal; every fold's held-out AUC; and the
patient bootstrap of the out-of-fold AUCs beside DeLong's interval, since a patient can
contribute several ECGs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.published import paper_layout
from ecglib.config import RunParams
from ecglib.metrics.bootstrap import bootstrap_vessel_table
from ecglib.metrics.roc import AUC_TABLE_COLUMNS, vessel_auc_table
from ecglib.report.present import format_estimate, wide_estimates

__all__ = [
    "Discrimination",
    "analyse",
    "auc_tables",
    "per_fold_aucs",
    "best_fold",
    "common_vessels",
    "prediction_sets",
    "set_labels",
    "auc_numbers",
    "defined_vessels",
    "patient_bootstrap",
    "delong_vs_bootstrap",
    "SET_KEYS",
]

#: Short keys of the chapter's prediction sets (for glued numbers and files).
SET_KEYS: tuple[str, ...] = ("oof", "best", "external", "normal")


@dataclass(frozen=True)
class Discrimination:
    """What chapter 03 shows (:func:`analyse`)."""

    #: AUC per set and vessel (:func:`auc_tables`), sets in the paper's order.
    aucs: pd.DataFrame
    #: Every fold's held-out AUC per vessel (:func:`per_fold_aucs`).
    folds: pd.DataFrame
    #: The best fold and its macro-AUC over :attr:`macro_vessels`.
    best: int
    best_macro: float
    #: Vessels with an AUC in every fold (the macro-AUCs average over these).
    macro_vessels: tuple[str, ...]
    #: The prediction sets by their legend label (for the ROC figure).
    roc_sets: Mapping[str, pd.DataFrame]
    #: Patient-bootstrap CIs of the out-of-fold AUCs (:func:`patient_bootstrap`).
    bootstrap: pd.DataFrame
    #: The out-of-fold AUCs (DeLong) the bootstrap is set beside.
    oof_aucs: pd.DataFrame
    n_bootstrap: int
    n_folds: int
    n_models: int
    labels: Mapping[str, str]
    external: pd.DataFrame | Skipped
    normal: pd.DataFrame | Skipped

    def auc_wide(self) -> pd.DataFrame:
        """AUC [95% CI] per set (rows) and vessel (columns)."""
        return wide_estimates(self.aucs, "set")

    def fold_wide(self) -> pd.DataFrame:
        """AUC [95% CI] per fold (rows) and vessel (columns)."""
        return wide_estimates(self.folds, "fold")

    def paper_layout(self) -> pd.DataFrame:
        """This run's AUCs beside the published ones."""
        return paper_layout(self.aucs)

    def bootstrap_comparison(self) -> pd.DataFrame:
        return delong_vs_bootstrap(self.oof_aucs, self.bootstrap)

    def numbers(self) -> dict[str, float]:
        return {
            **auc_numbers(self.aucs, self.labels, self.macro_vessels),
            "best_fold": self.best,
            "n_folds": self.n_folds,
            "n_models": self.n_models,
            "n_boot": self.n_bootstrap,
        }

    def outputs(self) -> dict[str, object]:
        numbers = self.numbers()
        numbers.pop("n_boot")
        return {
            "discrimination_auc": self.aucs,
            "discrimination_paper_layout": self.paper_layout(),
            "discrimination_folds": self.folds,
            "discrimination_patient_bootstrap": self.bootstrap,
            "discrimination": numbers,
        }

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.external, self.normal])


def analyse(run: RunParams, results: RunResults | None = None) -> Discrimination:
    """Chapter 03 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    folds = per_fold_aucs(results.oof)
    best, best_macro = best_fold(folds)
    labels = set_labels(results, best)
    aucs = auc_tables(prediction_sets(results, best))
    oof_aucs = vessel_auc_table(results.oof)
    n_boot = run.evaluation.n_bootstrap
    return Discrimination(
        aucs=aucs,
        folds=folds,
        best=best,
        best_macro=best_macro,
        macro_vessels=tuple(common_vessels(folds)),
        roc_sets=prediction_sets(results, best, short=True),
        bootstrap=patient_bootstrap(results.oof, oof_aucs, n_boot=n_boot, seed=run.seed),
        oof_aucs=oof_aucs,
        n_bootstrap=n_boot,
        n_folds=len(results.folds),
        n_models=results.n_fold_models,
        labels=labels,
        external=attempt("External validation", results.require_external),
        normal=attempt("The normal-ECG subset", results.normal_ecg),
    )


def auc_tables(sets: Mapping[str, pd.DataFrame], **kwargs) -> pd.DataFrame:
    """:func:`~ecglib.metrics.roc.vessel_auc_table` of every prediction set, stacked with a
    ``set`` column first."""
    parts = [vessel_auc_table(table, **kwargs).assign(set=name) for name, table in sets.items()]
    out = pd.concat(parts, ignore_index=True)
    return out[["set", *AUC_TABLE_COLUMNS]]


def per_fold_aucs(oof: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """:func:`~ecglib.metrics.roc.vessel_auc_table` of every fold's held-out predictions
    (``fold`` column first)."""
    parts = [
        vessel_auc_table(group, **kwargs).assign(fold=int(k))
        for k, group in oof.groupby("fold", sort=True)
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[["fold", *AUC_TABLE_COLUMNS]]


def common_vessels(fold_table: pd.DataFrame) -> list[str]:
    """Vessels with an AUC in every fold of :func:`per_fold_aucs`, in the paper's order."""
    wide = fold_table.pivot(index="fold", columns="vessel", values="auc")
    return [v for v in schema.VESSELS if v in wide.columns and wide[v].notna().all()]


def best_fold(fold_table: pd.DataFrame) -> tuple[int, float]:
    """The fold whose held-out macro-AUC (mean over the vessels that have an AUC in every fold)
    is highest, and that macro-AUC: the choice a paper makes when it reports its best fold.

    Vessels without an AUC in some fold are left out of every fold's mean, so all folds are
    compared on the same vessels; with no vessel left, ``ValueError``.
    """
    wide = fold_table.pivot(index="fold", columns="vessel", values="auc")
    usable = wide.columns[wide.notna().all(axis=0)]
    if len(usable) == 0:
        raise ValueError("no vessel has an AUC in every fold: there is no best fold to pick")
    macro = wide[usable].mean(axis=1)
    k = int(macro.idxmax())
    return k, float(macro.loc[k])


def set_labels(results: RunResults, best: int, *, short: bool = False) -> dict[str, str]:
    """Readable name of each prediction set of :data:`SET_KEYS` (``short``: for a figure's
    legend)."""
    if short:
        return {
            "oof": "pooled OOF",
            "best": f"best fold ({best})",
            "external": "external",
            "normal": "normal ECG",
        }
    return {
        "oof": "internal, pooled out-of-fold",
        "best": f"internal, best fold ({best})",
        "external": f"external, mean of {results.n_fold_models} fold models",
        "normal": "normal ECG, internal out-of-fold",
    }


def prediction_sets(
    results: RunResults, best: int, *, short: bool = False
) -> dict[str, pd.DataFrame]:
    """The chapter's prediction sets by :func:`set_labels` name, in the paper's order: internal
    pooled out-of-fold, the best fold's held-out predictions, external (left out without an
    external site) and the normal-ECG subset (left out when the ECG read is unknown; the
    result's ``external`` and ``normal`` fields say why)."""
    labels = set_labels(results, best, short=short)
    sets = {labels["oof"]: results.oof, labels["best"]: results.fold(best)}
    external = attempt("External validation", results.require_external)
    if not isinstance(external, Skipped):
        sets[labels["external"]] = external
    normal = attempt("The normal-ECG subset", results.normal_ecg)
    if not isinstance(normal, Skipped):
        sets[labels["normal"]] = normal
    return sets


def auc_numbers(
    aucs: pd.DataFrame, labels: Mapping[str, str], macro_vessels: Sequence[str] = schema.VESSELS
) -> dict[str, float]:
    """Glue-ready numbers of :func:`auc_tables`: ``auc_<key>_<vessel>`` with ``_lo``/``_hi``,
    ``n_<key>``, ``pos_<key>_<vessel>`` and ``macro_<key>`` (mean AUC over ``macro_vessels``)
    for every set key of ``labels``; NaN for a set that is absent, so the chapter's text always
    finds its keys."""
    out: dict[str, float] = {}
    for key, label in labels.items():
        rows = aucs[aucs["set"] == label].set_index("vessel")
        out[f"n_{key}"] = int(rows["n"].iloc[0]) if len(rows) else math.nan
        out[f"macro_{key}"] = (
            float(rows.loc[list(macro_vessels), "auc"].mean())
            if len(rows) and len(macro_vessels)
            else math.nan
        )
        for v in schema.VESSELS:
            present = v in rows.index
            out[f"auc_{key}_{v}"] = float(rows.at[v, "auc"]) if present else math.nan
            out[f"auc_{key}_{v}_lo"] = float(rows.at[v, "ci_low"]) if present else math.nan
            out[f"auc_{key}_{v}_hi"] = float(rows.at[v, "ci_high"]) if present else math.nan
            out[f"pos_{key}_{v}"] = int(rows.at[v, "positives"]) if present else math.nan
    return out


def defined_vessels(aucs: pd.DataFrame) -> list[str]:
    """Vessels with an AUC in an AUC table (both classes present)."""
    return [v for v in aucs["vessel"] if pd.notna(aucs.set_index("vessel").at[v, "auc"])]


def patient_bootstrap(
    predictions: pd.DataFrame, aucs: pd.DataFrame, *, n_boot: int, seed: int
) -> pd.DataFrame:
    """Percentile bootstrap CIs of the AUC resampling whole patients (the ``patient`` key) with
    all their ECGs (:func:`ecglib.metrics.bootstrap.bootstrap_vessel_table`), for the vessels
    of ``aucs`` that have an AUC."""
    vessels = defined_vessels(aucs)
    if not vessels:
        return pd.DataFrame(columns=["vessel", "auc", "ci_low", "ci_high", "n_one_class"])
    return bootstrap_vessel_table(
        predictions, vessels, n_boot=n_boot, seed=seed, group_col="patient"
    )


def delong_vs_bootstrap(aucs: pd.DataFrame, boot: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """DeLong's interval (independent ECGs) beside the patient-cluster bootstrap's, per vessel."""
    b = boot.set_index("vessel")
    rows = []
    for r in aucs.itertuples(index=False):
        if r.vessel not in b.index:
            continue
        rows.append(
            {
                "vessel": r.vessel,
                "AUC": format_estimate(r.auc, digits=digits),
                "DeLong 95% CI": format_estimate(r.auc, r.ci_low, r.ci_high, digits).split(" ", 1)[
                    -1
                ],
                "patient bootstrap 95% CI": format_estimate(
                    b.at[r.vessel, "auc"],
                    b.at[r.vessel, "ci_low"],
                    b.at[r.vessel, "ci_high"],
                    digits,
                ).split(" ", 1)[-1],
                "resamples without both classes": int(b.at[r.vessel, "n_one_class"]),
            }
        )
    return pd.DataFrame(rows).set_index("vessel")
