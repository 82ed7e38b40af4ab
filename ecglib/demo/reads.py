"""The free-text reads of the demo's ECGs: what a busy clinician sees in each simulated waveform.

The reader sees the waveform's features, computed from the simulation parameters
(:class:`~ecglib.demo.ecg_params.EcgParams`): rhythm from the rate, ST depression and T inversion
from the ST-T vector (planted ischaemia, benign J-point elevation, LVH strain), LVH from voltage
(Sokolow-Lyon), axis deviation and a long QTc. Each finding is called with a probability that rises
with how clear it is, so small planted offsets stay below what a reader calls and a good share of
diseased patients get a "Normal ECG" read (the paper's normal-ECG subgroup).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ecglib.demo.ecg_params import WAVES, EcgParams
from ecglib.demo.geometry import PLANTED_TERRITORIES, lead_vectors
from ecglib.schema import LEADS

#: Leads in which an inverted T wave is abnormal (a negative T is normal in aVR, often in III, aVL, V1).
UPRIGHT_T_LEADS: tuple[str, ...] = ("I", "II", "aVF", "V2", "V3", "V4", "V5", "V6")


def _region_of_lead() -> dict[str, str]:
    """Clinical lead group of each lead, from the planted territories (the diffuse one excluded)."""
    return {
        lead: t.region
        for t in PLANTED_TERRITORIES.values()
        if t.region != "diffuse"
        for lead in t.leads
    }


def ecg_reads(params: EcgParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Free-text interpretation of each ECG, and whether it is a normal read.

    The reader sees the waveform's features (computed from the simulation parameters) and calls a
    finding with a probability that rises with how clear it is, like a busy clinician.
    """
    n = len(params)
    lv = lead_vectors()
    gain = params.gain[:, None]
    st = (params.st_vector @ lv.T) * gain  # ST deviation per lead (mV)
    w = {name: params.waves[:, i] for i, name in enumerate(WAVES)}
    t_amp = ((w["T"] + 0.56 * w["T_shoulder"] + 0.7 * params.st_vector) @ lv.T) * gain
    qrs = np.stack([w["Q"], w["R"], w["S"]], axis=1) @ lv.T * gain[:, :, None]  # (n, 3, leads)

    ix = {lead: i for i, lead in enumerate(LEADS)}
    not_avr = np.array([lead != "aVR" for lead in LEADS])
    depression = -np.where(not_avr, st, np.inf).min(axis=1)
    deepest = np.array(LEADS)[np.argmin(np.where(not_avr, st, np.inf), axis=1)]
    upright = [ix[lead] for lead in UPRIGHT_T_LEADS]
    t_min = t_amp[:, upright].min(axis=1)
    t_lead = np.array(UPRIGHT_T_LEADS)[np.argmin(t_amp[:, upright], axis=1)]
    sokolow = -qrs[:, :, ix["V1"]].min(axis=1) + qrs[:, :, [ix["V5"], ix["V6"]]].max(axis=(1, 2))
    axis = np.degrees(
        np.arctan2((qrs[:, :, ix["aVF"]]).sum(axis=1), qrs[:, :, ix["I"]].sum(axis=1))
    )

    u = rng.random((n, 7))
    region = _region_of_lead()
    calls = {
        "st_dep": u[:, 0] < expit((depression - 0.075) / 0.015),
        "t_inv": u[:, 1] < expit((-t_min - 0.06) / 0.02),
        "nonspecific": u[:, 2]
        < (0.03 + 0.5 * expit((depression - 0.04) / 0.01) + 0.3 * expit((0.08 - t_min) / 0.02)),
        "lvh": u[:, 3] < np.where(sokolow >= 3.5, 0.75, 0.01),
        "lad": (axis < -30) & (u[:, 4] < 0.9),
        "rad": (axis > 100) & (u[:, 4] < 0.9),
        "long_qt": (params.qtc >= 0.44) & (u[:, 5] < 0.5),
    }
    reads = np.empty(n, dtype=object)
    normal = np.empty(n, dtype=bool)
    for i in range(n):
        findings = []
        if calls["lvh"][i]:
            strain = calls["st_dep"][i] or calls["t_inv"][i]
            suffix = " with repolarization abnormality" if strain else ""
            findings.append("Left ventricular hypertrophy" + suffix)
        elif calls["st_dep"][i]:
            findings.append(f"ST depression, {region.get(deepest[i], 'diffuse')} leads")
        if calls["t_inv"][i] and not calls["lvh"][i]:
            findings.append(f"T wave inversion, {region.get(t_lead[i], 'diffuse')} leads")
        if not findings and calls["nonspecific"][i]:
            findings.append("Nonspecific ST-T changes")
        if calls["lad"][i]:
            findings.append("Left axis deviation")
        if calls["rad"][i]:
            findings.append("Right axis deviation")
        if calls["long_qt"][i]:
            findings.append("Borderline prolonged QT interval")
        rhythm = _rhythm(params.heart_rate[i])
        normal[i] = not findings
        if normal[i]:
            reads[i] = f"{rhythm}. " + (
                "Normal ECG" if rhythm == "Sinus rhythm" else "Otherwise normal ECG"
            )
        else:
            reads[i] = f"{rhythm}. " + ". ".join(findings)
    return reads, normal


def _rhythm(heart_rate: float) -> str:
    if heart_rate < 60:
        return "Sinus bradycardia"
    if heart_rate > 100:
        return "Sinus tachycardia"
    return "Sinus rhythm"
