"""The interpretability chapter's analysis: what separates high- from low-risk ECGs, per vessel.

For each vessel (:func:`interpret_run`, notebook ``10_interpretability``):

1. **Groups.** The pooled out-of-fold predictions of the internal cohort (each ECG predicted
   once, by the fold model that never saw it) split the ECGs into **high risk** (probability >=
   the vessel's ``evaluation.high_risk_thresholds``: 15% for RCA, LAD and LCX, 1% for LM) and
   **low risk** (below it). These are the study's operating points, not thresholds tuned here.
2. **Average beats** of every ECG (:func:`ecglib.signals.beats.average_beats`: R peaks, beats from 0.25 s
   before to 0.65 s after R, z-scored per lead, referenced to the PR segment), computed once from
   the ECG store for all out-of-fold ECGs; ECGs that cannot be averaged are counted with their
   reason (:data:`ecglib.signals.beats.REASONS`) and leave both groups. The store holds the model's
   input (the run's signal filter, then a lead-wise z-score); the beats are z-scored again per
   record, and a z-score of a z-score is the same signal, so with ``signals.filter: none`` the
   average beats equal those of the raw files in units of each record's lead SD.
3. **Waveform comparison** (:func:`ecglib.signals.waveforms.compare_waveforms`): per lead and sample, mean
   +- SD of both groups, the difference of the means with Welch tests and Benjamini-Hochberg FDR
   over all 12 x 450 samples, significant stretches named by the wave they fall in. Needs at
   least 2 averaged ECGs per group; otherwise the vessel has no comparison and says why.
4. **Attribution** (:mod:`ecglib.model.attribution`): integrated gradients of the vessel's logit on
   the **high-risk true positives** (high risk and severe/occluded on CCTA: the ECGs on which the
   model is right for the reason that matters) that have an average beat, each ECG attributed
   by *its own* fold model (the one that produced its out-of-fold prediction). On the CPU this
   is the chapter's cost, so at most ``max_records`` of them (default
   :data:`MAX_ATTRIBUTION_RECORDS`) are drawn at random, seeded by the run's seed and the vessel. The attributions are folded onto the same beats and
   delineated with the waveform comparison's wave boundaries, so both methods name the same
   regions.
5. **Planted vs found** (:func:`planted_vs_found`, demo runs only: ``params.demo`` set). The
   demo cohort's simulator planted a vessel-specific ST-T change in known leads
   (:data:`ecglib.demo.PLANTED_TERRITORIES`). For each vessel and method the found leads are
   the top-``k`` of the method's lead ranking in the ST-T window (``k`` = the number of planted
   leads), and the found region is the method's top-ranked region of the whole beat:

   - waveform difference: leads ranked by mean |difference| over the ST segment and T wave
     (:meth:`~ecglib.signals.waveforms.WaveformComparison.lead_ranking`); regions ranked by mean
     |difference| per sample over all 12 leads (:func:`waveform_wave_ranking`);
   - attribution: leads and regions ranked by the mean *net* (signed) attribution per sample
     (:meth:`~ecglib.model.attribution.BeatAttribution.lead_ranking` with ``by="net"``): by
     completeness, the summed attribution of a region is its contribution to the logit, so the
     net attribution is the evidence a region gives *for* the high-risk call. The mean |IG|
     is reported beside it (``by="abs"``) but is not used for the ranking, because it also counts
     the model's sensitivity to the QRS complex, whose large, alternating-sign attributions cancel
     (the table in the chapter shows both).

   Measures: **recall@k** = share of the planted leads among the top ``k``; the planted leads'
   **mean rank** (1 = top, 12 = bottom; 6.5 is what a random ranking gives); whether the top
   region is the planted one (ST segment or T wave). The planted lead sets are clinical
   territories, not the simulator's exact geometry: ``ideal_recall`` is the recall@k that the
   simulator's own ST sensitivity per lead (:func:`ecglib.demo.territory_sensitivity`) would
   score, i.e. a method that ranked the leads exactly by the size of the planted offset in
   millivolts. ``planted_net_attribution`` is the mean net attribution over the planted leads'
   ST-T window (> 0: it pushes the logit towards high risk).

   Expect the attribution to be less tidy than the waveform difference. The network reads
   lead-wise z-scored ECGs, in which a planted ST-T change also shifts the lead's mean and
   shrinks or grows its SD (a flattened T wave makes the QRS larger in SD units); a network may
   pick the change up anywhere in the beat, and integrated gradients report where it did. On
   the simulated ECGs of ``tests/test_attribution.py`` a small trained Net1D puts the planted
   leads in the top half for every vessel but, for LAD, sometimes draws its evidence from the
   QRS complex.

Nothing in the outputs identifies a patient: records are named by the row of the run's cohort
table only, and the chapter shows counts, never those names.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from torch import nn

from ecglib import schema
from ecglib.model.attribution import DEFAULT_BATCH_SIZE, BeatAttribution, IGResult, beat_attribution, integrated_gradients
from ecglib.signals.beats import REASONS, AverageBeats, average_beats
from ecglib.config import RunParams
from ecglib.schema import FS, LEADS, VESSELS
from ecglib.signals.waveforms import ST_T, WAVES, WaveformComparison, compare_waveforms

__all__ = [
    "MAX_ATTRIBUTION_RECORDS",
    "N_STEPS",
    "GROUP_NAMES",
    "VesselInterpretation",
    "Interpretation",
    "RowView",
    "interpret_vessel",
    "interpret_run",
    "waveform_wave_ranking",
    "recall_at_k",
    "planted_vs_found",
    "lead_rank_table",
]

#: At most this many high-risk true positives per vessel are attributed (CPU time: with the demo
#: network about 0.1-0.5 s per ECG and integration step on two shared cores; see
#: ``benchmarks/bench_interpret.py``).
MAX_ATTRIBUTION_RECORDS = 16
#: Integration points of integrated gradients in the chapter. The completeness error (the sum of
#: the attributions vs the change of the logit) of the demo-sized networks is about 0.1% at 8-16
#: points; the chapter reports it per vessel.
N_STEPS = 16
#: Names of the two groups, in the order of the waveform comparison (A - B).
GROUP_NAMES: tuple[str, str] = ("high risk", "low risk")
#: Methods of the planted-vs-found comparison.
METHODS: tuple[str, str] = ("waveform difference", "attribution")
#: The planted segment, as regions of :data:`ecglib.signals.waveforms.WAVES`.
PLANTED_WAVES: tuple[str, ...] = ST_T


class RowView:
    """Rows ``rows`` of a (memory-mapped) (N, 12, T) array, read only when sliced.

    Lets :func:`ecglib.signals.beats.average_beats` and :func:`~ecglib.model.attribution.integrated_gradients`
    read the out-of-fold ECGs chunk by chunk from the store instead of copying them all.
    """

    def __init__(self, signals: np.ndarray, rows: np.ndarray):
        self.signals = signals
        self.rows = np.asarray(rows, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows),) + tuple(self.signals.shape[1:])

    @property
    def ndim(self) -> int:
        return self.signals.ndim

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        picked = self.rows[index]
        if np.ndim(picked) == 0:
            return np.asarray(self.signals[int(picked)])
        order = np.argsort(picked, kind="stable")  # memory maps read faster in order
        out = np.empty((len(picked),) + tuple(self.signals.shape[1:]), dtype=self.signals.dtype)
        out[order] = self.signals[picked[order]]
        return out


def waveform_wave_ranking(cmp: WaveformComparison) -> pd.DataFrame:
    """Regions of the beat ranked by the mean |difference| per sample over all 12 leads, with the
    share of significant samples; columns rank, wave, mean_abs_diff, share_significant, n_samples."""
    rows = []
    for wave, (a, b) in cmp.delineation.segments().items():
        if b <= a:
            continue
        rows.append(dict(wave=wave, mean_abs_diff=float(np.abs(cmp.diff[:, a:b]).mean()),
                         share_significant=float(cmp.significant[:, a:b].mean()), n_samples=b - a))
    table = pd.DataFrame(rows).sort_values("mean_abs_diff", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


@dataclass(frozen=True, eq=False)
class VesselInterpretation:
    """One vessel's groups, waveform comparison and attribution.

    Counts: ``n_high``/``n_low`` ECGs per risk group (``n_*_averaged`` of them with an average
    beat), ``n_true_positive`` high-risk ECGs with severe stenosis or occlusion, ``n_attributed``
    of them attributed. ``comparison``/``attribution`` are None when the groups are too small;
    ``notes`` says why, in words for the chapter.
    """

    vessel: str
    threshold: float
    n_high: int
    n_low: int
    n_high_averaged: int
    n_low_averaged: int
    n_true_positive: int
    n_attributed: int
    comparison: WaveformComparison | None
    attribution: BeatAttribution | None
    ig: IGResult | None
    notes: tuple[str, ...] = ()

    @property
    def has_attribution(self) -> bool:
        return self.attribution is not None and self.attribution.n_included > 0

    def summary(self) -> dict:
        """One row of the chapter's group table."""
        cmp = self.comparison
        row = dict(vessel=self.vessel, threshold=self.threshold, high_risk=self.n_high,
                   low_risk=self.n_low, high_risk_averaged=self.n_high_averaged,
                   low_risk_averaged=self.n_low_averaged,
                   significant_samples=cmp.n_significant if cmp is not None else np.nan,
                   significant_share=cmp.significant.mean() if cmp is not None else np.nan,
                   true_positives=self.n_true_positive, attributed=self.n_attributed,
                   attributed_with_beats=self.attribution.n_included if self.attribution else 0)
        if self.ig is not None and self.n_attributed:
            row["ig_median_relative_error"] = float(np.nanmedian(self.ig.relative_error))
        else:
            row["ig_median_relative_error"] = np.nan
        return row

    def waveform_leads(self) -> pd.DataFrame | None:
        return None if self.comparison is None else self.comparison.lead_ranking(PLANTED_WAVES)

    def waveform_waves(self) -> pd.DataFrame | None:
        return None if self.comparison is None else waveform_wave_ranking(self.comparison)

    def attribution_leads(self, by: str = "net") -> pd.DataFrame | None:
        return self.attribution.lead_ranking(PLANTED_WAVES, by=by) if self.has_attribution else None

    def attribution_waves(self, by: str = "net") -> pd.DataFrame | None:
        return self.attribution.wave_ranking(by=by) if self.has_attribution else None


def _sample(candidates: np.ndarray, cap: int | None, seed: int, vessel: str) -> np.ndarray:
    if cap is None or len(candidates) <= cap:
        return candidates
    rng = np.random.default_rng([int(seed), VESSELS.index(vessel), 10])
    return np.sort(rng.choice(candidates, size=cap, replace=False))


def interpret_vessel(
    vessel: str,
    *,
    average: np.ndarray,
    included: np.ndarray,
    probs: np.ndarray,
    labels: np.ndarray,
    signals,
    model_for: Callable[[int], nn.Module],
    folds: np.ndarray | None = None,
    device: str = "cpu",
    threshold: float,
    max_records: int | None = MAX_ATTRIBUTION_RECORDS,
    n_steps: int = N_STEPS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    record_ids: Sequence[str] | None = None,
    fs: float = FS,
) -> VesselInterpretation:
    """Groups, waveform comparison and attribution of one vessel (steps 1-4 of the module docstring).

    ``average`` (n, 12, L) average beats with ``included`` (n,) marking those that exist;
    ``probs``/``labels`` (n,) the vessel's predicted probability and CCTA label; ``signals`` the n
    model inputs (an array or :class:`RowView`); ``model_for(fold)`` the model that predicted an
    ECG of fold ``fold`` (``folds`` (n,), default all 0).
    """
    if vessel not in VESSELS:
        raise ValueError(f"unknown vessel {vessel!r}; expected one of {VESSELS}")
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels).astype(bool)
    included = np.asarray(included, dtype=bool)
    n = len(probs)
    if not (len(labels) == len(included) == len(average) == len(signals) == n):
        raise ValueError("average, included, probs, labels and signals must have one entry per ECG")
    if np.isnan(probs).any():
        raise ValueError(f"{vessel}: {int(np.isnan(probs).sum())} missing predicted probabilities")
    folds = np.zeros(n, dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64)
    ids = [str(i) for i in range(n)] if record_ids is None else [str(r) for r in record_ids]
    high = probs >= threshold
    notes: list[str] = []

    comparison = None
    a_rows, b_rows = np.flatnonzero(high & included), np.flatnonzero(~high & included)
    if len(a_rows) >= 2 and len(b_rows) >= 2:
        comparison = compare_waveforms(average[a_rows], average[b_rows], fs=fs, names=GROUP_NAMES)
    else:
        notes.append(f"no waveform comparison: {len(a_rows)} high-risk and {len(b_rows)} low-risk "
                     "ECGs with an average beat (at least 2 per group are needed)")

    true_pos = np.flatnonzero(high & labels)
    # Only ECGs with an average beat can be folded onto beats (the same rules decide both).
    chosen = _sample(np.flatnonzero(high & labels & included), max_records, seed, vessel)
    ig = attribution = None
    if len(chosen):
        parts = []
        for fold in np.unique(folds[chosen]):
            sel = chosen[folds[chosen] == fold]
            parts.append((sel, integrated_gradients(model_for(int(fold)), signals[sel], vessel,
                                                    n_steps=n_steps, batch_size=batch_size,
                                                    device=device)))
        order = np.concatenate([sel for sel, _ in parts])
        pos = np.argsort(order)  # back to the order of `chosen` (ascending rows)
        ig = IGResult(
            attributions=np.concatenate([r.attributions for _, r in parts])[pos],
            delta=np.concatenate([r.delta for _, r in parts])[pos],
            output=np.concatenate([r.output for _, r in parts])[pos],
            baseline_output=np.concatenate([r.baseline_output for _, r in parts])[pos],
            target=VESSELS.index(vessel), n_steps=int(n_steps))
        attribution = beat_attribution(
            ig.attributions, signals[chosen], vessel=vessel, fs=fs,
            record_ids=[ids[i] for i in chosen], ig=ig,
            delineation=comparison.delineation if comparison is not None else None)
        if attribution.n_included == 0:
            notes.append(f"no attribution map: none of the {len(chosen)} attributed ECGs could be "
                         "cut into beats")
    elif len(true_pos):
        notes.append(f"no attribution: none of the {len(true_pos)} high-risk true positives has an "
                     "average beat")
    else:
        notes.append("no attribution: no high-risk true positive (high risk and severe stenosis or "
                     "occlusion on CCTA)")
    return VesselInterpretation(
        vessel=vessel, threshold=float(threshold), n_high=int(high.sum()), n_low=int((~high).sum()),
        n_high_averaged=len(a_rows), n_low_averaged=len(b_rows), n_true_positive=len(true_pos),
        n_attributed=len(chosen), comparison=comparison, attribution=attribution, ig=ig,
        notes=tuple(notes))


def recall_at_k(found: Sequence[str], planted: Sequence[str], k: int | None = None) -> float:
    """Share of ``planted`` among the first ``k`` of the ranking ``found`` (k = len(planted))."""
    k = len(planted) if k is None else int(k)
    if not planted:
        raise ValueError("no planted leads")
    return len(set(found[:k]) & set(planted)) / len(planted)


def _mean_rank(ranking: pd.DataFrame, planted: Sequence[str]) -> float:
    ranks = ranking.set_index("lead")["rank"]
    return float(ranks.loc[list(planted)].mean())


def _ideal_ranking(vessel: str) -> list[str]:
    from ecglib.demo import territory_sensitivity

    sens = np.abs(territory_sensitivity()[VESSELS.index(vessel)])
    return [LEADS[i] for i in np.argsort(-sens, kind="stable")]


def planted_vs_found(results: Mapping[str, VesselInterpretation]) -> pd.DataFrame:
    """Per vessel and method: planted leads and segment vs the top-ranked leads and region.

    Columns: vessel, region, planted_leads, planted_segment, method, n (ECGs behind the method:
    high + low risk, or attributed), found_leads (top k, k = number of planted leads), recall_at_k,
    planted_mean_rank, top_half (mean rank <= 6), found_wave, wave_match (found wave in the ST-T
    segment), ideal_recall, planted_net_attribution (attribution rows: the mean net attribution
    per sample over the planted leads' ST-T window, > 0 when it pushes towards high risk). A method
    that could not run has NaN / empty entries.
    """
    from ecglib.demo import PLANTED_TERRITORIES

    rows = []
    for vessel, res in results.items():
        territory = PLANTED_TERRITORIES[vessel]
        planted = list(territory.leads)
        k = len(planted)
        ideal = recall_at_k(_ideal_ranking(vessel), planted)
        for method in METHODS:
            if method == METHODS[0]:
                leads, waves = res.waveform_leads(), res.waveform_waves()
                n = (res.n_high_averaged + res.n_low_averaged) if res.comparison is not None else 0
            else:
                leads, waves = res.attribution_leads(), res.attribution_waves()
                n = res.attribution.n_included if res.has_attribution else 0
            row = dict(vessel=vessel, region=territory.region, planted_leads=", ".join(planted),
                       planted_segment="ST-T", method=method, n=n, ideal_recall=ideal)
            row["planted_net_attribution"] = np.nan
            if method == METHODS[1] and leads is not None:
                net = leads.set_index("lead")["mean_net"]
                row["planted_net_attribution"] = float(net.loc[planted].mean())
            if leads is None:
                row.update(found_leads="", recall_at_k=np.nan, planted_mean_rank=np.nan,
                           top_half=None, found_wave="", wave_match=None)
            else:
                found = list(leads["lead"])
                mean_rank = _mean_rank(leads, planted)
                top_wave = str(waves["wave"].iloc[0])
                row.update(found_leads=", ".join(found[:k]), recall_at_k=recall_at_k(found, planted),
                           planted_mean_rank=mean_rank, top_half=bool(mean_rank <= len(LEADS) / 2),
                           found_wave=top_wave, wave_match=bool(top_wave in PLANTED_WAVES))
            rows.append(row)
    columns = ["vessel", "region", "planted_leads", "planted_segment", "method", "n", "found_leads",
               "recall_at_k", "planted_mean_rank", "top_half", "found_wave", "wave_match",
               "ideal_recall", "planted_net_attribution"]
    return pd.DataFrame(rows, columns=columns)


def lead_rank_table(results: Mapping[str, VesselInterpretation], planted: bool = True) -> pd.DataFrame:
    """Long table of every lead's rank per vessel and method (ST-T window): vessel, method, lead,
    rank, and (``planted``, demo runs) whether the lead is planted. Methods that did not run are
    left out."""
    rows = []
    if planted:
        from ecglib.demo import PLANTED_TERRITORIES
    for vessel, res in results.items():
        for method, table in zip(METHODS, (res.waveform_leads(), res.attribution_leads())):
            if table is None:
                continue
            for lead, rank in zip(table["lead"], table["rank"]):
                row = dict(vessel=vessel, method=method, lead=lead, rank=int(rank))
                if planted:
                    row["planted"] = lead in PLANTED_TERRITORIES[vessel].leads
                rows.append(row)
    columns = ["vessel", "method", "lead", "rank"] + (["planted"] if planted else [])
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, eq=False)
class Interpretation:
    """Result of :func:`interpret_run`: per vessel results, the average beats, and the run's facts.

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
        return pd.DataFrame({"reason": list(REASONS), "ECGs": [int(counts.get(r, 0)) for r in REASONS],
                             "meaning": list(REASONS.values())})

    def group_table(self) -> pd.DataFrame:
        return pd.DataFrame([res.summary() for res in self.vessels.values()])

    def notes(self) -> list[str]:
        return [f"{v}: {note}" for v, res in self.vessels.items() for note in res.notes]

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
        frames = [res.comparison.stretches().assign(vessel=v) for v, res in self.vessels.items()
                  if res.comparison is not None]
        if not frames:
            return pd.DataFrame(columns=["vessel", "lead", "start_s", "end_s", "duration_ms",
                                         "n_samples", "wave", "waves", "mean_diff", "peak_diff", "min_q"])
        table = pd.concat(frames, ignore_index=True)
        table = table[["vessel"] + [c for c in table.columns if c != "vessel"]]
        order = {v: i for i, v in enumerate(VESSELS)}
        return table.sort_values(["vessel", "duration_ms"], key=lambda c: c.map(order) if c.name == "vessel"
                                 else -c, kind="stable").reset_index(drop=True)

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
                    rows.append(dict(vessel=vessel, wave=wave, stretches=len(w),
                                     total_ms=float(w["duration_ms"].sum()), leads=", ".join(leads)))
        return pd.DataFrame(rows, columns=["vessel", "wave", "stretches", "total_ms", "leads"])

    def attribution_phases(self) -> pd.DataFrame:
        """Per vessel and region: rank (by net attribution), mean net and mean |attribution| per
        sample over the 12 leads, and the region's share of the |attribution| over the beat."""
        frames = [res.attribution.wave_ranking().assign(vessel=v) for v, res in self.vessels.items()
                  if res.has_attribution]
        if not frames:
            return pd.DataFrame(columns=["vessel", "rank", "wave", "mean_net", "mean_abs", "share",
                                         "n_samples"])
        table = pd.concat(frames, ignore_index=True)
        return table[["vessel"] + [c for c in table.columns if c != "vessel"]]

    def attribution_lead_phases(self) -> pd.DataFrame:
        """Per vessel, lead and region (lead x phase):
        :meth:`ecglib.model.attribution.BeatAttribution.phase_table` with a ``vessel`` column."""
        frames = [res.attribution.phase_table().assign(vessel=v) for v, res in self.vessels.items()
                  if res.has_attribution]
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        return table[["vessel"] + [c for c in table.columns if c != "vessel"]]

    def numbers(self) -> dict:
        """Every number (and the few sentences built from them) that the chapter's text quotes,
        keyed for ``myst_nb.glue``. Works for empty groups and non-demo runs."""
        out: dict = {
            "n_ecgs": self.n_ecgs, "n_averaged": self.n_averaged,
            "n_excluded": self.n_ecgs - self.n_averaged,
            "pct_averaged": 100.0 * self.n_averaged / self.n_ecgs if self.n_ecgs else float("nan"),
            "max_records": self.max_records if self.max_records is not None else "all",
            "n_steps": self.n_steps, "n_folds": int(self.predictions["fold"].nunique()),
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
                out.update({f"{vessel}_{k}": float("nan") for k in (
                    "threshold_pct", "high", "low", "tp", "attributed", "sig", "ig_error_pct")})
                out[f"{vessel}_waveform"] = out[f"{vessel}_attribution"] = (
                    "not assessed in this cohort (no labels)")
        out.update(_planted_numbers(self.planted_vs_found() if self.demo else None))
        return out


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
    return (f"{cmp.n_significant:,} of {total:,} lead-samples differ (q < {cmp.alpha:g}); the largest "
            f"mean difference is in the {top_wave}, and in the ST-T window in leads {_join(leads)}")


def _attribution_sentence(res: VesselInterpretation) -> str:
    if not res.has_attribution:
        why = [n.split(": ", 1)[-1] for n in res.notes if "attribution" in n.split(": ", 1)[0]]
        return "nothing was attributed: " + "; ".join(why)
    waves = res.attribution_waves()
    leads = list(res.attribution_leads()["lead"][:3])
    n = res.attribution.n_included
    return (f"the {n:,} attributed high-risk true positive{'s' if n != 1 else ''} draw their net "
            f"evidence mostly from the {waves['wave'].iloc[0]}, and in the ST-T window from leads "
            f"{_join(leads)}")


def _planted_numbers(table: pd.DataFrame | None) -> dict:
    keys = {}
    for method, short in zip(METHODS, ("wf", "at")):
        sub = None if table is None or table.empty else table[table["method"] == method]
        ran = sub[sub["recall_at_k"].notna()] if sub is not None else None
        keys[f"{short}_n_vessels"] = 0 if ran is None else len(ran)
        keys[f"{short}_top_half"] = 0 if ran is None else int(ran["top_half"].astype(bool).sum())
        keys[f"{short}_wave_match"] = 0 if ran is None else int(ran["wave_match"].astype(bool).sum())
        keys[f"{short}_mean_recall"] = (float(ran["recall_at_k"].mean()) if ran is not None and len(ran)
                                        else float("nan"))
    if table is not None and keys["wf_n_vessels"] == 0 and keys["at_n_vessels"] == 0:
        keys["planted_sentence"] = ("No vessel had groups large enough for either method, so nothing "
                                    "can be compared with what was planted (see the notes above).")
    elif table is None:
        keys["planted_sentence"] = ("This run is not on the demo cohort: nothing was planted, so there "
                                    "is no truth to compare with and this section is empty.")
    else:
        clauses = []
        for short, name in (("wf", "the waveform difference"), ("at", "the attribution")):
            n = keys[f"{short}_n_vessels"]
            if n == 0:
                clauses.append(f"{name} could not be computed for any vessel")
            else:
                clauses.append(
                    f"{name} ranks the planted leads in the top half for {keys[f'{short}_top_half']} "
                    f"of {n} vessel{'s' if n != 1 else ''} (mean recall@k "
                    f"{keys[f'{short}_mean_recall']:.2f}) and names the ST-T segment as the top "
                    f"region for {keys[f'{short}_wave_match']}")
        text = "; ".join(clauses) + "."
        keys["planted_sentence"] = text[0].upper() + text[1:]
    return keys


def interpret_run(
    params: RunParams,
    *,
    max_records: int | None = MAX_ATTRIBUTION_RECORDS,
    n_steps: int = N_STEPS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    n_jobs: int = 1,
    progress: bool = False,
    device: str = "cpu",
) -> Interpretation:
    """Steps 1-4 of the module docstring for every vessel of a finished run (all folds trained).

    ``n_jobs`` worker processes average the beats (:func:`ecglib.signals.beats.average_beats`);
    ``device`` runs the fold models for integrated gradients (the CPU by default).
    """
    from ecglib.paths import RunPaths
    from ecglib.data.prepare import read_cohort
    from ecglib.chapters.run_results import load_results
    from ecglib.data.store import open_store
    from ecglib.train.predict import load_fold_model

    paths = RunPaths.of(params)
    cohort = read_cohort(paths.cohort)
    store = open_store(paths.store)
    # The evaluation chapters' reader: checks that every internal ECG has exactly one
    # out-of-fold prediction, and carries no identifier.
    predictions = load_results(params).oof
    rows = predictions["row"].to_numpy()
    signals = RowView(store.signals, store.rows_for(cohort.loc[rows, "ecg_path"]))
    names = [f"cohort row {r}" for r in rows]
    beats = average_beats(signals, progress=progress, n_jobs=n_jobs, record_ids=names)
    models: dict[int, nn.Module] = {}

    def model_for(fold: int) -> nn.Module:
        if fold not in models:
            models[fold] = load_fold_model(params, fold, device=device)
        return models[fold]

    results = {}
    for vessel in schema.vessels_of(predictions):  # a vessel not assessed has no model output
        results[vessel] = interpret_vessel(
            vessel, average=beats.average, included=beats.included,
            probs=predictions[schema.prob_col(vessel)].to_numpy(),
            labels=predictions[schema.label_col(vessel)].to_numpy(), signals=signals,
            model_for=model_for, folds=predictions["fold"].to_numpy(),
            threshold=params.evaluation.high_risk_thresholds[vessel], max_records=max_records,
            n_steps=n_steps, batch_size=batch_size, seed=params.seed, record_ids=names, device=device)
    return Interpretation(vessels=results, beats=beats, predictions=predictions,
                          demo=params.demo is not None, max_records=max_records, n_steps=n_steps,
                          params_name=params.name)

