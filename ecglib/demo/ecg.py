"""Synthetic 12-lead ECGs from a moving cardiac dipole, with a planted, vessel-specific ST-T signal.

Physiology and model choices
----------------------------
*Heart as one dipole.* The body-surface ECG is, to first order, the projection of a single
time-varying current dipole (the heart vector) onto each electrode's lead-field vector. Each beat's
heart vector is a sum of Gaussian bumps, one 3-D vector per wave: two P components (right then left
atrium, so V1 can show a biphasic P), the septal Q, the main R, the late S, and an asymmetric T
(an earlier, smaller bump plus the main T, because repolarisation rises slowly and ends fast).
A smooth box from the J point to the end of the T wave carries the ST level: the person's normal
J-point/ST vector plus any planted ischaemic offset.

*Electrodes, then leads.* The dipole is projected onto nine electrodes (RA, LA, LL on Einthoven's
equilateral triangle, V1-V6 in the horizontal plane with larger gains because they sit closer to the
heart); noise, baseline wander and mains hum are added per electrode, and the twelve leads are then
derived from the electrode potentials exactly as an electrocardiograph does (I = LA - RA, ...,
Vi - Wilson's central terminal). So III = II - I and aVR = -(I + II)/2 hold to float precision for
every record, noise included, as they do in real recordings.

*Coordinates.* x points to the patient's left, y to the feet (inferior), z to the front (anterior).
Limb lead-field vectors have unit length for I, II, III, so lead I reads the x component in mV.

*Planted signal.* Stable coronary disease shows at rest, if at all, as subtle subendocardial
ischaemia: ST depression with T flattening in the leads facing the territory, i.e. an ST-T dipole
offset pointing *away* from it (reciprocal elevation in the opposite leads). Left main disease gives
diffuse subendocardial ischaemia whose ST vector points towards aVR: ST elevation in aVR with
depression in I, II and V4-V6. The offset grows with the CCTA grade, varies between people (some
severe lesions are electrically silent) and between ECGs of one person, and is small (tenths of a
millivolt at most), so that it is learnable but far from deterministic. :data:`PLANTED_TERRITORIES`
documents each vessel's territory; the interpretability chapter must rediscover it.

*Vectorisation.* The model is linear in the wave vectors. Records are simulated in chunks; within a
chunk, each wave's bumps for every beat of every record are evaluated at once near their centres
(records x beats x samples) and summed onto the 10-s axis with one ``bincount``, giving one scalar
time course per wave; a batched matrix product then projects them onto the electrodes. No Python
loop runs over samples or beats. Per-record randomness (beat jitter, noise) comes from a per-record
seed, so a record does not depend on the chunk size or on which other records share its chunk.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from scipy.signal import find_peaks

from ecglib.schema import FS, GRADES, LEADS, N_SAMPLES, VESSELS

#: Electrodes whose potentials are simulated; leads are derived from them.
ELECTRODES: tuple[str, ...] = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")

#: Dipole waves of one beat, in the order of :attr:`EcgParams.waves`.
WAVES: tuple[str, ...] = ("P1", "P2", "Q", "R", "S", "T_shoulder", "T")
_QRS = slice(2, 5)
_REPOL = slice(5, 7)

# Precordial electrodes: angle in the horizontal plane from the patient's left (+x) towards the
# front (+z), and a gain > 1 because the chest electrodes are a few centimetres from the heart while
# the limb electrodes are effectively at infinity. Tuned so that R progression and V5 R amplitude
# (about 1-2.5 mV) look like an adult ECG.
_PRECORDIAL_ANGLE_DEG = (118.0, 96.0, 78.0, 58.0, 30.0, 0.0)
_PRECORDIAL_GAIN = (1.15, 1.65, 1.8, 1.8, 1.7, 1.3)

# The typical adult heart vector of each wave (mV in lead-field units, before the person's rotation
# and gains): atria inferior-leftward, septum to the right and front (the q in I/V6, r in V1), the main
# R left-inferior and slightly posterior, the S posterior-superior, the T roughly concordant with R
# but more anterior (upright T in V2-V6).
_TEMPLATE_WAVES = np.array([
    (0.030, 0.105, 0.060),     # P1, right atrium
    (0.075, 0.050, -0.050),    # P2, left atrium
    (-0.110, 0.040, 0.150),    # Q, septal depolarisation
    (1.050, 0.650, -0.200),    # R
    (-0.080, -0.200, -0.420),  # S
    (0.085, 0.070, 0.060),     # T shoulder (slow upstroke of repolarisation)
    (0.230, 0.190, 0.170),     # T
])


class Territory(NamedTuple):
    """Where a vessel's planted ischaemic change shows, and how it is built."""

    region: str                       #: clinical name of the lead group
    leads: tuple[str, ...]            #: leads facing the territory (largest change)
    change: str                       #: what a reader would see there
    segment: str                      #: which part of the beat carries the change
    direction: tuple[float, float, float]  #: ST-T dipole offset direction (x left, y inferior, z anterior)
    reciprocal: tuple[str, ...]       #: leads with the opposite (reciprocal) deviation


_ST_T = "ST segment and T wave (J point to end of T)"

#: The planted ECG signal of each vessel: a dipole offset during the ST segment and T wave.
#: Depression in the facing leads means an offset pointing away from the territory.
PLANTED_TERRITORIES: dict[str, Territory] = {
    "RCA": Territory("inferior", ("II", "III", "aVF"), "ST depression, T flattening", _ST_T,
                     (0.0, -1.0, 0.0), ("aVR", "aVL")),
    "LM": Territory("diffuse", ("aVR", "I", "II", "V4", "V5", "V6"),
                    "ST elevation in aVR with diffuse ST depression", _ST_T,
                    (-0.80, -0.50, -0.33), ()),
    "LAD": Territory("anterior", ("V1", "V2", "V3", "V4"), "ST depression, T flattening", _ST_T,
                     (0.0, 0.0, -1.0), ()),
    "LCX": Territory("lateral", ("I", "aVL", "V5", "V6"), "ST depression, T flattening", _ST_T,
                     (-1.0, 0.0, 0.0), ("aVR", "III", "V1")),
}

#: Median planted ST-T offset (mV, in the territory's most affected lead) for each CCTA grade.
#: Mild and moderate plaques barely limit flow at rest; severe stenosis and occlusion do.
GRADE_ST_MV: dict[int, float] = {0: 0.0, 1: 0.006, 2: 0.018, 3: 0.075, 4: 0.11}


@dataclass(frozen=True)
class RecordingSite:
    """Recording conditions of a site: electrode noise, wander, mains hum and amplifier gain."""

    noise_mv: float = 0.012     #: median white (EMG/amplifier) noise SD per electrode
    wander_mv: float = 0.08     #: median baseline-wander SD per electrode
    hum_mv: float = 0.008       #: median 50 Hz amplitude of the differential mains pickup
    gain: float = 1.0           #: calibration factor of the amplifier (1 = exact)
    mains_hz: float = 50.0


#: The internal (university) site and the external (district) site: older equipment, noisier
#: electrodes, a 5% gain miscalibration. This is the distribution shift the external validation meets.
INTERNAL_SITE = RecordingSite()
EXTERNAL_SITE = RecordingSite(noise_mv=0.022, wander_mv=0.12, hum_mv=0.02, gain=1.06)


@dataclass(frozen=True)
class EcgParams:
    """Everything that determines one batch of simulated ECGs (one entry per record).

    Build it with :func:`sample_ecg_params`; simulate with :func:`simulate_ecgs`. Times are in
    seconds, amplitudes in mV. ``planted_mv`` is the hidden truth of the planted ST-T offset per
    vessel (columns in :data:`~ecglib.schema.VESSELS` order).
    """

    heart_rate: np.ndarray   # (n,) beats/min
    pr: np.ndarray           # (n,) P onset to QRS onset
    qrs: np.ndarray          # (n,) QRS duration
    qtc: np.ndarray          # (n,) Bazett-corrected QT
    p_sigma: np.ndarray      # (n,) width of the atrial bumps
    t_sigma: np.ndarray      # (n,) width of the T wave
    waves: np.ndarray        # (n, len(WAVES), 3) heart vector of each wave
    st_vector: np.ndarray    # (n, 3) J-to-T-end offset: normal ST + planted ischaemia (+ LVH strain)
    planted_mv: np.ndarray   # (n, 4) planted offset per vessel (hidden truth)
    hrv: np.ndarray          # (n,) beat-to-beat RR jitter (relative SD)
    rsa: np.ndarray          # (n,) respiratory sinus arrhythmia (relative RR amplitude)
    resp_hz: np.ndarray      # (n,) breathing rate
    resp_amp: np.ndarray     # (n,) relative amplitude modulation by breathing
    contact: np.ndarray      # (n, 9) per-electrode noise factor (skin contact quality)
    noise_mv: np.ndarray     # (n,)
    wander_mv: np.ndarray    # (n,)
    hum_mv: np.ndarray       # (n,)
    gain: np.ndarray         # (n,) amplifier calibration
    mains_hz: np.ndarray     # (n,)
    seed: np.ndarray         # (n,) uint64 seed of the per-record randomness (beats, noise)

    def __len__(self) -> int:
        return len(self.heart_rate)

    def subset(self, index) -> EcgParams:
        """The parameters of some records (a slice, boolean mask or integer index)."""
        return EcgParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[EcgParams]) -> EcgParams:
        return EcgParams(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                            for f in fields(EcgParams)})


# ----------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------

def electrode_vectors() -> np.ndarray:
    """Lead-field vector of each electrode relative to Wilson's central terminal, shape (9, 3).

    The limb electrodes sit on an equilateral triangle in the frontal plane (Einthoven), scaled so
    that I, II and III have unit lead vectors at 0, 60 and 120 degrees; their sum is zero, so the
    central terminal carries no cardiac signal, only noise.
    """
    k = 1.0 / np.sqrt(3.0)
    limb = k * np.array([(-np.sqrt(3) / 2, -0.5, 0.0), (np.sqrt(3) / 2, -0.5, 0.0), (0.0, 1.0, 0.0)])
    angle = np.deg2rad(_PRECORDIAL_ANGLE_DEG)
    chest = np.stack([np.cos(angle), np.zeros_like(angle), np.sin(angle)], axis=1)
    chest *= np.asarray(_PRECORDIAL_GAIN)[:, None]
    return np.concatenate([limb, chest])


def _lead_definitions() -> dict[str, dict[str, float]]:
    """Each lead as a weighted sum of electrode potentials (the electrocardiograph's wiring)."""
    third = 1.0 / 3.0
    wct = {"RA": -third, "LA": -third, "LL": -third}
    defs = {
        "I": {"LA": 1.0, "RA": -1.0},
        "II": {"LL": 1.0, "RA": -1.0},
        "III": {"LL": 1.0, "LA": -1.0},
        "aVR": {"RA": 1.0, "LA": -0.5, "LL": -0.5},
        "aVL": {"LA": 1.0, "RA": -0.5, "LL": -0.5},
        "aVF": {"LL": 1.0, "RA": -0.5, "LA": -0.5},
    }
    for v in ("V1", "V2", "V3", "V4", "V5", "V6"):
        defs[v] = {v: 1.0, **wct}
    return defs


def lead_matrix() -> np.ndarray:
    """Matrix (12, 9) that turns electrode potentials into the leads of :data:`LEADS`."""
    defs = _lead_definitions()
    matrix = np.zeros((len(LEADS), len(ELECTRODES)))
    for i, lead in enumerate(LEADS):
        for electrode, weight in defs[lead].items():
            matrix[i, ELECTRODES.index(electrode)] = weight
    return matrix


def leads_from_electrodes(potentials: np.ndarray) -> np.ndarray:
    """The 12 leads (..., 12, T) from electrode potentials (..., 9, T), wired as an electrocardiograph.

    Computed lead by lead as the few signed electrode sums (not a dense matrix product, which numpy
    does slowly for a broadcast 12 x 9 matrix), in float64, so the Einthoven and Goldberger
    identities hold to rounding error.
    """
    out = np.empty(potentials.shape[:-2] + (len(LEADS), potentials.shape[-1]), dtype=potentials.dtype)
    defs = _lead_definitions()
    for i, lead in enumerate(LEADS):
        terms = iter(defs[lead].items())
        electrode, weight = next(terms)
        acc = weight * potentials[..., ELECTRODES.index(electrode), :]
        for electrode, weight in terms:
            acc += weight * potentials[..., ELECTRODES.index(electrode), :]
        out[..., i, :] = acc
    return out


def lead_vectors() -> np.ndarray:
    """Lead-field vector of each of the 12 leads, shape (12, 3): a dipole d reads ``lead_vectors() @ d``."""
    return lead_matrix() @ electrode_vectors()


def territory_vector(vessel: str) -> np.ndarray:
    """Unit planted offset of a vessel, scaled so that 1 mV of offset moves its most affected
    territory lead by exactly 1 mV (so :data:`GRADE_ST_MV` reads as a visible ST deviation)."""
    territory = PLANTED_TERRITORIES[vessel]
    direction = np.asarray(territory.direction, dtype=float)
    reach = lead_vectors()[[LEADS.index(lead) for lead in territory.leads]] @ direction
    return direction / np.abs(reach).max()


def territory_sensitivity() -> np.ndarray:
    """ST deviation (mV) of each lead per 1 mV of planted offset, shape (4 vessels, 12 leads).

    Negative is depression. Leads near zero are those a vessel's planted signal should not touch;
    the tests check that they indeed do not separate diseased from healthy records.
    """
    return np.stack([lead_vectors() @ territory_vector(v) for v in VESSELS])


def rotation_matrices(frontal: np.ndarray, horizontal: np.ndarray, sagittal: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) from angles in radians about z (frontal-plane axis shift),
    y (clockwise/counter-clockwise rotation: moves the precordial transition zone) and x (tilt)."""
    cz, sz = np.cos(frontal), np.sin(frontal)
    cy, sy = np.cos(horizontal), np.sin(horizontal)
    cx, sx = np.cos(sagittal), np.sin(sagittal)
    one, zero = np.ones_like(cz), np.zeros_like(cz)
    rz = np.stack([np.stack([cz, -sz, zero], -1), np.stack([sz, cz, zero], -1),
                   np.stack([zero, zero, one], -1)], -2)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1),
                   np.stack([-sy, zero, cy], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cx, -sx], -1),
                   np.stack([zero, sx, cx], -1)], -2)
    return rz @ ry @ rx


# ----------------------------------------------------------------------------------------------
# Sampling the parameters
# ----------------------------------------------------------------------------------------------

def _truncated_normal(rng: np.random.Generator, mean, sd, low, high, size) -> np.ndarray:
    """Normal draws clipped softly: values outside [low, high] are redrawn (a few rounds), then clipped.

    Redrawing avoids the point masses at the bounds that plain clipping would create.
    """
    x = rng.normal(mean, sd, size)
    for _ in range(8):
        bad = (x < low) | (x > high)
        if not bad.any():
            break
        x[bad] = rng.normal(np.broadcast_to(mean, size)[bad], np.broadcast_to(sd, size)[bad])
    return np.clip(x, low, high)


@dataclass(frozen=True)
class _Persons:
    """Person-level traits, shared by all ECGs of one person (why patient-grouped folds matter)."""

    rotation: np.ndarray     # (p, 3, 3)
    wave_scale: np.ndarray   # (p, n_waves)
    t_rotation: np.ndarray   # (p, 3, 3) extra rotation of the T vector (QRS-T angle)
    gain: np.ndarray         # (p,) body habitus: thicker chest, smaller voltages
    normal_st: np.ndarray    # (p, 3) benign J-point/ST vector
    expressivity: np.ndarray  # (p, 4) how much of a vessel's ischaemia shows on the surface ECG
    heart_rate: np.ndarray
    pr: np.ndarray
    qrs: np.ndarray
    qtc: np.ndarray
    p_sigma: np.ndarray
    t_sigma: np.ndarray
    hrv: np.ndarray
    resp_hz: np.ndarray


def _sample_persons(rng: np.random.Generator, age: np.ndarray, male: np.ndarray,
                    lvh: np.ndarray) -> _Persons:
    p = len(age)
    age_z = (age - 63.0) / 10.0
    # Older hearts lie more horizontally (leftward frontal axis); men have slightly larger voltages
    # and a more prominent anterior J-point elevation (the "male pattern" of V2-V3 ST elevation).
    frontal = np.deg2rad(rng.normal(0.0, 16.0, p) - 6.0 * age_z)
    horizontal = np.deg2rad(rng.normal(0.0, 11.0, p))
    sagittal = np.deg2rad(rng.normal(0.0, 6.0, p))
    rotation = rotation_matrices(frontal, horizontal, sagittal)
    wave_scale = rng.lognormal(0.0, 0.15, (p, len(WAVES)))
    wave_scale[:, _REPOL] = wave_scale[:, [_REPOL.start]]  # one T wave, two bumps
    wave_scale[:, _QRS] *= np.where(lvh, 1.6, 1.0)[:, None]
    t_rotation = rotation_matrices(*np.deg2rad(rng.normal(0.0, [[10.0], [10.0], [6.0]], (3, p))))
    gain = rng.lognormal(0.0, 0.17, p) * np.where(male, 1.06, 0.94) * (1.0 - 0.03 * age_z)
    normal_st = np.stack([
        rng.normal(0.008, 0.014, p),
        rng.normal(0.010, 0.028, p),
        np.abs(rng.normal(0.0, 0.012, p)) + np.where(male, 0.020, 0.010) * np.exp(-0.4 * age_z),
    ], axis=1)
    # Heavy-tailed expressivity: many severe lesions are electrically silent at rest, a few are loud.
    expressivity = rng.lognormal(-0.1, 0.65, (p, len(VESSELS)))
    return _Persons(
        rotation=rotation, wave_scale=wave_scale, t_rotation=t_rotation, gain=gain,
        normal_st=normal_st, expressivity=expressivity,
        heart_rate=_truncated_normal(rng, 71.0, 10.0, 54.0, 104.0, p),
        pr=_truncated_normal(rng, 0.158 + 0.004 * age_z, 0.017, 0.125, 0.195, p),
        qrs=_truncated_normal(rng, np.where(male, 0.095, 0.089), 0.006, 0.082, 0.108, p),
        qtc=_truncated_normal(rng, np.where(male, 0.400, 0.412), 0.017, 0.360, 0.445, p),
        p_sigma=_truncated_normal(rng, 0.0155, 0.0012, 0.013, 0.018, p),
        t_sigma=_truncated_normal(rng, 0.046, 0.004, 0.038, 0.055, p),
        hrv=rng.uniform(0.01, 0.045, p) * np.exp(-0.25 * age_z),
        resp_hz=rng.uniform(0.2, 0.33, p),
    )


def sample_ecg_params(
    grades: np.ndarray,
    rng: np.random.Generator,
    *,
    person: np.ndarray | None = None,
    age: np.ndarray | None = None,
    male: np.ndarray | None = None,
    lvh: np.ndarray | None = None,
    site: RecordingSite = INTERNAL_SITE,
) -> EcgParams:
    """Draw simulation parameters for ECGs of people with the given CCTA grades.

    Parameters
    ----------
    grades : (n, 4) int array, CCTA grade 0-4 per vessel in :data:`VESSELS` order, per record.
    rng : the generator all randomness comes from (per-record seeds are drawn from it too).
    person : (n,) integer person index per record. Records of one person share the morphology
        (axis, voltages, intervals, normal ST, expressivity of ischaemia) with small per-ECG jitter
        (electrode placement, heart rate, breathing). Default: every record a different person.
    age, male, lvh : per-person arrays (indexed by ``person``); drawn when omitted.
    site : the recording conditions (noise, wander, hum, gain).
    """
    grades = np.asarray(grades)
    if grades.ndim != 2 or grades.shape[1] != len(VESSELS) or not np.isin(grades, list(GRADES)).all():
        raise ValueError(
            f"grades must be an (n, {len(VESSELS)}) array of 0-4 grades, got shape {grades.shape}")
    n = len(grades)
    person = np.arange(n) if person is None else np.asarray(person)
    n_persons = int(person.max()) + 1 if n else 0
    age = rng.normal(63.0, 10.0, n_persons) if age is None else np.asarray(age, dtype=float)
    male = rng.random(n_persons) < 0.55 if male is None else np.asarray(male, dtype=bool)
    lvh = rng.random(n_persons) < 0.05 if lvh is None else np.asarray(lvh, dtype=bool)
    traits = _sample_persons(rng, age, male, lvh)

    # Per-ECG jitter around the person: electrode placement moves the axis by a few degrees;
    # heart rate differs between visits; QT follows the rate through Bazett's correction.
    jitter = rotation_matrices(*np.deg2rad(rng.normal(0.0, [[3.0], [4.0], [2.0]], (3, n))))
    rotation = jitter @ traits.rotation[person]
    template = _TEMPLATE_WAVES[None] * traits.wave_scale[person][..., None]
    t_rot = traits.t_rotation[person]
    template[:, _REPOL] = np.einsum("nij,nwj->nwi", t_rot, template[:, _REPOL])
    gain = traits.gain[person] * rng.lognormal(0.0, 0.04, n)
    waves = np.einsum("nij,nwj->nwi", rotation, template) * gain[:, None, None]

    # The ischaemic vector turns with the heart (it is anatomy), so a territory's leads vary a little
    # between people, as the axis does.
    planted = _planted_offsets(grades, traits.expressivity[person], rng)
    st_local = traits.normal_st[person] + planted @ np.stack([territory_vector(v) for v in VESSELS])
    # LVH "strain": lateral ST depression and T inversion, a classic mimic of lateral ischaemia.
    strain = np.where(lvh[person], rng.uniform(0.02, 0.06, n), 0.0)
    st_local = st_local + strain[:, None] * territory_vector("LCX")[None]
    st_vector = np.einsum("nij,nj->ni", rotation, st_local) * gain[:, None]

    heart_rate = np.clip(traits.heart_rate[person] + rng.normal(0.0, 5.0, n), 52.0, 106.0)
    return EcgParams(
        heart_rate=heart_rate,
        pr=np.clip(traits.pr[person] + rng.normal(0.0, 0.004, n), 0.122, 0.198),
        qrs=traits.qrs[person],
        qtc=np.clip(traits.qtc[person] + rng.normal(0.0, 0.006, n), 0.355, 0.448),
        p_sigma=traits.p_sigma[person],
        t_sigma=traits.t_sigma[person],
        waves=waves,
        st_vector=st_vector,
        planted_mv=planted,
        hrv=traits.hrv[person],
        rsa=rng.uniform(0.0, 0.04, n) * np.exp(-0.02 * (age[person] - 40.0)),
        resp_hz=traits.resp_hz[person] * rng.uniform(0.9, 1.1, n),
        resp_amp=rng.uniform(0.02, 0.08, n),
        contact=rng.lognormal(0.0, 0.35, (n, len(ELECTRODES))),
        noise_mv=site.noise_mv * rng.lognormal(0.0, 0.4, n),
        wander_mv=site.wander_mv * rng.lognormal(0.0, 0.5, n),
        hum_mv=site.hum_mv * rng.lognormal(0.0, 0.6, n),
        gain=np.full(n, site.gain),
        mains_hz=np.full(n, site.mains_hz),
        seed=rng.integers(0, 2**63, n, dtype=np.uint64),
    )


def _planted_offsets(grades: np.ndarray, expressivity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Planted ST-T offset (mV) per record and vessel: grade median x person expressivity x ECG jitter.

    The per-ECG jitter stands for resting ischaemia varying with heart rate, medication and time of day.
    """
    median = np.array([GRADE_ST_MV[g] for g in sorted(GRADES)])[grades]
    return median * expressivity * rng.lognormal(0.0, 0.25, grades.shape)


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------

# A beat's waves reach at most this far before / after its R peak (P onset at the longest PR, end
# of the ST-T box at the longest QT); beats farther outside the record are not evaluated.
_WINDOW_BEFORE = 0.34
_WINDOW_AFTER = 0.80
_MAX_BEATS = 28         # RR draws per record: covers 10.7 s at 110/min with jitter
_WANDER_BINS = 7        # baseline wander below 0.7 Hz (breathing, electrode drift)


def _beat_times(params: EcgParams, rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
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
    t_peak = -0.5 * d + qt - 2.0 * st       # a tangent at the T's steepest descent meets 0 at +2 SD
    centres = np.stack(np.broadcast_arrays(
        p_onset + 2.6 * sp, p_onset + 2.6 * sp + 0.022,           # P1, P2
        -0.285 * d, 0.0 * d, 0.285 * d,                            # Q, R, S
        t_peak - 1.1 * st, t_peak,                                  # T shoulder, T
    ), axis=-1)
    widths = np.stack(np.broadcast_arrays(sp, sp, 0.093 * d, 0.11 * d, 0.10 * d, 1.0 * st, st), axis=-1)
    return centres, widths


def _scatter(series: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """Add ``values`` at sample ``index`` (n, ...) of ``series`` (n, T); indices outside are dropped.

    Out-of-range samples are piled onto the first and last sample, which the caller pads and discards.
    """
    n, length = series.shape
    flat = np.clip(index, 0, length - 1) + (np.arange(n) * length).reshape((n,) + (1,) * (index.ndim - 1))
    series += np.bincount(flat.ravel(), values.ravel(), minlength=n * length).reshape(n, length)


def _wave_series(params: EcgParams, times: np.ndarray, rr: np.ndarray, amp: np.ndarray) -> np.ndarray:
    """Time course of each wave summed over beats, shape (n, waves + 1, N_SAMPLES).

    Each Gaussian bump is evaluated only within 4.5 SD of its centre (the rest is below 1e-4 of its
    height), on a grid placed with sub-sample accuracy; the last row is the ST-T box, which rises at
    the J point and fades through the T wave (so an ischaemic offset also flattens the T). The grids
    are as long as the chunk's widest wave needs, but values beyond each record's own cut-off are
    zeroed, so a record does not depend on the other records of its chunk.
    """
    n = len(params)
    centres, widths = _wave_timing(params, rr)
    series = np.zeros((n, len(WAVES) + 1, N_SAMPLES + 2))       # one pad sample each side
    for w in range(len(WAVES)):
        half = int(np.ceil(4.5 * widths[..., w].max() * FS))
        position = (times + centres[..., w]) * FS                # (n, beats), in samples
        grid = np.floor(position).astype(np.int64)[..., None] + np.arange(-half, half + 1)
        z = (grid - position[..., None]) / (widths[..., w, None] * FS)
        bump = np.where(np.abs(z) <= 4.5, np.exp(-0.5 * z * z), 0.0)
        _scatter(series[:, w], grid + 1, amp[..., None] * bump)
    j_point = 0.5 * params.qrs[:, None]
    fall_at = centres[..., -1] + 0.5 * widths[..., -1]
    fall_scale = 0.6 * widths[..., -1]
    rise_scale = 0.004
    lead_in, end = 0.025, fall_at + 8 * fall_scale               # box support, s from the R peak
    span = int(np.ceil((end - j_point).max() * FS)) + 2 * round(lead_in * FS)
    position = (times + j_point) * FS
    grid = np.floor(position).astype(np.int64)[..., None] + np.arange(-round(lead_in * FS), span)
    t = (grid - times[..., None] * FS) / FS                       # s relative to the R peak
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
    vectors = np.concatenate([params.waves, params.st_vector[:, None]], axis=1)   # (n, W+1, 3)
    per_electrode = electrode_vectors() @ vectors.transpose(0, 2, 1)               # (n, 9, W+1)
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
        spectrum[i, :, 1:_WANDER_BINS + 1] = coef[..., 0] + 1j * coef[..., 1]
        hum_phase[i] = r.uniform(0, 2 * np.pi)
        hum_share[i] = r.lognormal(0.0, 0.5, e)
        white[i] = r.standard_normal((e, N_SAMPLES), dtype=np.float32)
    spectrum[:, :, 1:_WANDER_BINS + 1] /= np.arange(1, _WANDER_BINS + 1)  # 1/f: drift dominates
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


def iter_ecg_chunks(params: EcgParams, *, noise: bool = True,
                    chunk_size: int = 128) -> Iterator[tuple[slice, np.ndarray]]:
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


def simulate_from_grades(grades: np.ndarray, seed: int = 0, *, noise: bool = True,
                         site: RecordingSite = INTERNAL_SITE) -> tuple[np.ndarray, EcgParams]:
    """Convenience: one ECG per grade row, each a different person; returns (signals, params)."""
    params = sample_ecg_params(grades, np.random.default_rng(seed), site=site)
    return simulate_ecgs(params, noise=noise), params


# ----------------------------------------------------------------------------------------------
# Measuring the planted signal
# ----------------------------------------------------------------------------------------------

def detect_r_peaks(ecg: np.ndarray, fs: int = FS) -> np.ndarray:
    """R-peak sample indices of one (12, T) record: peaks of the summed squared slope over all leads.

    Using every lead makes the detector robust to a lead with a small or negative QRS; the slope
    ignores baseline wander. Good enough for clean synthetic data, not a clinical detector.
    """
    slope = np.diff(ecg.astype(float), axis=1)
    energy = np.convolve((slope ** 2).sum(axis=0), np.ones(int(0.04 * fs)) / (0.04 * fs), mode="same")
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
        peaks = detect_r_peaks(ecg, fs)
        peaks = peaks[(peaks + b0 >= 0) & (peaks + s1 <= ecg.shape[1])]
        if len(peaks) == 0:
            continue
        base = np.stack([ecg[:, p + b0:p + b1].mean(axis=1) for p in peaks])
        level = np.stack([ecg[:, p + s0:p + s1].mean(axis=1) for p in peaks])
        out[i] = np.median(level - base, axis=0)
    return out
