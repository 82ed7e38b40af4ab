"""Chapter 11, real ECGs (``11_real_ecgs``): the project's signal path on public real records,
and what the run's model says about them (no coronary label exists for any of them).

:func:`analyse` computes the page from the shared records (:mod:`ecglib.real.collection`: in
``../shared/data`` beside the repository, or ``$ECGLIB_REAL_DATA``):

- **yield** (:mod:`ecglib.real.beat_yield`): every record loaded and checked as for a run's ECG
  store, then beat-averaged with the interpretability chapter's defaults; the outcome of every
  record per source database and rhythm, and the records without an average beat by ``row``;
- **ST groups** (:mod:`ecglib.real.st_groups`): records coded ST depression and ST elevation
  against sinus-rhythm-only records, with the interpretability chapter's pointwise statistics
  and a per-lead ST shift;
- **the PTB records with angiography** (:mod:`ecglib.real.ptb_records`);
- **predictions** (:mod:`ecglib.chapters.real_predictions`): the mean of the run's fold models
  for every loaded record (written to ``predictions/real_mean.csv``), beside the run's own
  out-of-fold predictions, summarised by ST group (:mod:`ecglib.real.prediction_groups`).

Every part without its input is a :class:`~ecglib.chapters.parts.Skipped` value of the result:
no records folder (the whole chapter), fewer than two averaged records in an ST group, no PTB
folder, no trained fold, no out-of-fold predictions. The tables keep the record names (public
dataset identifiers) for joining; the page shows them only for the PTB records and otherwise
uses ``row``, a record's position in :attr:`ecglib.real.beat_yield.RealBeats.records`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ecglib.chapters.parts import Skipped, attempt, skipped_of
from ecglib.chapters.real_predictions import oof_reference, real_predictions, training_cohort
from ecglib.config import RunParams
from ecglib.real.beat_yield import RealBeats, exclusion_table, real_beats, yield_table
from ecglib.real.collection import real_data_dir, sources_table
from ecglib.real.prediction_groups import prediction_summary
from ecglib.real.ptb_records import ptb_predictions, ptb_table
from ecglib.real.st_groups import (
    REFERENCE,
    ST_CODES,
    ST_GROUPS,
    StComparison,
    compare_st,
    significant_leads,
    st_groups_table,
)
from ecglib.report.present import cite, format_estimate

__all__ = ["RealEcgs", "analyse", "st_shift_display", "real_numbers", "ST_KEYS"]

#: Short keys of the ST groups in glued numbers and file names.
ST_KEYS: dict[str, str] = {"ST depression": "std", "ST elevation": "ste", REFERENCE: "sinus_only"}


@dataclass(frozen=True, eq=False)
class RealEcgs:
    """What chapter 11 shows (:func:`analyse`); every part may be :class:`Skipped`."""

    #: The records, their outcome and average beats (Skipped without the records folder).
    real: RealBeats | Skipped
    #: Source databases with their licences.
    sources: pd.DataFrame | Skipped
    #: Outcome counts per source database and per rhythm category (total row last).
    yield_source: pd.DataFrame | Skipped
    yield_rhythm: pd.DataFrame | Skipped
    #: Every record without an average beat, by ``row``, with its reason.
    exclusions: pd.DataFrame | Skipped
    #: Records and averaged records per ST group.
    st_groups: pd.DataFrame | Skipped
    #: ST depression and ST elevation vs sinus rhythm only.
    std: StComparison | Skipped
    ste: StComparison | Skipped
    #: The PTB records with angiography grades.
    ptb: pd.DataFrame | Skipped
    #: The mean fold-model probabilities per loaded record, and their summary by group.
    predictions: pd.DataFrame | Skipped
    summary: pd.DataFrame | Skipped
    #: The run's pooled out-of-fold predictions (the figure's grey reference).
    oof: pd.DataFrame | Skipped
    #: The PTB records' grades beside the probabilities.
    ptb_anecdote: pd.DataFrame | Skipped
    #: The run's high-risk thresholds (dashed lines of the predictions figure).
    thresholds: Mapping[str, float]
    training_cohort: str
    n_folds: int

    @property
    def reference(self) -> pd.DataFrame | None:
        """The out-of-fold reference for the predictions figure; None (the figure is drawn
        without it) when the run has no out-of-fold predictions."""
        return None if isinstance(self.oof, Skipped) else self.oof

    def comparison(self, group: str) -> StComparison | Skipped:
        """The comparison of ``"ST depression"`` or ``"ST elevation"`` with the reference."""
        return {"ST depression": self.std, "ST elevation": self.ste}[group]

    def shift_table(self, group: str) -> pd.DataFrame | None:
        """:func:`st_shift_display` of ``group``'s comparison; None when it is skipped."""
        st = self.comparison(group)
        return None if isinstance(st, Skipped) else st_shift_display(st)

    def numbers(self) -> dict[str, object]:
        return real_numbers(
            self.real,
            [self.std, self.ste],
            self.predictions,
            training_cohort=self.training_cohort,
            n_folds=self.n_folds,
        )

    def outputs(self) -> dict[str, object]:
        return {
            "real_yield_source": self.yield_source,
            "real_yield_rhythm": self.yield_rhythm,
            "real_exclusions": self.exclusions,
            "real_std_shift": _shift(self.std),
            "real_ste_shift": _shift(self.ste),
            "real_ptb": self.ptb,
            "real_predictions_summary": self.summary,
        }

    def skipped(self) -> list[Skipped]:
        """Each distinct skipped part once (a part skipped because an earlier one was carries
        that part's skip)."""
        out: list[Skipped] = []
        for s in skipped_of(
            [
                self.real,
                self.sources,
                self.yield_source,
                self.yield_rhythm,
                self.exclusions,
                self.st_groups,
                self.std,
                self.ste,
                self.ptb,
                self.predictions,
                self.oof,
                self.summary,
                self.ptb_anecdote,
            ]
        ):
            if s not in out:
                out.append(s)
        return out


def _cited_sources(real) -> pd.DataFrame:
    """The sources table with its bibliography keys as author-year citations."""
    table = sources_table(real)
    return table.assign(references=table["references"].map(cite))


def analyse(
    run: RunParams,
    *,
    data_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    n_jobs: int = 1,
) -> RealEcgs:
    """Chapter 11 of ``run`` (module docstring) on the records of ``data_dir`` (default
    :func:`~ecglib.real.collection.real_data_dir`). Writes the run's
    ``predictions/real_mean.csv`` when it has a trained fold."""
    folder = attempt("This chapter", real_data_dir) if data_dir is None else data_dir
    real = attempt("This chapter", real_beats, folder, n_jobs=n_jobs)
    std = attempt("The ST-depression comparison", compare_st, real, "ST depression")
    ste = attempt("The ST-elevation comparison", compare_st, real, "ST elevation")
    preds = attempt("The predictions part", real_predictions, real, run, device=device)
    thresholds = dict(run.evaluation.high_risk_thresholds)
    return RealEcgs(
        real=real,
        sources=attempt("The sources table", _cited_sources, real),
        yield_source=attempt("The yield table", yield_table, real, "source"),
        yield_rhythm=attempt("The yield table by rhythm", yield_table, real, "rhythm_category"),
        exclusions=attempt("The exclusion list", exclusion_table, real),
        st_groups=attempt("The ST groups", st_groups_table, real),
        std=std,
        ste=ste,
        ptb=attempt("The PTB table", ptb_table, real),
        predictions=preds,
        summary=attempt(
            "The predictions summary", prediction_summary, preds, thresholds, by="group"
        ),
        # Only drawn beside predictions: without them, their own skip says enough.
        oof=preds
        if isinstance(preds, Skipped)
        else attempt("The run's out-of-fold reference", oof_reference, run),
        ptb_anecdote=attempt("The PTB anecdote", ptb_predictions, real, preds),
        thresholds=thresholds,
        training_cohort=training_cohort(run),
        n_folds=run.folds.n_folds,
    )


def _shift(st: StComparison | Skipped) -> pd.DataFrame | Skipped:
    return st if isinstance(st, Skipped) else st.shift


def shift_clause(own: Sequence[str], other: Sequence[str], *, lower_first: bool) -> str:
    """What a group's ST segment does against the reference, as the page's sentence continues
    "Records coded ST depression have ...": ``"a significantly lower ST segment in I, II and a
    higher one in aVR"``; a direction without a significant lead is said in words (``"and no
    significantly higher one in any lead"``). ``own`` are the leads shifted in the group's own
    direction (lower for depression, ``lower_first``), ``other`` those shifted the other way."""
    first, second = ("lower", "higher") if lower_first else ("higher", "lower")
    head = (
        f"a significantly {first} ST segment in {', '.join(own)}"
        if own
        else f"no significantly {first} ST segment in any lead"
    )
    tail = (
        f"a {second} one in {', '.join(other)}"
        if other
        else f"no significantly {second} one in any lead"
    )
    return f"{head} and {tail}"


def st_shift_display(st: StComparison, digits: int = 2) -> pd.DataFrame:
    """The per-lead ST shift for the book: lead, both groups' mean ST level, the shift with its
    95% CI (record SD), the approximate shift in mV, q, direction and the share of the ST
    segment's samples that are significant pointwise."""
    t = st.shift
    return pd.DataFrame(
        {
            "lead": t["lead"],
            f"{st.group} (n={int(t['n_group'].iloc[0])})": t["st_group"].round(digits),
            f"{REFERENCE} (n={int(t['n_reference'].iloc[0])})": t["st_reference"].round(digits),
            "shift [95% CI] (record SD)": [
                format_estimate(v, lo, hi, digits)
                for v, lo, hi in zip(t["shift"], t["ci_low"], t["ci_high"])
            ],
            "shift (≈ mV)": t["shift_mv"].round(3),
            "q": t["q"].map(lambda q: f"{q:.2g}" if q >= 0.001 else "<0.001"),
            "direction": t["direction"],
            "ST samples significant (%)": t["st_samples_significant_pct"].round(0).astype(int),
        }
    )


def real_numbers(
    real: RealBeats | Skipped,
    st: list[StComparison | Skipped],
    predictions: pd.DataFrame | Skipped,
    *,
    training_cohort: str,
    n_folds: int,
) -> dict[str, object]:
    """Glue-ready numbers of the chapter's text; every key exists (NaN / "n/a") when a part is
    skipped, so the text always finds them."""
    nan = float("nan")
    out: dict[str, object] = {
        "real_training_cohort": training_cohort,
        "real_n_folds": n_folds,
        "real_records": nan,
        "real_loaded": nan,
        "real_rejected_loading": nan,
        "real_averaged": nan,
        "real_yield_pct": nan,
        "real_beat_excluded": nan,
        "real_sources": nan,
        "real_lead_ii": nan,
        "real_af_averaged": nan,
        "real_af": nan,
        "real_predicted": nan,
        "real_n_models": nan,
    }
    for group in ST_GROUPS:
        out[f"n_{ST_KEYS[group]}"] = nan
        out[f"n_{ST_KEYS[group]}_averaged"] = nan
    for group in ST_CODES:
        key = ST_KEYS[group]
        out[f"{key}_leads_depressed"] = "n/a"
        out[f"{key}_leads_elevated"] = "n/a"
        out[f"{key}_shift_clause"] = "no comparison (the part is skipped)"
        out[f"{key}_n_significant_leads"] = nan
        out[f"{key}_max_shift_mv"] = nan
    if isinstance(real, RealBeats):
        r = real.records
        out.update(
            {
                "real_records": len(r),
                "real_loaded": int((r["status"] == "ok").sum()),
                "real_rejected_loading": int((r["stage"] == "loading").sum()),
                "real_averaged": int(real.averaged.sum()),
                "real_yield_pct": 100.0 * real.averaged.mean(),
                "real_beat_excluded": int((r["stage"] == "beats").sum()),
                "real_sources": int(r["source"].nunique()),
                "real_lead_ii": int((r["lead"] == "II").sum()),
                "real_af": int((r["rhythm_category"] == "AF/flutter").sum()),
                "real_af_averaged": int(
                    ((r["rhythm_category"] == "AF/flutter") & real.averaged).sum()
                ),
            }
        )
        for group in ST_GROUPS:
            members = r["st_group"] == group
            out[f"n_{ST_KEYS[group]}"] = int(members.sum())
            out[f"n_{ST_KEYS[group]}_averaged"] = int((members & real.averaged).sum())
    for item in st:
        if not isinstance(item, StComparison):
            continue
        key = ST_KEYS[item.group]
        out[f"{key}_leads_depressed"] = (
            ", ".join(significant_leads(item, "depression")) or "no lead"
        )
        out[f"{key}_leads_elevated"] = ", ".join(significant_leads(item, "elevation")) or "no lead"
        # the group's own direction first: depression lowers the ST segment, elevation raises it
        directions = ("depression", "elevation")
        if item.group == "ST elevation":
            directions = directions[::-1]
        out[f"{key}_shift_clause"] = shift_clause(
            *(significant_leads(item, d) for d in directions),
            lower_first=directions[0] == "depression",
        )
        sig = item.significant
        out[f"{key}_n_significant_leads"] = len(sig)
        out[f"{key}_max_shift_mv"] = float(sig["shift_mv"].abs().max()) if len(sig) else nan
    if isinstance(predictions, pd.DataFrame):
        out["real_predicted"] = len(predictions)
        out["real_n_models"] = int(predictions["n_models"].iloc[0]) if len(predictions) else 0
    return out
