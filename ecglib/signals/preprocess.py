"""From an ECG file to the model input: resample, fix the length, optionally filter, z-score.

Each step is a function on plain arrays of shape (n_leads, T) (time on the last axis), usable alone;
:func:`ecg_preprocess` composes them in the one order the project uses::

    ecg_read -> ecg_check -> ecg_resample(-> 500 Hz) -> ecg_fix_length(5000) -> [ecg_founder_filter]
             -> ecg_zscore -> float32 (12, 5000)

The model input of the coronary study (Xiao et al., arXiv:2512.05136) is the lead-wise z-score of
a 10 s, 500 Hz, 12-lead ECG. ECGFounder (Li et al., NEJM AI 2025; github.com/PKUDigitalHealth/ECGFounder)
was pretrained on ECGs filtered as in :func:`ecg_founder_filter`; whether to apply that filter is the
``filter`` choice of :func:`ecg_preprocess` (default ``"none"``, the study's published input).
"""

from __future__ import annotations

import functools
import os
from fractions import Fraction

import numpy as np
from scipy import ndimage
from scipy import signal as ss

from ecglib.errors import SignalError
from ecglib.schema import FS, LEADS, N_SAMPLES
from ecglib.signals.checks import ecg_check
from ecglib.signals.io import Ecg, ecg_read

#: Length policies of :func:`ecg_fix_length` for recordings longer than ``n``.
LENGTH_POLICIES: tuple[str, ...] = ("start", "center")
#: A recording at most this fraction shorter than ``n`` is edge-padded instead of refused (1%:
#: 0.1 s of 10 s, i.e. up to 50 samples at 500 Hz).
SHORT_TOLERANCE = 0.01
#: Filters that :func:`ecg_preprocess` knows.
FILTERS: tuple[str, ...] = ("none", "ecgfounder")

#: ECGFounder's preprocessing constants.
NOTCH_HZ = 50.0
NOTCH_Q = 30.0
BANDPASS_HZ = (0.67, 40.0)
BANDPASS_ORDER = 4
BASELINE_WINDOW_S = 0.4

#: Largest denominator of the rational resampling ratio, and the relative error it may leave.
_MAX_DENOMINATOR = 10_000
_RATIO_RTOL = 1e-6


@functools.lru_cache(maxsize=32)
def butter_sos(
    order: int, corner: float | tuple[float, float], btype: str, fs: float
) -> np.ndarray:
    """Butterworth second-order sections, ``scipy.signal.butter(..., output="sos")``, cached.

    The R-peak detector and the beat filters apply the same few designs to every record, so each
    is designed once per setting. The array is shared between callers: read it, never modify it.
    """
    return ss.butter(order, corner, btype=btype, fs=fs, output="sos")


def ecg_resample(signal: np.ndarray, fs_in: float, fs_out: float = FS) -> np.ndarray:
    """Polyphase resampling along the last axis from ``fs_in`` to ``fs_out`` Hz.

    The ratio ``fs_out / fs_in`` is written as ``up / down`` in lowest terms
    (:class:`fractions.Fraction`, denominator <= 10,000; a ratio that cannot be represented to a
    relative 1e-6 raises ``ValueError`` rather than silently resampling to a wrong rate). Then
    ``scipy.signal.resample_poly(x, up, down, padtype="line")``: upsample by ``up``, apply scipy's
    Kaiser-window FIR anti-aliasing low-pass, keep every ``down``-th sample. Output length is
    ``ceil(T * up / down)``, so 250 -> 500 Hz gives exactly 2T and 1000 -> 500 Hz exactly T/2 (T even).
    ``padtype="line"`` removes the straight line between the end samples before filtering and
    adds it back after: an ECG's DC offset would otherwise ring at both ends (zero padding makes a
    step). Equal rates return a float64 copy.
    """
    x = np.asarray(signal, dtype=np.float64)
    for name, v in (("fs_in", fs_in), ("fs_out", fs_out)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    ratio = Fraction(float(fs_out)) / Fraction(float(fs_in))
    approx = ratio.limit_denominator(_MAX_DENOMINATOR)
    if abs(float(approx) - float(ratio)) > _RATIO_RTOL * float(ratio):
        raise ValueError(
            f"cannot resample {fs_in:g} -> {fs_out:g} Hz with a rational ratio of denominator "
            f"<= {_MAX_DENOMINATOR} (best {approx})"
        )
    up, down = approx.numerator, approx.denominator
    if up == down:
        return x.copy()
    return ss.resample_poly(x, up, down, axis=-1, padtype="line")


def ecg_fix_length(
    signal: np.ndarray,
    n: int = N_SAMPLES,
    *,
    policy: str = "start",
    record_id: str = "<unnamed>",
    fs: float = FS,
    tolerance: float = SHORT_TOLERANCE,
) -> np.ndarray:
    """Bring a (n_leads, T) signal to exactly ``n`` samples; never invent more than ``tolerance``.

    Policy, with T the input length:

    - T == n: returned as is (a float64 copy).
    - T > n (longer): cropped. ``policy="start"`` keeps the first n samples (the Challenge and
      PTB-XL convention of "the first 10 s"); ``policy="center"`` keeps samples
      ``[(T - n) // 2, (T - n) // 2 + n)``.
    - n * (1 - tolerance) <= T < n (at most 1% short by default, i.e. >= 4950 of 5000): edge-padded,
      i.e. the last value repeated at the end ("start") or the first/last values repeated at both
      ends, ``(n - T) // 2`` before ("center"). At most 0.1 s of a 10 s ECG is thereby made up.
    - shorter still: :class:`SignalError` ``"too short: X s, need 10 s"`` naming ``record_id``.
      Such a recording is excluded, never zero-padded.

    ``fs`` only converts lengths to seconds for the message.
    """
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"policy must be one of {LENGTH_POLICIES}, got {policy!r}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
    x = np.asarray(signal, dtype=np.float64)
    t = x.shape[-1]
    if t == n:
        return x.copy()
    if t > n:
        start = 0 if policy == "start" else (t - n) // 2
        return x[..., start : start + n].copy()
    n_min = int(np.ceil(n * (1 - tolerance)))
    if t < n_min:
        raise SignalError(
            record_id,
            f"too short: {t / fs:.2f} s ({t} samples at {fs:g} Hz), need {n / fs:g} s ({n} samples; "
            f"up to {tolerance:.0%} short is edge-padded)",
        )
    missing = n - t
    before = 0 if policy == "start" else missing // 2
    pad = [(0, 0)] * (x.ndim - 1) + [(before, missing - before)]
    return np.pad(x, pad, mode="edge")


def ecg_zscore(
    signal: np.ndarray, *, record_id: str = "<unnamed>", min_std: float = 1e-8
) -> np.ndarray:
    """Lead-wise z-score along the last axis: ``(x - mean) / std`` per lead (population std, ddof=0).

    This is the coronary study's input normalisation. A lead with ``std < min_std`` (input units)
    raises :class:`SignalError` naming it, because dividing would give inf/NaN and adding an epsilon
    (ECGFounder's own loaders use ``/(std + 1e-8)`` over the whole record) would silently turn it
    into zeros. For any lead that passes :func:`ecg_check` the epsilon would change the result by
    less than about 1e-5 relative, so the two agree in practice.
    """
    x = np.asarray(signal, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    low = ~(std >= min_std)  # also catches NaN
    if low.any():
        rows = np.flatnonzero(low.reshape(-1))
        names = [LEADS[i] if x.ndim == 2 and x.shape[0] == len(LEADS) else f"row {i}" for i in rows]
        raise SignalError(
            record_id, f"cannot z-score: standard deviation < {min_std:g} in {', '.join(names)}"
        )
    return (x - mean) / std


def ecg_founder_filter(signal: np.ndarray, fs: float = FS) -> np.ndarray:
    """ECGFounder's denoising, along the last axis (see ``../shared/fixtures/ecgfounder/README.md``).

    1. 50 Hz power-line notch, ``scipy.signal.iirnotch(50, Q=30, fs)``, applied forwards-backwards
       (``filtfilt``, zero phase), as ECGFounder does.
    2. 4th-order Butterworth band-pass 0.67-40 Hz (``butter(4, [0.67, 40], "bandpass")``, so 8 poles),
       applied forwards-backwards. Here in second-order sections (``sosfiltfilt``) because the
       transfer-function form ``filtfilt(b, a)`` used in ECGFounder's code is ill-conditioned at a
       0.67 Hz corner, where the sections keep full precision.
    3. Baseline removal: subtract a running median of ``k = int(0.4 fs) + 1`` samples, made odd
       (201 at 500 Hz), with zero padding at the ends as ``scipy.signal.medfilt`` has (computed
       with the equivalent, faster ``scipy.ndimage.median_filter(mode="constant")``).

    Needs ``fs > 80`` Hz (the band-pass edge must lie below Nyquist); use it at 500 Hz.
    """
    x = np.asarray(signal, dtype=np.float64)
    if not (np.isfinite(fs) and fs > 2 * BANDPASS_HZ[1]):
        raise ValueError(f"ecg_founder_filter needs fs > {2 * BANDPASS_HZ[1]:g} Hz, got {fs!r}")
    b, a = ss.iirnotch(NOTCH_HZ, NOTCH_Q, fs=fs)
    y = ss.filtfilt(b, a, x, axis=-1)
    sos = ss.butter(BANDPASS_ORDER, BANDPASS_HZ, btype="bandpass", fs=fs, output="sos")
    y = ss.sosfiltfilt(sos, y, axis=-1)
    k = int(BASELINE_WINDOW_S * fs) + 1
    k += 1 - k % 2  # odd, so the median is centred on its sample
    flat = y.reshape(-1, y.shape[-1])
    # One 1-D median filter per lead: scipy's 1-D path is much faster than a (1, k) 2-D window.
    baseline = np.stack(
        [ndimage.median_filter(row, size=k, mode="constant", cval=0.0) for row in flat]
    )
    return y - baseline.reshape(y.shape)


def ecg_preprocess(
    source: str | os.PathLike | Ecg,
    *,
    fs: float | None = None,
    record_id: str | None = None,
    n_samples: int = N_SAMPLES,
    length_policy: str = "start",
    filter: str = "none",  # noqa: A002 - the name the project's params use
) -> np.ndarray:
    """The model input for one ECG: float32 of shape (12, ``n_samples``), lead-wise z-scored.

    ``source`` is a path for :func:`ecg_read` (``fs``, the rate of ``.npy`` files, and
    ``record_id`` are passed on; WFDB records use their header's rate) or an :class:`Ecg` already
    read. Steps: :func:`ecg_check` on the raw recording (any problem raises,
    naming the record) -> :func:`ecg_resample` to :data:`~ecglib.schema.FS` -> :func:`ecg_fix_length`
    (``length_policy``; too short raises) -> :func:`ecg_founder_filter` if ``filter="ecgfounder"``
    -> :func:`ecg_zscore`. The filter runs after cropping so that a recording is filtered over
    exactly the 10 s the model sees, as ECGFounder filtered its 10 s inputs.
    """
    if filter not in FILTERS:
        raise ValueError(f"filter must be one of {FILTERS}, got {filter!r}")
    if length_policy not in LENGTH_POLICIES:
        raise ValueError(f"length_policy must be one of {LENGTH_POLICIES}, got {length_policy!r}")
    if isinstance(source, Ecg):
        if fs is not None and not np.isclose(float(fs), source.fs):
            raise ValueError(f"fs={fs:g} given for an Ecg sampled at {source.fs:g} Hz")
        ecg = source
    else:
        ecg = ecg_read(source, record_id=record_id, fs=fs)
    rid = record_id if record_id is not None else ecg.record
    ecg_check(ecg.signal, ecg.fs, rid)
    try:
        x = ecg_resample(ecg.signal, ecg.fs, FS)
    except (
        ValueError
    ) as exc:  # a rate with no exact rational ratio to 500 Hz: this record's problem
        raise SignalError(rid, f"sampling rate {ecg.fs:g} Hz: {exc}") from exc
    x = ecg_fix_length(x, n_samples, policy=length_policy, record_id=rid, fs=FS)
    if filter == "ecgfounder":
        x = ecg_founder_filter(x, FS)
    x = ecg_zscore(x, record_id=rid)
    return x.astype(np.float32)
