"""Resampling, length policy, z-score, ECGFounder's filter, and the composed ecg_preprocess."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as ss

from ecglib.errors import SignalError
from ecglib.schema import LEADS, N_SAMPLES
from ecglib.signals import (
    Ecg,
    ecg_fix_length,
    ecg_founder_filter,
    ecg_preprocess,
    ecg_read,
    ecg_resample,
    ecg_zscore,
)


def _sines(fs: float, seconds: float, *components: tuple[float, float]) -> np.ndarray:
    """(12, T) signal: the sum of (frequency Hz, amplitude mV) sines, the same on every lead."""
    t = np.arange(int(round(fs * seconds))) / fs
    one = sum(a * np.sin(2 * np.pi * f * t) for f, a in components)
    return np.tile(one, (len(LEADS), 1))


def _amplitude(x: np.ndarray, fs: float, f: float, trim_s: float = 1.0) -> float:
    """Least-squares amplitude of the f-Hz component of a 1-D signal, away from the ends."""
    t = np.arange(x.size) / fs
    keep = slice(int(trim_s * fs), x.size - int(trim_s * fs))
    basis = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t), np.ones_like(t)], 1)[
        keep
    ]
    coef, *_ = np.linalg.lstsq(basis, x[keep], rcond=None)
    return float(np.hypot(coef[0], coef[1]))


def _peak_hz(x: np.ndarray, fs: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / fs)[np.argmax(spec)])


# --- ecg_resample ---------------------------------------------------------------------------------


def test_resample_250_to_500_exact_length_and_frequency():
    x = _sines(250, 10, (7.0, 1.0))
    y = ecg_resample(x, 250, 500)
    assert y.shape == (12, 5000)
    assert _peak_hz(y[3], 500) == pytest.approx(7.0, abs=0.1)
    truth = _sines(500, 10, (7.0, 1.0))
    np.testing.assert_allclose(y[:, 100:-100], truth[:, 100:-100], atol=1e-3)


def test_resample_1000_to_500_exact_length_frequency_and_antialiasing():
    # 300 Hz is above the new Nyquist (250 Hz): plain decimation would fold it onto 200 Hz.
    x = _sines(1000, 10, (10.0, 1.0), (300.0, 0.5))
    y = ecg_resample(x, 1000, 500)
    assert y.shape == (12, 5000)
    assert _peak_hz(y[0], 500) == pytest.approx(10.0, abs=0.1)
    assert _amplitude(y[0], 500, 10.0) == pytest.approx(1.0, abs=0.01)
    assert _amplitude(y[0], 500, 200.0) < 0.01
    assert _amplitude(x[0, ::2], 500, 200.0) > 0.4  # the folding the filter prevents


def test_resample_other_rates_and_identity():
    assert ecg_resample(np.zeros((12, 3600)), 360, 500).shape == (12, 5000)  # 25/18
    assert ecg_resample(np.zeros((12, 1280)), 128, 500).shape == (12, 5000)  # 125/32
    x = np.random.default_rng(0).normal(size=(12, 100))
    y = ecg_resample(x, 500, 500)
    np.testing.assert_array_equal(y, x)
    assert y is not x
    with pytest.raises(ValueError, match="rational ratio"):
        ecg_resample(x, 499.99, 500)
    with pytest.raises(ValueError, match="fs_in must be a positive number"):
        ecg_resample(x, 0, 500)


def test_resample_keeps_a_dc_offset_at_the_ends():
    # padtype="line": a 2 mV offset does not ring at the edges
    x = 2.0 + _sines(1000, 2, (5.0, 0.1))
    y = ecg_resample(x, 1000, 500)
    truth = 2.0 + _sines(500, 2, (5.0, 0.1))
    assert np.abs(y - truth).max() < 0.01


# --- ecg_fix_length -------------------------------------------------------------------------------


def test_fix_length_crops_by_policy():
    x = np.arange(12 * 7500, dtype=float).reshape(12, 7500)
    np.testing.assert_array_equal(ecg_fix_length(x, 5000, policy="start"), x[:, :5000])
    np.testing.assert_array_equal(ecg_fix_length(x, 5000, policy="center"), x[:, 1250:6250])
    np.testing.assert_array_equal(ecg_fix_length(x[:, :5000], 5000), x[:, :5000])
    with pytest.raises(ValueError, match="policy must be one of"):
        ecg_fix_length(x, 5000, policy="end")


def test_fix_length_too_short_names_the_record():
    x = np.ones((12, 4000))
    with pytest.raises(
        SignalError, match=r"^ECG-42: too short: 8\.00 s \(4000 samples at 500 Hz\), need 10 s"
    ):
        ecg_fix_length(x, 5000, record_id="ECG-42")
    with pytest.raises(SignalError, match=r"too short: 4\.95 s \(2474 samples .*need 5 s"):
        ecg_fix_length(x[:, :2474], 2500, record_id="r", fs=500)  # one sample beyond 1% short
    assert ecg_fix_length(x[:, :2475], 2500).shape == (12, 2500)  # exactly 1% short: padded


def test_fix_length_within_tolerance_is_edge_padded():
    x = np.arange(12 * 4950, dtype=float).reshape(12, 4950)  # exactly 1% short
    y = ecg_fix_length(x, 5000, policy="start")
    assert y.shape == (12, 5000)
    np.testing.assert_array_equal(y[:, :4950], x)
    np.testing.assert_array_equal(y[:, 4950:], np.repeat(x[:, -1:], 50, axis=1))
    yc = ecg_fix_length(x, 5000, policy="center")
    np.testing.assert_array_equal(yc[:, 25:4975], x)
    assert (yc[:, :25] == x[:, :1]).all() and (yc[:, 4975:] == x[:, -1:]).all()
    with pytest.raises(SignalError, match="too short: 9.90 s"):
        ecg_fix_length(x[:, :4949], 5000)


# --- ecg_zscore -----------------------------------------------------------------------------------


def test_zscore_per_lead():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 5000)) * np.arange(1, 13)[:, None] + np.arange(12)[:, None] * 5
    z = ecg_zscore(x)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-12)
    # lead-wise, not over the whole record: each lead's own statistics are used
    np.testing.assert_allclose(z[5], (x[5] - x[5].mean()) / x[5].std())


def test_zscore_refuses_a_constant_lead():
    x = np.random.default_rng(4).normal(size=(12, 100))
    x[8] = 3.0
    with pytest.raises(SignalError, match=r"^z: cannot z-score: standard deviation < 1e-08 in V3$"):
        ecg_zscore(x, record_id="z")


# --- ecg_founder_filter -----------------------------------------------------------------------------


def test_founder_filter_removes_mains_and_drift_and_keeps_10hz():
    fs = 500
    t = np.arange(5000) / fs
    drift = (
        0.8 * np.sin(2 * np.pi * 0.15 * t) + 0.3 * t - 1.0
    )  # respiration-like wander + slope, mV
    x = _sines(fs, 10, (10.0, 0.5), (50.0, 0.3)) + drift
    y = ecg_founder_filter(x, fs)
    assert y.shape == x.shape
    lead = y[2]
    assert _amplitude(lead, fs, 50.0) < 0.005  # from 0.3 mV
    assert _amplitude(lead, fs, 10.0) == pytest.approx(0.5, rel=0.03)
    residual = lead - 0.5 * np.sin(2 * np.pi * 10 * t)  # what is left is neither signal nor drift
    assert np.sqrt(np.mean(residual[fs:-fs] ** 2)) < 0.02  # the drift alone has an RMS of ~0.9 mV
    assert np.sqrt(np.mean((x[2] - 0.5 * np.sin(2 * np.pi * 10 * t))[fs:-fs] ** 2)) > 0.5


def test_founder_filter_matches_ecgfounders_own_formulation(shared_data):
    # ECGFounder's code: filtfilt(iirnotch(50, 30)), filtfilt(butter(4, [0.67, 40]) as b, a),
    # x - medfilt(x, int(0.4 fs) + 1 made odd). Ours uses second-order sections and ndimage.
    x = ecg_read(shared_data / "ptbdb" / "patient002" / "s0015lre").signal
    fs = 500
    b, a = ss.iirnotch(50, 30, fs)
    ref = ss.filtfilt(b, a, x, axis=-1)
    b, a = ss.butter(4, [0.67, 40], btype="bandpass", fs=fs)
    ref = ss.filtfilt(b, a, ref, axis=-1)
    ref = ref - np.stack([ss.medfilt(r, 201) for r in ref])
    ours = ecg_founder_filter(x, fs)
    assert np.abs(ours - ref).max() < 1e-4  # mV; the leads span 0.5-3 mV
    assert np.abs(ours - x).max() > 0.05  # and the filter did change the signal


def test_founder_filter_needs_a_sampling_rate_above_80hz():
    with pytest.raises(ValueError, match="fs > 80"):
        ecg_founder_filter(np.zeros((12, 1000)), 50)


# --- ecg_preprocess -------------------------------------------------------------------------------


@pytest.mark.parametrize("flt", ["none", "ecgfounder"])
def test_preprocess_real_ptb_record(shared_data, flt):
    path = shared_data / "ptbdb" / "patient001" / "s0010_re"
    out = ecg_preprocess(path, filter=flt)
    assert out.shape == (12, N_SAMPLES) and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=1, dtype=np.float64), 1, atol=1e-5)
    raw = ecg_read(path).signal  # 500 Hz, 5000 samples already: only (filter and) z-score apply
    expected = ecg_zscore(ecg_founder_filter(raw, 500) if flt == "ecgfounder" else raw)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_preprocess_1000hz_input_matches_the_500hz_original(shared_data, tmp_path):
    raw = ecg_read(shared_data / "ptbdb" / "patient003" / "s0017lre").signal
    up = ss.resample_poly(raw, 2, 1, axis=-1)  # the same ECG at 1000 Hz, stored (T, 12)
    np.save(tmp_path / "ecg1000.npy", up.T)
    out = ecg_preprocess(tmp_path / "ecg1000.npy", fs=1000, record_id="s0017lre@1000")
    ref = ecg_zscore(raw)
    assert out.shape == (12, 5000)
    for i, lead in enumerate(LEADS):
        r = np.corrcoef(out[i, 50:-50], ref[i, 50:-50])[0, 1]
        assert r > 0.999, (lead, r)


def test_preprocess_250hz_slightly_short_input_is_padded(shared_data):
    raw = ecg_read(shared_data / "cinc" / "cpsc_2018" / "A0001").signal
    down = ss.resample_poly(raw, 1, 2, axis=-1)[:, :2490]  # 9.96 s at 250 Hz: 0.4% short
    out = ecg_preprocess(Ecg(down, fs=250, record="A0001@250"))
    assert out.shape == (12, 5000)
    assert np.isfinite(out).all()
    assert (out[:, 4980:] == out[:, 4979:4980]).all()  # the 20 padded samples repeat the last one


def test_preprocess_length_policy_on_a_15s_record(shared_data, tmp_path):
    # A0001 was 15 s (7500 samples) in CPSC 2018; rebuild a 15 s record from the shared 10 s copy.
    raw = ecg_read(shared_data / "cinc" / "cpsc_2018" / "A0001").signal
    long = np.concatenate([raw, raw[:, :2500]], axis=1)
    np.save(tmp_path / "long.npy", long)
    start = ecg_preprocess(tmp_path / "long.npy", length_policy="start")
    center = ecg_preprocess(tmp_path / "long.npy", length_policy="center")
    np.testing.assert_allclose(start, ecg_zscore(raw), atol=1e-5)
    np.testing.assert_allclose(center, ecg_zscore(long[:, 1250:6250]), atol=1e-5)


def test_preprocess_refuses_short_flat_and_nan_records_by_name(shared_data, tmp_path):
    x = np.random.default_rng(5).normal(0, 0.5, (12, 4000))
    np.save(tmp_path / "short.npy", x)
    with pytest.raises(SignalError, match=r"^ECG-short: too short: 8\.00 s"):
        ecg_preprocess(tmp_path / "short.npy", record_id="ECG-short")
    x = np.random.default_rng(6).normal(0, 0.5, (12, 5000))
    x[3, 7] = np.nan
    np.save(tmp_path / "nan.npy", x)
    with pytest.raises(SignalError, match=r"^ECG-nan: non-finite samples in aVR \(1 NaN"):
        ecg_preprocess(tmp_path / "nan.npy", record_id="ECG-nan")
    with pytest.raises(
        SignalError, match=r"^JS20004: flat leads .*V2 \(0 mV\), V4 \(0 mV\), V6 \(0 mV\)$"
    ):
        ecg_preprocess(shared_data / "cinc" / "ningbo" / "JS20004", record_id="JS20004")


def test_preprocess_argument_errors(tmp_path):
    np.save(tmp_path / "ok.npy", np.random.default_rng(7).normal(size=(12, 5000)))
    with pytest.raises(ValueError, match="filter must be one of"):
        ecg_preprocess(tmp_path / "ok.npy", filter="butterworth")
    with pytest.raises(ValueError, match="length_policy must be one of"):
        ecg_preprocess(tmp_path / "ok.npy", length_policy="end")
    with pytest.raises(ValueError, match="fs=250 given for an Ecg sampled at 500 Hz"):
        ecg_preprocess(Ecg(np.ones((12, 10)), fs=500), fs=250)


def test_butter_sos_is_scipys_design_made_once_per_setting():
    from scipy import signal as ss

    from ecglib.signals.preprocess import butter_sos

    sos = butter_sos(2, (5.0, 25.0), "bandpass", 500.0)
    np.testing.assert_array_equal(
        sos, ss.butter(2, (5.0, 25.0), btype="bandpass", fs=500.0, output="sos")
    )
    assert butter_sos(2, (5.0, 25.0), "bandpass", 500.0) is sos
