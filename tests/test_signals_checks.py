"""ecg_check / ecg_quality: NaN, flat, saturated and wrong-shape signals are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from ecglib.errors import SignalError
from ecglib.schema import LEADS
from ecglib.signals import FLAT_PTP_MV, SATURATION_FRACTION, ecg_check, ecg_quality, ecg_read

FS = 500


@pytest.fixture
def clean() -> np.ndarray:
    """12 leads of 10 s: a 1.2 Hz 'beat' sine of lead-specific amplitude plus small noise (mV)."""
    t = np.arange(5000) / FS
    amp = np.linspace(0.3, 1.5, len(LEADS))[:, None]
    rng = np.random.default_rng(0)
    return amp * np.sin(2 * np.pi * 1.2 * t) + rng.normal(0, 0.01, (len(LEADS), t.size))


def test_clean_signal_passes_and_reports_measures(clean):
    q = ecg_check(clean, FS, "ok")
    np.testing.assert_allclose(q["ptp_mv"], np.ptp(clean, axis=1))
    assert q["n_nonfinite"].tolist() == [0] * 12
    assert (q["rail_fraction"] < 0.01).all()
    assert q["duration_s"] == pytest.approx(10.0) and q["n_samples"] == 5000


def test_nan_and_inf_are_named_with_counts(clean):
    x = clean.copy()
    x[1, [10, 20, 30]] = np.nan
    x[9, 100] = np.inf
    with pytest.raises(SignalError) as err:
        ecg_check(x, FS, "rec-nan")
    msg = str(err.value)
    assert msg.startswith("rec-nan: non-finite samples in ")
    assert "II (3 NaN/inf of 5000)" in msg and "V4 (1 NaN/inf of 5000)" in msg
    assert "I (" not in msg.replace("II (", "")  # lead I is clean


def test_flat_lead_is_named(clean):
    x = clean.copy()
    x[4] = 0.2 + 0.004 * np.sin(np.arange(5000) / 50)  # aVL: 0.008 mV peak-to-peak
    with pytest.raises(
        SignalError, match=r"^rec-flat: flat leads \(peak-to-peak < 0\.01 mV\): aVL \(0\.008 mV\)$"
    ):
        ecg_check(x, FS, "rec-flat")


def test_flat_threshold_boundary(clean):
    x = clean.copy()
    x[6] = np.linspace(0, 2 * FLAT_PTP_MV, 5000)  # twice the threshold: passes
    ecg_check(x, FS, "r")
    x[6] = np.linspace(0, 0.5 * FLAT_PTP_MV, 5000)
    with pytest.raises(SignalError, match=r"flat leads .*: V1 "):
        ecg_check(x, FS, "r")


def test_saturated_lead_is_named_and_brief_peak_clipping_is_not(clean):
    x = clean.copy()
    rail = np.quantile(x[7], 0.9)
    x[7] = np.minimum(x[7], rail)  # V2 clipped: ~10% of samples on the rail
    with pytest.raises(SignalError, match=r"^sat: saturated leads .*: V2 \((9|10|11)\.\d%\)$"):
        ecg_check(x, FS, "sat")
    y = clean.copy()
    y[7, 1000 : 1000 + int(0.5 * SATURATION_FRACTION * 5000)] = y[7].max()  # half the threshold
    ecg_check(y, FS, "sat-brief")


def test_several_problems_are_reported_together(clean):
    x = clean.copy()
    x[0, 5] = np.nan
    x[11] = 0.0
    with pytest.raises(SignalError) as err:
        ecg_check(x, FS, "multi")
    assert "non-finite samples in I (1 NaN/inf" in str(err.value)
    assert "flat leads (peak-to-peak < 0.01 mV): V6 (0 mV)" in str(err.value)


@pytest.mark.parametrize("shape", [(11, 5000), (13, 5000), (5000,), (1, 12, 5000)])
def test_wrong_lead_count(shape):
    with pytest.raises(SignalError, match=rf"^wlc: wrong lead count: .*got shape \({shape[0]},"):
        ecg_check(np.ones(shape), FS, "wlc")


def test_transposed_signal_gets_a_hint(clean):
    with pytest.raises(SignalError, match=r"looks like \(T, 12\)"):
        ecg_check(clean.T, FS, "tr")


def test_quality_is_nan_aware():
    x = np.tile(np.array([0.0, 1.0, 2.0, np.nan]), (2, 1))
    x[1] = np.nan
    q = ecg_quality(x, fs=4)
    assert q["n_nonfinite"].tolist() == [1, 4]
    assert q["ptp_mv"][0] == 2.0 and np.isnan(q["ptp_mv"][1])
    assert q["rail_fraction"][0] == pytest.approx(0.25)


def test_real_records_pass(shared_data):
    paths = sorted((shared_data / "ptbdb").glob("*/*.hea")) + [
        shared_data / "cinc" / "cpsc_2018" / "A0001.hea",
        shared_data
        / "cinc"
        / "ptb-xl"
        / "HR06006.hea",  # ends with 0.1 s held constant (1.1% on a rail)
        shared_data / "cinc" / "georgia" / "E00001.hea",
    ]
    assert len(paths) == 9
    for p in paths:
        e = ecg_read(p)
        q = ecg_check(e.signal, e.fs, p.stem)
        assert (q["ptp_mv"] > 0.1).all()
    assert ecg_quality(ecg_read(paths[7]).signal)["rail_fraction"].max() == pytest.approx(0.0112)


def test_real_ningbo_record_with_zeroed_chest_leads_is_refused(shared_data):
    # JS11438's header stores V1-V6 with gain 1 and baseline 1: every chest-lead sample is 0 mV.
    e = ecg_read(shared_data / "cinc" / "ningbo" / "JS11438", record_id="JS11438")
    with pytest.raises(SignalError) as err:
        ecg_check(e.signal, e.fs, "JS11438")
    msg = str(err.value)
    assert msg.startswith("JS11438: flat leads")
    assert all(f"{lead} (0 mV)" in msg for lead in ("V1", "V2", "V3", "V4", "V5", "V6"))
    assert "aVF" not in msg and "saturated" not in msg
