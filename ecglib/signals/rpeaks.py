"""R peaks of a 12-lead ECG, confirmed by an independent multi-lead detector.

The first half of the waveform analysis of the interpretability chapter: :func:`detect_r_peaks`
finds the R peaks that :func:`ecglib.signals.beats.ecg_beats` cuts its beats around (the beats,
their filtering, z-scoring and averaging are :mod:`ecglib.signals.beats`).

Detector
--------
NeuroKit2 (Makowski et al., Behav Res Methods 2021;53:1689): ``nk.ecg_clean(method="neurokit")``
(0.5 Hz 5th-order Butterworth high-pass, zero phase, and 50 Hz power-line smoothing), then the
detector of ``nk.ecg_peaks(method="neurokit")``, called directly as ``nk.ecg_findpeaks`` (the same
peaks without ``ecg_peaks``' per-sample DataFrame): QRS complexes where the smoothed absolute
gradient exceeds 1.5 times its 0.75-s running mean, the R peak being the most prominent local
maximum inside each QRS, at least 0.3 s apart (at most 200 /min). Detection runs on **lead II**.

*Reference detector and quality.* An independent detector uses all leads at once
(:func:`qrs_energy_peaks`: peaks of the summed, per-lead normalised 5-25 Hz QRS-band energy of the
8 independent leads; P and T waves carry little energy in that band). A NeuroKit2 peak is
*confirmed* when a reference QRS lies within 0.1 s of it (a P wave peaks some 0.14 s or more, a T
wave 0.2 s or more from the QRS, so neither can be confirmed). The *quality* of a lead's detection
is its beat agreement with the reference, the bSQI of Li, Mark & Clifford (Physiol Meas
2008;29:15): matched / (n1 + n2 - matched), ignoring peaks within 0.35 s of the record's ends
(NeuroKit2 never reports a peak in the first 0.3 s). It is 1 when both agree beat for beat; T or
P waves detected as R peaks, missed beats or noise detections pull it down (a lead whose T waves
are as tall as its QRS, detected twice per beat, gives about 0.5).

*Polarity.* The detection lead is turned so that its dominant QRS deflection is positive (negated
when, in the median over the reference QRS complexes, the deflection below the lead's median
exceeds the one above), so that a lead with a deep S wave is detected on its S wave instead of on
a small r or the T wave. A beat's fiducial point is thus the dominant QRS deflection of the
detection lead (the R peak of lead II for nearly every record).

*Fallback rule.* (a) Lead II is used when its quality is at least :data:`MIN_QUALITY` (0.8) and its
confirmed peaks number at least :data:`MIN_BEATS` with a heart rate within :data:`HR_RANGE`.
(b) Otherwise NeuroKit2 also runs on the other leads of :data:`DETECTION_LEADS` (V5, I, V2, aVF,
V6: the leads with the largest QRS in most adults, as in Holter and monitoring practice), and the
candidate with the highest quality that meets the same conditions is used. (c) If none reaches the
quality threshold, the candidate that confirms the largest share (at least 0.8) of the reference
QRS complexes is used (``rescued``): NeuroKit2's adaptive threshold sometimes also fires on the P
or T waves of slow rhythms, and the confirmation removes exactly those peaks. (d) Otherwise the
record is excluded (``"poor signal quality"``, or ``"too few beats"``, ``"heart rate out of
range"``, ``"detection failed"`` when that is what went wrong). In every case only confirmed peaks
are R peaks. The lead used, its quality and the rescue flag are reported per record.

Exclusions
----------
:data:`REASONS` and :class:`BeatError` are the vocabulary of the whole beat pipeline (the
``reason`` column of :func:`ecglib.signals.beats.average_beats`' exclusion table). They are
defined here, with the detector that raises most of them, and :mod:`ecglib.signals.beats`
re-exports both. NeuroKit2's failures on degenerate input (``ValueError``/``IndexError``) become a
``"detection failed"`` exclusion; programming errors (wrong shapes, unknown leads) are not caught.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal as ss

from ecglib.errors import SignalError
from ecglib.schema import FS, LEADS
from ecglib.signals.preprocess import butter_sos

__all__ = [
    "REASONS",
    "BeatError",
    "RPeaks",
    "detect_r_peaks",
    "qrs_energy_peaks",
    "beat_agreement",
    "load_neurokit",
    "DETECTION_LEADS",
    "PEAK_METHOD",
    "MIN_QUALITY",
    "MIN_BEATS",
    "HR_RANGE",
]

#: Candidate R-peak detection leads, in order of preference (see the module docstring).
DETECTION_LEADS: tuple[str, ...] = ("II", "V5", "I", "V2", "aVF", "V6")
#: NeuroKit2's R-peak method used by default.
PEAK_METHOD = "neurokit"
#: Minimum detection quality (beat agreement, bSQI, with the reference detector) to accept a lead;
#: also the minimum share of reference QRS complexes a rescued lead must confirm.
MIN_QUALITY = 0.8
#: A record needs at least this many usable beats.
MIN_BEATS = 4
#: Plausible heart rates (beats per minute), from the median RR interval.
HR_RANGE: tuple[float, float] = (30.0, 200.0)
#: Half-width (s) of the QRS window used for the beat-to-template correlations.
QRS_HALF_WIDTH_S = 0.1
#: Rows of the 8 independent leads (I, II, V1-V6) in :data:`~ecglib.schema.LEADS`.
INDEPENDENT_LEADS: tuple[int, ...] = tuple(
    LEADS.index(v) for v in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
)
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
            raise ValueError(
                f"unknown exclusion reason {reason!r}; expected one of {list(REASONS)}"
            )
        self.reason = reason
        super().__init__(record, f"{reason}: {problem}")
        self.detail = problem


def load_neurokit():
    """NeuroKit2, imported on first use: the import is slow and only the R-peak detector needs it."""
    import neurokit2 as nk

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
    bp = ss.sosfiltfilt(butter_sos(ENERGY_ORDER, ENERGY_BAND_HZ, "bandpass", float(fs)), x, axis=-1)
    scale = bp.std(axis=-1, keepdims=True)
    bp = np.divide(bp, scale, out=np.zeros_like(bp), where=scale > 0)
    width = max(int(round(ENERGY_SMOOTH_S * fs)), 1)
    energy = np.convolve((bp * bp).sum(axis=0), np.ones(width) / width, mode="same")
    top = np.percentile(energy, 98)
    if not top > 0:
        return np.array([], dtype=np.int64)
    peaks, _ = ss.find_peaks(
        energy, distance=max(int(round(MIN_RR_S * fs)), 1), height=ENERGY_HEIGHT * top
    )
    return peaks.astype(np.int64)


def _match(peaks: np.ndarray, reference: np.ndarray, tolerance: float) -> np.ndarray:
    """Which ``peaks`` have a ``reference`` peak within ``tolerance`` samples (bool array)."""
    if peaks.size == 0 or reference.size == 0:
        return np.zeros(peaks.size, dtype=bool)
    reference = np.sort(reference)
    pos = np.searchsorted(reference, peaks)
    last = reference.size - 1
    nearest = np.minimum(
        np.abs(reference[np.clip(pos - 1, 0, last)] - peaks),
        np.abs(reference[np.clip(pos, 0, last)] - peaks),
    )
    return nearest <= tolerance


def beat_agreement(
    peaks: np.ndarray,
    reference: np.ndarray,
    fs: float = FS,
    tolerance_s: float = MATCH_TOLERANCE_S,
    *,
    n_samples: int | None = None,
    edge_s: float = EDGE_S,
) -> float:
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
    peaks: np.ndarray  # (m,) NeuroKit2's peaks on this lead (sample indices)
    confirmed: np.ndarray  # (m,) bool: a reference QRS lies within the match tolerance
    corr: np.ndarray  # (m,) QRS correlation with the median QRS (NaN where it did not fit)
    quality: float  # bSQI against the 12-lead reference detector
    recall: float  # share of the reference QRS complexes (away from the ends) confirmed
    problem: str | None  # NeuroKit2's failure, None if it ran

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


def _detect_on_lead(
    x: np.ndarray, fs: float, lead: str, reference: np.ndarray, *, method: str
) -> _Detection:
    """Run NeuroKit2 on one lead and compare it with the reference; never raises on bad data."""
    nk = load_neurokit()
    empty = np.array([], dtype=np.int64)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=_nk_warning())
            clean = nk.ecg_clean(x, sampling_rate=fs, method="neurokit")
            clean = clean * _polarity(clean, reference, fs)
            # ecg_peaks = ecg_findpeaks + a per-sample DataFrame that is not needed here.
            info = nk.ecg_findpeaks(clean, sampling_rate=fs, method=method)
    except (ValueError, IndexError, ZeroDivisionError, FloatingPointError) as exc:
        # NeuroKit2 raises these on degenerate input (too short, constant, no QRS found).
        return _Detection(
            lead,
            empty,
            empty.astype(bool),
            np.array([]),
            0.0,
            0.0,
            f"NeuroKit2 failed on {lead} ({type(exc).__name__}: {exc})",
        )
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
        raise BeatError(
            record_id,
            "detection failed",
            f"{reference.size} QRS complex(es) found by the 12-lead reference detector",
        )

    def usable(d: _Detection) -> bool:
        n = int(d.confirmed.sum())
        return n >= max(2, min_beats) and hr_range[0] <= d.hr(fs) <= hr_range[1]

    tried = [_detect_on_lead(x[LEADS.index(leads[0])], fs, leads[0], reference, method=method)]
    if not (usable(tried[0]) and tried[0].quality >= min_quality):
        tried += [
            _detect_on_lead(x[LEADS.index(lead)], fs, lead, reference, method=method)
            for lead in leads[1:]
        ]
    names = ", ".join(d.lead for d in tried)
    good = [d for d in tried if usable(d) and d.quality >= min_quality]
    rescue = [d for d in tried if usable(d) and d.recall >= min_quality]
    if good or rescue:
        # max() keeps the first of equals, so lead II wins ties, then the order of `leads`.
        best = max(good, key=lambda d: d.quality) if good else max(rescue, key=lambda d: d.recall)
        keep = best.confirmed
        return RPeaks(
            peaks=best.peaks[keep],
            corr=best.corr[keep],
            lead=best.lead,
            quality=best.quality,
            rescued=not good,
            n_reference=int(reference.size),
        )

    # Nothing usable: name the most specific reason.
    if all(d.problem is not None for d in tried):
        raise BeatError(record_id, "detection failed", "; ".join(d.problem for d in tried))
    ref_hr = 60.0 * fs / float(np.median(np.diff(reference)))
    if not hr_range[0] <= ref_hr <= hr_range[1]:
        raise BeatError(
            record_id,
            "heart rate out of range",
            f"{ref_hr:.0f} /min by the 12-lead reference detector, outside "
            f"{hr_range[0]:g}-{hr_range[1]:g}",
        )
    if reference.size < min_beats:
        raise BeatError(
            record_id,
            "too few beats",
            f"{reference.size} QRS complexes by the 12-lead reference detector < {min_beats}",
        )
    best = max(tried, key=lambda d: d.quality)
    raise BeatError(
        record_id,
        "poor signal quality",
        f"best beat agreement {best.quality:.2f} on {best.lead} (recall {best.recall:.2f}) "
        f"< {min_quality:g} (leads tried: {names})",
    )
