"""The demo ECG simulator: lead identities, physiological ranges, determinism, and the planted signal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ecglib.demo.ecg import simulate_ecgs, simulate_from_grades
from ecglib.demo.ecg_params import GRADE_ST_MV, sample_ecg_params
from ecglib.demo.geometry import PLANTED_TERRITORIES, territory_sensitivity
from ecglib.demo.measure import measure_st_levels, synthetic_r_peaks
from ecglib.schema import FS, GRADES, LEADS, N_SAMPLES, POSITIVE_GRADE, VESSELS

L = {lead: i for i, lead in enumerate(LEADS)}


def _random_grades(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, len(GRADES), (n, len(VESSELS)))


@pytest.fixture(scope="module")
def noisy():
    signals, _ = simulate_from_grades(_random_grades(12, 1), seed=11)
    return signals


@pytest.fixture(scope="module")
def clean():
    """Noise-free, ST-free records of healthy people, for measuring intervals and voltages."""
    params = sample_ecg_params(np.zeros((40, len(VESSELS)), dtype=int), np.random.default_rng(3))
    params = dataclasses.replace(params, st_vector=np.zeros_like(params.st_vector))
    return simulate_ecgs(params, noise=False), params


def test_shape_dtype_units(noisy):
    assert noisy.shape == (12, len(LEADS), N_SAMPLES)
    assert noisy.dtype == np.float32
    assert np.isfinite(noisy).all()
    assert 0.3 < np.abs(noisy).max() < 10.0  # millivolts, not volts or microvolts


def test_lead_relationships_hold_to_float_precision(noisy):
    x = noisy.astype(np.float64)
    lead = {name: x[:, i] for name, i in L.items()}
    atol = 2e-6  # a few float32 ulps of a millivolt-sized signal
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=atol)
    np.testing.assert_allclose(lead["aVR"], -(lead["I"] + lead["II"]) / 2, atol=atol)
    np.testing.assert_allclose(lead["aVL"], (lead["I"] - lead["III"]) / 2, atol=atol)
    np.testing.assert_allclose(lead["aVF"], (lead["II"] + lead["III"]) / 2, atol=atol)
    np.testing.assert_allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0.0, atol=atol)


def test_sampled_intervals_in_physiological_ranges():
    p = sample_ecg_params(_random_grades(3000, 2), np.random.default_rng(4))
    assert 50 <= p.heart_rate.min() and p.heart_rate.max() <= 110
    assert 0.120 <= p.pr.min() and p.pr.max() <= 0.200
    assert 0.080 <= p.qrs.min() and p.qrs.max() <= 0.110
    assert 0.350 <= p.qtc.min() and p.qtc.max() <= 0.450


def _spatial_magnitude(ecg: np.ndarray) -> np.ndarray:
    """Root sum of squares over the 8 independent leads (I, II, V1-V6)."""
    independent = [L["I"], L["II"], *[L[f"V{i}"] for i in range(1, 7)]]
    return np.sqrt((ecg[independent].astype(float) ** 2).sum(axis=0))


def _measure_beat(mag: np.ndarray, r: int) -> tuple[float, float]:
    """QRS duration and QT (s) of the beat at R peak ``r`` on a clean spatial magnitude.

    QRS: the run around R above 2% of its peak, ending early at a trough below 15% of the peak (where
    the T wave's upstroke begins before the QRS has fully returned to baseline); T end: where the
    magnitude falls below 10% of the T peak after it (the tangent method's usual landing point).
    """
    peak = mag[r - 25 : r + 25].max()
    onset = r
    while mag[onset - 1] > 0.02 * peak:
        onset -= 1
    offset = r
    while mag[offset + 1] > 0.02 * peak and not (mag[offset + 1] > mag[offset] < 0.15 * peak):
        offset += 1
    t_window = mag[offset + int(0.05 * FS) : offset + int(0.45 * FS)]
    t_peak = offset + int(0.05 * FS) + int(np.argmax(t_window))
    t_end = t_peak
    while mag[t_end] > 0.1 * mag[t_peak]:
        t_end += 1
    return (offset - onset) / FS, (t_end - onset) / FS


def test_measured_rate_qrs_qt_in_ranges(clean):
    signals, _ = clean
    rates, qrs, qtc = [], [], []
    for ecg in signals:
        peaks = synthetic_r_peaks(ecg)
        rr = np.diff(peaks) / FS
        rates.append(60.0 / rr.mean())
        mag = _spatial_magnitude(ecg)
        beats = [p for p in peaks if 0.4 * FS < p < N_SAMPLES - 0.9 * FS]
        measured = np.array([_measure_beat(mag, r) for r in beats])
        qrs.append(np.median(measured[:, 0]))
        qtc.append(np.median(measured[:, 1]) / np.sqrt(rr.mean()))
    rates, qrs, qtc = map(np.array, (rates, qrs, qtc))
    assert ((rates >= 48) & (rates <= 112)).all(), rates
    # Threshold-based measurements of Gaussian waves land within a few ms of the nominal bounds.
    assert ((qrs >= 0.075) & (qrs <= 0.115)).all(), qrs
    assert ((qtc >= 0.345) & (qtc <= 0.460)).all(), qtc
    assert 0.080 <= np.median(qrs) <= 0.110 and 0.360 <= np.median(qtc) <= 0.440


def test_voltages_look_adult(clean):
    signals, _ = clean
    r_v5 = signals[:, L["V5"]].max(axis=1)
    assert 1.0 <= np.median(r_v5) <= 2.5, np.median(r_v5)
    assert np.mean((r_v5 > 0.4) & (r_v5 < 3.5)) > 0.9
    # aVR mirrors the normal axis: predominantly negative QRS and T.
    assert np.median(signals[:, L["aVR"]].min(axis=1)) < -0.5
    assert np.median(signals[:, L["aVR"]].max(axis=1)) < 0.3


def test_same_seed_same_signals_and_chunking_does_not_matter():
    grades = _random_grades(7, 5)
    a, params = simulate_from_grades(grades, seed=21)
    b, _ = simulate_from_grades(grades, seed=21)
    c = simulate_ecgs(params, chunk_size=3)
    d, _ = simulate_from_grades(grades, seed=22)
    assert np.array_equal(a, b)
    assert np.array_equal(a, c)
    assert not np.array_equal(a, d)


def test_noise_free_version_is_the_same_heartbeat():
    params = sample_ecg_params(_random_grades(3, 6), np.random.default_rng(6))
    noisy, clean = simulate_ecgs(params), simulate_ecgs(params, noise=False)
    residual = noisy - clean
    assert 0.005 < residual.std() < 0.5
    np.testing.assert_array_equal(synthetic_r_peaks(clean[0]), synthetic_r_peaks(clean[0]))
    assert abs(len(synthetic_r_peaks(noisy[0])) - len(synthetic_r_peaks(clean[0]))) <= 1


def test_planted_offset_grows_with_grade():
    grades = np.repeat(np.arange(len(GRADES)), 400)[:, None].repeat(len(VESSELS), axis=1)
    p = sample_ecg_params(grades, np.random.default_rng(8))
    medians = [np.median(p.planted_mv[grades[:, 0] == g]) for g in GRADES]
    assert medians[0] == 0.0
    assert all(a < b for a, b in zip(medians, medians[1:]))
    assert list(GRADE_ST_MV) == sorted(GRADES)
    # Severe lesions give ischaemic-sized offsets (about 0.05-0.2 mV), but not in every patient.
    severe = p.planted_mv[grades[:, 0] >= POSITIVE_GRADE]
    assert 0.05 <= np.median(severe) <= 0.2
    assert np.mean(severe < 0.04) > 0.1


def test_territories_name_known_leads():
    assert set(PLANTED_TERRITORIES) == set(VESSELS)
    for territory in PLANTED_TERRITORIES.values():
        assert set(territory.leads) <= set(LEADS) and set(territory.reciprocal) <= set(LEADS)
    sens = territory_sensitivity()
    for v, vessel in enumerate(VESSELS):
        territory = [L[lead] for lead in PLANTED_TERRITORIES[vessel].leads]
        # The territory holds the vessel's largest deviations.
        assert np.abs(sens[v, territory]).max() == pytest.approx(np.abs(sens[v]).max())


@pytest.fixture(scope="module")
def independent_grades_st():
    """ST levels of records whose vessels are independently none or severe/occluded.

    Independence matters: in the cohort, grades are correlated across vessels, so an unrelated lead
    would look informative through another vessel's territory.
    """
    rng = np.random.default_rng(12)
    grades = rng.choice([0, 3, 4], size=(900, len(VESSELS)), p=[0.5, 0.35, 0.15])
    signals, _ = simulate_from_grades(grades, seed=13)
    return grades, measure_st_levels(signals)


@pytest.mark.parametrize("vessel", VESSELS)
def test_planted_signal_in_territory_and_not_elsewhere(independent_grades_st, vessel):
    grades, st = independent_grades_st
    v = VESSELS.index(vessel)
    diseased = grades[:, v] >= POSITIVE_GRADE
    sens = territory_sensitivity()[v]

    def auc(lead: str) -> float:
        # Oriented by the expected change: depression where sens < 0, elevation where sens > 0.
        return roc_auc_score(diseased, np.sign(sens[L[lead]]) * st[:, L[lead]])

    territory = {lead: auc(lead) for lead in PLANTED_TERRITORIES[vessel].leads}
    assert min(territory.values()) > 0.6, (vessel, territory)
    assert np.mean(list(territory.values())) > 0.65, (vessel, territory)
    unrelated = [lead for lead in LEADS if abs(sens[L[lead]]) < 0.1 * np.abs(sens).max()]
    assert unrelated, vessel
    for lead in unrelated:
        value = roc_auc_score(diseased, st[:, L[lead]])
        assert abs(value - 0.5) < 0.1, (vessel, lead, value)


def test_left_main_shows_avr_elevation_and_diffuse_depression(independent_grades_st):
    grades, st = independent_grades_st
    lm = grades[:, VESSELS.index("LM")] >= POSITIVE_GRADE
    assert roc_auc_score(lm, st[:, L["aVR"]]) > 0.65
    depression_leads = [L[lead] for lead in PLANTED_TERRITORIES["LM"].leads if lead != "aVR"]
    assert len(depression_leads) >= 4
    assert roc_auc_score(lm, -st[:, depression_leads].mean(axis=1)) > 0.65
