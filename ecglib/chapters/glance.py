"""Results at a glance: the main numbers per vessel on one page after the intro.

:func:`analyse` computes the discrimination chapter's headline AUCs with the discrimination
chapter's own functions (:mod:`ecglib.chapters.discrimination`: the same prediction sets, the
same patient-clustered DeLong interval), so the two pages cannot disagree: the internal pooled
out-of-fold AUC and the external AUC (mean of the fold models) per vessel, each with its 95%
interval and its positives, and one sentence that says which vessel the model separates best
and worst. The page links each number to the chapter that explains it and to the CSV tables the
chapters saved.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecglib import schema
from ecglib.chapters import discrimination
from ecglib.chapters.parts import Skipped, attempt
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.metrics.small_counts import WITHHELD, withhold
from ecglib.report.present import format_estimate

__all__ = ["Glance", "analyse", "range_sentence", "SETS", "CSV_FILES"]

#: The glance page's prediction sets (keys of :func:`ecglib.chapters.discrimination.set_labels`).
SETS: tuple[str, ...] = ("oof", "external")
#: The chapters' CSV tables the page offers for download: file stem -> what it holds.
CSV_FILES: dict[str, str] = {
    "glance": "this page's table",
    "discrimination_auc": "every AUC of the discrimination chapter, with its interval",
    "discrimination_folds": "each fold's held-out AUC",
    "calibration_internal": "calibration per vessel, internal",
    "calibration_external": "calibration per vessel, external",
}


@dataclass(frozen=True)
class Glance:
    """What the glance page shows (:func:`analyse`)."""

    #: The discrimination chapter's AUC rows of the internal and external sets.
    aucs: pd.DataFrame
    labels: dict[str, str]
    n_models: int
    external: pd.DataFrame | Skipped

    def rows(self, key: str) -> pd.DataFrame:
        """The AUC rows of set ``key`` (``oof``, ``external``) indexed by vessel."""
        return self.aucs[self.aucs["set"] == self.labels[key]].set_index("vessel")

    def table(self) -> pd.DataFrame:
        """One row per assessed vessel: AUC [95% CI] and positives / ECGs, internal and (when
        the run has an external site) external."""
        out = {}
        for key, name in (("oof", "internal"), ("external", "external")):
            rows = self.rows(key)
            if rows.empty:
                continue
            out[f"{name} AUC [95% CI]"] = [
                withheld or format_estimate(auc, low, high)
                for auc, low, high, withheld in zip(
                    rows["auc"], rows["ci_low"], rows["ci_high"], _withheld(rows)
                )
            ]
            out[f"{name} positives / ECGs"] = [
                f"{int(r.positives):,} / {int(r.n):,}" for r in rows.itertuples()
            ]
            index = rows.index
        table = pd.DataFrame(out, index=pd.Index(index, name="vessel"))
        assessed = [v for v in schema.VESSELS if v in table.index and self._assessed(v)]
        return table.loc[assessed]

    def _assessed(self, vessel: str) -> bool:
        rows = self.rows("oof")
        return vessel in rows.index and pd.notna(rows.at[vessel, "positives"])

    def numbers(self) -> dict[str, object]:
        """``gl_``-prefixed :func:`ecglib.chapters.discrimination.auc_numbers` of the two
        sets (so ``gl_auc_oof_RCA`` equals the discrimination chapter's ``auc_oof_RCA``), and
        the page's sentences."""
        labels = {k: self.labels[k] for k in SETS}
        values = discrimination.auc_numbers(self.aucs, labels)
        return {
            **{f"gl_{k}": v for k, v in values.items()},
            "gl_internal_sentence": range_sentence(self.rows("oof"), "internally"),
            "gl_external_sentence": (
                range_sentence(self.rows("external"), "on the external site")
                + f" The external probabilities are the mean of the {self.n_models} fold "
                "models, the internal ones each come from the single model that did not see "
                "the ECG: the two are not the same model."
                if not isinstance(self.external, Skipped)
                else self.external.message
            ),
        }

    def outputs(self) -> dict[str, object]:
        return {"glance": self.table()}

    def skipped(self) -> list[Skipped]:
        return []  # the external sentence says why, once


def _withheld(rows: pd.DataFrame) -> list[str]:
    """Per row, why its AUC is withheld under the small-count policy ("" when it is not)."""
    if WITHHELD not in rows.columns:
        return [""] * len(rows)
    return [str(w) if isinstance(w, str) else "" for w in rows[WITHHELD]]


def range_sentence(rows: pd.DataFrame, where: str) -> str:
    """Which vessel has the highest and the lowest AUC (``rows``: one set of the AUC table
    indexed by vessel), with their intervals; a vessel without an AUC is named as such."""
    defined = rows["auc"].dropna()
    if defined.empty:
        return f"No vessel has an AUC {where}: every vessel lacks positives or negatives."
    hi, lo = defined.idxmax(), defined.idxmin()

    def text(v):
        return (
            f"{v} {format_estimate(rows.at[v, 'auc'], rows.at[v, 'ci_low'], rows.at[v, 'ci_high'])}"
        )

    why = dict(zip(rows.index, _withheld(rows)))
    missing = [v for v in rows.index if v not in defined.index and pd.notna(rows.at[v, "n"])]
    tail = "".join(f" {v} has no AUC {where} ({why[v] or 'one class only'})." for v in missing)
    if hi == lo:
        return f"Only {text(hi)} has an AUC {where}.{tail}"
    return f"The AUC {where} is highest for {text(hi)} and lowest for {text(lo)}.{tail}"


def analyse(run: RunParams, results: RunResults | None = None) -> Glance:
    """The glance page of ``run`` (module docstring)."""
    results = load_results(run) if results is None else results
    best, _ = discrimination.best_fold(discrimination.per_fold_aucs(results.oof))
    labels = discrimination.set_labels(results, best)
    sets = discrimination.prediction_sets(results, best)
    wanted = {labels[k] for k in SETS}
    # the small-count policy of the discrimination chapter, so the two pages show the same
    aucs = withhold(
        discrimination.auc_tables({k: v for k, v in sets.items() if k in wanted}),
        run.report.min_events,
    )
    return Glance(
        aucs=aucs,
        labels=labels,
        n_models=results.n_fold_models,
        external=attempt("External validation", results.require_external),
    )
