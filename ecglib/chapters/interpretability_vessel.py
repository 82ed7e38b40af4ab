"""One vessel of chapter 10 (interpretability): risk groups, waveform comparison, attribution.

:func:`interpret_vessel` does steps 1, 3 and 4 of :mod:`ecglib.chapters.interpretability` for one
vessel from arrays (average beats, probabilities, labels, model inputs and a model per fold), so
it knows no run and no file: the ECGs at or above the vessel's threshold are high risk, the
others low risk; both groups' average beats are compared point by point
(:func:`ecglib.signals.waveforms.compare_waveforms`, at least 2 averaged ECGs per group); and
the high-risk true positives with an average beat (at most ``max_records``, a seeded draw) are
attributed by integrated gradients, each by its own fold model, and folded onto their beats
with the comparison's wave boundaries (:mod:`ecglib.model.attribution`). A part that cannot be
computed is None with a note in words, and a :class:`~ecglib.chapters.parts.Skipped` value for
the page (:meth:`VesselInterpretation.comparison_part`,
:meth:`VesselInterpretation.attribution_part`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from ecglib.chapters.parts import Skipped
from ecglib.model.attribution import (
    DEFAULT_BATCH_SIZE,
    BeatAttribution,
    IGResult,
    beat_attribution,
    integrated_gradients,
)
from ecglib.schema import FS, VESSELS
from ecglib.signals.waveforms import ST_T, WaveformComparison, compare_waveforms

__all__ = [
    "MAX_ATTRIBUTION_RECORDS",
    "N_STEPS",
    "GROUP_NAMES",
    "PLANTED_WAVES",
    "RowView",
    "waveform_wave_ranking",
    "VesselInterpretation",
    "interpret_vessel",
]

#: At most this many high-risk true positives per vessel are attributed: integrated gradients
#: cost a forward and backward pass per ECG and integration step, which on the CPU is the
#: chapter's cost (``benchmarks/bench_interpret.py`` measures it for a machine).
MAX_ATTRIBUTION_RECORDS = 16
#: Integration points of integrated gradients in the chapter. The chapter reports the
#: completeness error (the sum of the attributions vs the change of the logit) per vessel, so a
#: network that needs more points shows it.
N_STEPS = 16
#: Names of the two groups, in the order of the waveform comparison (A - B).
GROUP_NAMES: tuple[str, str] = ("high risk", "low risk")
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
        rows.append(
            dict(
                wave=wave,
                mean_abs_diff=float(np.abs(cmp.diff[:, a:b]).mean()),
                share_significant=float(cmp.significant[:, a:b].mean()),
                n_samples=b - a,
            )
        )
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
        row = dict(
            vessel=self.vessel,
            threshold=self.threshold,
            high_risk=self.n_high,
            low_risk=self.n_low,
            high_risk_averaged=self.n_high_averaged,
            low_risk_averaged=self.n_low_averaged,
            significant_samples=cmp.n_significant if cmp is not None else np.nan,
            significant_share=cmp.significant.mean() if cmp is not None else np.nan,
            true_positives=self.n_true_positive,
            attributed=self.n_attributed,
            attributed_with_beats=self.attribution.n_included if self.attribution else 0,
        )
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

    def comparison_part(self) -> WaveformComparison | Skipped:
        """The waveform comparison, or why there is none (too few averaged ECGs in a group)."""
        if self.comparison is not None:
            return self.comparison
        return Skipped(
            f"The {self.vessel} waveform comparison",
            f"{self.n_high_averaged} high-risk and {self.n_low_averaged} low-risk "
            "ECGs have an average beat, and the comparison needs at least 2 per group",
        )

    def attribution_part(self) -> BeatAttribution | Skipped:
        """The attribution map, or why there is none."""
        if self.has_attribution:
            return self.attribution
        part = f"The {self.vessel} attribution"
        if self.n_attributed:
            return Skipped(
                part, f"none of the {self.n_attributed} attributed ECGs could be cut into beats"
            )
        if self.n_true_positive:
            return Skipped(
                part,
                f"none of the {self.n_true_positive} high-risk true positives has an average beat",
            )
        return Skipped(
            part,
            "there is no high-risk true positive (high risk and severe "
            "stenosis or occlusion on CCTA)",
        )


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
    """Groups, waveform comparison and attribution of one vessel (module docstring).

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
        notes.append(
            f"no waveform comparison: {len(a_rows)} high-risk and {len(b_rows)} low-risk "
            "ECGs with an average beat (at least 2 per group are needed)"
        )

    true_pos = np.flatnonzero(high & labels)
    # Only ECGs with an average beat can be folded onto beats (the same rules decide both).
    chosen = _sample(np.flatnonzero(high & labels & included), max_records, seed, vessel)
    ig = attribution = None
    if len(chosen):
        parts = []
        for fold in np.unique(folds[chosen]):
            sel = chosen[folds[chosen] == fold]
            parts.append(
                (
                    sel,
                    integrated_gradients(
                        model_for(int(fold)),
                        signals[sel],
                        vessel,
                        n_steps=n_steps,
                        batch_size=batch_size,
                        device=device,
                    ),
                )
            )
        order = np.concatenate([sel for sel, _ in parts])
        pos = np.argsort(order)  # back to the order of `chosen` (ascending rows)
        ig = IGResult(
            attributions=np.concatenate([r.attributions for _, r in parts])[pos],
            delta=np.concatenate([r.delta for _, r in parts])[pos],
            output=np.concatenate([r.output for _, r in parts])[pos],
            baseline_output=np.concatenate([r.baseline_output for _, r in parts])[pos],
            target=VESSELS.index(vessel),
            n_steps=int(n_steps),
        )
        attribution = beat_attribution(
            ig.attributions,
            signals[chosen],
            vessel=vessel,
            fs=fs,
            record_ids=[ids[i] for i in chosen],
            ig=ig,
            delineation=comparison.delineation if comparison is not None else None,
        )
        if attribution.n_included == 0:
            notes.append(
                f"no attribution map: none of the {len(chosen)} attributed ECGs could be "
                "cut into beats"
            )
    elif len(true_pos):
        notes.append(
            f"no attribution: none of the {len(true_pos)} high-risk true positives has an "
            "average beat"
        )
    else:
        notes.append(
            "no attribution: no high-risk true positive (high risk and severe stenosis or "
            "occlusion on CCTA)"
        )
    return VesselInterpretation(
        vessel=vessel,
        threshold=float(threshold),
        n_high=int(high.sum()),
        n_low=int((~high).sum()),
        n_high_averaged=len(a_rows),
        n_low_averaged=len(b_rows),
        n_true_positive=len(true_pos),
        n_attributed=len(chosen),
        comparison=comparison,
        attribution=attribution,
        ig=ig,
        notes=tuple(notes),
    )
