"""R peaks, beats and the average beat of 12-lead ECGs (the interpretability chapter's input).

The study's waveform analysis (Xiao et al., arXiv:2512.05136) detects the R peaks of each ECG, cuts
every beat from 0.25 s before to 0.65 s after its R peak, z-scores per lead and averages. This
module does that for one record (:func:`ecg_beats`) and for a whole cohort (:func:`average_beats`),
and says for every record it cannot average why (the exclusion table), instead of crashing or
returning a silently wrong beat.

Steps for one record (``signal`` of shape (12, T), leads in :data:`~ecglib.schema.LEADS` order)
-------------------------------------------------------------------------------------------------
1. **Signal check.** :func:`ecglib.signals.ecg_check` (non-finite samples, flat or saturated leads).
   A record failing it is excluded with reason ``"signal check"``.
2. **R peaks.** NeuroKit2 (Makowski et al., Behav Res Methods 2021;53:1689):
   ``nk.ecg_clean(method="neurokit")`` (0.5 Hz 5th-order Butterworth high-pass, zero phase, and
   50 Hz power-line smoothing), then the detector of ``nk.ecg_peaks(method="neurokit")``, called
   directly as ``nk.ecg_findpeaks`` (the same peaks without ``ecg_peaks``' per-sample DataFrame,
   which costs 10% of the time): QRS complexes where the smoothed absolute gradient exceeds 1.5
   times its 0.75-s running mean, the R peak being the most prominent local maximum inside each
   QRS, at least 0.3 s apart (at most 200 /min). Detection runs on **lead II**.

   *Reference detector and quality.* An independent detector uses all leads at once
   (:func:`qrs_energy_peaks`: peaks of the summed, per-lead normalised 5-25 Hz QRS-band energy of
   the 8 independent leads; P and T waves carry little energy in that band). A NeuroKit2 peak is
   *confirmed* when a reference QRS lies within 0.1 s of it (a P wave peaks some 0.14 s or more, a
   T wave 0.2 s or more from the QRS, so neither can be confirmed). The *quality* of a lead's
   detection is its beat agreement with the reference, the bSQI of Li, Mark & Clifford (Physiol
   Meas 2008;29:15): matched / (n1 + n2 - matched), ignoring peaks within 0.35 s of the record's
   ends (NeuroKit2 never reports a peak in the first 0.3 s). It is 1 when both agree beat for
   beat; T or P waves detected as R peaks, missed beats or noise detections pull it down (a lead
   whose T waves are as tall as its QRS, detected twice per beat, gives about 0.5).

   *Polarity.* The detection lead is turned so that its dominant QRS deflection is positive
   (negated when, in the median over the reference QRS complexes, the deflection below the lead's
   median exceeds the one above), so that a lead with a deep S wave is detected on its S wave
   instead of on a small r or the T wave. A beat's fiducial point is thus the dominant QRS
   deflection of the detection lead (the R peak of lead II for nearly every record).

   *Fallback rule.* (a) Lead II is used when its quality is at least :data:`MIN_QUALITY` (0.8) and
   its confirmed peaks number at least :data:`MIN_BEATS` with a heart rate within :data:`HR_RANGE`.
   (b) Otherwise NeuroKit2 also runs on the other leads of :data:`DETECTION_LEADS` (V5, I, V2, aVF,
   V6: the leads with the largest QRS in most adults, as in Holter and monitoring practice), and the
   candidate with the highest quality that meets the same conditions is used. (c) If none reaches
   the quality threshold, the candidate that confirms the largest share (at least 0.8) of the
   reference QRS complexes is used (``rescued``): NeuroKit2's adaptive threshold sometimes also
   fires on the P or T waves of slow rhythms, and the confirmation removes exactly those peaks.
   (d) Otherwise the record is excluded (``"poor signal quality"``, or ``"too few beats"``,
   ``"heart rate out of range"``, ``"detection failed"`` when that is what went wrong). In every case
   only confirmed peaks are R peaks. The lead used, its quality and the rescue flag are reported per
   record. On the 393 real CinC records of ``../shared/data`` (Challenge 2020/2021: sinus rhythm,
   atrial fibrillation, bundle branch blocks, ventricular tachycardia, noise): lead II serves 372,
   V5 12, V2 1 and I 1 (one of them rescued); 6 are excluded for zero-filled leads (signal check)
   and 1 for poor quality. On 4,800 demo ECGs lead II serves all but 5 (V5), none excluded.

3. **Heart rate and rhythm.** ``hr = 60 / median(RR)`` of the R peaks (robust to one missed
   beat); ``rr_cv`` = SD / mean of the RR intervals. Records with ``hr`` outside :data:`HR_RANGE`
   (30-200 /min) are excluded (``"heart rate out of range"``). Irregular rhythm (atrial fibrillation) is
   *not* excluded by default: its QRS-T morphology averages meaningfully, only the P wave is absent;
   pass ``max_rr_cv`` (e.g. 0.2) to exclude it (``"irregular rhythm"``).
4. **Baseline wander removal for the beats.** By default (``filter="spline"``) a baseline through
   the isoelectric points of consecutive beats is subtracted from all 12 leads (Meyer & Keiser,
   Comput Biomed Res 1977;10:459, the standard for ST analysis): the knots are the mean of each
   normal beat's isoelectric segment (step 7's rule, found on the record's raw average beat),
   joined by a shape-preserving piecewise cubic (PCHIP). Unlike any high-pass filter it leaves the
   ST segment and T wave untouched: a high-pass also attenuates the heart-rate harmonics of a
   sustained ST offset and so smears part of it into the P wave (on the demo cohort a 0.67 Hz
   zero-phase high-pass moved about 5% of a planted ST depression into the P wave, significantly
   so). ``filter="highpass"`` (zero-phase 2nd-order Butterworth at 0.67 Hz, the AHA/ACC/HRS
   limit for phase-free filters, Kligfield et al., Circulation 2007;115:1306),
   ``filter="ecgfounder"`` (:func:`ecglib.signals.ecg_founder_filter`, the model's optional
   preprocessing, whose 0.4-s running median also lowers broad T waves) and ``filter="none"``
   (the signal as given) are the alternatives.
5. **Z-score per lead over the record**: :func:`ecglib.signals.ecg_zscore` on the filtered 10-s
   signal, i.e. the model's own input normalisation (one mean and SD per lead and record, *not* per
   beat: a per-beat z-score would remove exactly the ST-level and T-amplitude differences the
   chapter looks for).
6. **Beats.** Windows of ``round(0.25 fs) + round(0.65 fs)`` samples (450 at 500 Hz; the R peak at
   index 125) around every R peak; beats that do not fit inside the record are dropped. Beats whose
   detection-lead QRS correlates less than :data:`MIN_BEAT_CORR` (0.5) with the record's median QRS
   are dropped as ectopic or mis-detected (premature ventricular beats would otherwise distort the
   average). Fewer than :data:`MIN_BEATS` (4) remaining beats: excluded, ``"too few beats"``.
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
exclusion table. Programming errors (wrong shapes, wrong arguments) are not caught.
"""
from __future__ import annotations

import collections
import functools
import multiprocessing
import os
import warnings
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

#: The beat window: seconds before and after the R peak (the study's choice).
BEAT_BEFORE_S = 0.25
BEAT_AFTER_S = 0.65
#: Candidate R-peak detection leads, in order of preference (see the module docstring).
DETECTION_LEADS: tuple[str, ...] = ("II", "V5", "I", "V2", "aVF", "V6")
#: NeuroKit2's R-peak method used by default.
PEAK_METHOD = "neurokit"
#: Minimum detection quality (beat agreement, bSQI, with the reference detector) to accept a lead;
#: also the minimum share of reference QRS complexes a rescued lead must confirm.
MIN_QUALITY = 0.8
#: Beats whose QRS correlates less than this with the record's median QRS are dropped.
MIN_BEAT_CORR = 0.5
#: A record needs at least this many usable beats.
MIN_BEATS = 4
#: Plausible heart rates (beats per minute), from the median RR interval.
HR_RANGE: tuple[float, float] = (30.0, 200.0)
#: High-pass corner (Hz) and order of ``filter="highpass"`` (zero phase).
HIGHPASS_HZ = 0.67
HIGHPASS_ORDER = 2
#: Where to look for the isoelectric (PR) segment, seconds relative to the R peak, and its width.
ISOELECTRIC_SEARCH_S: tuple[float, float] = (-0.10, -0.03)
ISOELECTRIC_WIDTH_S = 0.02
#: Half-width (s) of the QRS window used for the beat-to-template correlations.
QRS_HALF_WIDTH_S = 0.1
#: Rows of the 8 independent leads (I, II, V1-V6) in :data:`~ecglib.schema.LEADS`.
INDEPENDENT_LEADS: tuple[int, ...] = tuple(
    LEADS.index(v) for v in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"))
#: The multi-lead QRS-energy reference detector (:func:`qrs_energy_peaks`).
ENERGY_BAND_HZ: tuple[float, float] = (5.0, 25.0)
ENERGY_ORDER = 2
ENERGY_SMOOTH_S = 0.05
ENERGY_HEIGHT = 0.2
MIN_RR_S = 0.3
#: Two detectors' peaks closer than this (s) are the same beat (beat agreement).
MATCH_TOLERANCE_S = 0.1
#: Peaks this close (s) to either end of the record are left out of the beat agreement
#: (NeuroKit2's "neurokit" method never reports a peak within its 0.3-s minimum delay of the start).
EDGE_S = 0.35
#: Beat filters and baseline references that :func:`ecg_beats` knows.
BEAT_FILTERS: tuple[str, ...] = ("spline", "highpass", "ecgfounder", "none")
BASELINES: tuple[str | None, ...] = ("pr", None)

#: Exclusion reasons (the ``reason`` column of the exclusion table), with what each means.
REASONS: dict[str, str] = {
    "signal check": "non-finite samples, or a flat or saturated lead (ecglib.signals.ecg_check)",
    "detection failed": "NeuroKit2 failed on every candidate lead, or the reference found < 2 QRS",
    "poor signal quality": f"no candidate lead agreed with the reference detector (bSQI or recall "
                           f">= {MIN_QUALITY})",
    "heart rate out of range": f"heart rate (median RR) outside {HR_RANGE[0]:g}-{HR_RANGE[1]:g} /min",
    "irregular rhythm": "RR coefficient of variation above max_rr_cv (only when max_rr_cv is set)",
    "too few beats": f"fewer than {MIN_BEATS} beats fit inside the record and match the dominant QRS",
}


class BeatError(SignalError):
    """A record whose beats cannot be averaged; ``reason`` is a key of :data:`REASONS`."""

    def __init__(self, record: str, reason: str, problem: str):
        if reason not in REASONS:
            raise ValueError(f"unknown exclusion reason {reason!r}; expected one of {list(REASONS)}")
        self.reason = reason
        super().__init__(record, f"{reason}: {problem}")
        self.detail = problem


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
# R peaks
# ----------------------------------------------------------------------------------------------

def _nk():
    import neurokit2 as nk  # imported lazily: it takes seconds, and only this module needs it

    return nk


def _qrs_windows(x: np.ndarray, peaks: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """QRS windows (k, 2 half + 1) of a 1-D signal around the peaks that fit, and which fit."""
    fit = (peaks - half >= 0) & (peaks + half < x.shape[-1])
    idx = peaks[fit, None] + np.arange(-half, half + 1)
    return x[idx], fit


def _template_corr(windows: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row with the rows' median (NaN-free: constant rows give 0)."""
    template = np.median(windows, axis=0)
    a = windows - windows.mean(axis=1, keepdims=True)
    b = template - template.mean()
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a @ b) / denom
    return np.where(denom > 0, r, 0.0)


def qrs_energy_peaks(signal: np.ndarray, fs: float = FS) -> np.ndarray:
    """QRS locations of a (12, T) ECG from all leads at once: the independent reference detector.

    The 8 independent leads (I, II, V1-V6; III, aVR, aVL and aVF are combinations of I and II, so
    they would only weight the limb leads threefold) are band-passed to the QRS band (zero-phase
    2nd-order Butterworth, 5-25 Hz: P and T waves and baseline wander lie mostly below it), scaled
    to unit SD (so one noisy lead cannot dominate; a flat lead contributes nothing), squared, summed
    over leads and smoothed over 50 ms.
    QRS complexes are the peaks of this energy at least 0.3 s apart (<= 200 /min, as NeuroKit2's
    minimum delay) and higher than 20% of its 98th percentile. Returns sample indices of the energy
    maxima (near, not exactly at, the R peaks).
    """
    x = np.asarray(signal, dtype=np.float64)[list(INDEPENDENT_LEADS)]
    bp = ss.sosfiltfilt(_sos(ENERGY_ORDER, ENERGY_BAND_HZ, "bandpass", float(fs)), x, axis=-1)
    scale = bp.std(axis=-1, keepdims=True)
    bp = np.divide(bp, scale, out=np.zeros_like(bp), where=scale > 0)
    width = max(int(round(ENERGY_SMOOTH_S * fs)), 1)
    energy = np.convolve((bp * bp).sum(axis=0), np.ones(width) / width, mode="same")
    top = np.percentile(energy, 98)
    if not top > 0:
        return np.array([], dtype=np.int64)
    peaks, _ = ss.find_peaks(energy, distance=max(int(round(MIN_RR_S * fs)), 1),
                             height=ENERGY_HEIGHT * top)
    return peaks.astype(np.int64)


def _match(peaks: np.ndarray, reference: np.ndarray, tolerance: float) -> np.ndarray:
    """Which ``peaks`` have a ``reference`` peak within ``tolerance`` samples (bool array)."""
    if peaks.size == 0 or reference.size == 0:
        return np.zeros(peaks.size, dtype=bool)
    reference = np.sort(reference)
    pos = np.searchsorted(reference, peaks)
    last = reference.size - 1
    nearest = np.minimum(np.abs(reference[np.clip(pos - 1, 0, last)] - peaks),
                         np.abs(reference[np.clip(pos, 0, last)] - peaks))
    return nearest <= tolerance


def beat_agreement(peaks: np.ndarray, reference: np.ndarray, fs: float = FS,
                   tolerance_s: float = MATCH_TOLERANCE_S, *, n_samples: int | None = None,
                   edge_s: float = EDGE_S) -> float:
    """bSQI (Li, Mark & Clifford, Physiol Meas 2008;29:15): ``matched / (n1 + n2 - matched)``.

    A peak is matched when a reference peak lies within ``tolerance_s`` (0.1 s); both detectors
    keep 0.3 s between peaks, so a match is one-to-one. 1 = perfect agreement; T waves detected as R
    peaks (extra peaks) or missed beats pull it down. 0 when either list is empty.

    With ``n_samples`` (the record length), peaks of either list within ``edge_s`` (0.35 s) of the
    record's ends are ignored: NeuroKit2's "neurokit" method never reports a peak in the first
    0.3 s (its minimum delay counts from sample 0), and filter edge effects can hide a beat at
    either end.
    """
    peaks, reference = np.asarray(peaks), np.asarray(reference)
    if n_samples is not None:
        lo, hi = edge_s * fs, n_samples - 1 - edge_s * fs
        peaks = peaks[(peaks >= lo) & (peaks <= hi)]
        reference = reference[(reference >= lo) & (reference <= hi)]
    if peaks.size == 0 or reference.size == 0:
        return 0.0
    matched = int(_match(peaks, reference, tolerance_s * fs).sum())
    return matched / (peaks.size + reference.size - matched)


@dataclass(frozen=True, eq=False)
class _Detection:
    lead: str
    peaks: np.ndarray       # (m,) NeuroKit2's peaks on this lead (sample indices)
    confirmed: np.ndarray   # (m,) bool: a reference QRS lies within the match tolerance
    corr: np.ndarray        # (m,) QRS correlation with the median QRS (NaN where it did not fit)
    quality: float          # bSQI against the 12-lead reference detector
    recall: float           # share of the reference QRS complexes (away from the ends) confirmed
    problem: str | None     # NeuroKit2's failure, None if it ran

    def hr(self, fs: float) -> float:
        """Heart rate (/min) from the median RR of the confirmed peaks; NaN with fewer than 2."""
        p = self.peaks[self.confirmed]
        return 60.0 * fs / float(np.median(np.diff(p))) if p.size >= 2 else float("nan")


def _polarity(clean: np.ndarray, reference: np.ndarray, fs: float) -> float:
    """-1 when the QRS complexes (0.06 s around the reference peaks) of a lead point mainly downwards.

    Upward and downward deflections are measured from the lead's median (its baseline) as the
    median over beats of each window's maximum and minimum.
    """
    half = int(round(0.06 * fs))
    windows, fit = _qrs_windows(clean, reference, half)
    base = np.median(clean)  # the high-passed lead sits at its baseline most of the time
    if not fit.any():
        return -1.0 if base - clean.min() > clean.max() - base else 1.0
    up = np.median(windows.max(axis=1)) - base
    down = base - np.median(windows.min(axis=1))
    return -1.0 if down > up else 1.0


def _detect_on_lead(x: np.ndarray, fs: float, lead: str, reference: np.ndarray, *,
                    method: str) -> _Detection:
    """Run NeuroKit2 on one lead and compare it with the reference; never raises on bad data."""
    nk = _nk()
    empty = np.array([], dtype=np.int64)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=_nk_warning())
            clean = nk.ecg_clean(x, sampling_rate=fs, method="neurokit")
            clean = clean * _polarity(clean, reference, fs)
            # ecg_peaks = ecg_findpeaks + a per-sample DataFrame that is not needed here (1.4 ms).
            info = nk.ecg_findpeaks(clean, sampling_rate=fs, method=method)
    except (ValueError, IndexError, ZeroDivisionError, FloatingPointError) as exc:
        # NeuroKit2 raises these on degenerate input (too short, constant, no QRS found).
        return _Detection(lead, empty, empty.astype(bool), np.array([]), 0.0, 0.0,
                          f"NeuroKit2 failed on {lead} ({type(exc).__name__}: {exc})")
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    tolerance = MATCH_TOLERANCE_S * fs
    confirmed = _match(peaks, reference, tolerance)
    corr = np.full(peaks.size, np.nan)
    windows, fit = _qrs_windows(clean, peaks, int(round(QRS_HALF_WIDTH_S * fs)))
    if fit.sum() >= 2:
        corr[fit] = _template_corr(windows)
    quality = beat_agreement(peaks, reference, fs, n_samples=x.shape[-1])
    lo, hi = EDGE_S * fs, x.shape[-1] - 1 - EDGE_S * fs
    inner = reference[(reference >= lo) & (reference <= hi)]
    recall = float(_match(inner, peaks, tolerance).mean()) if inner.size else 0.0
    return _Detection(lead, peaks, confirmed, corr, quality, recall, None)


def _nk_warning() -> type[Warning]:
    try:
        from neurokit2.misc import NeuroKitWarning
    except ImportError:  # pragma: no cover - older NeuroKit2
        return RuntimeWarning
    return NeuroKitWarning


@dataclass(frozen=True, eq=False)
class RPeaks:
    """Result of :func:`detect_r_peaks`.

    ``peaks`` the confirmed R peaks (sample indices); ``corr`` each one's QRS correlation with the
    record's median QRS on the detection lead (NaN near the ends); ``lead`` the detection lead;
    ``quality`` its beat agreement (bSQI) with the 12-lead reference; ``rescued`` True when no lead
    reached :data:`MIN_QUALITY` and the confirmed peaks of the lead with the best recall were used;
    ``n_reference`` the number of reference QRS complexes.
    """

    peaks: np.ndarray
    corr: np.ndarray
    lead: str
    quality: float
    rescued: bool
    n_reference: int


def detect_r_peaks(
    signal: np.ndarray,
    fs: float = FS,
    *,
    record_id: str = "<unnamed>",
    leads: Sequence[str] = DETECTION_LEADS,
    method: str = PEAK_METHOD,
    min_quality: float = MIN_QUALITY,
    min_beats: int = MIN_BEATS,
    hr_range: tuple[float, float] = HR_RANGE,
) -> RPeaks:
    """R peaks of a (12, T) ECG by the detection and fallback rule of the module docstring.

    Raises :class:`BeatError` naming ``record_id`` (``"detection failed"``, ``"too few beats"``,
    ``"heart rate out of range"`` or ``"poor signal quality"``) when no candidate lead is acceptable.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(LEADS):
        raise ValueError(f"signal must have shape ({len(LEADS)}, T), got {x.shape}")
    unknown = [lead for lead in leads if lead not in LEADS]
    if unknown or not leads:
        raise ValueError(f"unknown detection lead(s) {unknown}; expected some of {LEADS}")
    reference = qrs_energy_peaks(x, fs)
    if reference.size < 2:
        raise BeatError(record_id, "detection failed",
                        f"{reference.size} QRS complex(es) found by the 12-lead reference detector")

    def usable(d: _Detection) -> bool:
        n = int(d.confirmed.sum())
        return n >= max(2, min_beats) and hr_range[0] <= d.hr(fs) <= hr_range[1]

    tried = [_detect_on_lead(x[LEADS.index(leads[0])], fs, leads[0], reference, method=method)]
    if not (usable(tried[0]) and tried[0].quality >= min_quality):
        tried += [_detect_on_lead(x[LEADS.index(lead)], fs, lead, reference, method=method)
                  for lead in leads[1:]]
    names = ", ".join(d.lead for d in tried)
    good = [d for d in tried if usable(d) and d.quality >= min_quality]
    rescue = [d for d in tried if usable(d) and d.recall >= min_quality]
    if good or rescue:
        # max() keeps the first of equals, so lead II wins ties, then the order of `leads`.
        best = max(good, key=lambda d: d.quality) if good else max(rescue, key=lambda d: d.recall)
        keep = best.confirmed
        return RPeaks(peaks=best.peaks[keep], corr=best.corr[keep], lead=best.lead,
                      quality=best.quality, rescued=not good, n_reference=int(reference.size))

    # Nothing usable: name the most specific reason.
    if all(d.problem is not None for d in tried):
        raise BeatError(record_id, "detection failed", "; ".join(d.problem for d in tried))
    ref_hr = 60.0 * fs / float(np.median(np.diff(reference)))
    if not hr_range[0] <= ref_hr <= hr_range[1]:
        raise BeatError(record_id, "heart rate out of range",
                        f"{ref_hr:.0f} /min by the 12-lead reference detector, outside "
                        f"{hr_range[0]:g}-{hr_range[1]:g}")
    if reference.size < min_beats:
        raise BeatError(record_id, "too few beats",
                        f"{reference.size} QRS complexes by the 12-lead reference detector < {min_beats}")
    best = max(tried, key=lambda d: d.quality)
    raise BeatError(record_id, "poor signal quality",
                    f"best beat agreement {best.quality:.2f} on {best.lead} (recall {best.recall:.2f}) "
                    f"< {min_quality:g} (leads tried: {names})")


# ----------------------------------------------------------------------------------------------
# Beats of one record
# ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def _sos(order: int, corner, btype: str, fs: float) -> np.ndarray:
    """Butterworth second-order sections, designed once per setting (design costs ~1 ms)."""
    return ss.butter(order, corner, btype=btype, fs=fs, output="sos")


def filter_for_beats(signal: np.ndarray, fs: float = FS,
                     filter: str = "highpass") -> np.ndarray:  # noqa: A002
    """The signal-wide beat filters of step 4 along the last axis (any leading shape); float64.

    ``"spline"`` needs the R peaks and is done by :func:`spline_baseline` inside :func:`ecg_beats`;
    here it (like ``"none"``) returns a float64 copy.
    """
    if filter not in BEAT_FILTERS:
        raise ValueError(f"filter must be one of {BEAT_FILTERS}, got {filter!r}")
    x = np.asarray(signal, dtype=np.float64)
    if filter == "highpass":
        return ss.sosfiltfilt(_sos(HIGHPASS_ORDER, HIGHPASS_HZ, "highpass", float(fs)), x, axis=-1)
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
    values = x[:, starts[:, None] + np.arange(width)].mean(axis=2)        # (12, k)
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
    slope = np.abs(np.diff(average[..., lo:hi + 1], axis=-1)).sum(axis=-2)  # (hi - lo,)
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

    det = detect_r_peaks(x, fs, record_id=record_id, leads=leads, method=method,
                         min_quality=min_quality, min_beats=min_beats, hr_range=hr_range)
    peaks, corr = det.peaks, det.corr
    rr = np.diff(peaks) / fs
    hr = 60.0 / float(np.median(rr))
    rr_cv = float(rr.std() / rr.mean())
    if max_rr_cv is not None and rr_cv > max_rr_cv:
        raise BeatError(record_id, "irregular rhythm",
                        f"RR coefficient of variation {rr_cv:.2f} > {max_rr_cv:g}")

    before, after = beat_window(fs)
    n_t = x.shape[1]
    fit = (peaks - before >= 0) & (peaks + after <= n_t)
    normal = np.ones(peaks.size, dtype=bool) if min_beat_corr is None else ~(corr < min_beat_corr)
    used = fit & normal  # NaN correlation (QRS window off the record's end) is not a reason
    if used.sum() < min_beats:
        raise BeatError(record_id, "too few beats",
                        f"{int(used.sum())} usable beats (of {peaks.size} R peaks, {int(fit.sum())} "
                        f"fitting the window, {int((fit & ~normal).sum())} of those ectopic) < {min_beats}")
    idx = peaks[used, None] + np.arange(-before, after)            # (n, L)

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

    idx = peaks[used, None] + np.arange(-before, after)            # (n, L)
    beats = z[:, idx].transpose(1, 0, 2)                            # (n, 12, L)
    iso = None
    if baseline == "pr":
        iso = isoelectric_segment(beats.mean(axis=0), fs)
        beats = beats - beats[:, :, iso[0]:iso[1]].mean(axis=2, keepdims=True)
    return BeatResult(beats=beats, r_peaks=peaks, used=used, hr=hr, rr_cv=rr_cv, lead=det.lead,
                      quality=det.quality, rescued=det.rescued, fs=float(fs), isoelectric=iso)


# ----------------------------------------------------------------------------------------------
# Many records
# ----------------------------------------------------------------------------------------------

#: Columns of :attr:`AverageBeats.records`.
RECORD_COLUMNS: tuple[str, ...] = (
    "record", "included", "reason", "detail", "lead", "rescued", "hr", "rr_cv", "quality", "n_peaks",
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
        row: dict[str, Any] = dict(included=False, reason=None, detail=None, lead=None, rescued=False,
                                   hr=np.nan,
                                   rr_cv=np.nan, quality=np.nan, n_peaks=0, n_beats=0)
        try:
            res = ecg_beats(x[i], fs, record_id=options["ids"][i], **options["kwargs"], filter=method,
                            _filtered=filtered[i] if signal_wide and finite[i] else None)
        except BeatError as exc:
            row.update(reason=exc.reason, detail=exc.detail)
        else:
            out[i] = res.average
            row.update(included=True, lead=res.lead, rescued=res.rescued, hr=res.hr, rr_cv=res.rr_cv,
                       quality=res.quality,
                       n_peaks=int(res.r_peaks.size), n_beats=res.n_beats)
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
    unknown = set(kwargs) - {"baseline", "leads", "method", "min_quality", "min_beat_corr",
                             "min_beats", "hr_range", "max_rr_cv"}
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
            yield (np.asarray(signals[s:stop]), fs, dict(ids=ids[s:stop], filter=filter, kwargs=kwargs))

    before, after = beat_window(fs)
    average = np.full((n, len(LEADS), before + after), np.nan, dtype=np.float32)
    rows: list[dict] = []
    bar = _progress(n, progress)
    if n_jobs == 1 or len(starts) <= 1:
        results = map(_worker, tasks())
        executor = None
    else:
        _nk()  # import NeuroKit2 once here, so forked workers inherit it
        fork = "fork" in multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if fork else None)
        executor = ProcessPoolExecutor(max_workers=min(n_jobs, len(starts)), mp_context=ctx)
        results = _bounded_map(executor, tasks(), 2 * n_jobs)
    try:
        for s, (avg, info) in zip(starts, results):
            average[s:s + len(avg)] = avg
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
    excl_cols = ["record"] + (["record_id"] if record_ids is not None else []) + ["reason", "detail"]
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
