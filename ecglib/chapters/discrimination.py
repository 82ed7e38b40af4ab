"""Chapter 03, discrimination: the AUC per vessel on every prediction set of the run.

The unit of inference is the patient (a patient contributes several ECGs and may have several
CCTA examinations). :func:`analyse` computes the page with one interval throughout: the
clustered DeLong interval after Obuchowski (1997), the pseudonymous ``patient`` key of the
joined predictions as the cluster, a Wald interval on the logit scale
(:func:`ecglib.metrics.clustered_roc.clustered_auc_table`). It is the interval of every AUC
of the page: the internal pooled out-of-fold predictions, the best fold's held-out predictions
(how the paper reports its internal results), the external site (mean of the fold models), the
ECGs read as normal, every fold's held-out predictions, and the ROC figure's legends
(:attr:`Discrimination.roc_aucs`).

Beside the out-of-fold AUC, per vessel (:meth:`Discrimination.interval_table`): DeLong's
interval that treats the ECGs as independent, the clustered interval, the patient bootstrap,
the index-ECG analysis (one ECG per patient, :func:`index_ecg_set`, ordinary DeLong) and the
mean and SD of the held-out folds' AUCs (:func:`fold_spread`); and one sentence computed from
them: how much wider the clustered interval is than the ECG-level one
(:func:`width_sentence`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters import caveats
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.chapters.published import paper_layout
from ecglib.chapters.risk_strata import index_ecgs
from ecglib.config import RunParams
from ecglib.metrics.bootstrap import bootstrap_vessel_table
from ecglib.metrics.clustered_roc import clustered_auc_table
from ecglib.metrics.roc import AUC_TABLE_COLUMNS, vessel_auc_table
from ecglib.metrics.small_counts import WITHHELD, withhold
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
    "auc_texts",
    "defined_vessels",
    "patient_bootstrap",
    "index_ecg_set",
    "fold_spread",
    "interval_values",
    "interval_table",
    "width_sentence",
    "INTERVAL_VALUE_COLUMNS",
    "CLUSTER",
    "INTERVAL",
    "SET_KEYS",
]

#: Short keys of the chapter's prediction sets (for glued numbers and files).
SET_KEYS: tuple[str, ...] = ("oof", "best", "external", "normal")
#: The cluster of every AUC interval of the page: the joined predictions' pseudonymous patient.
CLUSTER = "patient"
#: The page's AUC interval, as its tables name it.
INTERVAL = "clustered DeLong (unit: patient), logit-scale Wald"


@dataclass(frozen=True)
class Discrimination:
    """What chapter 03 shows (:func:`analyse`)."""

    #: AUC per set and vessel with the patient-clustered interval (:func:`auc_tables`), sets
    #: in the paper's order.
    aucs: pd.DataFrame
    #: Every fold's held-out AUC per vessel, patient-clustered (:func:`per_fold_aucs`).
    folds: pd.DataFrame
    #: The best fold and its macro-AUC over :attr:`macro_vessels`.
    best: int
    best_macro: float
    #: Vessels with an AUC in every fold (the macro-AUCs average over these).
    macro_vessels: tuple[str, ...]
    #: The prediction sets by their legend label (for the ROC figure).
    roc_sets: Mapping[str, pd.DataFrame]
    #: :attr:`aucs` with the sets by their legend label: the ROC figure's legends.
    roc_aucs: pd.DataFrame
    #: Patient-bootstrap CIs of the out-of-fold AUCs (:func:`patient_bootstrap`).
    bootstrap: pd.DataFrame
    #: DeLong's interval of the out-of-fold AUCs with every ECG an independent row.
    ecg_aucs: pd.DataFrame
    #: The index-ECG analysis: DeLong on one ECG per patient (:func:`index_ecg_set`).
    index_aucs: pd.DataFrame
    n_bootstrap: int
    n_folds: int
    n_models: int
    labels: Mapping[str, str]
    external: pd.DataFrame | Skipped
    normal: pd.DataFrame | Skipped
    #: The small-count threshold (``report.min_events``): AUCs of :attr:`aucs` and
    #: :attr:`folds` on fewer positive (or negative) ECGs are withheld (``withheld`` column).
    min_events: int = 5

    def caveats(self) -> str:
        """What does not fit, computed (:mod:`ecglib.chapters.caveats`): withheld AUCs, AUCs
        below 0.5 (sets and folds), and the external ensemble beside single internal models."""
        folds = self.folds.assign(set=[f"held-out fold {k}" for k in self.folds["fold"]])
        # the best fold's rows are its fold's rows again: said once, as the fold
        sets = self.aucs[self.aucs["set"] != self.labels["best"]]
        both = pd.concat([sets.assign(fold=math.nan), folds], ignore_index=True)

        def label(r):
            if pd.notna(r["fold"]):
                return f"the {r['vessel']} in held-out fold {int(r['fold'])}"
            return f"the {r['vessel']}, {r['set']}"

        return caveats.join_sentences(
            [
                caveats.withheld_sentence(both, label, self.min_events),
                caveats.auc_below_half_sentence(both, label),
                caveats.ensemble_sentence(self.n_models, not isinstance(self.external, Skipped)),
            ],
            empty="No AUC is withheld or below 0.5 on this page.",
        )

    def auc_wide(self) -> pd.DataFrame:
        """AUC [95% CI] per set (rows) and vessel (columns), with the set's ECGs, patients and
        interval."""
        return _with_units(wide_estimates(self.aucs, "set"), self.aucs, "set")

    def fold_wide(self) -> pd.DataFrame:
        """AUC [95% CI] per fold (rows) and vessel (columns), with the fold's ECGs, patients
        and interval."""
        return _with_units(wide_estimates(self.folds, "fold"), self.folds, "fold")

    def paper_layout(self) -> pd.DataFrame:
        """This run's AUCs beside the published ones, with each row's interval."""
        table = paper_layout(self.aucs)
        ours = table.index.get_level_values("source") == "this run"
        table["interval"] = np.where(ours, f"95% CI: {INTERVAL}", "published point estimate")
        return table

    def interval_values(self) -> pd.DataFrame:
        """Every interval of the out-of-fold AUC per vessel, as numbers
        (:func:`interval_values`)."""
        return interval_values(
            self.aucs[self.aucs["set"] == self.labels["oof"]],
            self.ecg_aucs,
            self.bootstrap,
            self.index_aucs,
            fold_spread(self.folds),
        )

    def interval_table(self) -> pd.DataFrame:
        """:meth:`interval_values` as the page shows them (:func:`interval_table`)."""
        return interval_table(self.interval_values(), n_boot=self.n_bootstrap)

    def numbers(self) -> dict[str, float | str]:
        table = self.interval_values()
        values = table.set_index("vessel")
        out: dict[str, float | str] = {
            **auc_numbers(self.aucs, self.labels, self.macro_vessels),
            "best_fold": self.best,
            "n_folds": self.n_folds,
            "n_models": self.n_models,
            "n_boot": self.n_bootstrap,
            "n_index": int(self.index_aucs["n"].iloc[0]),
            "min_events": self.min_events,
        }
        for v in schema.VESSELS:
            row = values.loc[v] if v in values.index else None
            for key, column in (
                ("auc_oof_{}_ecg_lo", "ecg_low"),
                ("auc_oof_{}_ecg_hi", "ecg_high"),
                ("auc_oof_{}_boot_lo", "bootstrap_low"),
                ("auc_oof_{}_boot_hi", "bootstrap_high"),
                ("auc_index_{}", "index_auc"),
                ("auc_index_{}_lo", "index_low"),
                ("auc_index_{}_hi", "index_high"),
                ("fold_mean_{}", "fold_mean"),
                ("fold_sd_{}", "fold_sd"),
                ("width_ratio_{}", "width_ratio"),
            ):
                out[key.format(v)] = float(row[column]) if row is not None else math.nan
            out[f"fold_spread_{v}"] = fold_spread_text(out[f"fold_mean_{v}"], out[f"fold_sd_{v}"])
        ratios = values["width_ratio"].dropna()
        boot = values["bootstrap_width_ratio"].dropna()
        out["width_ratio_mean"] = float(ratios.mean()) if len(ratios) else math.nan
        out["boot_width_ratio_mean"] = float(boot.mean()) if len(boot) else math.nan
        out["width_sentence"] = width_sentence(table)
        out["caveats"] = self.caveats()
        out |= auc_texts(self.aucs, self.labels)
        return out

    def outputs(self) -> dict[str, object]:
        numbers = self.numbers()
        numbers.pop("n_boot")
        return {
            "discrimination_auc": self.aucs,
            "discrimination_paper_layout": self.paper_layout(),
            "discrimination_folds": self.folds,
            "discrimination_patient_bootstrap": self.bootstrap,
            "discrimination_index_ecg": self.index_aucs,
            "discrimination_intervals": self.interval_values(),
            "discrimination": numbers,
        }

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.external, self.normal])


def analyse(run: RunParams, results: RunResults | None = None) -> Discrimination:
    """Chapter 03 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    min_events = run.report.min_events
    raw_folds = per_fold_aucs(results.oof)
    # the best fold is chosen as the paper chooses it, on every fold AUC; what the page shows
    # withholds those on too few events
    best, best_macro = best_fold(raw_folds)
    folds = withhold(raw_folds, min_events)
    labels = set_labels(results, best)
    aucs = withhold(auc_tables(prediction_sets(results, best)), min_events)
    short = set_labels(results, best, short=True)
    oof_aucs = aucs[aucs["set"] == labels["oof"]]
    n_boot = run.evaluation.n_bootstrap
    return Discrimination(
        aucs=aucs,
        folds=folds,
        best=best,
        best_macro=best_macro,
        macro_vessels=tuple(common_vessels(raw_folds)),
        roc_sets=prediction_sets(results, best, short=True),
        roc_aucs=aucs.assign(set=aucs["set"].map({labels[k]: short[k] for k in labels})),
        bootstrap=patient_bootstrap(results.oof, oof_aucs, n_boot=n_boot, seed=run.seed),
        ecg_aucs=vessel_auc_table(results.oof),
        index_aucs=vessel_auc_table(index_ecg_set(results.oof)),
        n_bootstrap=n_boot,
        n_folds=len(results.folds),
        n_models=results.n_fold_models,
        labels=labels,
        external=attempt("External validation", results.require_external),
        normal=attempt("The normal-ECG subset", results.normal_ecg),
        min_events=min_events,
    )


def _clustered(predictions: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """:func:`~ecglib.metrics.clustered_roc.clustered_auc_table` clustered by :data:`CLUSTER`,
    its ``clusters`` column named ``patients`` and the :data:`INTERVAL` stated."""
    table = clustered_auc_table(predictions, cluster_col=CLUSTER, **kwargs)
    return table.rename(columns={"clusters": "patients"}).assign(interval=INTERVAL)


def auc_tables(sets: Mapping[str, pd.DataFrame], **kwargs) -> pd.DataFrame:
    """The patient-clustered AUC table
    (:func:`~ecglib.metrics.clustered_roc.clustered_auc_table`) of every prediction set,
    stacked with a ``set`` column first, ``patients`` and ``interval`` last."""
    parts = [_clustered(table, **kwargs).assign(set=name) for name, table in sets.items()]
    out = pd.concat(parts, ignore_index=True)
    return out[["set", *AUC_TABLE_COLUMNS, "patients", "interval"]]


def per_fold_aucs(oof: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """The patient-clustered AUC table of every fold's held-out predictions (``fold`` column
    first, ``patients`` and ``interval`` last)."""
    parts = [_clustered(group, **kwargs).assign(fold=int(k)) for k, group in oof.groupby("fold")]
    out = pd.concat(parts, ignore_index=True)
    return out[["fold", *AUC_TABLE_COLUMNS, "patients", "interval"]]


def _with_units(wide: pd.DataFrame, long: pd.DataFrame, index: str) -> pd.DataFrame:
    """``wide`` with the ECGs and patients of each row and the interval's method."""
    first = long.drop_duplicates(index).set_index(index)
    return wide.assign(
        ECGs=first.loc[wide.index, "n"].to_numpy(),
        patients=first.loc[wide.index, "patients"].to_numpy(),
        **{"95% CI": first.loc[wide.index, "interval"].to_numpy()},
    )


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


def fold_spread_text(mean: float, sd: float, digits: int = 3) -> str:
    """The folds' AUC as ``"0.849 ± 0.069"`` for the page's text; ``"no fold AUC"`` when no fold
    has one (every fold withheld under the small-count policy, or one class in every fold)."""
    if not np.isfinite(mean):
        return "no fold AUC"
    return f"{mean:.{digits}f} ± " + (f"{sd:.{digits}f}" if np.isfinite(sd) else "n/a")


def auc_numbers(
    aucs: pd.DataFrame, labels: Mapping[str, str], macro_vessels: Sequence[str] = schema.VESSELS
) -> dict[str, float]:
    """Glue-ready numbers of :func:`auc_tables`: ``auc_<key>_<vessel>`` with ``_lo``/``_hi``,
    ``n_<key>`` (ECGs), ``patients_<key>`` (when the table has ``patients``),
    ``pos_<key>_<vessel>`` and ``macro_<key>`` (mean AUC over ``macro_vessels``) for every set
    key of ``labels``; NaN for a set that is absent, so the chapter's text always finds its
    keys."""
    out: dict[str, float] = {}
    for key, label in labels.items():
        rows = aucs[aucs["set"] == label].set_index("vessel")
        averaged = [v for v in macro_vessels if v in rows.index]  # a vessel not assessed has none
        out[f"n_{key}"] = int(rows["n"].iloc[0]) if len(rows) else math.nan
        if "patients" in rows.columns:
            out[f"patients_{key}"] = int(rows["patients"].iloc[0]) if len(rows) else math.nan
        out[f"macro_{key}"] = (
            float(rows.loc[averaged, "auc"].mean()) if len(rows) and averaged else math.nan
        )
        for v in schema.VESSELS:
            present = v in rows.index
            out[f"auc_{key}_{v}"] = float(rows.at[v, "auc"]) if present else math.nan
            out[f"auc_{key}_{v}_lo"] = float(rows.at[v, "ci_low"]) if present else math.nan
            out[f"auc_{key}_{v}_hi"] = float(rows.at[v, "ci_high"]) if present else math.nan
            out[f"pos_{key}_{v}"] = int(rows.at[v, "positives"]) if present else math.nan
    return out


def auc_texts(aucs: pd.DataFrame, labels: Mapping[str, str], digits: int = 3) -> dict[str, str]:
    """``auc_<key>_<vessel>_text``: the AUC with its interval as the text prints it
    ("0.712 [0.650-0.768]"), the small-count policy's reason for a withheld one ("too few
    events (2)"), "n/a" for a set or vessel without an AUC."""
    out: dict[str, str] = {}
    for key, label in labels.items():
        rows = aucs[aucs["set"] == label].set_index("vessel")
        for v in schema.VESSELS:
            if v not in rows.index:
                text = "n/a"
            elif WITHHELD in rows.columns and rows.at[v, WITHHELD]:
                text = str(rows.at[v, WITHHELD])
            else:
                r = rows.loc[v]
                text = format_estimate(r["auc"], r["ci_low"], r["ci_high"], digits)
            out[f"auc_{key}_{v}_text"] = text
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


def index_ecg_set(predictions: pd.DataFrame) -> pd.DataFrame:
    """One ECG per patient, the index-ECG analysis's set: the latest ECG before the patient's
    first CCTA (``exam_order == 1`` and ``ecg_order == 1`` of
    :func:`ecglib.chapters.predictions.cohort_keys`;
    :func:`ecglib.chapters.risk_strata.index_ecgs` with ``unit="patient"``)."""
    return index_ecgs(predictions, "patient").reset_index(drop=True)


def fold_spread(fold_table: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample SD (``ddof = 1``) of the held-out folds' AUCs per vessel, over the folds
    in which the vessel has an AUC (``folds_with_auc``; the SD needs two)."""
    rows = []
    for vessel, group in fold_table.groupby("vessel", sort=False):
        auc = group["auc"].dropna()
        rows.append(
            {
                "vessel": vessel,
                "fold_mean": float(auc.mean()) if len(auc) else math.nan,
                "fold_sd": float(auc.std(ddof=1)) if len(auc) > 1 else math.nan,
                "folds_with_auc": len(auc),
                "folds": len(group),
            }
        )
    return pd.DataFrame(rows)


#: Columns of :func:`interval_values`.
INTERVAL_VALUE_COLUMNS: tuple[str, ...] = (
    "vessel",
    "ecgs",
    "patients",
    "positives",
    "auc",
    "ecg_low",
    "ecg_high",
    "clustered_low",
    "clustered_high",
    "bootstrap_low",
    "bootstrap_high",
    "index_n",
    "index_positives",
    "index_auc",
    "index_low",
    "index_high",
    "fold_mean",
    "fold_sd",
    "folds_with_auc",
    "folds",
    "width_ratio",
    "bootstrap_width_ratio",
    "reason",
)


def interval_values(
    clustered: pd.DataFrame,
    ecg_level: pd.DataFrame,
    bootstrap: pd.DataFrame,
    index: pd.DataFrame,
    spread: pd.DataFrame,
) -> pd.DataFrame:
    """The out-of-fold AUC of every vessel with each of its intervals, one row per vessel of
    ``clustered`` (:data:`INTERVAL_VALUE_COLUMNS`): ``ecg_*`` DeLong with the ECGs as
    independent rows (``ecg_level``), ``clustered_*`` the patient-clustered DeLong,
    ``bootstrap_*`` the patient bootstrap, ``index_*`` DeLong on one ECG per patient
    (``index``), the folds' mean and SD over the ``folds_with_auc`` of ``folds`` folds
    (``spread``, :func:`fold_spread`), and the widths of the clustered and the bootstrap
    interval over the ECG-level one (NaN where an interval is missing). ``reason`` says why a
    vessel has no AUC or no clustered interval."""
    ecg = ecg_level.set_index("vessel")
    boot = bootstrap.set_index("vessel")
    idx = index.set_index("vessel")
    folds = spread.set_index("vessel")

    def at(table: pd.DataFrame, vessel: str, column: str) -> float:
        return float(table.at[vessel, column]) if vessel in table.index else math.nan

    rows = []
    for r in clustered.itertuples(index=False):
        v = r.vessel
        ecg_width = at(ecg, v, "ci_high") - at(ecg, v, "ci_low")
        boot_width = at(boot, v, "ci_high") - at(boot, v, "ci_low")
        ratio = (r.ci_high - r.ci_low) / ecg_width if ecg_width > 0 else math.nan
        boot_ratio = boot_width / ecg_width if ecg_width > 0 else math.nan
        rows.append(
            {
                "vessel": v,
                "ecgs": int(r.n),
                "patients": int(r.patients),
                "positives": int(r.positives),
                "auc": float(r.auc),
                "ecg_low": at(ecg, v, "ci_low"),
                "ecg_high": at(ecg, v, "ci_high"),
                "clustered_low": float(r.ci_low),
                "clustered_high": float(r.ci_high),
                "bootstrap_low": at(boot, v, "ci_low"),
                "bootstrap_high": at(boot, v, "ci_high"),
                "index_n": int(idx.at[v, "n"]) if v in idx.index else 0,
                "index_positives": int(idx.at[v, "positives"]) if v in idx.index else 0,
                "index_auc": at(idx, v, "auc"),
                "index_low": at(idx, v, "ci_low"),
                "index_high": at(idx, v, "ci_high"),
                "fold_mean": at(folds, v, "fold_mean"),
                "fold_sd": at(folds, v, "fold_sd"),
                "folds_with_auc": int(folds.at[v, "folds_with_auc"]) if v in folds.index else 0,
                "folds": int(folds.at[v, "folds"]) if v in folds.index else 0,
                "width_ratio": float(ratio),
                "bootstrap_width_ratio": float(boot_ratio),
                "reason": r.reason,
            }
        )
    return pd.DataFrame(rows, columns=list(INTERVAL_VALUE_COLUMNS))


def interval_table(values: pd.DataFrame, *, n_boot: int, digits: int = 3) -> pd.DataFrame:
    """:func:`interval_values` as text, one column per vessel, each row naming its unit and
    method: the ECGs and patients, the AUC of the pooled out-of-fold ECGs, DeLong's interval
    with the ECGs as independent rows, the patient-clustered DeLong interval (the page's), the
    patient bootstrap's, the index-ECG AUC (one ECG per patient, DeLong), the folds' mean +-
    SD, and the clustered interval's width over the ECG-level one."""

    def ci(row, low: str, high: str) -> str:
        return format_estimate(row["auc"], row[low], row[high], digits).split(" ", 1)[-1]

    rows = []
    for _, r in values.iterrows():
        mean, sd = r["fold_mean"], r["fold_sd"]
        if not np.isfinite(mean):
            spread = "n/a"
        else:
            spread = f"{mean:.{digits}f} ± " + (f"{sd:.{digits}f}" if np.isfinite(sd) else "n/a")
        if r["folds_with_auc"] < r["folds"]:
            spread += f" ({r['folds_with_auc']} of {r['folds']} folds)"
        ratio = r["width_ratio"]
        rows.append(
            {
                "vessel": r["vessel"],
                "ECGs / patients": f"{r['ecgs']:,} / {r['patients']:,}",
                "AUC (pooled OOF ECGs)": format_estimate(r["auc"], digits=digits),
                "95% CI, DeLong (unit: ECG)": ci(r, "ecg_low", "ecg_high"),
                "95% CI, clustered DeLong (unit: patient)": ci(
                    r, "clustered_low", "clustered_high"
                ),
                f"95% CI, patient bootstrap ({n_boot:,} resamples)": ci(
                    r, "bootstrap_low", "bootstrap_high"
                ),
                "index ECG: AUC [95% CI], DeLong (unit: patient)": format_estimate(
                    r["index_auc"], r["index_low"], r["index_high"], digits
                ),
                "index ECG: patients (positive)": f"{r['index_n']:,} ({r['index_positives']:,})",
                "held-out folds: AUC mean ± SD": spread,
                "clustered / DeLong CI width": f"{ratio:.2f}" if np.isfinite(ratio) else "n/a",
            }
        )
    table = pd.DataFrame(rows).set_index("vessel").T
    table.columns.name = None
    return table


def width_sentence(values: pd.DataFrame) -> str:
    """The page's sentence on how much wider the patient-clustered interval is than the
    ECG-level one, computed from :func:`interval_values`: the mean ratio of the widths over the
    vessels with both intervals, their range, the bootstrap's mean ratio, and which vessels
    have no ratio and why."""
    have = values[np.isfinite(values["width_ratio"])]
    missing = values[~np.isfinite(values["width_ratio"])]
    if have.empty:
        text = "No vessel has both a clustered and an ECG-level interval in this run"
    else:
        names = _join([f"the {v}" for v in have["vessel"]])
        low = have.loc[have["width_ratio"].idxmin()]
        high = have.loc[have["width_ratio"].idxmax()]
        text = (
            f"Over {names}, the patient-clustered interval is on average "
            f"{have['width_ratio'].mean():.2f} times as wide as the ECG-level DeLong interval"
        )
        if len(have) > 1:
            text += (
                f" (from {low['width_ratio']:.2f} for the {low['vessel']} to "
                f"{high['width_ratio']:.2f} for the {high['vessel']})"
            )
        boot = have["bootstrap_width_ratio"].dropna()
        if len(boot):
            text += f"; the patient bootstrap's is on average {boot.mean():.2f} times as wide"
    text += "."
    for _, r in missing.iterrows():
        why = r["reason"] or "its ECG-level interval has no width"
        what = "no AUC" if not np.isfinite(r["auc"]) else "no width ratio"
        text += f" The {r['vessel']} has {what} ({why})."
    return text


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
