"""What each simulated ECG is made of: the person's heart, the recording, the planted signal.

:func:`sample_ecg_params` draws an :class:`EcgParams` (one entry per record) from CCTA grades;
:func:`ecglib.demo.ecg.simulate_ecgs` turns it into waveforms.

*Waves.* Each beat's heart vector is a sum of Gaussian bumps, one 3-D vector per wave
(:data:`WAVES`): two P components (right then left atrium, so V1 can show a biphasic P), the septal
Q, the main R, the late S, and an asymmetric T (an earlier, smaller bump plus the main T, because
repolarisation rises slowly and ends fast). A smooth box from the J point to the end of the T wave
carries the ST level: the person's normal J-point/ST vector plus any planted ischaemic offset.

*People and their ECGs.* Records of one person share the morphology (axis, voltages, intervals,
normal ST, expressivity of ischaemia) with small per-ECG jitter (electrode placement, heart rate,
breathing), which is why folds must be grouped by patient.

*Planted signal.* Each diseased vessel adds an ST-T dipole offset in its territory's direction
(:func:`ecglib.demo.geometry.territory_vector`). The offset grows with the CCTA grade
(:data:`GRADE_ST_MV`), varies between people (some severe lesions are electrically silent) and
between ECGs of one person, and is small (tenths of a millivolt at most), so that it is learnable
but far from deterministic.

*Recording sites.* :class:`RecordingSite` holds a site's electrode noise, wander, mains hum and
amplifier gain; the external site's differ (:data:`EXTERNAL_SITE`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ecglib.demo.geometry import ELECTRODES, rotation_matrices, territory_vector
from ecglib.schema import GRADES, VESSELS

#: Dipole waves of one beat, in the order of :attr:`EcgParams.waves`.
WAVES: tuple[str, ...] = ("P1", "P2", "Q", "R", "S", "T_shoulder", "T")
_QRS = slice(2, 5)
_REPOL = slice(5, 7)

# The typical adult heart vector of each wave (mV in lead-field units, before the person's rotation
# and gains): atria inferior-leftward, septum to the right and front (the q in I/V6, r in V1), the main
# R left-inferior and slightly posterior, the S posterior-superior, the T roughly concordant with R
# but more anterior (upright T in V2-V6).
_TEMPLATE_WAVES = np.array(
    [
        (0.030, 0.105, 0.060),  # P1, right atrium
        (0.075, 0.050, -0.050),  # P2, left atrium
        (-0.110, 0.040, 0.150),  # Q, septal depolarisation
        (1.050, 0.650, -0.200),  # R
        (-0.080, -0.200, -0.420),  # S
        (0.085, 0.070, 0.060),  # T shoulder (slow upstroke of repolarisation)
        (0.230, 0.190, 0.170),  # T
    ]
)


#: Median planted ST-T offset (mV, in the territory's most affected lead) for each CCTA grade.
#: Mild and moderate plaques barely limit flow at rest; severe stenosis and occlusion do.
GRADE_ST_MV: dict[int, float] = {0: 0.0, 1: 0.006, 2: 0.018, 3: 0.075, 4: 0.11}


@dataclass(frozen=True)
class RecordingSite:
    """Recording conditions of a site: electrode noise, wander, mains hum and amplifier gain."""

    noise_mv: float = 0.012  #: median white (EMG/amplifier) noise SD per electrode
    wander_mv: float = 0.08  #: median baseline-wander SD per electrode
    hum_mv: float = 0.008  #: median 50 Hz amplitude of the differential mains pickup
    gain: float = 1.0  #: calibration factor of the amplifier (1 = exact)
    mains_hz: float = 50.0


#: The internal (university) site and the external (district) site: older equipment, noisier
#: electrodes, a 5% gain miscalibration. This is the distribution shift the external validation meets.
INTERNAL_SITE = RecordingSite()
EXTERNAL_SITE = RecordingSite(noise_mv=0.022, wander_mv=0.12, hum_mv=0.02, gain=1.06)


@dataclass(frozen=True)
class EcgParams:
    """Everything that determines one batch of simulated ECGs (one entry per record).

    Build it with :func:`sample_ecg_params`; simulate with :func:`ecglib.demo.ecg.simulate_ecgs`. Times are in
    seconds, amplitudes in mV. ``planted_mv`` is the hidden truth of the planted ST-T offset per
    vessel (columns in :data:`~ecglib.schema.VESSELS` order).
    """

    heart_rate: np.ndarray  # (n,) beats/min
    pr: np.ndarray  # (n,) P onset to QRS onset
    qrs: np.ndarray  # (n,) QRS duration
    qtc: np.ndarray  # (n,) Bazett-corrected QT
    p_sigma: np.ndarray  # (n,) width of the atrial bumps
    t_sigma: np.ndarray  # (n,) width of the T wave
    waves: np.ndarray  # (n, len(WAVES), 3) heart vector of each wave
    st_vector: np.ndarray  # (n, 3) J-to-T-end offset: normal ST + planted ischaemia (+ LVH strain)
    planted_mv: np.ndarray  # (n, 4) planted offset per vessel (hidden truth)
    hrv: np.ndarray  # (n,) beat-to-beat RR jitter (relative SD)
    rsa: np.ndarray  # (n,) respiratory sinus arrhythmia (relative RR amplitude)
    resp_hz: np.ndarray  # (n,) breathing rate
    resp_amp: np.ndarray  # (n,) relative amplitude modulation by breathing
    contact: np.ndarray  # (n, 9) per-electrode noise factor (skin contact quality)
    noise_mv: np.ndarray  # (n,)
    wander_mv: np.ndarray  # (n,)
    hum_mv: np.ndarray  # (n,)
    gain: np.ndarray  # (n,) amplifier calibration
    mains_hz: np.ndarray  # (n,)
    seed: np.ndarray  # (n,) uint64 seed of the per-record randomness (beats, noise)

    def __len__(self) -> int:
        return len(self.heart_rate)

    def subset(self, index) -> EcgParams:
        """The parameters of some records (a slice, boolean mask or integer index)."""
        return EcgParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[EcgParams]) -> EcgParams:
        return EcgParams(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(EcgParams)
            }
        )


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

    rotation: np.ndarray  # (p, 3, 3)
    wave_scale: np.ndarray  # (p, n_waves)
    t_rotation: np.ndarray  # (p, 3, 3) extra rotation of the T vector (QRS-T angle)
    gain: np.ndarray  # (p,) body habitus: thicker chest, smaller voltages
    normal_st: np.ndarray  # (p, 3) benign J-point/ST vector
    expressivity: np.ndarray  # (p, 4) how much of a vessel's ischaemia shows on the surface ECG
    heart_rate: np.ndarray
    pr: np.ndarray
    qrs: np.ndarray
    qtc: np.ndarray
    p_sigma: np.ndarray
    t_sigma: np.ndarray
    hrv: np.ndarray
    resp_hz: np.ndarray


def _sample_persons(
    rng: np.random.Generator, age: np.ndarray, male: np.ndarray, lvh: np.ndarray
) -> _Persons:
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
    normal_st = np.stack(
        [
            rng.normal(0.008, 0.014, p),
            rng.normal(0.010, 0.028, p),
            np.abs(rng.normal(0.0, 0.012, p)) + np.where(male, 0.020, 0.010) * np.exp(-0.4 * age_z),
        ],
        axis=1,
    )
    # Heavy-tailed expressivity: many severe lesions are electrically silent at rest, a few are loud.
    expressivity = rng.lognormal(-0.1, 0.65, (p, len(VESSELS)))
    return _Persons(
        rotation=rotation,
        wave_scale=wave_scale,
        t_rotation=t_rotation,
        gain=gain,
        normal_st=normal_st,
        expressivity=expressivity,
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
    if (
        grades.ndim != 2
        or grades.shape[1] != len(VESSELS)
        or not np.isin(grades, list(GRADES)).all()
    ):
        raise ValueError(
            f"grades must be an (n, {len(VESSELS)}) array of 0-4 grades, got shape {grades.shape}"
        )
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


def _planted_offsets(
    grades: np.ndarray, expressivity: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Planted ST-T offset (mV) per record and vessel: grade median x person expressivity x ECG jitter.

    The per-ECG jitter stands for resting ischaemia varying with heart rate, medication and time of day.
    """
    median = np.array([GRADE_ST_MV[g] for g in sorted(GRADES)])[grades]
    return median * expressivity * rng.lognormal(0.0, 0.25, grades.shape)
