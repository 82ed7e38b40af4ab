"""ecglib.signals.rpeaks: R peaks against known beat times, the lead fallback, the reference detector.

The synthetic records (known R-peak times) come from ``tests/test_beats.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_beats import AMPLITUDES, regular_beats, synthetic_ecg  # noqa: E402

from ecglib.schema import FS, LEADS
from ecglib.signals import beats
from ecglib.signals.rpeaks import (
    REASONS,
    BeatError,
    beat_agreement,
    detect_r_peaks,
    qrs_energy_peaks,
)

# --- R peaks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["regular", "irregular", "bradycardia", "tachycardia"])
def test_r_peaks_within_a_few_ms_of_the_known_beat_times(kind):
    rng = np.random.default_rng(7)
    if kind == "irregular":  # atrial-fibrillation-like RR intervals, 0.45-1.1 s
        times = 0.2 + np.concatenate([[0.0], np.cumsum(rng.uniform(0.45, 1.1, 30))])
        times = times[times < 9.95]
    else:
        hr = {"regular": 70, "bradycardia": 42, "tachycardia": 150}[kind]
        times = regular_beats(hr, jitter=0.02, rng=rng)
    x = synthetic_ecg(times, noise_mv=0.02, wander_mv=0.15, rng=rng)
    res = detect_r_peaks(x)
    assert res.lead == "II" and not res.rescued and res.quality > 0.95
    true = np.round(times * FS).astype(int)
    error = np.abs(res.peaks[:, None] - true[None, :]).min(axis=1)
    assert error.max() <= 2, f"R peaks off by up to {error.max() / FS * 1000:.0f} ms"  # <= 4 ms
    inner = true[(true > 0.3 * FS) & (true < 9.7 * FS)]
    assert np.isin(inner, res.peaks + np.arange(-2, 3)[:, None]).all(), "an inner beat was missed"
    found = times[np.isin(true, res.peaks + np.arange(-2, 3)[:, None])]
    assert beats.ecg_beats(x).hr == pytest.approx(60.0 / np.median(np.diff(found)), rel=0.02)


def test_fallback_to_another_lead_when_lead_ii_is_noise():
    # Lead II nearly disconnected: a tiny QRS under 0.15 mV of noise. NeuroKit2 on it disagrees with
    # the 12-lead reference, so the next candidate lead (V5) is used.
    amps = AMPLITUDES.copy()
    amps[LEADS.index("II")] *= 0.05
    times = regular_beats(65)
    x = synthetic_ecg(times, amplitudes=amps, noise_mv=0.01, wander_mv=0.0)
    x[LEADS.index("II")] += np.random.default_rng(4).normal(0, 0.15, 5000)
    res = detect_r_peaks(x)
    assert res.lead == "V5" and res.quality >= 0.8
    true = np.round(times * FS).astype(int)
    assert np.abs(res.peaks[:, None] - true).min(axis=1).max() <= 2
    assert len(res.peaks) >= len(true) - 1


def test_only_peaks_confirmed_by_the_reference_are_r_peaks():
    # Lead II with T waves taller than its small QRS: whatever NeuroKit2 does there, no T wave
    # (0.25 s after the R peak) ends up as an R peak.
    amps = AMPLITUDES.copy()
    amps[LEADS.index("II")] = (0.05, -0.02, 0.2, -0.05, 0.9)
    times = regular_beats(55)
    res = detect_r_peaks(synthetic_ecg(times, amplitudes=amps, noise_mv=0.01, wander_mv=0.0))
    true = np.round(times * FS).astype(int)
    assert np.abs(res.peaks[:, None] - true).min(axis=1).max() <= 0.02 * FS
    assert len(res.peaks) >= len(true) - 1


def test_negative_qrs_lead_is_detected_on_its_dominant_deflection():
    times = regular_beats(80)
    res = detect_r_peaks(synthetic_ecg(times), leads=("aVR",))  # R is -1.0 mV in aVR
    true = np.round(times * FS).astype(int)
    assert res.lead == "aVR"
    assert np.abs(res.peaks[:, None] - true).min(axis=1).max() <= 2


def test_beat_agreement_bsqi():
    ref = np.array([500, 1000, 1500, 2000])
    assert beat_agreement(ref + 10, ref) == 1.0
    assert beat_agreement(np.sort(np.r_[ref, ref + 200]), ref) == pytest.approx(0.5)  # T waves too
    assert beat_agreement(ref[:2], ref) == pytest.approx(0.5)  # missed half
    assert beat_agreement(np.array([], int), ref) == 0.0
    # peaks within 0.3 s of the ends do not count
    assert beat_agreement(ref, np.r_[50, ref], n_samples=5000) == 1.0


def test_reference_detector_finds_every_qrs_and_no_t_wave():
    times = regular_beats(60)
    peaks = qrs_energy_peaks(synthetic_ecg(times, noise_mv=0.02))
    true = np.round(times * FS).astype(int)
    assert len(peaks) == len(true)
    assert np.abs(peaks - true).max() <= 0.03 * FS


def test_detection_problems_are_named_exclusions_and_programming_errors_are_not():
    with pytest.raises(BeatError) as info:
        detect_r_peaks(np.zeros((12, 5000)), record_id="rec-3")  # no QRS at all
    assert info.value.reason == "detection failed" and "rec-3" in str(info.value)
    with pytest.raises(ValueError):
        detect_r_peaks(synthetic_ecg(regular_beats()), leads=("II", "V7"))
    with pytest.raises(ValueError):
        BeatError("rec-3", "not a reason", "whatever")
    # the beat module's exclusion vocabulary is this one
    assert beats.REASONS is REASONS and beats.BeatError is BeatError
