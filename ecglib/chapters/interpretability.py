"""Chapter 10, interpretability (``10_interpretability``): what separates high- from low-risk
ECGs, per vessel.

For each vessel the run assesses, :func:`analyse` does:

1. **Groups.** The pooled out-of-fold predictions of the internal cohort (each ECG predicted
   once, by the fold model that never saw it) split the ECGs into **high risk** (probability >=
   the vessel's ``evaluation.high_risk_thresholds``: 15% for RCA, LAD and LCX, 1% for LM) and
   **low risk** (below it). These are the study's operating points, not thresholds tuned here.
2. **Average beats** of every ECG (:func:`ecglib.signals.beats.average_beats`: R peaks, beats
   from 0.25 s before to 0.65 s after R, z-scored per lead, referenced to the PR segment),
   computed once from the ECG store for all out-of-fold ECGs; ECGs that cannot be averaged are
   counted with their reason (:data:`ecglib.signals.beats.REASONS`) and leave both groups. The
   store holds the model's input (the run's signal filter, then a lead-wise z-score); the beats
   are z-scored again per record, and a z-score of a z-score is the same signal, so with
   ``signals.filter: none`` the average beats equal those of the raw files in units of each
   record's lead SD.
3. **Waveform comparison** (:func:`ecglib.signals.waveforms.compare_waveforms`): per lead and
   sample, mean +- SD of both groups, the difference of the means with Welch tests and
   Benjamini-Hochberg FDR over all 12 x 450 samples, significant stretches named by the wave
   they fall in. Needs at least 2 averaged ECGs per group; otherwise the vessel's comparison is
   a :class:`~ecglib.chapters.parts.Skipped` part that says why.
4. **Attribution** (:mod:`ecglib.model.attribution`): integrated gradients of the vessel's logit
   on the **high-risk true positives** (high risk and severe/occluded on CCTA: the ECGs on which
   the model is right for the reason that matters) that have an average beat, each ECG
   attributed by *its own* fold model (the one that produced its out-of-fold prediction). On
   the CPU this is the chapter's cost, so at most ``max_records`` of them (default
   :data:`~ecglib.chapters.interpretability_vessel.MAX_ATTRIBUTION_RECORDS`) are drawn at
   random, seeded by the run's seed and the vessel. The attributions are folded onto the same
   beats and delineated with the waveform comparison's wave boundaries, so both methods name
   the same regions. Leads and regions are ranked by the mean *net* (signed) attribution per
   sample: by completeness, the summed attribution of a region is its contribution to the
   logit, so the net attribution is the evidence a region gives *for* the high-risk call. The
   mean |IG| is reported beside it but does not rank, because it also counts the model's
   sensitivity to the QRS complex, whose large, alternating-sign attributions cancel.
5. **Planted vs found** (demo runs only, :mod:`ecglib.chapters.interpretability_planted`): what
   the simulator planted beside what each method found.

   Expect the attribution to be less tidy than the waveform difference. The network reads
   lead-wise z-scored ECGs, in which a planted ST-T change also shifts the lead's mean and
   shrinks or grows its SD (a flattened T wave makes the QRS larger in SD units); a network may
   pick the change up anywhere in the beat, and integrated gradients report where it did.

Steps 1, 3 and 4 of one vessel are :func:`~ecglib.chapters.interpretability_vessel.interpret_vessel`
(arrays in, no run); this module reads the run and assembles the page. Nothing in the outputs
identifies a patient: records are named by the row of the run's cohort table only, and the
chapter shows counts, never those names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from torch import nn

from ecglib import schema
from ecglib.chapters.interpretability_artery import which_artery_sentence
from ecglib.chapters.interpretability_planted import (
    lead_rank_table,
    planted_numbers,
    planted_vs_found,
)
from ecglib.chapters.interpretability_vessel import (
    MAX_ATTRIBUTION_RECORDS,
    N_STEPS,
    RowView,
    VesselInterpretation,
    interpret_vessel,
    waveform_wave_ranking,
)
from ecglib.chapters.parts import Skipped, skipped_of
from ecglib.config import RunParams
from ecglib.metrics.vessel_specificity import cross_vessel_matrix
from ecglib.model.attribution import DEFAULT_BATCH_SIZE, BeatAttribution
from ecglib.schema import LEADS, VESSELS
from ecglib.signals.beats import REASONS, AverageBeats, average_beats
from ecglib.signals.waveforms import STRETCH_COLUMNS, WAVES, WaveformComparison

__all__ = ["Interpretation", "analyse"]


@dataclass(frozen=True, eq=False)
class Interpretation:
    """What chapter 10 shows (:func:`analyse`): per vessel results, the average beats, and the
    run's facts.

    ``beats`` the average beats of every out-of-fold ECG (rows in the order of ``predictions``);
    ``predictions`` the pooled out-of-fold predictions joined to the grades and labels;
    ``demo`` whether the run is on the demo cohort (then the planted truth is known).
    """

    vessels: dict[str, VesselInterpretation]
    beats: AverageBeats
    predictions: pd.DataFrame
    demo: bool
    max_records: int | None = MAX_ATTRIBUTION_RECORDS
    n_steps: int = N_STEPS
    params_name: str = field(default="")

    @property
    def n_ecgs(self) -> int:
        return len(self.predictions)

    @property
    def n_averaged(self) -> int:
        return int(self.beats.included.sum())

    def exclusion_counts(self) -> pd.DataFrame:
        """ECGs without an average beat per reason (every reason of :data:`ecglib.signals.beats.REASONS`,
        zeros included), with what the reason means."""
        counts = self.beats.exclusions["reason"].value_counts()
        return pd.DataFrame(
            {
                "reason": list(REASONS),
                "ECGs": [int(counts.get(r, 0)) for r in REASONS],
                "meaning": list(REASONS.values()),
            }
        )

    def group_table(self) -> pd.DataFrame:
        return pd.DataFrame([res.summary() for res in self.vessels.values()])

    def notes(self) -> list[str]:
        return [f"{v}: {note}" for v, res in self.vessels.items() for note in res.notes]

    @property
    def panel_notes(self) -> dict[str, str]:
        """Per vessel, its notes in one string: what an empty panel of a figure says."""
        return {v: "; ".join(res.notes) for v, res in self.vessels.items()}

    @property
    def comparisons(self) -> dict[str, WaveformComparison | None]:
        """Every assessed vessel's waveform comparison (None: too few averaged ECGs)."""
        return {v: res.comparison for v, res in self.vessels.items()}

    @property
    def attributions(self) -> dict[str, BeatAttribution | None]:
        """Every assessed vessel's attribution map (None: nothing attributed)."""
        return {v: res.attribution for v, res in self.vessels.items()}

    def comparison(self, vessel: str) -> WaveformComparison | Skipped:
        """``vessel``'s waveform comparison, or why there is none (also for a vessel the
        cohort does not assess)."""
        if vessel not in self.vessels:
            return Skipped(
                f"The {vessel} waveform comparison", f"this cohort does not assess the {vessel}"
            )
        return self.vessels[vessel].comparison_part()

    def grid_title(self, vessel: str) -> str:
        """Title of ``vessel``'s 12-lead grid of both groups' average beats."""
        if vessel not in self.vessels:
            return f"{vessel}: not assessed"
        return f"{vessel}: high risk (p \u2265 {self.vessels[vessel].threshold:.0%}) vs low risk"

    def difference_title(self, vessel: str) -> str:
        """Title of ``vessel``'s figure of the difference of the group means."""
        return f"{vessel}: high \u2212 low risk"

    def planted_lead_ranks(self) -> pd.DataFrame | Skipped:
        """:meth:`lead_ranks` for the planted-vs-found figure; Skipped unless the run is on the
        demo cohort and some method ran for some vessel (the glued ``planted_sentence`` says
        which)."""
        part = "The planted-vs-found figure"
        if not self.demo:
            return Skipped(part, "this run is not on the demo cohort: nothing was planted")
        if not self.planted_vs_found()["recall_at_k"].notna().any():
            return Skipped(part, "neither method could be computed for any vessel")
        return self.lead_ranks()

    def planted_vs_found(self) -> pd.DataFrame:
        """:func:`planted_vs_found` on a demo run; an empty table otherwise (no known truth)."""
        if not self.demo:
            return pd.DataFrame()
        return planted_vs_found(self.vessels)

    def lead_ranks(self) -> pd.DataFrame:
        return lead_rank_table(self.vessels, planted=self.demo)

    def stretches(self) -> pd.DataFrame:
        """Every vessel's significant stretches (:meth:`~ecglib.signals.waveforms.WaveformComparison.stretches`)
        in one table with a ``vessel`` column, longest first within each vessel."""
        frames = [
            res.comparison.stretches().assign(vessel=v)
            for v, res in self.vessels.items()
            if res.comparison is not None
        ]
        if not frames:
            return pd.DataFrame(columns=["vessel", *STRETCH_COLUMNS])
        table = pd.concat(frames, ignore_index=True)
        table = table[["vessel"] + [c for c in table.columns if c != "vessel"]]
        order = {v: i for i, v in enumerate(VESSELS)}
        return table.sort_values(
            ["vessel", "duration_ms"],
            key=lambda c: c.map(order) if c.name == "vessel" else -c,
            kind="stable",
        ).reset_index(drop=True)

    def stretch_summary(self) -> pd.DataFrame:
        """Per vessel and wave: the number of significant stretches, their total duration over all
        leads (ms) and the leads they are in (the stretch is named by the wave holding most of it)."""
        table = self.stretches()
        rows = []
        for vessel in self.vessels:
            sub = table[table["vessel"] == vessel]
            for wave in WAVES:
                w = sub[sub["wave"] == wave]
                if len(w):
                    leads = [lead for lead in LEADS if lead in set(w["lead"])]
                    rows.append(
                        dict(
                            vessel=vessel,
                            wave=wave,
                            stretches=len(w),
                            total_ms=float(w["duration_ms"].sum()),
                            leads=", ".join(leads),
                        )
                    )
        return pd.DataFrame(rows, columns=["vessel", "wave", "stretches", "total_ms", "leads"])

    def attribution_phases(self) -> pd.DataFrame:
        """Per vessel and region: rank (by net attribution), mean net and mean |attribution| per
        sample over the 12 leads, and the region's share of the |attribution| over the beat."""
        frames = [
            res.attribution.wave_ranking().assign(vessel=v)
            for v, res in self.vessels.items()
            if res.has_attribution
        ]
        if not frames:
            return pd.DataFrame(
                columns=["vessel", "rank", "wave", "mean_net", "mean_abs", "share", "n_samples"]
            )
        table = pd.concat(frames, ignore_index=True)
        return table[["vessel"] + [c for c in table.columns if c != "vessel"]]

    def attribution_lead_phases(self) -> pd.DataFrame:
        """Per vessel, lead and region (lead x phase):
        :meth:`ecglib.model.attribution.BeatAttribution.phase_table` with a ``vessel`` column."""
        frames = [
            res.attribution.phase_table().assign(vessel=v)
            for v, res in self.vessels.items()
            if res.has_attribution
        ]
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        return table[["vessel"] + [c for c in table.columns if c != "vessel"]]

    def numbers(self) -> dict:
        """Every number (and the few sentences built from them) that the chapter's text quotes,
        keyed for ``myst_nb.glue``. Works for empty groups and non-demo runs."""
        out: dict = {
            "n_ecgs": self.n_ecgs,
            "n_averaged": self.n_averaged,
            "n_excluded": self.n_ecgs - self.n_averaged,
            "pct_averaged": 100.0 * self.n_averaged / self.n_ecgs if self.n_ecgs else float("nan"),
            "max_records": self.max_records if self.max_records is not None else "all",
            "n_steps": self.n_steps,
            "n_folds": int(self.predictions["fold"].nunique()),
        }
        for vessel, res in self.vessels.items():
            cmp = res.comparison
            out[f"{vessel}_threshold_pct"] = 100.0 * res.threshold
            out[f"{vessel}_high"] = res.n_high
            out[f"{vessel}_low"] = res.n_low
            out[f"{vessel}_tp"] = res.n_true_positive
            out[f"{vessel}_attributed"] = res.attribution.n_included if res.attribution else 0
            out[f"{vessel}_sig"] = cmp.n_significant if cmp is not None else 0
            out[f"{vessel}_waveform"] = _waveform_sentence(res)
            out[f"{vessel}_attribution"] = _attribution_sentence(res)
            err = res.summary()["ig_median_relative_error"]
            out[f"{vessel}_ig_error_pct"] = 100.0 * err if np.isfinite(err) else float("nan")
        for vessel in VESSELS:
            if vessel not in self.vessels:  # not assessed: the text finds its keys, as nan
                out.update(
                    {
                        f"{vessel}_{k}": float("nan")
                        for k in (
                            "threshold_pct",
                            "high",
                            "low",
                            "tp",
                            "attributed",
                            "sig",
                            "ig_error_pct",
                        )
                    }
                )
                out[f"{vessel}_waveform"] = out[f"{vessel}_attribution"] = (
                    "not assessed in this cohort (no labels)"
                )
        out.update(planted_numbers(self.planted_vs_found() if self.demo else None))
        out["which_artery_sentence"] = self.which_artery_sentence()
        return out

    def which_artery_sentence(self) -> str:
        """How to read the per-vessel maps, from the vessel-specific AUCs of the out-of-fold
        predictions (:mod:`ecglib.chapters.interpretability_artery`)."""
        vessels = list(self.vessels)
        if len(vessels) < 2:
            return which_artery_sentence(pd.DataFrame(columns=["outcome", "own"]))
        specific = cross_vessel_matrix(self.predictions, vessels, within_other_disease=True)
        return which_artery_sentence(specific)

    def outputs(self) -> dict[str, pd.DataFrame]:
        """The chapter's saved tables, under the names the book has always used."""
        return {
            "interpretability_beat_exclusions": self.exclusion_counts(),
            "interpretability_groups": self.group_table(),
            "interpretability_stretches": self.stretches(),
            "interpretability_attribution_lead_phases": self.attribution_lead_phases(),
            "interpretability_attribution_phases": self.attribution_phases(),
            "interpretability_planted_vs_found": self.planted_vs_found(),
        }

    def skipped(self) -> list[Skipped]:
        """Per vessel, the waveform comparison and the attribution that could not be computed,
        and why."""
        return skipped_of(
            [
                part
                for res in self.vessels.values()
                for part in (res.comparison_part(), res.attribution_part())
            ]
        )


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _waveform_sentence(res: VesselInterpretation) -> str:
    cmp = res.comparison
    if cmp is None:
        why = [n.split(": ", 1)[-1] for n in res.notes if n.startswith("no waveform comparison")]
        return "no comparison was possible: " + "; ".join(why)
    top_wave = waveform_wave_ranking(cmp)["wave"].iloc[0]
    leads = list(res.waveform_leads()["lead"][:3])
    total = cmp.significant.size
    return (
        f"{cmp.n_significant:,} of {total:,} lead-samples differ (q < {cmp.alpha:g}); the largest "
        f"mean difference is in the {top_wave}, and in the ST-T window in leads {_join(leads)}"
    )


def _attribution_sentence(res: VesselInterpretation) -> str:
    if not res.has_attribution:
        why = [n.split(": ", 1)[-1] for n in res.notes if "attribution" in n.split(": ", 1)[0]]
        return "nothing was attributed: " + "; ".join(why)
    waves = res.attribution_waves()
    leads = list(res.attribution_leads()["lead"][:3])
    n = res.attribution.n_included
    return (
        f"the {n:,} attributed high-risk true positive{'s' if n != 1 else ''} draw their net "
        f"evidence mostly from the {waves['wave'].iloc[0]}, and in the ST-T window from leads "
        f"{_join(leads)}"
    )


def analyse(
    run: RunParams,
    *,
    max_records: int | None = MAX_ATTRIBUTION_RECORDS,
    n_steps: int = N_STEPS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    n_jobs: int = 1,
    progress: bool = False,
    device: str = "cpu",
) -> Interpretation:
    """Chapter 10 of a finished run (all folds trained; steps 1-5 of the module docstring) for
    every vessel the run assesses.

    ``n_jobs`` worker processes average the beats (:func:`ecglib.signals.beats.average_beats`);
    ``device`` runs the fold models for integrated gradients (the CPU by default).
    """
    from ecglib.chapters.predictions import load_results
    from ecglib.data.prepare import read_cohort
    from ecglib.data.store import open_store
    from ecglib.paths import RunPaths
    from ecglib.train.predict import load_fold_model

    paths = RunPaths.of(run)
    cohort = read_cohort(paths.cohort)
    store = open_store(paths.store)
    # The evaluation chapters' reader: checks that every internal ECG has exactly one
    # out-of-fold prediction, and carries no identifier.
    predictions = load_results(run).oof
    rows = predictions["row"].to_numpy()
    signals = RowView(store.signals, store.rows_for(cohort.loc[rows, "ecg_path"]))
    names = [f"cohort row {r}" for r in rows]
    beats = average_beats(signals, progress=progress, n_jobs=n_jobs, record_ids=names)
    models: dict[int, nn.Module] = {}

    def model_for(fold: int) -> nn.Module:
        if fold not in models:
            models[fold] = load_fold_model(run, fold, device=device)
        return models[fold]

    results = {}
    for vessel in schema.vessels_of(predictions):  # a vessel not assessed has no model output
        results[vessel] = interpret_vessel(
            vessel,
            average=beats.average,
            included=beats.included,
            probs=predictions[schema.prob_col(vessel)].to_numpy(),
            labels=predictions[schema.label_col(vessel)].to_numpy(),
            signals=signals,
            model_for=model_for,
            folds=predictions["fold"].to_numpy(),
            threshold=run.evaluation.high_risk_thresholds[vessel],
            max_records=max_records,
            n_steps=n_steps,
            batch_size=batch_size,
            seed=run.seed,
            record_ids=names,
            device=device,
        )
    return Interpretation(
        vessels=results,
        beats=beats,
        predictions=predictions,
        demo=run.demo is not None,
        max_records=max_records,
        n_steps=n_steps,
        params_name=run.name,
    )
