"""Synthetic 12-lead ECGs from a moving cardiac dipole, with a planted, vessel-specific ST-T signal.

The body-surface ECG is, to first order, the projection of a single time-varying current dipole
(the heart vector) onto each electrode's lead-field vector. The demo builds it in three parts:

- :mod:`ecglib.demo.geometry`: electrodes, the electrocardiograph's lead wiring, and the planted
  territories (:data:`~ecglib.demo.geometry.PLANTED_TERRITORIES`);
- :mod:`ecglib.demo.ecg_params`: what each ECG is made of (the person's waves, intervals and
  rhythm, the recording site's noise, the planted offset), drawn by
  :func:`~ecglib.demo.ecg_params.sample_ecg_params`;
- this module: the waveforms, :func:`simulate_ecgs` (and :func:`simulate_from_grades` for both
  steps at once).

Noise, baseline wander and mains hum are added per electrode, before the leads are formed, so the
lead identities (III = II - I, ...) hold for the noise too. :mod:`ecglib.demo.measure` is the
demo's own check of what it simulated (R peaks and ST levels of clean synthetic beats).

*Vectorisation.* The model is linear in the wave vectors. Records are simulated in chunks; within a
chunk, each wave's bumps for every beat of every record are evaluated at once near their centres
(records x beats x samples) and summed onto the 10-s axis with one ``bincount``, giving one scalar
time course per wave; a batched matrix product then projects them onto the electrodes. No Python
loop runs over samples or beats. Per-record randomness (beat jitter, noise) comes from a per-record
seed, so a record does not depend on the chunk size or on which other records share its chunk.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ecglib.demo.ecg_params import INTERNAL_SITE, WAVES, EcgParams, RecordingSite, sample_ecg_params
from ecglib.demo.geometry import ELECTRODES, electrode_vectors, leads_from_electrodes
from ecglib.schema import FS, LEADS, N_SAMPLES

# A beat's waves reach at most this far before / after its R peak (P onset at the longest PR, end
# of the ST-T box at the longest QT); beats farther outside the record are not evaluated.
_WINDOW_BEFORE = 0.34
_WINDOW_AFTER = 0.80
_MAX_BEATS = 28  # RR draws per record: covers 10.7 s at 110/min with jitter
_WANDER_BINS = 7  # baseline wander below 0.7 Hz (breathing, electrode drift)


def _beat_times(
    params: EcgParams, rngs: list[np.random.Generator]
) -> tuple[np.ndarray, np.ndarray]:
    """R-peak times (n, _MAX_BEATS) in s, and the per-beat respiratory amplitude factor.

    RR intervals jitter around the mean (heart rate variability) and swing with breathing
    (respiratory sinus arrhythmia); the first R peak falls before the record starts, at a random phase,
    so that records do not all start at the same point of the cycle.
    """
    draws = np.stack([r.random(_MAX_BEATS + 2) for r in rngs])
    phase0, resp_phase, eps = draws[:, 0], 2 * np.pi * draws[:, 1], draws[:, 2:]
    eps = np.sqrt(12.0) * (eps - 0.5)  # unit-variance, bounded jitter: no implausible RR outliers
    rr0 = 60.0 / params.heart_rate
    nominal = rr0[:, None] * np.arange(_MAX_BEATS)
    resp = np.sin(2 * np.pi * params.resp_hz[:, None] * nominal + resp_phase[:, None])
    rr = rr0[:, None] * (1.0 + params.hrv[:, None] * eps + params.rsa[:, None] * resp)
    times = np.cumsum(rr, axis=1) - rr[:, :1] - phase0[:, None] * rr0[:, None]
    if (times[:, -1] < N_SAMPLES / FS + _WINDOW_BEFORE).any():
        raise RuntimeError("too few beats drawn to cover the record; raise _MAX_BEATS")
    breathing = 2 * np.pi * params.resp_hz[:, None] * times + resp_phase[:, None]
    amp = 1.0 + params.resp_amp[:, None] * np.cos(breathing)
    return times, amp


def _wave_timing(params: EcgParams, rr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and width (s, relative to the R peak) of each wave of each beat, shapes (n, beats, waves).

    The QRS waves scale with the QRS duration (onset at -d/2, J point at +d/2); P sits PR before the
    QRS onset; the end of T follows the preceding RR interval through Bazett's QT = QTc * sqrt(RR).
    """
    d = params.qrs[:, None]
    qt = params.qtc[:, None] * np.sqrt(rr)
    p_onset = -0.5 * d - params.pr[:, None]
    sp, st = params.p_sigma[:, None], params.t_sigma[:, None]
    t_peak = -0.5 * d + qt - 2.0 * st  # a tangent at the T's steepest descent meets 0 at +2 SD
    centres = np.stack(
        np.broadcast_arrays(
            p_onset + 2.6 * sp,
            p_onset + 2.6 * sp + 0.022,  # P1, P2
            -0.285 * d,
            0.0 * d,
            0.285 * d,  # Q, R, S
            t_peak - 1.1 * st,
            t_peak,  # T shoulder, T
        ),
        axis=-1,
    )
    widths = np.stack(
        np.broadcast_arrays(sp, sp, 0.093 * d, 0.11 * d, 0.10 * d, 1.0 * st, st), axis=-1
    )
    return centres, widths


def _scatter(series: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """Add ``values`` at sample ``index`` (n, ...) of ``series`` (n, T); indices outside are dropped.

    Out-of-range samples are piled onto the first and last sample, which the caller pads and discards.
    """
    n, length = series.shape
    flat = np.clip(index, 0, length - 1) + (np.arange(n) * length).reshape(
        (n,) + (1,) * (index.ndim - 1)
    )
    series += np.bincount(flat.ravel(), values.ravel(), minlength=n * length).reshape(n, length)


def _wave_series(
    params: EcgParams, times: np.ndarray, rr: np.ndarray, amp: np.ndarray
) -> np.ndarray:
    """Time course of each wave summed over beats, shape (n, waves + 1, N_SAMPLES).

    Each Gaussian bump is evaluated only within 4.5 SD of its centre (the rest is below 1e-4 of its
    height), on a grid placed with sub-sample accuracy; the last row is the ST-T box, which rises at
    the J point and fades through the T wave (so an ischaemic offset also flattens the T). The grids
    are as long as the chunk's widest wave needs, but values beyond each record's own cut-off are
    zeroed, so a record does not depend on the other records of its chunk.
    """
    n = len(params)
    centres, widths = _wave_timing(params, rr)
    series = np.zeros((n, len(WAVES) + 1, N_SAMPLES + 2))  # one pad sample each side
    for w in range(len(WAVES)):
        half = int(np.ceil(4.5 * widths[..., w].max() * FS))
        position = (times + centres[..., w]) * FS  # (n, beats), in samples
        grid = np.floor(position).astype(np.int64)[..., None] + np.arange(-half, half + 1)
        z = (grid - position[..., None]) / (widths[..., w, None] * FS)
        bump = np.where(np.abs(z) <= 4.5, np.exp(-0.5 * z * z), 0.0)
        _scatter(series[:, w], grid + 1, amp[..., None] * bump)
    j_point = 0.5 * params.qrs[:, None]
    fall_at = centres[..., -1] + 0.5 * widths[..., -1]
    fall_scale = 0.6 * widths[..., -1]
    rise_scale = 0.004
    lead_in, end = 0.025, fall_at + 8 * fall_scale  # box support, s from the R peak
    span = int(np.ceil((end - j_point).max() * FS)) + 2 * round(lead_in * FS)
    position = (times + j_point) * FS
    grid = np.floor(position).astype(np.int64)[..., None] + np.arange(-round(lead_in * FS), span)
    t = (grid - times[..., None] * FS) / FS  # s relative to the R peak
    rise = 1.0 / (1.0 + np.exp(-(t - j_point[..., None]) / rise_scale))
    fall = 1.0 / (1.0 + np.exp((t - fall_at[..., None]) / fall_scale[..., None]))
    inside = (t >= j_point[..., None] - lead_in) & (t <= end[..., None])
    _scatter(series[:, -1], grid + 1, np.where(inside, amp[..., None] * rise * fall, 0.0))
    return series[:, :, 1:-1]


def _heart_potentials(params: EcgParams, rngs: list[np.random.Generator]) -> np.ndarray:
    """Noise-free electrode potentials (n, 9, N_SAMPLES) of the beating heart.

    The model is linear in the wave vectors, so each wave's scalar time course is built once and
    projected onto the electrodes by one batched matrix product.
    """
    times, amp = _beat_times(params, rngs)
    rr = np.diff(times, axis=1, prepend=times[:, :1] - 60.0 / params.heart_rate[:, None])
    visible = ((times > -_WINDOW_AFTER) & (times < N_SAMPLES / FS + _WINDOW_BEFORE)).any(axis=0)
    series = _wave_series(params, times[:, visible], rr[:, visible], amp[:, visible])
    vectors = np.concatenate([params.waves, params.st_vector[:, None]], axis=1)  # (n, W+1, 3)
    per_electrode = electrode_vectors() @ vectors.transpose(0, 2, 1)  # (n, 9, W+1)
    return per_electrode @ series


def _electrode_noise(params: EcgParams, rngs: list[np.random.Generator]) -> np.ndarray:
    """Noise at the electrodes (n, 9, N_SAMPLES): white (EMG, amplifier), baseline wander, mains hum.

    Noise enters at the electrodes, before the leads are formed, so the lead relationships hold
    for the noise too. Wander is low-pass random (1/f-shaped below 0.7 Hz); hum is a 50 Hz sinusoid
    common in phase, different in amplitude per electrode (unequal skin-electrode impedances).
    """
    n, e = len(params), len(ELECTRODES)
    white = np.empty((n, e, N_SAMPLES), dtype=np.float32)
    spectrum = np.zeros((n, e, N_SAMPLES // 2 + 1), dtype=complex)
    hum_phase = np.empty(n)
    hum_share = np.empty((n, e))
    for i, r in enumerate(rngs):
        coef = r.standard_normal((e, _WANDER_BINS, 2))
        spectrum[i, :, 1 : _WANDER_BINS + 1] = coef[..., 0] + 1j * coef[..., 1]
        hum_phase[i] = r.uniform(0, 2 * np.pi)
        hum_share[i] = r.lognormal(0.0, 0.5, e)
        white[i] = r.standard_normal((e, N_SAMPLES), dtype=np.float32)
    spectrum[:, :, 1 : _WANDER_BINS + 1] /= np.arange(1, _WANDER_BINS + 1)  # 1/f: drift dominates
    # Parseval: a real signal with rfft bins c_k (k >= 1) has SD sqrt(2 sum |c_k|^2) / N.
    sd = np.sqrt(2.0 * (np.abs(spectrum) ** 2).sum(axis=-1)).mean(axis=1) / N_SAMPLES
    spectrum *= (params.wander_mv / sd)[:, None, None]
    wander = np.fft.irfft(spectrum, n=N_SAMPLES, axis=-1)
    t = np.arange(N_SAMPLES) / FS
    hum = np.sin(2 * np.pi * params.mains_hz[:, None] * t + hum_phase[:, None])
    noise = white * (params.noise_mv[:, None] * params.contact)[..., None]
    noise += wander
    noise += (params.hum_mv[:, None] * hum_share)[..., None] * hum[:, None, :]
    return noise


def _record_rngs(params: EcgParams) -> list[np.random.Generator]:
    return [np.random.default_rng(int(s)) for s in params.seed]


def simulate_chunk(params: EcgParams, *, noise: bool = True) -> np.ndarray:
    """Simulate all records of ``params`` at once: float32 (n, 12, N_SAMPLES) in mV, leads in LEADS order."""
    rngs = _record_rngs(params)
    potentials = _heart_potentials(params, rngs)
    if noise:
        potentials += _electrode_noise(params, rngs)
    leads = leads_from_electrodes(potentials)
    leads *= params.gain[:, None, None]
    return leads.astype(np.float32)


def iter_ecg_chunks(
    params: EcgParams, *, noise: bool = True, chunk_size: int = 128
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(records, signals)`` chunk by chunk, so a large cohort never sits in memory at once."""
    for start in range(0, len(params), chunk_size):
        records = slice(start, min(start + chunk_size, len(params)))
        yield records, simulate_chunk(params.subset(records), noise=noise)


def simulate_ecgs(params: EcgParams, *, noise: bool = True, chunk_size: int = 128) -> np.ndarray:
    """Simulate 10-s 12-lead ECGs: float32 array (n, 12, N_SAMPLES), mV, 500 Hz, leads in LEADS order.

    ``noise=False`` gives the clean heart signal of the very same beats (same RR sequence), for
    measuring intervals. The result does not depend on ``chunk_size``.
    """
    out = np.empty((len(params), len(LEADS), N_SAMPLES), dtype=np.float32)
    for records, signals in iter_ecg_chunks(params, noise=noise, chunk_size=chunk_size):
        out[records] = signals
    return out


def simulate_from_grades(
    grades: np.ndarray, seed: int = 0, *, noise: bool = True, site: RecordingSite = INTERNAL_SITE
) -> tuple[np.ndarray, EcgParams]:
    """Convenience: one ECG per grade row, each a different person; returns (signals, params)."""
    params = sample_ecg_params(grades, np.random.default_rng(seed), site=site)
    return simulate_ecgs(params, noise=noise), params
