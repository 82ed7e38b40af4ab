"""ecglib.signals.beats: the beat window, z-scoring and isoelectric reference, exclusions, real records.

Synthetic records come from :func:`synthetic_ecg` (Gaussian-bump P, Q, R, S, T trains with numpy,
known R-peak times, optional ST offset per lead); ``tests/test_signals_rpeaks.py`` and
``tests/test_waveforms.py`` reuse it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecglib.errors import SignalError
from ecglib.schema import FS, LEADS
from ecglib.signals.beats import (
    BEAT_FILTERS,
    REASONS,
    AverageBeats,
    BeatError,
    average_beats,
    beat_time,
    beat_window,
    ecg_beats,
)

# --- a small synthetic 12-lead generator -----------------------------------------------------------

#: Wave centre and width (s, relative to the R peak) of P, Q, R, S, T.
WAVE_TIMING = {
    "P": (-0.16, 0.02),
    "Q": (-0.025, 0.008),
    "R": (0.0, 0.01),
    "S": (0.025, 0.009),
    "T": (0.25, 0.045),
}
#: Per-lead amplitudes (mV) of P, Q, R, S, T: an adult-looking 12-lead ECG (aVR negative, rS in V1).
AMPLITUDES = np.array(
    [
        (0.08, -0.05, 0.8, -0.10, 0.25),  # I
        (0.12, -0.05, 1.2, -0.20, 0.35),  # II
        (0.05, -0.05, 0.5, -0.15, 0.12),  # III
        (-0.10, 0.00, -1.0, 0.10, -0.30),  # aVR
        (0.02, -0.05, 0.3, -0.10, 0.07),  # aVL
        (0.09, -0.05, 0.8, -0.15, 0.24),  # aVF
        (0.05, 0.00, 0.2, -1.00, -0.05),  # V1
        (0.06, 0.00, 0.4, -1.30, 0.50),  # V2
        (0.06, -0.02, 0.8, -0.90, 0.50),  # V3
        (0.06, -0.05, 1.3, -0.50, 0.45),  # V4
        (0.06, -0.08, 1.5, -0.30, 0.35),  # V5
        (0.05, -0.08, 1.1, -0.15, 0.25),  # V6
    ]
)
#: The planted ST box: from this long after the R peak to this long after it (s), smooth edges.
ST_BOX = (0.06, 0.13)


def synthetic_ecg(
    r_times,
    *,
    fs: float = FS,
    n: int = 5000,
    amplitudes: np.ndarray = AMPLITUDES,
    st_mv=None,
    noise_mv: float = 0.01,
    wander_mv: float = 0.1,
    gain: float = 1.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A (12, n) ECG in mV with beats at ``r_times`` (s): Gaussian bumps per wave and lead, an ST
    offset ``st_mv`` (12,) between :data:`ST_BOX` after every R peak, white noise and a 0.3 Hz wander."""
    rng = np.random.default_rng(0) if rng is None else rng
    t = np.arange(n) / fs
    u = t[None, :] - np.asarray(r_times, dtype=float)[:, None]  # (beats, n)
    x = np.zeros((len(LEADS), n))
    for k, (centre, width) in enumerate(WAVE_TIMING.values()):
        x += amplitudes[:, k, None] * np.exp(-0.5 * ((u - centre) / width) ** 2).sum(axis=0)
    if st_mv is not None:
        rise = 0.5 * (1 + np.tanh((u - ST_BOX[0]) / 0.008))  # logistic edges of 4 ms scale
        fall = 0.5 * (1 - np.tanh((u - ST_BOX[1]) / 0.008))
        box = (rise * fall).sum(axis=0)
        x += np.asarray(st_mv, dtype=float)[:, None] * box
    x += rng.normal(0.0, noise_mv, x.shape)
    x += wander_mv * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi, (len(LEADS), 1)))
    return gain * x


def regular_beats(
    hr: float = 72.0,
    start: float = 0.3,
    length_s: float = 10.0,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    rng = np.random.default_rng(1) if rng is None else rng
    rr = 60.0 / hr * (1 + jitter * rng.uniform(-1, 1, 60))
    times = start + np.concatenate([[0.0], np.cumsum(rr)])
    return times[times < length_s - 0.05]


def random_group(n_records: int, *, st_mv=None, seed: int = 0, n: int = 5000) -> np.ndarray:
    """Records of varied heart rate (55-90 /min), amplitudes (lognormal 15% per lead) and noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_records, len(LEADS), n), dtype=np.float32)
    for i in range(n_records):
        amps = AMPLITUDES * rng.lognormal(0.0, 0.15, (len(LEADS), 1))
        times = regular_beats(
            rng.uniform(55, 90), start=rng.uniform(0.1, 0.9), jitter=0.03, rng=rng
        )
        out[i] = synthetic_ecg(
            times,
            amplitudes=amps,
            st_mv=st_mv,
            rng=rng,
            noise_mv=rng.uniform(0.005, 0.02),
            wander_mv=rng.uniform(0.0, 0.15),
        )
    return out


# --- the beat window ------------------------------------------------------------------------------


def test_beat_window_is_450_samples_with_r_at_125():
    assert beat_window(500) == (125, 325)
    t = beat_time(500)
    assert t.shape == (450,) and t[125] == 0.0
    assert t[0] == pytest.approx(-0.25) and t[-1] == pytest.approx(0.648)
    assert beat_window(250) == (62, 162)  # round(62.5) = 62, round(162.5) = 162 (banker's rounding)


def test_beats_are_cut_around_r_with_the_r_peak_at_index_125():
    times = regular_beats(75)
    res = ecg_beats(synthetic_ecg(times, noise_mv=0.0, wander_mv=0.0))
    assert res.beats.shape[1:] == (12, 450)
    assert res.average.shape == (12, 450)
    # The R wave of lead II is the maximum of the average beat, at the R index.
    assert int(np.argmax(res.average[LEADS.index("II")])) == 125
    # Beats that do not fit inside the record are dropped; the others are all used (NeuroKit2 may
    # miss the first beat of a record, whose QRS falls inside its running-average start-up).
    peaks = res.r_peaks
    fits = (peaks >= 125) & (peaks + 325 <= 5000)
    np.testing.assert_array_equal(res.used, fits)
    assert res.n_beats == fits.sum() >= ((times >= 0.25) & (times <= 10.0 - 0.65)).sum() - 1


# --- z-score, isoelectric reference, ectopic beats -----------------------------------------------


def test_average_beat_is_gain_invariant_and_referenced_to_the_pr_segment():
    times = regular_beats(70)
    x = synthetic_ecg(times, rng=np.random.default_rng(3))
    a = ecg_beats(x)
    b = ecg_beats(
        3.0 * x
    )  # another amplifier gain: the z-score per lead over the record removes it
    np.testing.assert_allclose(a.average, b.average, atol=1e-9)
    lo, hi = a.isoelectric
    before = beat_window()[0]
    assert before - 0.10 * FS <= lo and hi <= before - 0.03 * FS + 10
    np.testing.assert_allclose(a.average[:, lo:hi].mean(axis=1), 0.0, atol=1e-9)
    # Z-scored per lead over the record: in record-SD units the R wave of lead II is several SDs.
    assert 3 < a.average[LEADS.index("II"), before] < 15


def test_plain_zscore_option_keeps_the_record_mean_as_zero():
    x = synthetic_ecg(regular_beats(70), wander_mv=0.0)
    res = ecg_beats(x, baseline=None)
    assert res.isoelectric is None
    # The PR segment is not exactly zero then (the mean of the record is the reference).
    assert abs(res.average[:, 100:110].mean()) > 1e-3


@pytest.mark.parametrize("method", BEAT_FILTERS)
def test_every_beat_filter_recovers_a_planted_st_offset(method):
    st = np.zeros(len(LEADS))
    st[LEADS.index("V2")] = -0.15
    times = regular_beats(70, jitter=0.02)
    kwargs = dict(noise_mv=0.01, wander_mv=0.1)  # the same noise and wander in both records
    res = ecg_beats(
        synthetic_ecg(times, st_mv=st, rng=np.random.default_rng(5), **kwargs), filter=method
    )
    clean = ecg_beats(synthetic_ecg(times, rng=np.random.default_rng(5), **kwargs), filter=method)
    before = beat_window()[0]
    st_window = slice(before + int(0.08 * FS), before + int(0.11 * FS))
    v2 = LEADS.index("V2")
    # ST of V2 lower with the offset than without it, by roughly 0.15 mV in V2's record SD
    assert (clean.average[v2, st_window] - res.average[v2, st_window]).mean() > 0.15 / 0.6
    # and the other leads unchanged
    other = [i for i in range(len(LEADS)) if i != v2]
    assert (
        np.abs(clean.average[other][:, st_window] - res.average[other][:, st_window]).max() < 0.01
    )


def test_ectopic_beat_is_dropped_from_the_average():
    times = regular_beats(70)
    x = synthetic_ecg(times, wander_mv=0.0)
    # A premature ventricular beat: wide (60 ms), tall, negative, 0.45 s after the 5th beat.
    t = np.arange(5000) / FS
    pvc = times[4] + 0.45
    x += np.array([-1.5, -2.0, -1.0, 1.5, -0.5, -1.5, 1.5, 1.5, 1.0, -1.0, -1.5, -1.5])[
        :, None
    ] * np.exp(-0.5 * ((t - pvc) / 0.03) ** 2)
    res = ecg_beats(x)
    pvc_sample = int(round(pvc * FS))
    near = np.abs(res.r_peaks - pvc_sample) < 0.05 * FS
    if near.any():  # detected: then it must not be averaged
        assert not res.used[near].any()
    assert res.n_beats >= 10


# --- exclusions ------------------------------------------------------------------------------------


def _flat_lead() -> np.ndarray:
    x = synthetic_ecg(regular_beats(70))
    x[LEADS.index("V3")] = 0.0
    return x


def _with_nan() -> np.ndarray:
    x = synthetic_ecg(regular_beats(70))
    x[0, 100:110] = np.nan
    return x


def _three_beats() -> np.ndarray:  # 3 beats, then a long pause (sinus arrest)
    return synthetic_ecg(np.array([1.0, 1.9, 2.8]))


def _bradycardia_25() -> np.ndarray:
    return synthetic_ecg(regular_beats(25, start=0.4))


def _noise() -> np.ndarray:
    return np.random.default_rng(0).normal(0, 0.3, (12, 5000))


@pytest.mark.parametrize(
    "make, reason",
    [
        (_flat_lead, "signal check"),
        (_with_nan, "signal check"),
        (_three_beats, "too few beats"),
        (_bradycardia_25, "heart rate out of range"),
    ],
)
def test_bad_records_raise_a_named_reason(make, reason):
    with pytest.raises(BeatError) as info:
        ecg_beats(make(), record_id="rec-7")
    assert info.value.reason == reason
    assert "rec-7" in str(info.value)
    assert isinstance(info.value, SignalError)


def test_noise_is_excluded_not_averaged():
    with pytest.raises(BeatError) as info:
        ecg_beats(_noise())
    assert info.value.reason in {
        "poor signal quality",
        "detection failed",
        "too few beats",
        "heart rate out of range",
    }


def test_irregular_rhythm_is_excluded_only_on_request():
    rng = np.random.default_rng(2)
    times = 0.2 + np.concatenate([[0.0], np.cumsum(rng.uniform(0.45, 1.2, 30))])
    x = synthetic_ecg(times[times < 9.9])
    assert ecg_beats(x).rr_cv > 0.15
    with pytest.raises(BeatError) as info:
        ecg_beats(x, max_rr_cv=0.1)
    assert info.value.reason == "irregular rhythm"


def test_average_beats_never_crashes_and_lists_every_exclusion_with_a_reason():
    good = [synthetic_ecg(regular_beats(hr), rng=np.random.default_rng(hr)) for hr in (60, 75, 90)]
    signals = np.stack(
        [good[0], _flat_lead(), good[1], _three_beats(), _with_nan(), good[2], _noise()]
    )
    res = average_beats(signals, progress=False, record_ids=[f"E{i}" for i in range(7)])
    assert isinstance(res, AverageBeats)
    avg, exclusions = res  # unpacks as (average, exclusions)
    assert avg.shape == (7, 12, 450) and avg.dtype == np.float32
    assert np.isfinite(avg[[0, 2, 5]]).all()
    assert np.isnan(avg[[1, 3, 4, 6]]).all()
    assert list(exclusions["record"]) == [1, 3, 4, 6]
    assert list(exclusions["record_id"]) == ["E1", "E3", "E4", "E6"]
    assert list(exclusions.columns) == ["record", "record_id", "reason", "detail"]
    assert set(exclusions["reason"]) <= set(REASONS)
    assert exclusions.set_index("record").loc[[1, 3, 4], "reason"].tolist() == [
        "signal check",
        "too few beats",
        "signal check",
    ]
    assert exclusions["detail"].str.len().gt(0).all()
    rec = res.records
    assert rec["included"].tolist() == [True, False, True, False, False, True, False]
    assert (rec.loc[rec.included, "lead"] == "II").all()
    assert rec.loc[rec.included, "hr"].between(55, 95).all()
    assert res.included.sum() == 3


def test_parallel_result_equals_serial():
    signals = random_group(6, seed=11)
    signals[2, 4] = 0.0  # one bad record among them
    a = average_beats(signals, progress=False, n_jobs=1)
    b = average_beats(signals, progress=False, n_jobs=2, chunk_size=2)
    np.testing.assert_array_equal(a.average, b.average)
    pd.testing.assert_frame_equal(a.exclusions, b.exclusions)
    pd.testing.assert_frame_equal(a.records, b.records)


def test_programming_errors_are_not_swallowed():
    with pytest.raises(ValueError):
        average_beats(np.zeros((3, 5000)), progress=False)  # not (N, 12, T)
    with pytest.raises(ValueError):
        ecg_beats(synthetic_ecg(regular_beats()), filter="bogus")
    with pytest.raises(TypeError):
        average_beats(np.zeros((1, 12, 5000)), progress=False, min_beat=3)  # misspelt option


# --- real WFDB records -----------------------------------------------------------------------------


@pytest.fixture
def cinc(shared_data) -> pd.DataFrame:
    """The real CinC records' cohort.csv (../shared/data/cinc), with each record's header path."""
    folder = shared_data / "cinc"
    table = pd.read_csv(folder / "cohort.csv", dtype=str)
    table["header"] = [
        folder / source / f"{record}.hea"
        for source, record in zip(table["source"], table["record"])
    ]
    return table


def _read(cinc: pd.DataFrame, record: str):
    from ecglib.signals import ecg_read

    return ecg_read(cinc.set_index("record").at[record, "header"])


def _first(cinc: pd.DataFrame, code: str) -> str:
    """First record whose only diagnosis is ``code`` (SNOMED CT)."""
    return cinc.loc[cinc["dx_snomed"] == code, "record"].iloc[0]


def test_real_sinus_and_af_records_give_physiological_heart_rates(cinc):
    sinus = _read(cinc, _first(cinc, "426783006"))  # sinus rhythm
    af = _read(cinc, _first(cinc, "164889003"))  # atrial fibrillation
    s = ecg_beats(sinus.signal, sinus.fs, record_id=sinus.record)
    a = ecg_beats(af.signal, af.fs, record_id=af.record)
    for res in (s, a):
        assert 40 <= res.hr <= 180
        assert res.n_beats >= 6 and res.quality >= 0.8
        assert res.beats.shape[1:] == (12, 450) and np.isfinite(res.average).all()
    assert 50 <= s.hr <= 100  # a normal sinus rhythm
    assert s.rr_cv < 0.1 < a.rr_cv  # atrial fibrillation is irregularly irregular
    # The R peak of the detection lead is the largest deflection of the average beat there.
    lead = LEADS.index(s.lead)
    assert abs(int(np.argmax(np.abs(s.average[lead]))) - 125) <= 5


def test_real_records_in_a_batch_including_zero_filled_leads(cinc):
    codes = cinc["dx_snomed"]
    records = (
        list(cinc.loc[codes == "426783006", "record"].iloc[:4])
        + list(cinc.loc[codes == "164889003", "record"].iloc[:2])
        + ["JS11438"]
    )  # V1-V6 all zero
    ecgs = [_read(cinc, r) for r in records]
    assert all(e.fs == 500 for e in ecgs)
    n = min(e.signal.shape[1] for e in ecgs)
    signals = np.stack([e.signal[:, :n] for e in ecgs])
    res = average_beats(signals, progress=False, record_ids=records)
    excluded = res.exclusions.set_index("record_id")["reason"]
    assert excluded.to_dict() == {"JS11438": "signal check"}
    included = res.records[res.records.included]
    assert included["hr"].between(40, 180).all()
    assert len(included) == len(records) - 1
