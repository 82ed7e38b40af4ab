"""The evaluation chapters' glue: small steps between the metrics and the book's tables.

The metrics live in :mod:`ecglib.metrics`; this module arranges their inputs (which prediction
set, which ECG per examination, which threshold from the params) and their outputs (readable
tables), so that the notebooks only call, show and save. Everything here works on the joined
prediction tables of :mod:`ecglib.chapters.run_results` and returns plain DataFrames.

Undefined is never an error here and never a made-up number: an AUC of a vessel with one class
is NaN with the reason in a ``reason`` column, a stratification that cannot be fitted says why.
Anything else that is wrong with the inputs raises.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import RunParams
from ecglib.errors import MissingInputError
from ecglib.metrics import decision, ptp, strata, survival
from ecglib.metrics import nri as nri_mod
from ecglib.metrics._inputs import require_columns
from ecglib.metrics.bootstrap import bootstrap_vessel_table
from ecglib.metrics.roc import auc_ci, delong_variance
from ecglib.metrics.thresholds import proportion_ci
from ecglib.chapters.predictions import RunResults
from ecglib.report.present import format_estimate

__all__ = [
    "auc_table", "auc_tables", "fold_auc_table", "common_vessels", "best_fold", "set_labels",
    "discrimination_sets", "auc_numbers", "defined_vessels", "wide_estimates",
    "patient_bootstrap", "delong_vs_bootstrap", "rounded", "numbers_from", "subgroup_display",
    "subgroup_numbers", "grade_display", "operating_points_display", "strata_targets",
    "crossfit_vessel_strata", "fit_on_internal", "apply_strata", "thresholds_table",
    "strata_table", "strata_share_numbers", "strata_display", "performance_display",
    "strata_performance", "insample_vs_heldout", "net_benefit_at", "index_ecgs",
    "any_vessel_outcome", "ai_patient_stratum", "ptp_ai_table", "nri_table", "followup_cohort",
    "vessel_groups", "incidence_by_vessel", "PtpAnalysis", "ptp_guideline_table",
    "ptp_analysis", "ptp_numbers", "ptp_rule_out", "ptp_reclassification", "nri_display",
    "rule_out_display", "FollowupAnalysis", "followup_analysis", "incidence_summary_of",
    "by_vessel_of", "incidence_display", "by_vessel_display", "followup_numbers", "AUC_COLUMNS",
    "SET_KEYS", "PTP_NUMBER_KEYS", "FOLLOWUP_NUMBER_KEYS",
]

AUC_COLUMNS = ("vessel", "n", "positives", "negatives", "auc", "se", "ci_low", "ci_high",
               "reason")


# ------------------------------------------------------------------------------------------
# discrimination
# ------------------------------------------------------------------------------------------
def auc_table(predictions: pd.DataFrame, vessels: Sequence[str] | None = None, *,
              level: float = 0.95, ci_method: str = "logit") -> pd.DataFrame:
    """AUC with its DeLong SE and CI per vessel (default: those ``predictions`` has labels
    for, :func:`ecglib.schema.vessels_of`), like
    :func:`ecglib.metrics.roc.vessel_auc_table`, but a vessel with one class (or a single
    positive or negative, whose DeLong variance does not exist) gets NaN and a ``reason``
    instead of stopping the table: small folds and subsets (LM) are often like that."""
    vessels = schema.vessels_of(predictions, vessels)
    y = np.column_stack([predictions[schema.label_col(v)].to_numpy(dtype=float)
                         for v in vessels]) if len(predictions) else np.empty((0, len(vessels)))
    p = np.column_stack([predictions[schema.prob_col(v)].to_numpy(dtype=float)
                         for v in vessels]) if len(predictions) else np.empty((0, len(vessels)))
    n = len(predictions)
    pos = y.sum(axis=0).astype(int) if n else np.zeros(len(vessels), dtype=int)
    rows = [{"vessel": v, "n": n, "positives": int(pos[k]), "negatives": int(n - pos[k]),
             "auc": math.nan, "se": math.nan, "ci_low": math.nan, "ci_high": math.nan,
             "reason": ""} for k, v in enumerate(vessels)]
    ok = [k for k in range(len(vessels)) if 0 < pos[k] < n]
    for k in range(len(vessels)):
        if n == 0:
            rows[k]["reason"] = "no predictions"
        elif pos[k] == 0:
            rows[k]["reason"] = f"one class: no positives among {n}"
        elif pos[k] == n:
            rows[k]["reason"] = f"one class: no negatives among {n}"
        elif pos[k] == 1 or pos[k] == n - 1:
            which = "positive" if pos[k] == 1 else "negative"
            rows[k]["reason"] = f"a single {which}: DeLong variance undefined"
    if ok:
        auc, var, _ = delong_variance(y[:, ok], p[:, ok], names=[vessels[k] for k in ok])
        low, high = auc_ci(auc, var, level, ci_method)
        for j, k in enumerate(ok):
            rows[k].update(auc=float(auc[j]), se=float(np.sqrt(var[j])), ci_low=float(low[j]),
                           ci_high=float(high[j]))
    return pd.DataFrame(rows, columns=list(AUC_COLUMNS))


def auc_tables(sets: Mapping[str, pd.DataFrame], **kwargs) -> pd.DataFrame:
    """:func:`auc_table` of every prediction set, stacked with a ``set`` column first."""
    parts = [auc_table(table, **kwargs).assign(set=name) for name, table in sets.items()]
    out = pd.concat(parts, ignore_index=True)
    return out[["set", *AUC_COLUMNS]]


def fold_auc_table(oof: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """:func:`auc_table` of every fold's held-out predictions (``fold`` column first)."""
    parts = [auc_table(group, **kwargs).assign(fold=int(k))
             for k, group in oof.groupby("fold", sort=True)]
    out = pd.concat(parts, ignore_index=True)
    return out[["fold", *AUC_COLUMNS]]


def common_vessels(fold_table: pd.DataFrame) -> list[str]:
    """Vessels with an AUC in every fold of :func:`fold_auc_table`, in the paper's order."""
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


#: Short keys of the discrimination chapter's prediction sets (for glued numbers and files).
SET_KEYS: tuple[str, ...] = ("oof", "best", "external", "normal")


def set_labels(results: RunResults, best: int, *, short: bool = False) -> dict[str, str]:
    """Readable name of each prediction set of :data:`SET_KEYS` (``short``: for a figure's
    legend)."""
    if short:
        return {"oof": "pooled OOF", "best": f"best fold ({best})", "external": "external",
                "normal": "normal ECG"}
    return {"oof": "internal, pooled out-of-fold",
            "best": f"internal, best fold ({best})",
            "external": f"external, mean of {results.n_fold_models} fold models",
            "normal": "normal ECG, internal out-of-fold"}


def discrimination_sets(results: RunResults, best: int, *, short: bool = False
                        ) -> dict[str, pd.DataFrame]:
    """The chapter's prediction sets by :func:`set_labels` name, in the paper's order: internal
    pooled out-of-fold, the best fold's held-out predictions, external (mean of the fold
    models; left out without an external site) and the normal-ECG subset of the out-of-fold
    predictions (left out when the ECG read is unknown). :attr:`RunResults.skipped` and
    :meth:`RunResults.normal_ecg` say why a set is absent."""
    labels = set_labels(results, best, short=short)
    sets = {labels["oof"]: results.oof, labels["best"]: results.fold(best)}
    if results.external is not None:
        sets[labels["external"]] = results.external
    try:
        sets[labels["normal"]] = results.normal_ecg()
    except MissingInputError:
        pass          # the chapter shows the reason with its own run_part call
    return sets


def auc_numbers(aucs: pd.DataFrame, labels: Mapping[str, str],
                macro_vessels: Sequence[str] = schema.VESSELS) -> dict[str, float]:
    """Glue-ready numbers of :func:`auc_tables`: ``auc_<key>_<vessel>`` with ``_lo``/``_hi``,
    ``n_<key>``, ``pos_<key>_<vessel>`` and ``macro_<key>`` (mean AUC over ``macro_vessels``)
    for every set key of ``labels``; NaN for a set that is absent, so the chapter's text always
    finds its keys."""
    out: dict[str, float] = {}
    for key, label in labels.items():
        rows = aucs[aucs["set"] == label].set_index("vessel")
        out[f"n_{key}"] = int(rows["n"].iloc[0]) if len(rows) else math.nan
        out[f"macro_{key}"] = (float(rows.loc[list(macro_vessels), "auc"].mean())
                               if len(rows) and len(macro_vessels) else math.nan)
        for v in schema.VESSELS:
            present = v in rows.index
            out[f"auc_{key}_{v}"] = float(rows.at[v, "auc"]) if present else math.nan
            out[f"auc_{key}_{v}_lo"] = float(rows.at[v, "ci_low"]) if present else math.nan
            out[f"auc_{key}_{v}_hi"] = float(rows.at[v, "ci_high"]) if present else math.nan
            out[f"pos_{key}_{v}"] = int(rows.at[v, "positives"]) if present else math.nan
    return out


def defined_vessels(aucs: pd.DataFrame) -> list[str]:
    """Vessels with an AUC in an :func:`auc_table` (both classes present)."""
    return [v for v in aucs["vessel"] if np.isfinite(aucs.set_index("vessel").at[v, "auc"])]


def wide_estimates(table: pd.DataFrame, index: str | Sequence[str], value: str = "auc",
                   low: str = "ci_low", high: str = "ci_high", digits: int = 3,
                   columns: str = "vessel") -> pd.DataFrame:
    """A long table of estimates as text ``0.712 [0.650-0.768]``, one column per ``columns``
    value (vessels in the paper's order), one row per ``index``."""
    text = table.assign(_text=[format_estimate(r[value], r[low], r[high], digits)
                               for _, r in table.iterrows()])
    wide = text.pivot(index=index, columns=columns, values="_text")
    if columns == "vessel":
        wide = wide[[v for v in schema.VESSELS if v in wide.columns]]
    wide.columns.name = None
    return wide.loc[list(dict.fromkeys(text.set_index(index).index))]


def patient_bootstrap(predictions: pd.DataFrame, aucs: pd.DataFrame, *, n_boot: int,
                      seed: int) -> pd.DataFrame:
    """Percentile bootstrap CIs of the AUC resampling whole patients (the ``patient`` key) with
    all their ECGs (:func:`ecglib.metrics.bootstrap.bootstrap_vessel_table`), for the vessels
    of ``aucs`` that have an AUC."""
    vessels = defined_vessels(aucs)
    if not vessels:
        return pd.DataFrame(columns=["vessel", "auc", "ci_low", "ci_high", "n_one_class"])
    return bootstrap_vessel_table(predictions, vessels, n_boot=n_boot, seed=seed,
                                  group_col="patient")


def delong_vs_bootstrap(aucs: pd.DataFrame, boot: pd.DataFrame, digits: int = 3
                        ) -> pd.DataFrame:
    """DeLong's interval (independent ECGs) beside the patient-cluster bootstrap's, per vessel."""
    b = boot.set_index("vessel")
    rows = []
    for r in aucs.itertuples(index=False):
        if r.vessel not in b.index:
            continue
        rows.append({"vessel": r.vessel, "AUC": format_estimate(r.auc, digits=digits),
                     "DeLong 95% CI": format_estimate(r.auc, r.ci_low, r.ci_high, digits)
                     .split(" ", 1)[-1],
                     "patient bootstrap 95% CI": format_estimate(
                         b.at[r.vessel, "auc"], b.at[r.vessel, "ci_low"],
                         b.at[r.vessel, "ci_high"], digits).split(" ", 1)[-1],
                     "resamples without both classes": int(b.at[r.vessel, "n_one_class"])})
    return pd.DataFrame(rows).set_index("vessel")


def rounded(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``table.round(digits)`` (for a table that may be a skipped part, through ``run_part``)."""
    return table.round(digits)


def numbers_from(table, columns: Sequence[str], *, prefix: str = "", key: str = "vessel",
                 rows: Sequence[str] = schema.VESSELS, scale: float = 1.0) -> dict[str, float]:
    """Glue-ready numbers ``<prefix><column>_<row>`` from a table with one row per ``key``
    value (a column or the index), times ``scale`` (100 for percent). A skipped part (any
    non-DataFrame, e.g. :class:`ecglib.chapters.run_results.Skipped`) or an absent row gives NaN, so the
    chapter's text always finds its keys."""
    have = isinstance(table, pd.DataFrame)
    if have and key in table.columns:
        table = table.set_index(key)
    out = {}
    for column in columns:
        for row in rows:
            value = (float(table.at[row, column]) if have and row in table.index
                     else math.nan)
            out[f"{prefix}{column}_{row}"] = value * scale
    return out


# ------------------------------------------------------------------------------------------
# subgroups and operating points
# ------------------------------------------------------------------------------------------
def subgroup_display(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`ecglib.metrics.subgroups.subgroup_auc_table` for reading: per variable and
    subgroup the ECGs, and per vessel ``AUC [CI] (positives)``, with the difference test's p
    on the non-reference rows."""
    rows = []
    for (variable, subgroup), group in table.groupby(["variable", "subgroup"], sort=False):
        row = {"variable": variable, "subgroup": subgroup, "ECGs": int(group["n"].iloc[0])}
        for r in group.itertuples(index=False):
            text = format_estimate(r.auc, r.ci_low, r.ci_high, digits)
            row[r.vessel] = f"{text} ({r.positives} pos.)"
            if np.isfinite(r.p_value):
                row[f"{r.vessel} p"] = _format_p(r.p_value)
        rows.append(row)
    out = pd.DataFrame(rows)
    vessels = [v for v in schema.VESSELS if v in out.columns]
    p_cols = [f"{v} p" for v in vessels if f"{v} p" in out.columns]
    return out[["variable", "subgroup", "ECGs", *vessels, *p_cols]].fillna("")


def subgroup_numbers(table, prefix: str = "sub_") -> dict[str, float]:
    """Glue-ready numbers of a subgroup table: tests made, tests with p < 0.05, the Bonferroni
    level, the smallest p, and ``p_<variable>_<vessel>`` (NaN when skipped or untested)."""
    out: dict[str, float] = {}
    tested = (table[np.isfinite(table["p_value"])] if isinstance(table, pd.DataFrame)
              else pd.DataFrame(columns=["variable", "vessel", "p_value"]))
    out["tests"] = len(tested) if isinstance(table, pd.DataFrame) else math.nan
    out["significant"] = int((tested["p_value"] < 0.05).sum()) if len(tested) else (
        0 if isinstance(table, pd.DataFrame) else math.nan)
    out["bonferroni"] = 0.05 / len(tested) if len(tested) else math.nan
    out["min_p"] = float(tested["p_value"].min()) if len(tested) else math.nan
    for variable in ("age", "sex", "interval"):
        for vessel in schema.VESSELS:
            hit = tested[(tested["variable"] == variable) & (tested["vessel"] == vessel)]
            out[f"p_{variable}_{vessel}"] = float(hit["p_value"].iloc[0]) if len(hit) else math.nan
    return {f"{prefix}{k}": v for k, v in out.items()}


def grade_display(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`ecglib.metrics.severity.grade_summary` for reading: per grade (rows) and vessel
    (columns) ``median [Q1-Q3] (n)``."""
    text = summary.assign(_t=[f"{format_estimate(r['median'], r['q1'], r['q3'], digits)} "
                              f"(n = {int(r['n'])})" if r["n"] else "none"
                              for _, r in summary.iterrows()],
                          grade=[f"{g} {name}" for g, name in zip(summary["grade"],
                                                                  summary["grade_name"])])
    wide = text.pivot(index="grade", columns="vessel", values="_t")
    wide.columns.name = None
    return wide[[v for v in schema.VESSELS if v in wide.columns]]


def operating_points_display(points: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """:func:`ecglib.metrics.thresholds.operating_points` for reading: threshold, high-risk
    share, and sensitivity, specificity, PPV, NPV as ``estimate [CI]``."""
    out = pd.DataFrame(index=points.index)
    out["threshold"] = [f"≥ {100 * t:g}%" for t in points["threshold"]]
    out["high risk, n (%)"] = [f"{int(r.tp + r.fp)} ({100 * r.high_risk_share:.1f}%)"
                               for r in points.itertuples()]
    out["positives"] = points["n_pos"].astype(int)
    for name, label in (("sensitivity", "sensitivity"), ("specificity", "specificity"),
                        ("ppv", "PPV"), ("npv", "NPV")):
        out[label] = [format_estimate(r[name], r[f"{name}_lo"], r[f"{name}_hi"], digits)
                      for _, r in points.iterrows()]
    return out


# ------------------------------------------------------------------------------------------
# risk strata
# ------------------------------------------------------------------------------------------
def strata_targets(params: RunParams) -> dict[str, dict[str, float]]:
    """Per vessel the sensitivity and specificity targets of the strata, from the params."""
    ev = params.evaluation
    return {v: {"sensitivity": float(ev.strata_sensitivity[v]),
                "specificity": float(ev.strata_specificity[v])} for v in schema.VESSELS}


def crossfit_vessel_strata(oof: pd.DataFrame, targets: Mapping[str, Mapping[str, float]], *,
                           fold_col: str = "fold"
                           ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Held-out strata of the out-of-fold predictions, every vessel
    (:func:`ecglib.metrics.strata.crossfit_strata`): each fold's cut-offs are chosen on the
    other folds' out-of-fold predictions and applied to its own.

    Returns ``(strata, thresholds, not_fitted)``: one stratum column per vessel (on ``oof``'s
    index), one row of cut-offs per vessel and fold, and the vessels whose cut-offs cannot be
    chosen (some fold's complement holds one class) with the reason; those vessels have no
    column.
    """
    columns, parts, not_fitted = {}, [], {}
    folds = oof[fold_col].to_numpy()
    for vessel, target in schema.assessed_entries(oof, targets).items():
        y = oof[schema.label_col(vessel)].to_numpy()
        reason = _fit_problem(y, folds)
        if reason:
            not_fitted[vessel] = reason
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cats, table = strata.crossfit_strata(y, oof[schema.prob_col(vessel)], folds,
                                                 sensitivity=target["sensitivity"],
                                                 specificity=target["specificity"])
        _rewarn(caught, vessel)
        columns[vessel] = pd.Series(cats, index=oof.index)
        parts.append(table.reset_index().assign(vessel=vessel))
    thresholds = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())
    if len(thresholds):
        first = ["vessel", "fold", "lower", "upper"]
        thresholds = thresholds[first + [c for c in thresholds.columns if c not in first]]
        thresholds = thresholds.sort_values(["vessel", "fold"], key=_vessel_order,
                                            ignore_index=True)
    return pd.DataFrame(columns, index=oof.index), thresholds, not_fitted


def fit_on_internal(oof: pd.DataFrame, targets: Mapping[str, Mapping[str, float]]
                    ) -> tuple[dict[str, strata.StrataThresholds], dict[str, str]]:
    """Cut-offs per vessel chosen on all internal out-of-fold predictions (for the external
    cohort), and the vessels that cannot be fitted (one class) with the reason."""
    fitted, not_fitted = {}, {}
    for vessel, target in schema.assessed_entries(oof, targets).items():
        y = oof[schema.label_col(vessel)].to_numpy()
        if y.min(initial=1) == y.max(initial=0):
            not_fitted[vessel] = f"the internal predictions hold one class ({int(y.sum())} " \
                                 f"positives among {len(y)})"
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted[vessel] = strata.fit_strata_thresholds(
                y, oof[schema.prob_col(vessel)], sensitivity=target["sensitivity"],
                specificity=target["specificity"])
        _rewarn(caught, vessel)
    return fitted, not_fitted


def apply_strata(predictions: pd.DataFrame,
                 fitted: Mapping[str, strata.StrataThresholds]) -> pd.DataFrame:
    """Strata of ``predictions`` (e.g. the external cohort) under cut-offs chosen elsewhere
    (:func:`fit_on_internal`): one column per fitted vessel."""
    return strata.assign_vessel_strata(predictions, fitted)


def thresholds_table(fitted: Mapping[str, strata.StrataThresholds]) -> pd.DataFrame:
    """The fitted cut-offs and what they achieved on the fitting set, one row per vessel."""
    return pd.DataFrame([{"vessel": v, **t.as_dict()} for v, t in fitted.items()])


def strata_table(predictions: pd.DataFrame, vessel_strata: pd.DataFrame) -> pd.DataFrame:
    """:func:`ecglib.metrics.strata.strata_summary` of every vessel: per vessel and stratum the
    ECGs, their share, the events and the event rate with its Wilson CI."""
    parts = []
    for vessel in vessel_strata.columns:
        summary = strata.strata_summary(predictions[schema.label_col(vessel)],
                                        vessel_strata[vessel])
        parts.append(summary.reset_index().assign(vessel=vessel))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["vessel", *[c for c in out.columns if c != "vessel"]]]


def strata_share_numbers(table: pd.DataFrame, stratum: str, *, prefix: str = ""
                         ) -> dict[str, float]:
    """``<prefix><vessel>``: the percentage of ECGs in ``stratum`` per vessel (NaN for a vessel
    without strata)."""
    rows = (table[table["stratum"] == stratum].set_index("vessel") if len(table)
            else pd.DataFrame(columns=["share"]))
    return {f"{prefix}{v}": 100 * float(rows.at[v, "share"]) if v in rows.index else math.nan
            for v in schema.VESSELS}


def strata_display(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`strata_table` for reading: per vessel and stratum the ECGs (share), events, and
    the event rate with its CI."""
    if table.empty:
        return table
    out = table[["vessel", "stratum"]].copy()
    out["ECGs (share)"] = [f"{int(r.n)} ({100 * r.share:.1f}%)" for r in table.itertuples()]
    out["events"] = table["events"].astype(int)
    out["event rate [95% CI]"] = [format_estimate(r.event_rate, r.event_rate_lo,
                                                  r.event_rate_hi, digits)
                                  for r in table.itertuples()]
    out["share of all events"] = [f"{100 * x:.1f}%" if np.isfinite(x) else "n/a"
                                  for x in table["share_of_events"]]
    return out.set_index(["vessel", "stratum"])


def performance_display(perf: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """:func:`strata_performance` for reading, with the targets beside the achieved values."""
    out = pd.DataFrame(index=perf["vessel"])
    pairs = (("sensitivity", "sensitivity (not low)"), ("specificity", "specificity (not high)"),
             ("npv_low", "NPV of low"), ("ppv_high", "PPV of high"))
    for name, label in pairs:
        out[label] = [format_estimate(r[name], r[f"{name}_lo"], r[f"{name}_hi"], digits)
                      for _, r in perf.iterrows()]
        target = f"{name}_target"
        if target in perf.columns:
            out[f"{label}: target"] = perf[target].map(lambda t: f"{t:.2f}").to_numpy()
    return out


def strata_performance(predictions: pd.DataFrame, vessel_strata: pd.DataFrame,
                       targets: Mapping[str, Mapping[str, float]] | None = None
                       ) -> pd.DataFrame:
    """What the strata achieve on the predictions they stratify, per vessel, with Wilson CIs:

    * ``sensitivity``: diseased ECGs *not* in the low stratum / diseased (the lower cut-off's
      target), and ``specificity``: non-diseased ECGs *not* in the high stratum / non-diseased
      (the upper cut-off's target);
    * ``npv_low``: non-diseased / ECGs in the low stratum (rule-out), ``ppv_high``: diseased /
      ECGs in the high stratum (rule-in); NaN when the stratum is empty.
    """
    rows = []
    for vessel in vessel_strata.columns:
        y = predictions[schema.label_col(vessel)].to_numpy().astype(int)
        s = pd.Categorical(vessel_strata[vessel], categories=list(strata.STRATA))
        low, high = np.asarray(s == "low"), np.asarray(s == "high")
        row = {"vessel": vessel, "n": len(y), "positives": int(y.sum())}
        for name, num, den in (("sensitivity", np.sum(~low & (y == 1)), np.sum(y == 1)),
                               ("specificity", np.sum(~high & (y == 0)), np.sum(y == 0)),
                               ("npv_low", np.sum(low & (y == 0)), np.sum(low)),
                               ("ppv_high", np.sum(high & (y == 1)), np.sum(high))):
            est, lo, hi = proportion_ci(int(num), int(den))
            row.update({name: float(est[0]), f"{name}_lo": float(lo[0]),
                        f"{name}_hi": float(hi[0])})
        if targets is not None:
            row["sensitivity_target"] = targets[vessel]["sensitivity"]
            row["specificity_target"] = targets[vessel]["specificity"]
        rows.append(row)
    return pd.DataFrame(rows)


def insample_vs_heldout(oof: pd.DataFrame, heldout: pd.DataFrame,
                        targets: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """The authors' way against the honest one, per vessel: sensitivity and specificity when
    the cut-offs are chosen on all out-of-fold predictions and reported on the same predictions
    (``in_sample_*``, by construction at or above the targets), beside the held-out values of
    :func:`strata_performance` for the cross-fitted ``heldout`` strata."""
    fitted, _ = fit_on_internal(oof, {v: targets[v] for v in heldout.columns})
    same = strata_performance(oof, pd.DataFrame(
        {v: pd.Series(strata.assign_strata(oof[schema.prob_col(v)], t), index=oof.index)
         for v, t in fitted.items()}, index=oof.index))
    honest = strata_performance(oof, heldout)
    out = pd.DataFrame({
        "vessel": honest["vessel"],
        "sensitivity_target": [targets[v]["sensitivity"] for v in honest["vessel"]],
        "in_sample_sensitivity": same["sensitivity"].to_numpy(),
        "heldout_sensitivity": honest["sensitivity"].to_numpy(),
        "specificity_target": [targets[v]["specificity"] for v in honest["vessel"]],
        "in_sample_specificity": same["specificity"].to_numpy(),
        "heldout_specificity": honest["specificity"].to_numpy(),
    })
    return out


def net_benefit_at(predictions: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Net benefit of the model, of treating all and of treating none at one threshold
    probability per vessel (e.g. the params' high-risk cut-offs)."""
    rows = []
    for vessel, pt in schema.assessed_entries(predictions, thresholds).items():
        y = predictions[schema.label_col(vessel)]
        curve = decision.decision_curve(y, predictions[schema.prob_col(vessel)], [pt])
        rows.append({"vessel": vessel, "threshold": float(pt),
                     "prevalence": float(np.mean(y)), "model": float(curve["model"].iloc[0]),
                     "treat_all": float(curve["treat_all"].iloc[0]), "treat_none": 0.0})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# patient-level analyses: pre-test probability, follow-up
# ------------------------------------------------------------------------------------------
def index_ecgs(predictions: pd.DataFrame, unit: str = "exam") -> pd.DataFrame:
    """One ECG per CCTA examination (``unit="exam"``: its latest ECG before the CCTA) or per
    patient (``unit="patient"``: that ECG of the patient's first CCTA), on the predictions'
    index (so per-ECG strata select with ``.loc``)."""
    if unit not in ("exam", "patient"):
        raise ValueError(f"unit must be 'exam' or 'patient', got {unit!r}")
    keep = predictions["ecg_order"] == 1
    if unit == "patient":
        keep &= predictions["exam_order"] == 1
    out = predictions[keep]
    key = "exam" if unit == "exam" else "patient"
    if out[key].duplicated().any():
        raise ValueError(f"more than one index ECG per {unit}: the keys are inconsistent")
    return out


def any_vessel_outcome(predictions: pd.DataFrame) -> np.ndarray:
    """1 when any vessel is severe or occluded (obstructive CAD at the patient level); over the
    vessels the cohort assesses (:func:`ecglib.schema.vessels_of`)."""
    return predictions[schema.label_cols(schema.vessels_of(predictions))].to_numpy().max(
        axis=1).astype(int)


def ai_patient_stratum(vessel_strata: pd.DataFrame) -> pd.Categorical:
    """Patient-level AI stratum from the per-vessel strata
    (:func:`ecglib.metrics.ptp.patient_ai_stratum`: high if any vessel is high, low if every
    vessel is low)."""
    if vessel_strata.shape[1] == 0:
        raise ValueError("no vessel has strata: the patient-level stratum is undefined")
    return ptp.patient_ai_stratum(vessel_strata)


def ptp_ai_table(index: pd.DataFrame, ai_stratum, *,
                 rule: Mapping[tuple[str, str], str] = ptp.GREY_ZONE_RULE) -> pd.DataFrame:
    """Per index ECG: the guideline PTP (:func:`ecglib.metrics.ptp.ptp_table`; raises
    :class:`MissingInputError` without symptoms), its category, the AI stratum, the combined
    category, the outcome (any vessel severe or occluded) and the patient key. Rows the
    guideline table does not cover keep a NaN PTP and their ``reason``."""
    table = ptp.ptp_table(index)
    if len(ai_stratum) != len(index):
        raise ValueError(f"{len(ai_stratum)} AI strata for {len(index)} index ECGs")
    table["ai_stratum"] = pd.Categorical(ai_stratum, categories=list(strata.STRATA),
                                         ordered=True)
    table["combined"] = ptp.combine_ptp_ai(table["ptp_category"], table["ai_stratum"], rule)
    table["outcome"] = any_vessel_outcome(index)
    table["patient"] = index["patient"].to_numpy()
    return table


def nri_table(result, boot: Mapping[str, float] | None = None, digits: int = 3
              ) -> pd.DataFrame:
    """An :class:`ecglib.metrics.nri.NRIResult` (and its bootstrap) as a readable table: the
    moves among events and non-events, the NRI components and the NRI with its CIs."""
    rows = [
        ("events: moved up / down", f"{result.events_up} / {result.events_down} of "
                                    f"{result.n_events}"),
        ("non-events: moved up / down", f"{result.nonevents_up} / {result.nonevents_down} of "
                                        f"{result.n_nonevents}"),
        ("NRI, events", format_estimate(result.nri_events, digits=digits)),
        ("NRI, non-events", format_estimate(result.nri_nonevents, digits=digits)),
        ("NRI (Wald 95% CI)", format_estimate(result.nri, result.ci_lo, result.ci_hi, digits)),
        ("z, p (Pencina)", f"{result.z:.2f}, {_format_p(result.p_value)}"),
    ]
    if boot is not None:
        rows.append(("NRI (bootstrap 95% CI)",
                     format_estimate(boot["nri"], boot["nri_lo"], boot["nri_hi"], digits)))
        rows.append(("bootstrap resamples (without a class)",
                     f"{boot['n_boot']} ({boot['n_one_class']})"))
    if result.n_missing:
        rows.append(("left out: no PTP category", f"{result.n_missing}"))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def followup_cohort(predictions: pd.DataFrame) -> pd.DataFrame:
    """The index ECGs with a follow-up time and event (one per patient: the ECG of the first
    CCTA, from which follow-up starts). Raises :class:`MissingInputError` when the cohort has no
    follow-up at all; patients without follow-up are left out (their number is the difference
    to :func:`index_ecgs`)."""
    index = index_ecgs(predictions, "patient")
    columns = (survival.TIME_COL, survival.EVENT_COL)
    require_columns(index, columns, "the cumulative-incidence analysis")
    known = index.dropna(subset=list(columns))
    survival.followup_arrays(known)          # validates times and events
    return known


def vessel_groups(predictions: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Per vessel ``high risk`` (p at or above the vessel's threshold) or ``not high risk``."""
    return pd.DataFrame({v: np.where(predictions[schema.prob_col(v)] >= t, "high risk",
                                     "not high risk")
                         for v, t in schema.assessed_entries(predictions, thresholds).items()},
                        index=predictions.index)


def incidence_by_vessel(followup: pd.DataFrame, thresholds: Mapping[str, float], *,
                        horizon: float) -> pd.DataFrame:
    """Per vessel, patients at or above its high-risk threshold against the others: patients,
    events, the Kaplan-Meier cumulative incidence at ``horizon`` of both groups and the
    log-rank p (NaN, with a reason, when one group is empty)."""
    time, event = survival.censor_at(followup[survival.TIME_COL], followup[survival.EVENT_COL],
                                     horizon)
    groups = vessel_groups(followup, thresholds)
    rows = []
    for vessel in groups.columns:
        g = groups[vessel].to_numpy()
        row = {"vessel": vessel, "threshold": float(thresholds[vessel])}
        summary = survival.incidence_summary(time, event, g, horizon=horizon,
                                             order=["not high risk", "high risk"])
        for name in ("not high risk", "high risk"):
            key = name.replace(" ", "_")
            if name in summary.index:
                s = summary.loc[name]
                row.update({f"n_{key}": int(s["n"]), f"events_{key}": int(s["events"]),
                            f"incidence_{key}": float(s["cumulative_incidence"])})
            else:
                row.update({f"n_{key}": 0, f"events_{key}": 0, f"incidence_{key}": math.nan})
        if len(summary) == 2:
            row["logrank_p"] = survival.logrank(time, event, g)["p_value"]
            row["reason"] = ""
        else:
            row["logrank_p"] = math.nan
            row["reason"] = "one group is empty: no test"
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(repr=False)
class PtpAnalysis:
    """Guideline PTP alone against PTP combined with the AI strata, on one index ECG per CCTA
    examination (:func:`ptp_analysis`)."""

    #: Per index ECG: PTP, categories, AI stratum, outcome (:func:`ptp_ai_table`).
    table: pd.DataFrame
    #: Rule-out performance of both categorisations on the ECGs with a PTP.
    rule_out: pd.DataFrame
    #: Cross-tabulation PTP category x combined category, for events and non-events.
    reclassification: pd.DataFrame
    nri: object
    nri_boot: dict

    def numbers(self, prefix: str) -> dict[str, float]:
        """Glue-ready numbers: exams, those with a PTP, grey-zone shares, NPV of low, missed
        events, NRI and its CIs; keys start with ``prefix``."""
        r = self.rule_out
        out = {"exams": len(self.table), "with_ptp": int(r.loc["PTP", "n"]),
               "events": int(r.loc["PTP", "events"])}
        for key, name in (("ptp", "PTP"), ("combined", "PTP + AI")):
            out.update({f"grey_{key}_pct": 100 * float(r.loc[name, "grey_zone_share"]),
                        f"low_{key}_pct": 100 * float(r.loc[name, "share_low"]),
                        f"low_{key}_n": int(r.loc[name, "n_low"]),
                        f"npv_{key}": float(r.loc[name, "npv_low"]),
                        f"npv_{key}_lo": float(r.loc[name, "npv_low_lo"]),
                        f"npv_{key}_hi": float(r.loc[name, "npv_low_hi"]),
                        f"missed_{key}": int(r.loc[name, "missed_events"])})
        n = self.nri
        out.update({"nri": n.nri, "nri_lo": n.ci_lo, "nri_hi": n.ci_hi, "nri_p": n.p_value,
                    "nri_events": n.nri_events, "nri_nonevents": n.nri_nonevents,
                    "nri_boot_lo": self.nri_boot["nri_lo"],
                    "nri_boot_hi": self.nri_boot["nri_hi"]})
        return {f"{prefix}{k}": v for k, v in out.items()}

    def __repr__(self) -> str:
        return (f"PTP vs PTP + AI on {len(self.table)} examinations "
                f"({int(self.rule_out.loc['PTP', 'n'])} with a guideline PTP)")


#: The keys of :meth:`PtpAnalysis.numbers` (without prefix), glued as NaN when skipped.
PTP_NUMBER_KEYS = (
    "exams", "with_ptp", "events", *[f"{a}_{k}{b}" for k in ("ptp", "combined")
                                     for a, b in (("grey", "_pct"), ("low", "_pct"),
                                                  ("low", "_n"), ("npv", ""), ("npv", "_lo"),
                                                  ("npv", "_hi"), ("missed", ""))],
    "nri", "nri_lo", "nri_hi", "nri_p", "nri_events", "nri_nonevents", "nri_boot_lo",
    "nri_boot_hi",
)


def ptp_guideline_table() -> pd.DataFrame:
    """The 2019 ESC PTP table as used (:data:`ecglib.metrics.ptp.PTP_TABLE`): per age band
    (rows) and symptom (columns) ``men / women`` in percent."""
    t = ptp.PTP_TABLE
    wide = t.pivot_table(index="age_band", columns=["symptom", "sex"], values="ptp_percent",
                         sort=False)
    out = pd.DataFrame({sym: [f"{wide.at[b, (sym, 'male')]:g} / {wide.at[b, (sym, 'female')]:g}"
                              for b in wide.index] for sym in schema.SYMPTOMS},
                       index=pd.Index(wide.index, name="age (years)"))
    return out


def ptp_analysis(predictions: pd.DataFrame, vessel_strata: pd.DataFrame, *, n_boot: int,
                 seed: int, rule: Mapping[tuple[str, str], str] = ptp.GREY_ZONE_RULE
                 ) -> PtpAnalysis:
    """PTP against PTP + AI on the index ECG of every CCTA examination.

    ``vessel_strata`` holds per-ECG strata on ``predictions``' index (held-out, e.g. from
    :func:`crossfit_vessel_strata`, or from cut-offs fitted on the internal cohort). The outcome
    is obstructive disease at the examination: any vessel severe or occluded. Raises
    :class:`MissingInputError` without symptoms (or when no index ECG has a PTP). The NRI's
    bootstrap resamples patients (a patient can have several examinations).
    """
    index = index_ecgs(predictions, "exam")
    table = ptp_ai_table(index, ai_patient_stratum(vessel_strata.loc[index.index]), rule=rule)
    known = table[table["ptp_category"].notna()]
    if known.empty:
        reasons = table["reason"].value_counts().head(3)
        raise MissingInputError("no examination has a guideline pre-test probability ("
                                + "; ".join(f"{k}: {v}" for k, v in reasons.items()) + ")")
    rule_out = ptp.rule_out_summary(known["outcome"], {"PTP": known["ptp_category"],
                                                       "PTP + AI": known["combined"]})
    cats = list(ptp.PTP_CATEGORIES)
    result = nri_mod.categorical_nri(table["outcome"], table["ptp_category"], table["combined"],
                                     cats)
    boot = nri_mod.nri_bootstrap(table["outcome"], table["ptp_category"], table["combined"],
                                 cats, n_boot=n_boot, seed=seed, groups=table["patient"])
    reclass = nri_mod.reclassification_table(table["outcome"], table["ptp_category"],
                                             table["combined"], cats)
    return PtpAnalysis(table=table, rule_out=rule_out, reclassification=reclass, nri=result,
                       nri_boot=boot)


def ptp_numbers(analysis, prefix: str) -> dict[str, float]:
    """:meth:`PtpAnalysis.numbers`, or NaN for every key when the analysis was skipped."""
    if isinstance(analysis, PtpAnalysis):
        return analysis.numbers(prefix)
    return {f"{prefix}{k}": math.nan for k in PTP_NUMBER_KEYS}


def ptp_rule_out(analysis: PtpAnalysis) -> pd.DataFrame:
    """The rule-out table of a :class:`PtpAnalysis` (for saving)."""
    return analysis.rule_out


def ptp_reclassification(analysis: PtpAnalysis) -> pd.DataFrame:
    """The reclassification table (PTP x PTP + AI, events and non-events)."""
    return analysis.reclassification


def nri_display(analysis: PtpAnalysis) -> pd.DataFrame:
    """The NRI of a :class:`PtpAnalysis` for reading (:func:`nri_table`)."""
    return nri_table(analysis.nri, analysis.nri_boot)


def rule_out_display(analysis: PtpAnalysis, digits: int = 3) -> pd.DataFrame:
    """The rule-out table for reading: per categorisation the share in each category, the
    missed events and the NPV of the low category with its CI."""
    r = analysis.rule_out
    out = pd.DataFrame(index=r.index)
    out["examinations"] = r["n"].astype(int)
    for cat in ptp.PTP_CATEGORIES:
        out[cat] = [f"{int(row[f'n_{cat}'])} ({100 * row[f'share_{cat}']:.1f}%)"
                    for _, row in r.iterrows()]
    out["events in low (missed)"] = r["missed_events"].astype(int)
    out["NPV of low"] = [format_estimate(row["npv_low"], row["npv_low_lo"], row["npv_low_hi"],
                                         digits) for _, row in r.iterrows()]
    out["sensitivity of not low"] = [format_estimate(row["sensitivity"], row["sensitivity_lo"],
                                                     row["sensitivity_hi"], digits)
                                     for _, row in r.iterrows()]
    return out


@dataclass(repr=False)
class FollowupAnalysis:
    """Cumulative incidence by AI risk group over a horizon (:func:`followup_analysis`)."""

    time: np.ndarray
    event: np.ndarray
    group: pd.Categorical
    horizon: float
    #: Patients in the follow-up analysis and index ECGs without follow-up.
    n_patients: int
    n_without_followup: int
    #: Per group: n, events, censored, KM cumulative incidence with CI, events / n.
    summary: pd.DataFrame
    logrank: dict
    #: Per vessel: at or above the high-risk threshold against the rest.
    by_vessel: pd.DataFrame

    def numbers(self, prefix: str) -> dict[str, float]:
        s = self.summary
        out = {"patients": self.n_patients, "no_followup": self.n_without_followup,
               "events": int(np.sum(self.event)), "horizon": self.horizon,
               "logrank_p": self.logrank.get("p_value", math.nan)}
        for g in strata.STRATA:
            present = g in s.index
            for col, key in (("n", "n"), ("events", "events"), ("cumulative_incidence", "km"),
                             ("ci_lo", "km_lo"), ("ci_hi", "km_hi"),
                             ("naive_events_over_n", "naive")):
                value = float(s.at[g, col]) if present else math.nan
                out[f"{g}_{key}"] = 100 * value if key.startswith(("km", "naive")) else value
        return {f"{prefix}{k}": v for k, v in out.items()}

    def __repr__(self) -> str:
        return (f"cumulative incidence over {self.horizon:g} days: {self.n_patients} patients, "
                f"{int(np.sum(self.event))} events")

    def figure(self, title: str | None = None):
        """1 - Kaplan-Meier per risk group with the number-at-risk table and the log-rank p."""
        from ecglib.plots.survival import cumulative_incidence_figure

        return cumulative_incidence_figure(self.time, self.event, self.group,
                                           horizon=self.horizon, order=list(strata.STRATA),
                                           time_label="days since the first CCTA", title=title)


FOLLOWUP_NUMBER_KEYS = ("patients", "no_followup", "events", "horizon", "logrank_p",
                        *[f"{g}_{k}" for g in strata.STRATA
                          for k in ("n", "events", "km", "km_lo", "km_hi", "naive")])


def followup_analysis(predictions: pd.DataFrame, vessel_strata: pd.DataFrame,
                      thresholds: Mapping[str, float], *, horizon: float) -> FollowupAnalysis:
    """Cumulative incidence (1 - Kaplan-Meier) of events by AI risk group, one patient each.

    The unit is the patient, followed from the first CCTA (:func:`followup_cohort`; its index
    ECG is the latest ECG before that CCTA). The risk group is the patient-level AI stratum of
    that ECG (:func:`ai_patient_stratum` of ``vessel_strata``, per-ECG strata on the
    predictions' index); ``by_vessel`` compares, per vessel, the patients at or above
    ``thresholds`` (the params' high-risk cut-offs) with the others. Follow-up is censored at
    ``horizon``. Raises :class:`MissingInputError` without follow-up.
    """
    cohort = followup_cohort(predictions)
    n_index = len(index_ecgs(predictions, "patient"))
    group = ai_patient_stratum(vessel_strata.loc[cohort.index])
    time, event = survival.censor_at(cohort[survival.TIME_COL], cohort[survival.EVENT_COL],
                                     horizon)
    summary = survival.incidence_summary(time, event, group, horizon=horizon)
    present = pd.unique(np.asarray(group, dtype=object))
    test = (survival.logrank(time, event, np.asarray(group, dtype=object))
            if len(present) > 1 else {"p_value": math.nan, "test_statistic": math.nan,
                                      "df": 0, "n_groups": len(present)})
    return FollowupAnalysis(time=time, event=event, group=group, horizon=float(horizon),
                            n_patients=len(cohort), n_without_followup=n_index - len(cohort),
                            summary=summary, logrank=test,
                            by_vessel=incidence_by_vessel(cohort, thresholds, horizon=horizon))


def incidence_summary_of(analysis: FollowupAnalysis) -> pd.DataFrame:
    """The per-group summary of a :class:`FollowupAnalysis` (for saving)."""
    return analysis.summary


def by_vessel_of(analysis: FollowupAnalysis) -> pd.DataFrame:
    """The per-vessel comparison of a :class:`FollowupAnalysis` (for saving)."""
    return analysis.by_vessel


def incidence_display(analysis: FollowupAnalysis, digits: int = 1) -> pd.DataFrame:
    """The per-group summary for reading: patients, events and censored before the horizon, the
    Kaplan-Meier cumulative incidence (%, with CI) and the authors' events / n (%)."""
    s = analysis.summary
    out = pd.DataFrame(index=s.index)
    out["patients"] = s["n"].astype(int)
    out["events"] = s["events"].astype(int)
    out["censored before the horizon"] = s["censored_before_horizon"].astype(int)
    out["1 - Kaplan-Meier, % [95% CI]"] = [
        format_estimate(100 * r.cumulative_incidence, 100 * r.ci_lo, 100 * r.ci_hi, digits)
        for r in s.itertuples()]
    out["events / n, % (the authors' estimate)"] = [f"{100 * x:.{digits}f}"
                                                    for x in s["naive_events_over_n"]]
    out.index.name = "AI risk group"
    return out


def by_vessel_display(analysis: FollowupAnalysis, digits: int = 1) -> pd.DataFrame:
    """Per vessel, high risk against not high risk: patients, events, 1 - KM (%) at the
    horizon and the log-rank p."""
    b = analysis.by_vessel
    out = pd.DataFrame(index=pd.Index(b["vessel"], name="vessel"))
    out["threshold"] = [f"≥ {100 * t:g}%" for t in b["threshold"]]
    for key, label in (("high_risk", "high risk"), ("not_high_risk", "not high risk")):
        out[f"{label}: patients (events)"] = [f"{int(n)} ({int(e)})" for n, e in
                                              zip(b[f"n_{key}"], b[f"events_{key}"])]
        out[f"{label}: 1 - KM, %"] = [f"{100 * x:.{digits}f}" if np.isfinite(x) else "n/a"
                                      for x in b[f"incidence_{key}"]]
    out["log-rank p"] = [_format_p(x) if np.isfinite(x) else r for x, r in
                         zip(b["logrank_p"], b["reason"])]
    return out


def followup_numbers(analysis, prefix: str) -> dict[str, float]:
    """:meth:`FollowupAnalysis.numbers`, or NaN for every key when the analysis was skipped."""
    if isinstance(analysis, FollowupAnalysis):
        return analysis.numbers(prefix)
    return {f"{prefix}{k}": math.nan for k in FOLLOWUP_NUMBER_KEYS}


# ------------------------------------------------------------------------------------------
def _fit_problem(y: np.ndarray, folds: np.ndarray) -> str:
    """Why cross-fitted cut-offs cannot be chosen for labels ``y`` (empty when they can)."""
    for g in pd.unique(folds):
        rest = y[folds != g]
        if rest.min(initial=1) == rest.max(initial=0):
            return (f"the folds other than fold {g} hold one class ({int(rest.sum())} positives "
                    f"among {len(rest)}): no cut-off can be chosen for fold {g}")
    return ""


def _vessel_order(column: pd.Series) -> pd.Series:
    """Sort key: vessels in the paper's order, other columns as they are."""
    if column.name == "vessel":
        return column.map({v: i for i, v in enumerate(schema.VESSELS)})
    return column


def _rewarn(caught, vessel: str) -> None:
    for w in caught:
        warnings.warn(f"{vessel}: {w.message}", w.category, stacklevel=3)


def _format_p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
