"""Beats and the average beat of 12-lead ECGs (the interpretability chapter's input).

The study's waveform analysis (Xiao et al., arXiv:2512.05136) detects the R peaks of each ECG, cuts
every beat from 0.25 s before to 0.65 s after its R peak, z-scores per lead and averages. This
module does that for one record (:func:`ecg_beats`) and for a whole cohort (:func:`average_beats`),
and says for every record it cannot average why (the exclusion table), instead of crashing or
returning a silently wrong beat. The R peaks come from :mod:`ecglib.signals.rpeaks`.

Steps for one record (``signal`` of shape (12, T), leads in :data:`~ecglib.schema.LEADS` order)
-------------------------------------------------------------------------------------------------
1. **Signal check.** :func:`ecglib.signals.ecg_check` (non-finite samples, flat or saturated leads).
   A record failing it is excluded with reason ``"signal check"``.
2. **R peaks.** :func:`ecglib.signals.rpeaks.detect_r_peaks`: NeuroKit2 on lead II, each peak
   confirmed by an independent 12-lead QRS-energy detector, other leads tried when lead II's
   detection disagrees with that reference (the module's docstring gives the rule). A record
   without an acceptable lead is excluded (``"poor signal quality"``, ``"too few beats"``,
   ``"heart rate out of range"`` or ``"detection failed"``).
3. **Heart rate and rhythm.** ``hr = 60 / median(RR)`` of the R peaks (robust to one missed
   beat); ``rr_cv`` = SD / mean of the RR intervals. Records with ``hr`` outside
   :data:`~ecglib.signals.rpeaks.HR_RANGE` (30-200 /min) are excluded (``"heart rate out of
   range"``). Irregular rhythm (atrial fibrillation) is *not* excluded by default: its QRS-T
   morphology averages meaningfully, only the P wave is absent; pass ``max_rr_cv`` (e.g. 0.2) to
   exclude it (``"irregular rhythm"``).
4. **Baseline wander removal for the beats.** By default (``filter="spline"``) a baseline through
   the isoelectric points of consecutive beats is subtracted from all 12 leads (Meyer & Keiser,
   Comput Biomed Res 1977;10:459, the standard for ST analysis): the knots are the mean of each
   normal beat's isoelectric segment (step 7's rule, found on the record's raw average beat),
   joined by a shape-preserving piecewise cubic (PCHIP). Unlike any high-pass filter it leaves the
   ST segment and T wave untouched: a high-pass also attenuates the heart-rate harmonics of a
   sustained ST offset and so smears part of it into the P wave. ``filter="highpass"``
   (zero-phase 2nd-order Butterworth at 0.67 Hz, the AHA/ACC/HRS limit for phase-free filters,
   Kligfield et al., Circulation 2007;115:1306), ``filter="ecgfounder"``
   (:func:`ecglib.signals.ecg_founder_filter`, the model's optional preprocessing, whose 0.4-s
   running median also lowers broad T waves) and ``filter="none"`` (the signal as given) are the
   alternatives.
5. **Z-score per lead over the record**: :func:`ecglib.signals.ecg_zscore` on the filtered 10-s
   signal, i.e. the model's own input normalisation (one mean and SD per lead and record, *not* per
   beat: a per-beat z-score would remove exactly the ST-level and T-amplitude differences the
   chapter looks for).
6. **Beats.** Windows of ``round(0.25 fs) + round(0.65 fs)`` samples (450 at 500 Hz; the R peak at
   index 125) around every R peak; beats that do not fit inside the record are dropped. Beats whose
   detection-lead QRS correlates less than :data:`MIN_BEAT_CORR` (0.5) with the record's median QRS
   are dropped as ectopic or mis-detected (premature ventricular beats would otherwise distort the
   average). Fewer than :data:`~ecglib.signals.rpeaks.MIN_BEATS` (4) remaining beats: excluded,
   ``"too few beats"``.
7. **Isoelectric reference** (``baseline="pr"``, default). Z-scoring centres each lead on its
   10-s mean, which is not the isoelectric line: an ST depression also lowers the mean and so would
   appear, mirrored, in the P wave and PR segment. Each beat is therefore referenced to the PR
   segment, the ECG's isoelectric line: the flattest 20 ms (smallest summed absolute slope over the
   12 leads of the record's average beat) between 100 and 30 ms before the R peak; each beat's own
   mean over that segment is subtracted per lead (this also removes residual beat-to-beat wander).
   ``baseline=None`` keeps the plain z-score of the study.

The average beat is the mean of the kept beats (12 x 450), in units of the record's lead SD.

Failures of the signal, of NeuroKit2 (``ValueError``/``IndexError`` on degenerate input) and of the
rules above raise :class:`BeatError` from :func:`ecg_beats`, naming the record, with a short
``reason`` category from :data:`REASONS`; :func:`average_beats` turns exactly these into rows of its
exclusion table. Programming errors (wrong shapes, wrong arguments) are not caught. ``REASONS`` and
``BeatError`` are defined in :mod:`ecglib.signals.rpeaks` (whose detector raises most of them) and
are part of this module's API too.

One module on purpose: steps 3-7 are one pipeline on one record (:func:`ecg_beats`), and
:func:`average_beats` is only its driver over a cohort (chunks, worker processes, the exclusion
table built from :class:`BeatError`), passing the same options through.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import signal as ss

from ecglib.errors import SignalError
from ecglib.schema import FS, LEADS
from ecglib.signals import ecg_check, ecg_founder_filter, ecg_zscore
from ecglib.signals.preprocess import butter_sos
from ecglib.signals.rpeaks import (
    DETECTION_LEADS,
    HR_RANGE,
    MIN_BEATS,
    MIN_QUALITY,
    PEAK_METHOD,
    REASONS,
    BeatError,
    detect_r_peaks,
    load_neurokit,
)

__all__ = [
    "REASONS",
    "BeatError",
    "BeatResult",
    "AverageBeats",
    "ecg_beats",
    "average_beats",
    "beat_window",
    "beat_time",
    "filter_for_beats",
    "spline_baseline",
    "isoelectric_segment",
    "BEAT_FILTERS",
    "BASELINES",
    "RECORD_COLUMNS",
]

#: The beat window: seconds before and after the R peak (the study's choice).
BEAT_BEFORE_S = 0.25
BEAT_AFTER_S = 0.65
#: Beats whose QRS correlates less than this with the record's median QRS are dropped.
MIN_BEAT_CORR = 0.5
#: High-pass corner (Hz) and order of ``filter="highpass"`` (zero phase).
HIGHPASS_HZ = 0.67
HIGHPASS_ORDER = 2
#: Where to look for the isoelectric (PR) segment, seconds relative to the R peak, and its width.
ISOELECTRIC_SEARCH_S: tuple[float, float] = (-0.10, -0.03)
ISOELECTRIC_WIDTH_S = 0.02
#: Beat filters and baseline references that :func:`ecg_beats` knows.
BEAT_FILTERS: tuple[str, ...] = ("spline", "highpass", "ecgfounder", "none")
BASELINES: tuple[str | None, ...] = ("pr", None)


def beat_window(fs: float = FS) -> tuple[int, int]:
    """Samples before and after the R peak: ``(round(0.25 fs), round(0.65 fs))``; (125, 325) at 500 Hz.

    A beat is ``before + after`` samples long and its R peak sits at index ``before``.
    """
    return int(round(BEAT_BEFORE_S * fs)), int(round(BEAT_AFTER_S * fs))


def beat_time(fs: float = FS) -> np.ndarray:
    """Time of each beat sample relative to the R peak, in seconds (shape (450,) at 500 Hz)."""
    before, after = beat_window(fs)
    return (np.arange(before + after) - before) / fs


@dataclass(frozen=True, eq=False)
class BeatResult:
    """The beats of one record.

    ``beats`` (n, 12, L) float64: the kept beats, z-scored per lead over the record and (by default)
    referenced to the PR segment; ``r_peaks`` (m,) every R peak detected (sample indices);
    ``used`` (m,) bool, which of them gave a beat in ``beats``; ``hr`` heart rate (/min, from the
    median RR); ``rr_cv`` RR coefficient of variation; ``lead`` the detection lead; ``quality`` its
    detection quality; ``isoelectric`` the (start, stop) beat samples of the PR reference segment
    (None without referencing).
    """

    beats: np.ndarray
    r_peaks: np.ndarray
    used: np.ndarray
    hr: float
    rr_cv: float
    lead: str
    quality: float
    rescued: bool = False
    fs: float = FS
    isoelectric: tuple[int, int] | None = None

    @property
    def average(self) -> np.ndarray:
        """The record's average beat, (12, L)."""
        return self.beats.mean(axis=0)

    @property
    def n_beats(self) -> int:
        return int(self.beats.shape[0])


# ----------------------------------------------------------------------------------------------
# Beats of one record
# ----------------------------------------------------------------------------------------------


def filter_for_beats(signal: np.ndarray, fs: float = FS, filter: str = "highpass") -> np.ndarray:  # noqa: A002
    """The signal-wide beat filters of step 4 along the last axis (any leading shape); float64.

    ``"spline"`` needs the R peaks and is done by :func:`spline_baseline` inside :func:`ecg_beats`;
    here it (like ``"none"``) returns a float64 copy.
    """
    if filter not in BEAT_FILTERS:
        raise ValueError(f"filter must be one of {BEAT_FILTERS}, got {filter!r}")
    x = np.asarray(signal, dtype=np.float64)
    if filter == "highpass":
        return ss.sosfiltfilt(
            butter_sos(HIGHPASS_ORDER, HIGHPASS_HZ, "highpass", float(fs)), x, axis=-1
        )
    if filter == "ecgfounder":
        return ecg_founder_filter(x, fs)
    return x.copy()


def spline_baseline(signal: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Baseline (12, T) through the isoelectric knots of every beat (Meyer & Keiser 1977).

    ``starts`` are the first samples of each beat's isoelectric (PR) segment, ``width`` its length.
    Each knot's value is the mean of the segment per lead, placed at the segment's centre; the
    baseline interpolates the knots with a shape-preserving piecewise cubic
    (``scipy.interpolate.PchipInterpolator``, which cannot overshoot between knots) and is held at
    the first / last knot's value outside them (one knot: a constant).
    """
    from scipy.interpolate import PchipInterpolator

    x = np.asarray(signal, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    values = x[:, starts[:, None] + np.arange(width)].mean(axis=2)  # (12, k)
    if starts.size == 1:
        return np.repeat(values, x.shape[1], axis=1)
    centres = starts + (width - 1) / 2.0
    t = np.clip(np.arange(x.shape[1], dtype=np.float64), centres[0], centres[-1])
    return PchipInterpolator(centres, values, axis=1)(t)


def isoelectric_segment(average: np.ndarray, fs: float = FS) -> tuple[int, int]:
    """Beat samples ``(start, stop)`` of the flattest 20 ms between 100 and 30 ms before the R peak.

    Flatness is the summed absolute first difference over all leads of ``average`` (12, L), averaged
    over the 20-ms segment; the first of equally flat segments wins.
    """
    before, _ = beat_window(fs)
    width = max(int(round(ISOELECTRIC_WIDTH_S * fs)), 1)
    lo = before + int(round(ISOELECTRIC_SEARCH_S[0] * fs))
    hi = before + int(round(ISOELECTRIC_SEARCH_S[1] * fs))
    slope = np.abs(np.diff(average[..., lo : hi + 1], axis=-1)).sum(axis=-2)  # (hi - lo,)
    flat = np.convolve(slope, np.ones(width), mode="valid")  # segment of `width` samples each
    start = lo + int(np.argmin(flat))
    return start, start + width


def ecg_beats(
    signal: np.ndarray,
    fs: float = FS,
    *,
    record_id: str = "<unnamed>",
    filter: str = "spline",  # noqa: A002
    baseline: str | None = "pr",
    leads: Sequence[str] = DETECTION_LEADS,
    method: str = PEAK_METHOD,
    min_quality: float = MIN_QUALITY,
    min_beat_corr: float | None = MIN_BEAT_CORR,
    min_beats: int = MIN_BEATS,
    hr_range: tuple[float, float] = HR_RANGE,
    max_rr_cv: float | None = None,
    _filtered: np.ndarray | None = None,
) -> BeatResult:
    """R peaks, beats and the average beat of one (12, T) ECG; see the module docstring.

    Raises :class:`BeatError` (a :class:`~ecglib.errors.SignalError`) naming ``record_id`` with a
    ``reason`` from :data:`REASONS` when the record cannot be averaged.
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if filter not in BEAT_FILTERS:
        raise ValueError(f"filter must be one of {BEAT_FILTERS}, got {filter!r}")
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(LEADS):
        raise ValueError(f"signal must have shape ({len(LEADS)}, T), got {x.shape}")
    try:
        ecg_check(x, fs, record_id)
    except SignalError as exc:
        raise BeatError(record_id, "signal check", exc.problem) from exc

    det = detect_r_peaks(
        x,
        fs,
        record_id=record_id,
        leads=leads,
        method=method,
        min_quality=min_quality,
        min_beats=min_beats,
        hr_range=hr_range,
    )
    peaks, corr = det.peaks, det.corr
    rr = np.diff(peaks) / fs
    hr = 60.0 / float(np.median(rr))
    rr_cv = float(rr.std() / rr.mean())
    if max_rr_cv is not None and rr_cv > max_rr_cv:
        raise BeatError(
            record_id,
            "irregular rhythm",
            f"RR coefficient of variation {rr_cv:.2f} > {max_rr_cv:g}",
        )

    before, after = beat_window(fs)
    n_t = x.shape[1]
    fit = (peaks - before >= 0) & (peaks + after <= n_t)
    normal = np.ones(peaks.size, dtype=bool) if min_beat_corr is None else ~(corr < min_beat_corr)
    used = fit & normal  # NaN correlation (QRS window off the record's end) is not a reason
    if used.sum() < min_beats:
        raise BeatError(
            record_id,
            "too few beats",
            f"{int(used.sum())} usable beats (of {peaks.size} R peaks, {int(fit.sum())} "
            f"fitting the window, {int((fit & ~normal).sum())} of those ectopic) < {min_beats}",
        )
    idx = peaks[used, None] + np.arange(-before, after)  # (n, L)

    if filter == "spline":
        # Knots at the isoelectric segment of every normal beat, located on the raw average beat
        # (each beat centred first, so that wander does not pick the segment).
        raw = x[:, idx]
        iso_raw = isoelectric_segment((raw - raw.mean(axis=2, keepdims=True)).mean(axis=1), fs)
        width = iso_raw[1] - iso_raw[0]
        starts = peaks[normal] + (iso_raw[0] - before)
        starts = starts[(starts >= 0) & (starts + width <= n_t)]
        filtered = x - spline_baseline(x, starts, width)
    else:
        filtered = filter_for_beats(x, fs, filter) if _filtered is None else _filtered
    try:
        z = ecg_zscore(filtered, record_id=record_id)
    except SignalError as exc:
        raise BeatError(record_id, "signal check", exc.problem) from exc

    beats = z[:, idx].transpose(1, 0, 2)  # (n, 12, L)
    iso = None
    if baseline == "pr":
        iso = isoelectric_segment(beats.mean(axis=0), fs)
        beats = beats - beats[:, :, iso[0] : iso[1]].mean(axis=2, keepdims=True)
    return BeatResult(
        beats=beats,
        r_peaks=peaks,
        used=used,
        hr=hr,
        rr_cv=rr_cv,
        lead=det.lead,
        quality=det.quality,
        rescued=det.rescued,
        fs=float(fs),
        isoelectric=iso,
    )


# ----------------------------------------------------------------------------------------------
# Many records
# ----------------------------------------------------------------------------------------------

#: Columns of :attr:`AverageBeats.records`.
RECORD_COLUMNS: tuple[str, ...] = (
    "record",
    "included",
    "reason",
    "detail",
    "lead",
    "rescued",
    "hr",
    "rr_cv",
    "quality",
    "n_peaks",
    "n_beats",
)


@dataclass(frozen=True, eq=False)
class AverageBeats:
    """Result of :func:`average_beats`; unpacks as ``average, exclusions = average_beats(...)``.

    ``average`` (N, 12, L) float32, NaN rows for excluded records; ``exclusions`` one row per
    excluded record (``record`` position, ``record_id`` when ids were given, ``reason`` from
    :data:`REASONS`, ``detail``); ``records`` one row per record with the columns of
    :data:`RECORD_COLUMNS` (detection lead, heart rate, RR variability, quality, beats used).
    """

    average: np.ndarray
    exclusions: pd.DataFrame
    records: pd.DataFrame

    def __iter__(self) -> Iterator[Any]:
        return iter((self.average, self.exclusions))

    @property
    def included(self) -> np.ndarray:
        """Boolean mask of the records that have an average beat."""
        return self.records["included"].to_numpy(dtype=bool)


def _chunk_beats(signals: np.ndarray, fs: float, options: dict) -> tuple[np.ndarray, list[dict]]:
    """Average beats and per-record info of a chunk (n, 12, T); the unit of parallel work."""
    before, after = beat_window(fs)
    x = np.asarray(signals, dtype=np.float64)
    out = np.full((x.shape[0], len(LEADS), before + after), np.nan, dtype=np.float32)
    method = options["filter"]
    finite = np.isfinite(x).all(axis=(1, 2))
    signal_wide = method in ("highpass", "ecgfounder")
    filtered = np.zeros_like(x) if signal_wide else None
    if signal_wide and finite.any():  # one vectorised call for the chunk (NaN would spread in it)
        filtered[finite] = filter_for_beats(x[finite], fs, method)
    info = []
    for i in range(x.shape[0]):
        row: dict[str, Any] = dict(
            included=False,
            reason=None,
            detail=None,
            lead=None,
            rescued=False,
            hr=np.nan,
            rr_cv=np.nan,
            quality=np.nan,
            n_peaks=0,
            n_beats=0,
        )
        try:
            res = ecg_beats(
                x[i],
                fs,
                record_id=options["ids"][i],
                **options["kwargs"],
                filter=method,
                _filtered=filtered[i] if signal_wide and finite[i] else None,
            )
        except BeatError as exc:
            row.update(reason=exc.reason, detail=exc.detail)
        else:
            out[i] = res.average
            row.update(
                included=True,
                lead=res.lead,
                rescued=res.rescued,
                hr=res.hr,
                rr_cv=res.rr_cv,
                quality=res.quality,
                n_peaks=int(res.r_peaks.size),
                n_beats=res.n_beats,
            )
        info.append(row)
    return out, info


def _worker(args: tuple) -> tuple[np.ndarray, list[dict]]:
    return _chunk_beats(*args)


def average_beats(
    signals: np.ndarray,
    fs: float = FS,
    *,
    progress: bool = True,
    n_jobs: int = 1,
    chunk_size: int = 64,
    record_ids: Sequence[str] | None = None,
    filter: str = "spline",  # noqa: A002
    **kwargs: Any,
) -> AverageBeats:
    """The average beat of every record of ``signals`` (N, 12, T), and why the others have none.

    ``kwargs`` are passed to :func:`ecg_beats` (``baseline``, ``min_beats``, ``max_rr_cv``, ...).
    ``n_jobs`` worker processes (``-1``: all CPUs; 1: in this process) each take chunks of
    ``chunk_size`` records; the result does not depend on either. ``signals`` may be a memory-mapped
    array: only one chunk per worker is read at a time. ``record_ids`` (default: the positions)
    name records in the ``detail`` messages and add a ``record_id`` column to the exclusions.

    Returns an :class:`AverageBeats` that unpacks as ``(average, exclusions)``: ``average`` float32
    (N, 12, L) with NaN rows for excluded records; ``exclusions`` a DataFrame with one row per
    excluded record (``record``, [``record_id``], ``reason``, ``detail``), so that
    ``exclusions.reason.value_counts()`` is the chapter's exclusion count.
    """
    if signals.ndim != 3 or signals.shape[1] != len(LEADS):
        raise ValueError(f"signals must have shape (N, {len(LEADS)}, T), got {signals.shape}")
    n = signals.shape[0]
    ids = [str(i) for i in range(n)] if record_ids is None else [str(r) for r in record_ids]
    if len(ids) != n:
        raise ValueError(f"{len(ids)} record_ids for {n} records")
    if filter not in BEAT_FILTERS:
        raise ValueError(f"filter must be one of {BEAT_FILTERS}, got {filter!r}")
    unknown = set(kwargs) - {
        "baseline",
        "leads",
        "method",
        "min_quality",
        "min_beat_corr",
        "min_beats",
        "hr_range",
        "max_rr_cv",
    }
    if unknown:
        raise TypeError(f"unknown ecg_beats option(s): {sorted(unknown)}")
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1, got {n_jobs}")
    starts = range(0, n, chunk_size)

    def tasks():
        for s in starts:
            stop = min(s + chunk_size, n)
            yield (
                np.asarray(signals[s:stop]),
                fs,
                dict(ids=ids[s:stop], filter=filter, kwargs=kwargs),
            )

    before, after = beat_window(fs)
    average = np.full((n, len(LEADS), before + after), np.nan, dtype=np.float32)
    rows: list[dict] = []
    bar = _progress(n, progress)
    if n_jobs == 1 or len(starts) <= 1:
        results = map(_worker, tasks())
        executor = None
    else:
        load_neurokit()  # import NeuroKit2 once here, so forked workers inherit it
        fork = "fork" in multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if fork else None)
        executor = ProcessPoolExecutor(max_workers=min(n_jobs, len(starts)), mp_context=ctx)
        results = _bounded_map(executor, tasks(), 2 * n_jobs)
    try:
        for s, (avg, info) in zip(starts, results):
            average[s : s + len(avg)] = avg
            rows += info
            if bar is not None:
                bar.update(len(avg))
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
    records = pd.DataFrame(rows)
    records.insert(0, "record", np.arange(n))
    if record_ids is not None:
        records.insert(1, "record_id", ids)
    excl_cols = (
        ["record"] + (["record_id"] if record_ids is not None else []) + ["reason", "detail"]
    )
    exclusions = records.loc[~records["included"], excl_cols].reset_index(drop=True)
    return AverageBeats(average=average, exclusions=exclusions, records=records)


def _bounded_map(executor: ProcessPoolExecutor, tasks: Iterator[tuple], in_flight: int) -> Iterator:
    """Like ``executor.map`` (results in order) but with at most ``in_flight`` chunks submitted at
    once, so that a memory-mapped cohort is never read into memory all at once."""
    pending: collections.deque = collections.deque()
    for task in tasks:
        pending.append(executor.submit(_worker, task))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="average beats", unit="ECG")
