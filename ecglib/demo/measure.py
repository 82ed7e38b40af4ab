"""The demo's own check of its synthetic beats: R peaks and per-lead ST levels of simulated ECGs.

Used to measure how strong the planted signal is (``tests/test_demo_ecg.py``,
``benchmarks/bench_demo.py``), not on real ECGs: the book's R-peak detector is
:func:`ecglib.signals.rpeaks.detect_r_peaks`.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from ecglib.schema import FS


def synthetic_r_peaks(ecg: np.ndarray, fs: int = FS) -> np.ndarray:
    """R-peak sample indices of one simulated (12, T) record: peaks of the summed squared slope.

    Using every lead makes it robust to a lead with a small or negative QRS; the slope ignores
    baseline wander. Good enough for the simulator's clean beats, not a clinical detector (that is
    :func:`ecglib.signals.rpeaks.detect_r_peaks`).
    """
    slope = np.diff(ecg.astype(float), axis=1)
    energy = np.convolve((slope**2).sum(axis=0), np.ones(int(0.04 * fs)) / (0.04 * fs), mode="same")
    peaks, _ = find_peaks(energy, distance=int(0.33 * fs), height=0.2 * np.percentile(energy, 99.5))
    return peaks


def measure_st_levels(
    ecgs: np.ndarray,
    *,
    fs: int = FS,
    baseline: tuple[float, float] = (-0.07, -0.05),
    st: tuple[float, float] = (0.08, 0.12),
) -> np.ndarray:
    """Per-lead ST level (mV) of each record, shape (n, leads).

    For every beat: mean over ``st`` (seconds after the R peak, i.e. the ST segment 35-75 ms after a
    normal J point) minus the mean over ``baseline`` (the PR segment, the isoelectric reference);
    the record's level is the median over beats, robust to a beat spoiled by noise.
    """
    ecgs = np.asarray(ecgs)
    out = np.full(ecgs.shape[:2], np.nan)
    b0, b1 = round(baseline[0] * fs), round(baseline[1] * fs)
    s0, s1 = round(st[0] * fs), round(st[1] * fs)
    for i, ecg in enumerate(ecgs):
        peaks = synthetic_r_peaks(ecg, fs)
        peaks = peaks[(peaks + b0 >= 0) & (peaks + s1 <= ecg.shape[1])]
        if len(peaks) == 0:
            continue
        base = np.stack([ecg[:, p + b0 : p + b1].mean(axis=1) for p in peaks])
        level = np.stack([ecg[:, p + s0 : p + s1].mean(axis=1) for p in peaks])
        out[i] = np.median(level - base, axis=0)
    return out
