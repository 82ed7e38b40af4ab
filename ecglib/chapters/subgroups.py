"""Chapter 04, subgroups: the AUC per vessel in the paper's subgroups, and their differences.

:func:`analyse` computes the page: the internal pooled out-of-fold predictions split by age
(< 65 vs >= 65 years), sex and the ECG-CCTA interval (<= 3 h vs > 3 h)
(:func:`ecglib.metrics.subgroups.define_subgroups`), each subgroup's AUC with its DeLong interval
and the unpaired DeLong z-test of each subgroup against its variable's reference
(:func:`ecglib.metrics.subgroups.subgroup_auc_table`); the count of tests, how many have
p < 0.05 and the Bonferroni level for the text; a readable table. Without age or sex in the
cohort the analysis is a :class:`~ecglib.chapters.parts.Skipped` part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.metrics.subgroups import define_subgroups, subgroup_auc_table
from ecglib.report.present import format_estimate, format_p

__all__ = ["Subgroups", "analyse", "subgroup_display", "subgroup_numbers", "PART"]

#: The part's name when the cohort cannot be split (a :class:`Skipped` says why).
PART = "The subgroup analysis"

#: Subgroup variables whose p-values the chapter's text quotes (``sub_p_<variable>_<vessel>``).
_VARIABLES = ("age", "sex", "interval")


@dataclass(frozen=True)
class Subgroups:
    """What chapter 04 shows (:func:`analyse`)."""

    #: :func:`~ecglib.metrics.subgroups.subgroup_auc_table` of the out-of-fold predictions (the
    #: forest plot's input), or why it is skipped.
    table: pd.DataFrame | Skipped

    def display(self) -> pd.DataFrame | None:
        """The subgroup table for reading (:func:`subgroup_display`); None when skipped."""
        return None if isinstance(self.table, Skipped) else subgroup_display(self.table)

    def numbers(self) -> dict[str, float]:
        return subgroup_numbers(self.table)

    def outputs(self) -> dict[str, object]:
        return {"subgroups_auc": self.table}

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.table])


def analyse(run: RunParams, results: RunResults | None = None) -> Subgroups:
    """Chapter 04 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    groups = attempt(PART, define_subgroups, results.oof)
    return Subgroups(table=attempt(PART, subgroup_auc_table, results.oof, groups))


def subgroup_display(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`ecglib.metrics.subgroups.subgroup_auc_table` for reading: per variable and
    subgroup the ECGs, and per vessel ``AUC [CI] (positives)``, with the difference test's p
    (:func:`ecglib.report.present.format_p`) on the non-reference rows."""
    rows = []
    for (variable, subgroup), group in table.groupby(["variable", "subgroup"], sort=False):
        row = {"variable": variable, "subgroup": subgroup, "ECGs": int(group["n"].iloc[0])}
        for r in group.itertuples(index=False):
            text = format_estimate(r.auc, r.ci_low, r.ci_high, digits)
            row[r.vessel] = f"{text} ({r.positives} pos.)"
            if np.isfinite(r.p_value):
                row[f"{r.vessel} p"] = format_p(r.p_value)
        rows.append(row)
    out = pd.DataFrame(rows)
    vessels = [v for v in schema.VESSELS if v in out.columns]
    p_cols = [f"{v} p" for v in vessels if f"{v} p" in out.columns]
    return out[["variable", "subgroup", "ECGs", *vessels, *p_cols]].fillna("")


def subgroup_numbers(table, prefix: str = "sub_") -> dict[str, float]:
    """Glue-ready numbers of a subgroup table: tests made (``tests``), tests with p < 0.05
    (``significant``), the Bonferroni level ``0.05 / tests``, the smallest p (``min_p``), and
    ``p_<variable>_<vessel>``; NaN when the table is a skipped part or a comparison was not
    tested, so the chapter's text always finds its keys."""
    have = isinstance(table, pd.DataFrame)
    tested = (
        table[np.isfinite(table["p_value"])]
        if have
        else pd.DataFrame(columns=["variable", "vessel", "p_value"])
    )
    out: dict[str, float] = {}
    out["tests"] = len(tested) if have else math.nan
    out["significant"] = (
        int((tested["p_value"] < 0.05).sum()) if len(tested) else (0 if have else math.nan)
    )
    out["bonferroni"] = 0.05 / len(tested) if len(tested) else math.nan
    out["min_p"] = float(tested["p_value"].min()) if len(tested) else math.nan
    for variable in _VARIABLES:
        for vessel in schema.VESSELS:
            hit = tested[(tested["variable"] == variable) & (tested["vessel"] == vessel)]
            out[f"p_{variable}_{vessel}"] = float(hit["p_value"].iloc[0]) if len(hit) else math.nan
    return {f"{prefix}{k}": v for k, v in out.items()}
