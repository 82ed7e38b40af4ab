"""Integrated-gradients attribution of the model's vessel outputs, folded onto the average beat.

Where in the ECG does the model look when it calls a vessel high-risk? This module answers per
lead and per part of the beat, in three steps.

1. **Integrated gradients** (Sundararajan, Taly & Yan, ICML 2017; ``captum.attr.IntegratedGradients``,
   Kokhlikyan et al. 2020) of one vessel's output, for every sample of every lead of the 10-s
   input (:func:`integrated_gradients`). The attributed output is the vessel's **logit** (the
   model's raw output; the probability is its sigmoid, which saturates and would squash the
   gradients of confident predictions). The path runs from a **baseline of zeros** to the input:
   the model reads lead-wise z-scored ECGs, so zero is each lead's own 10-s mean, a flat line at
   the lead's average level. Attributions are ``(x - 0) x`` the path-averaged gradient, and they
   are *complete*: over the 12 x T samples they sum to ``logit(x) - logit(0)`` up to the
   integration error (Gauss-Legendre quadrature with ``n_steps`` points; the error is reported
   per record as captum's convergence delta). Consequence of this baseline: a sample near the
   lead mean (an isoelectric ST segment, the PR segment) gets little attribution however much
   the model's gradient there is, because it hardly differs from the baseline; a *depressed* ST
   segment or a tall T wave differs and can. Read the maps as "which samples, relative to a flat
   line at the lead mean, moved the logit", not as raw gradients. The model is put in eval mode
   (BatchNorm running statistics, no dropout), so attributions are deterministic; everything
   runs on the CPU unless a device is given, in batches of at most ``batch_size`` path points.

2. **Folding onto the beat** (:func:`fold_beats`, :func:`beat_attribution`). The record's R peaks
   come from :func:`ecglib.signals.beats.ecg_beats`, the same detector, rules and kept beats as the
   average beats of the waveform comparison (ectopic beats and beats that do not fit the window
   are left out; a record that cannot be averaged is excluded with the same reason). The
   attribution time series is cut into the same windows, 0.25 s before to 0.65 s after each R
   peak, and |attribution| (and, separately, the signed attribution) is averaged over the
   record's beats: (12, 450) maps per record.
   Each record's map is divided by the record's mean |attribution| over all 12 x T samples, so
   every record weighs the same and the unit is "times the record's average": 1 means a beat
   sample gets as much attribution as an average sample of that record, 5 five times as much.
   (Beat windows overlap a little at fast heart rates; a sample in two windows counts in both.)

3. **Aggregation** (:class:`BeatAttribution`): the mean over records gives a **lead x time heat
   map** (:meth:`~BeatAttribution.heatmap`: |attribution|, or the signed attribution with
   ``signed=True``, positive where a sample pushed the logit towards high risk). The regions of
   the beat (P wave, PR segment, QRS, ST segment, T wave, after T: :data:`ecglib.signals.waveforms.WAVES`,
   delineated on the grand average beat by :func:`ecglib.signals.waveforms.delineate_beat`, or given,
   e.g. the waveform comparison's own delineation so that both methods share the boundaries)
   give the tidy tables: per lead and region (lead x phase) the mean |attribution| per sample
   and the mean *net* (signed) attribution per sample, both densities so that a long T wave is
   not favoured over a short ST segment for its length, and the region's share of the beat's
   |attribution| (:meth:`~BeatAttribution.phase_table`); regions ranked
   (:meth:`~BeatAttribution.wave_ranking`) and leads ranked within a window
   (:meth:`~BeatAttribution.lead_ranking`, default the ST-T window, as
   :meth:`ecglib.signals.waveforms.WaveformComparison.lead_ranking`).

   *Which measure ranks.* Rankings use the net attribution by default (``by="net"``). By
   completeness the summed signed attribution of a region is that region's contribution to
   ``logit(x) - logit(0)``, i.e. the evidence it gives for the high-risk call. The |attribution|
   (``by="abs"``) also measures the model's mere sensitivity: convolutional networks give the
   large, steep QRS complex big attributions of alternating sign that largely cancel, so by
   |attribution| the QRS often ranks first even where it contributes little net evidence (seen
   on the demo cohort, where the evidence was planted in the ST-T segment).

One module on purpose: integrated gradients, folding the attributions onto the beats and
ranking leads and waves are the steps of one method, and each step's output is the next one's
input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecglib.schema import FS, LEADS, VESSELS
from ecglib.signals.beats import BeatError, beat_time, beat_window, ecg_beats
from ecglib.signals.waveforms import ST_T, WAVES, Delineation, delineate_beat

__all__ = [
    "DEFAULT_N_STEPS",
    "RANK_BY",
    "IGResult",
    "BeatAttribution",
    "integrated_gradients",
    "fold_beats",
    "beat_attribution",
    "vessel_index",
]

#: Integration points of integrated gradients (Gauss-Legendre quadrature, which converges fast
#: along the smooth straight-line path of a small network); check
#: :attr:`IGResult.relative_error` (the completeness error) for the network at hand.
DEFAULT_N_STEPS = 32
#: Path points (inputs of 12 x T samples) evaluated per forward/backward pass.
DEFAULT_BATCH_SIZE = 64
#: Measures that rank leads and regions: the net (signed) or the absolute attribution per sample.
RANK_BY: tuple[str, ...] = ("net", "abs")


def vessel_index(vessel: str | int) -> int:
    """Output index of a vessel name (or an index, checked)."""
    if isinstance(vessel, str):
        if vessel not in VESSELS:
            raise ValueError(f"unknown vessel {vessel!r}; expected one of {VESSELS}")
        return VESSELS.index(vessel)
    index = int(vessel)
    if not 0 <= index < len(VESSELS):
        raise ValueError(f"vessel index must be in 0..{len(VESSELS) - 1}, got {vessel!r}")
    return index


@dataclass(frozen=True, eq=False)
class IGResult:
    """Integrated gradients of a batch of records for one output.

    ``attributions`` (n, 12, T) float32; ``delta`` (n,) captum's convergence delta, i.e.
    ``sum(attributions) - (f(x) - f(baseline))``; ``output`` (n,) f(x) and ``baseline_output``
    (n,) f(baseline), the attributed logit at the input and at the baseline.
    """

    attributions: np.ndarray
    delta: np.ndarray
    output: np.ndarray
    baseline_output: np.ndarray
    target: int
    n_steps: int

    @property
    def relative_error(self) -> np.ndarray:
        """|delta| / |f(x) - f(baseline)| per record (NaN where the difference is 0)."""
        span = np.abs(self.output - self.baseline_output)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(span > 0, np.abs(self.delta) / span, np.nan)


def integrated_gradients(
    model: nn.Module,
    signals: np.ndarray,
    target: str | int,
    *,
    n_steps: int = DEFAULT_N_STEPS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    baseline: np.ndarray | None = None,
    method: str = "gausslegendre",
    device: torch.device | str = "cpu",
) -> IGResult:
    """Integrated gradients of output ``target`` (vessel name or index) for ``signals`` (n, 12, T).

    ``signals`` are the model's inputs (lead-wise z-scored ECGs, e.g. rows of the ECG store; a
    memory map is read one chunk at a time). ``baseline`` defaults to zeros (each lead's mean, see
    the module docstring); another baseline of shape (12, T) or (n, 12, T) may be given.
    ``batch_size`` bounds the path points per forward pass, so memory does not grow with
    ``n_steps``: ``max(1, batch_size // n_steps)`` records are attributed at a time. The model
    is evaluated in eval mode and its mode restored afterwards.
    """
    from captum.attr import IntegratedGradients

    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if signals.ndim != 3 or signals.shape[1] != len(LEADS):
        raise ValueError(f"signals must have shape (n, {len(LEADS)}, T), got {signals.shape}")
    target = vessel_index(target)
    n = signals.shape[0]
    if baseline is not None:
        baseline = np.asarray(baseline, dtype=np.float32)
        if baseline.shape not in (signals.shape[1:], signals.shape):
            raise ValueError(
                f"baseline must have shape {signals.shape[1:]} or {signals.shape}, "
                f"got {baseline.shape}"
            )
    device = torch.device(device)
    chunk = max(1, batch_size // n_steps)
    out = np.empty(signals.shape, dtype=np.float32)
    delta = np.empty(n, dtype=np.float64)
    f_x = np.empty(n, dtype=np.float64)
    f_b = np.empty(n, dtype=np.float64)
    was_training = model.training
    model.eval()
    ig = IntegratedGradients(model)
    try:
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            x = torch.from_numpy(np.ascontiguousarray(signals[start:stop], dtype=np.float32)).to(
                device
            )
            if baseline is None:
                b = torch.zeros_like(x)
            elif baseline.ndim == 2:
                b = torch.from_numpy(np.broadcast_to(baseline, x.shape).copy()).to(device)
            else:
                b = torch.from_numpy(np.ascontiguousarray(baseline[start:stop])).to(device)
            attr, d = ig.attribute(
                x,
                baselines=b,
                target=target,
                n_steps=n_steps,
                method=method,
                internal_batch_size=batch_size,
                return_convergence_delta=True,
            )
            out[start:stop] = attr.detach().cpu().numpy()
            delta[start:stop] = d.detach().cpu().numpy()
            with torch.no_grad():
                f_x[start:stop] = model(x)[:, target].double().cpu().numpy()
                f_b[start:stop] = model(b)[:, target].double().cpu().numpy()
    finally:
        model.train(was_training)
    return IGResult(
        attributions=out,
        delta=delta,
        output=f_x,
        baseline_output=f_b,
        target=target,
        n_steps=int(n_steps),
    )


def fold_beats(series: np.ndarray, r_peaks: np.ndarray, fs: float = FS) -> np.ndarray:
    """Cut a (12, T) time series into beat windows around ``r_peaks``: (n_beats, 12, L).

    Windows run from 0.25 s before to 0.65 s after each R peak (:func:`ecglib.signals.beats.beat_window`);
    peaks whose window does not fit inside the record are dropped.
    """
    x = np.asarray(series)
    if x.ndim != 2:
        raise ValueError(f"series must have shape (leads, T), got {x.shape}")
    before, after = beat_window(fs)
    peaks = np.asarray(r_peaks, dtype=np.int64)
    peaks = peaks[(peaks - before >= 0) & (peaks + after <= x.shape[1])]
    idx = peaks[:, None] + np.arange(-before, after)
    return x[:, idx].transpose(1, 0, 2)


@dataclass(frozen=True, eq=False)
class BeatAttribution:
    """Attributions of a group of records folded onto the beat; see the module docstring.

    Per record (rows in the order given; NaN rows for excluded records): ``abs_beats`` (n, 12, L)
    mean |attribution| over the record's beats divided by the record's mean |attribution|;
    ``signed_beats`` the mean signed attribution over beats, in the same unit; ``beats`` the
    record's average beat (z-scored, PR-referenced, as :func:`ecglib.signals.beats.ecg_beats`).
    ``records``: one row per record (``record``, ``included``, ``reason``, ``detail``,
    ``n_beats``, ``output``, ``baseline_output``, ``delta``, ``total_abs``); ``delineation`` the
    regions of the beat; ``vessel`` the attributed output.
    """

    vessel: str
    abs_beats: np.ndarray
    signed_beats: np.ndarray
    beats: np.ndarray
    records: pd.DataFrame
    delineation: Delineation | None
    fs: float = FS
    leads: tuple[str, ...] = field(default=LEADS)

    @property
    def included(self) -> np.ndarray:
        return self.records["included"].to_numpy(dtype=bool)

    @property
    def n_included(self) -> int:
        return int(self.included.sum())

    @property
    def exclusions(self) -> pd.DataFrame:
        """The records without beats to fold onto, with the reason (:data:`ecglib.signals.beats.REASONS`)."""
        return self.records.loc[~self.included, ["record", "reason", "detail"]].reset_index(
            drop=True
        )

    @property
    def time_s(self) -> np.ndarray:
        return beat_time(self.fs)

    def heatmap(self, signed: bool = False) -> np.ndarray:
        """Lead x time map (12, L): mean over the included records of the per-record maps
        (|attribution| by default; ``signed`` for the signed attribution). NaN without records."""
        maps = self.signed_beats if signed else self.abs_beats
        kept = maps[self.included]
        if kept.shape[0] == 0:
            return np.full(maps.shape[1:], np.nan)
        return kept.mean(axis=0)

    def _require(self) -> tuple[np.ndarray, Delineation]:
        if self.n_included == 0 or self.delineation is None:
            raise ValueError(f"{self.vessel}: no record has beats to fold the attribution onto")
        return self.heatmap(), self.delineation

    def tidy(self) -> pd.DataFrame:
        """Long table, one row per lead and beat sample: lead, time_s, wave, mean_abs, mean_net."""
        heat, d = self._require()
        net = self.heatmap(signed=True)
        n_t = heat.shape[1]
        return pd.DataFrame(
            {
                "lead": np.repeat(self.leads, n_t),
                "time_s": np.tile(self.time_s, len(self.leads)),
                "wave": np.tile(d.labels(), len(self.leads)),
                "mean_abs": heat.ravel(),
                "mean_net": net.ravel(),
            }
        )

    def phase_table(self) -> pd.DataFrame:
        """Per lead and region (lead x phase): ``mean_abs`` the mean |attribution| per sample (the
        density), ``mean_net`` the mean signed attribution per sample (positive: towards high
        risk), ``share`` the region's share of the lead's |attribution| over the beat and
        ``share_total`` of the 12-lead total. Empty regions are left out."""
        heat, d = self._require()
        net = self.heatmap(signed=True)
        total = heat.sum()
        rows = []
        for li, lead in enumerate(self.leads):
            lead_total = heat[li].sum()
            for wave, (a, b) in d.segments().items():
                if b <= a:
                    continue
                rows.append(
                    dict(
                        lead=lead,
                        wave=wave,
                        start_s=float(self.time_s[a]),
                        end_s=float(self.time_s[b - 1]),
                        n_samples=b - a,
                        mean_abs=float(heat[li, a:b].mean()),
                        mean_net=float(net[li, a:b].mean()),
                        share=float(heat[li, a:b].sum() / lead_total) if lead_total > 0 else np.nan,
                        share_total=float(heat[li, a:b].sum() / total) if total > 0 else np.nan,
                    )
                )
        return pd.DataFrame(rows)

    def wave_ranking(self, by: str = "net", leads: Sequence[str] | None = None) -> pd.DataFrame:
        """Regions ranked by mean net (``by="net"``) or |attribution| (``"abs"``) per sample over
        ``leads`` (default all 12); columns rank, wave, mean_net, mean_abs, share (of the
        |attribution| over the beat), n_samples."""
        key = _ranking_key(by)
        heat, d = self._require()
        rows_of = [self.leads.index(v) for v in (self.leads if leads is None else leads)]
        sub, net = heat[rows_of], self.heatmap(signed=True)[rows_of]
        total = sub.sum()
        rows = [
            dict(
                wave=w,
                mean_net=float(net[:, a:b].mean()),
                mean_abs=float(sub[:, a:b].mean()),
                share=float(sub[:, a:b].sum() / total) if total > 0 else np.nan,
                n_samples=b - a,
            )
            for w, (a, b) in d.segments().items()
            if b > a
        ]
        table = pd.DataFrame(rows).sort_values(key, ascending=False, kind="stable")
        table = table.reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        return table

    def lead_ranking(self, waves: Sequence[str] = ST_T, by: str = "net") -> pd.DataFrame:
        """Leads ranked by mean net (``by="net"``) or |attribution| (``"abs"``) per sample over
        ``waves`` (default the ST-T window); columns rank, lead, mean_net, mean_abs."""
        key = _ranking_key(by)
        heat, d = self._require()
        unknown = set(waves) - set(WAVES)
        if unknown:
            raise ValueError(f"unknown wave(s) {sorted(unknown)}; expected some of {WAVES}")
        mask = np.zeros(heat.shape[1], dtype=bool)
        for w in waves:
            a, b = d.segments()[w]
            mask[a:b] = True
        if not mask.any():
            raise ValueError(f"the window {list(waves)} is empty in this delineation")
        net = self.heatmap(signed=True)
        table = pd.DataFrame(
            {
                "lead": self.leads,
                "mean_net": net[:, mask].mean(axis=1),
                "mean_abs": heat[:, mask].mean(axis=1),
            }
        )
        table = table.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        return table


def _ranking_key(by: str) -> str:
    if by not in RANK_BY:
        raise ValueError(f"by must be one of {RANK_BY}, got {by!r}")
    return f"mean_{by}"


def beat_attribution(
    attributions: np.ndarray,
    signals: np.ndarray,
    *,
    vessel: str = "",
    fs: float = FS,
    record_ids: Sequence[str] | None = None,
    delineation: Delineation | None = None,
    ig: IGResult | None = None,
    **beat_kwargs,
) -> BeatAttribution:
    """Fold attributions (n, 12, T) of ``signals`` (n, 12, T) onto their beats; see the module docstring.

    R peaks and kept beats come from :func:`ecglib.signals.beats.ecg_beats` on each signal (``beat_kwargs``
    are passed on); a record it rejects (:class:`~ecglib.signals.beats.BeatError`) is excluded with its
    reason. ``delineation`` defaults to that of the included records' grand average beat. ``ig``
    (the :class:`IGResult` the attributions came from) adds each record's logits and delta to
    the ``records`` table.
    """
    attributions = np.asarray(attributions)
    if attributions.shape != signals.shape or attributions.ndim != 3:
        raise ValueError(
            f"attributions {attributions.shape} and signals {signals.shape} must have "
            "the same (n, 12, T) shape"
        )
    n = attributions.shape[0]
    ids = [str(i) for i in range(n)] if record_ids is None else [str(r) for r in record_ids]
    if len(ids) != n:
        raise ValueError(f"{len(ids)} record_ids for {n} records")
    before, after = beat_window(fs)
    shape = (n, attributions.shape[1], before + after)
    abs_beats = np.full(shape, np.nan)
    signed_beats = np.full(shape, np.nan)
    beats = np.full(shape, np.nan)
    rows = []
    for i in range(n):
        row = dict(
            record=ids[i],
            included=False,
            reason=None,
            detail=None,
            n_beats=0,
            total_abs=float(np.abs(attributions[i]).sum()),
        )
        if ig is not None:
            row.update(
                output=float(ig.output[i]),
                baseline_output=float(ig.baseline_output[i]),
                delta=float(ig.delta[i]),
            )
        try:
            res = ecg_beats(
                np.asarray(signals[i], dtype=np.float64), fs, record_id=ids[i], **beat_kwargs
            )
        except BeatError as exc:
            row.update(reason=exc.reason, detail=exc.detail)
            rows.append(row)
            continue
        a = np.asarray(attributions[i], dtype=np.float64)
        scale = np.abs(a).mean()
        folded = fold_beats(a, res.r_peaks[res.used], fs)
        if scale > 0:
            abs_beats[i] = np.abs(folded).mean(axis=0) / scale
            signed_beats[i] = folded.mean(axis=0) / scale
        else:  # a constant model output: no attribution anywhere
            abs_beats[i] = 0.0
            signed_beats[i] = 0.0
        beats[i] = res.average
        row.update(included=True, n_beats=int(folded.shape[0]))
        rows.append(row)
    columns = ["record", "included", "reason", "detail", "n_beats", "total_abs"] + (
        ["output", "baseline_output", "delta"] if ig is not None else []
    )
    records = pd.DataFrame(rows, columns=columns)
    included = records["included"].to_numpy(dtype=bool)
    if delineation is None and included.any():
        delineation = delineate_beat(beats[included].mean(axis=0), fs)
    return BeatAttribution(
        vessel=str(vessel),
        abs_beats=abs_beats,
        signed_beats=signed_beats,
        beats=beats,
        records=records,
        delineation=delineation,
        fs=float(fs),
    )
