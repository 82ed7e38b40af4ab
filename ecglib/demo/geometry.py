"""Where the demo's ECG comes from: electrodes, leads, and the territories of the planted signal.

*Heart as one dipole.* The body-surface ECG is, to first order, the projection of a single
time-varying current dipole (the heart vector) onto each electrode's lead-field vector
(:func:`electrode_vectors`).

*Electrodes, then leads.* The dipole is projected onto nine electrodes (RA, LA, LL on Einthoven's
equilateral triangle, V1-V6 in the horizontal plane with larger gains because they sit closer to the
heart); the twelve leads are then derived from the electrode potentials exactly as an
electrocardiograph does (I = LA - RA, ..., Vi - Wilson's central terminal;
:func:`leads_from_electrodes`). So III = II - I and aVR = -(I + II)/2 hold to float precision for
every record, noise included, as they do in real recordings.

*Coordinates.* x points to the patient's left, y to the feet (inferior), z to the front (anterior).
Limb lead-field vectors have unit length for I, II, III, so lead I reads the x component in mV.

*Planted territories.* Stable coronary disease shows at rest, if at all, as subtle subendocardial
ischaemia: ST depression with T flattening in the leads facing the territory, i.e. an ST-T dipole
offset pointing *away* from it (reciprocal elevation in the opposite leads). Left main disease gives
diffuse subendocardial ischaemia whose ST vector points towards aVR: ST elevation in aVR with
depression in I, II and V4-V6. :data:`PLANTED_TERRITORIES` documents each vessel's territory (the
interpretability chapter must rediscover it); :func:`territory_vector` is the offset's direction
and :func:`territory_sensitivity` what it does to each lead.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ecglib.schema import LEADS, VESSELS

#: Electrodes whose potentials are simulated; leads are derived from them.
ELECTRODES: tuple[str, ...] = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")

# Precordial electrodes: angle in the horizontal plane from the patient's left (+x) towards the
# front (+z), and a gain > 1 because the chest electrodes are a few centimetres from the heart while
# the limb electrodes are effectively at infinity. Tuned so that R progression and V5 R amplitude
# (about 1-2.5 mV) look like an adult ECG.
_PRECORDIAL_ANGLE_DEG = (118.0, 96.0, 78.0, 58.0, 30.0, 0.0)
_PRECORDIAL_GAIN = (1.15, 1.65, 1.8, 1.8, 1.7, 1.3)


class Territory(NamedTuple):
    """Where a vessel's planted ischaemic change shows, and how it is built."""

    region: str  #: clinical name of the lead group
    leads: tuple[str, ...]  #: leads facing the territory (largest change)
    change: str  #: what a reader would see there
    segment: str  #: which part of the beat carries the change
    direction: tuple[
        float, float, float
    ]  #: ST-T dipole offset direction (x left, y inferior, z anterior)
    reciprocal: tuple[str, ...]  #: leads with the opposite (reciprocal) deviation


_ST_T = "ST segment and T wave (J point to end of T)"

#: The planted ECG signal of each vessel: a dipole offset during the ST segment and T wave.
#: Depression in the facing leads means an offset pointing away from the territory.
PLANTED_TERRITORIES: dict[str, Territory] = {
    "RCA": Territory(
        "inferior",
        ("II", "III", "aVF"),
        "ST depression, T flattening",
        _ST_T,
        (0.0, -1.0, 0.0),
        ("aVR", "aVL"),
    ),
    "LM": Territory(
        "diffuse",
        ("aVR", "I", "II", "V4", "V5", "V6"),
        "ST elevation in aVR with diffuse ST depression",
        _ST_T,
        (-0.80, -0.50, -0.33),
        (),
    ),
    "LAD": Territory(
        "anterior",
        ("V1", "V2", "V3", "V4"),
        "ST depression, T flattening",
        _ST_T,
        (0.0, 0.0, -1.0),
        (),
    ),
    "LCX": Territory(
        "lateral",
        ("I", "aVL", "V5", "V6"),
        "ST depression, T flattening",
        _ST_T,
        (-1.0, 0.0, 0.0),
        ("aVR", "III", "V1"),
    ),
}


def electrode_vectors() -> np.ndarray:
    """Lead-field vector of each electrode relative to Wilson's central terminal, shape (9, 3).

    The limb electrodes sit on an equilateral triangle in the frontal plane (Einthoven), scaled so
    that I, II and III have unit lead vectors at 0, 60 and 120 degrees; their sum is zero, so the
    central terminal carries no cardiac signal, only noise.
    """
    k = 1.0 / np.sqrt(3.0)
    limb = k * np.array(
        [(-np.sqrt(3) / 2, -0.5, 0.0), (np.sqrt(3) / 2, -0.5, 0.0), (0.0, 1.0, 0.0)]
    )
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
    out = np.empty(
        potentials.shape[:-2] + (len(LEADS), potentials.shape[-1]), dtype=potentials.dtype
    )
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
    territory lead by exactly 1 mV (so :data:`~ecglib.demo.ecg_params.GRADE_ST_MV` reads as a
    visible ST deviation)."""
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


def rotation_matrices(
    frontal: np.ndarray, horizontal: np.ndarray, sagittal: np.ndarray
) -> np.ndarray:
    """Rotation matrices (n, 3, 3) from angles in radians about z (frontal-plane axis shift),
    y (clockwise/counter-clockwise rotation: moves the precordial transition zone) and x (tilt)."""
    cz, sz = np.cos(frontal), np.sin(frontal)
    cy, sy = np.cos(horizontal), np.sin(horizontal)
    cx, sx = np.cos(sagittal), np.sin(sagittal)
    one, zero = np.ones_like(cz), np.zeros_like(cz)
    rz = np.stack(
        [
            np.stack([cz, -sz, zero], -1),
            np.stack([sz, cz, zero], -1),
            np.stack([zero, zero, one], -1),
        ],
        -2,
    )
    ry = np.stack(
        [
            np.stack([cy, zero, sy], -1),
            np.stack([zero, one, zero], -1),
            np.stack([-sy, zero, cy], -1),
        ],
        -2,
    )
    rx = np.stack(
        [
            np.stack([one, zero, zero], -1),
            np.stack([zero, cx, -sx], -1),
            np.stack([zero, sx, cx], -1),
        ],
        -2,
    )
    return rz @ ry @ rx
