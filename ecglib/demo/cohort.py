"""The synthetic demo cohort: patients, CCTA exams, ECGs, grades, symptoms, reads and follow-up.

Model choices
-------------
*Disease.* Each patient carries a latent atherosclerotic burden that rises with age and male sex;
each vessel's liability is that burden plus a vessel-specific part (persistent across a patient's
exams), cut at thresholds that reproduce typical CCTA-referral prevalences (:data:`GRADE_TAIL`). So
grades are correlated across vessels and within a patient, as in real CCTA cohorts, and the
external site, whose age mix differs, gets a different prevalence for the same biology.

*ECGs.* A patient's ECGs share his or her morphology (see :mod:`ecglib.demo.ecg_params`), which is why folds
must be grouped by patient. Each ECG is paired with one CCTA exam and mostly acquired before it
(minutes to weeks); about 3% are acquired after it, the rows the paper's exclusion rule removes.
Before-CCTA counts match the paper exactly (internal 2,323 / 2,595 / 4,620, external 135 / 135 / 228),
so the cohort after that exclusion has the paper's size.

*Reads.* The free-text interpretation is what a reader sees in the simulated waveform
(:func:`ecglib.demo.reads.ecg_reads`); small planted offsets stay below what a reader calls, so a good
share of diseased patients have a "Normal ECG" read: the paper's normal-ECG subgroup.

*Follow-up.* Major adverse cardiovascular events (MACE) arrive with a constant hazard that rises with
the hidden disease (number of severely diseased vessels, left main counted twice, occlusions extra)
and age; follow-up starts at the first CCTA and ends at the administrative close (365 days plus a
visit window of up to five weeks) or at loss to follow-up. Some of the patients whose follow-up ends
early without MACE died of a non-cardiovascular cause, a competing event (the export's
``Non-cardiovascular death``; likelier with age, :func:`_competing`). It is drawn from its own random
stream (:data:`COMPETING_STREAM`) and only relabels how such a follow-up ended, so every other
value of the cohort is what it was before the column existed.

*Risk factors.* The five risk factors of the risk-factor-weighted clinical likelihood (family
history of coronary artery disease, smoking, dyslipidaemia, hypertension, diabetes;
:data:`RISK_FACTOR_MODELS`) are drawn per patient from the latent burden, age and sex
(:func:`_risk_factors`), at about the prevalences of CCTA referral cohorts, so that an
age/sex/symptom/risk-factor model reaches the modest discrimination such models reach there
(AUC around 0.7 for obstructive disease). They come from their own random stream
(:data:`RISK_FACTOR_STREAM`), so, like the competing events, they leave every other value as it
was before the columns existed.

One module on purpose: patients, exams, ECGs, grades and follow-up are drawn from one latent
disease per patient, and the draws must stay in this order for the cohort to depend on the seed
alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from ecglib.demo.ecg import simulate_ecgs
from ecglib.demo.ecg_params import (
    EXTERNAL_SITE,
    INTERNAL_SITE,
    EcgParams,
    RecordingSite,
    sample_ecg_params,
)
from ecglib.demo.reads import ecg_reads
from ecglib.schema import SYMPTOMS, VESSELS, grade_col, label_col

#: Columns of the demo's raw export (``export.csv``), in order: a hospital's names, not the canonical ones.
EXPORT_COLUMNS: tuple[str, ...] = (
    "Patient ID",
    "Exam ID",
    "CCTA date",
    "ECG ID",
    "ECG acquired",
    "ECG file",
    "Hospital",
    "Age",
    "Sex",
    "ECG interpretation",
    "Chest pain",
    *VESSELS,
    "Follow-up days",
    "MACE",
    "Non-cardiovascular death",
    "Family history of CAD",
    "Smoking",
    "Dyslipidaemia",
    "Hypertension",
    "Diabetes",
)

#: Second entropy word of the competing-event stream, ``np.random.default_rng([seed,
#: COMPETING_STREAM])``: separate from the cohort's own stream, so that the competing events
#: leave every other drawn value unchanged.
COMPETING_STREAM = 20261206

#: Second entropy word of the risk-factor stream (see :data:`COMPETING_STREAM`).
RISK_FACTOR_STREAM = 20261214


@dataclass(frozen=True)
class RiskFactor:
    """How one risk factor is drawn: ``logit P = intercept + burden x b + age_z x a + male x m``
    (``age_z`` = (age - 63.7) / 10; the burden is standardised, :func:`_patients`)."""

    column: str  #: the export's column
    key: str  #: the canonical column (:data:`ecglib.schema.RISK_FACTORS`)
    intercept: float
    burden: float
    age: float
    male: float


#: The risk factors, in the export's column order. Intercepts put the internal prevalences near
#: those of CCTA referral cohorts (family history ~35%, current or former smoking ~40%,
#: dyslipidaemia ~45%, hypertension ~50%, diabetes ~13%, as in the RF-CL development cohorts,
#: Winther et al. 2020); each rises with the latent burden (odds ratios about 1.4-1.6 per SD),
#: hypertension and diabetes also with age, smoking more in men and in the young.
RISK_FACTOR_MODELS: tuple[RiskFactor, ...] = (
    RiskFactor("Family history of CAD", "family_history", -0.65, 0.35, -0.10, 0.0),
    RiskFactor("Smoking", "smoking", -0.55, 0.40, -0.15, 0.35),
    RiskFactor("Dyslipidaemia", "dyslipidaemia", -0.25, 0.45, 0.10, 0.0),
    RiskFactor("Hypertension", "hypertension", -0.05, 0.40, 0.45, 0.0),
    RiskFactor("Diabetes", "diabetes", -2.00, 0.45, 0.25, 0.15),
)
#: The export's text for a risk factor present / absent.
YES_NO: dict[bool, str] = {True: "yes", False: "no"}

#: Free-text CCTA report grade for each ordinal grade (the export's vocabulary).
GRADE_TEXT: dict[int, str] = {
    0: "No significant stenosis",
    1: "Mild stenosis (25-49%)",
    2: "Moderate stenosis (50-69%)",
    3: "Severe stenosis (70-99%)",
    4: "Occluded (100%)",
}

#: Free-text chest-pain category for each canonical symptom (missing is an empty cell).
SYMPTOM_TEXT: dict[str, str] = dict(
    zip(SYMPTOMS, ("typical angina", "atypical angina", "non-anginal chest pain", "dyspnoea"))
)

#: Share of CCTA exams at or above grade 1, 2, 3, 4 for each vessel in the internal population.
#: Grade >= 3 (the label): RCA 13%, LM 2.5%, LAD 22%, LCX 12%, as in CCTA referral cohorts.
GRADE_TAIL: dict[str, tuple[float, float, float, float]] = {
    "RCA": (0.45, 0.25, 0.13, 0.035),
    "LM": (0.20, 0.07, 0.025, 0.003),
    "LAD": (0.60, 0.38, 0.22, 0.045),
    "LCX": (0.40, 0.21, 0.12, 0.030),
}

#: Share of a vessel's liability explained by the patient's shared burden (inter-vessel correlation).
BURDEN_SHARE = 0.45
#: Correlation of the vessel-specific part between two exams of one patient.
EXAM_PERSISTENCE = 0.85
#: Share of ECGs acquired after their CCTA (the rows the before-CCTA rule excludes).
AFTER_CCTA_SHARE = 0.03

#: Plausible adult ages (years) of a CCTA referral population.
AGE_RANGE: tuple[float, float] = (25.0, 95.0)


@dataclass(frozen=True)
class SiteCounts:
    """Patients, CCTA exams and before-CCTA ECGs of one site."""

    patients: int
    exams: int
    ecgs: int


@dataclass(frozen=True)
class CohortSize:
    internal: SiteCounts
    external: SiteCounts


#: 'paper' reproduces the study's counts; 'small' keeps its ratios at about 1/8 for CI and the
#: demo book; 'medium', about half the paper's cohort, is the size at which the demo network learns
#: the planted vessel-specific signal as well as the ST-level regression (params/demo_large.yaml).
SIZES: dict[str, CohortSize] = {
    "paper": CohortSize(SiteCounts(2323, 2595, 4620), SiteCounts(135, 135, 228)),
    "medium": CohortSize(SiteCounts(1162, 1298, 2310), SiteCounts(68, 68, 114)),
    "small": CohortSize(SiteCounts(280, 313, 557), SiteCounts(60, 60, 101)),
}


@dataclass(frozen=True)
class DemoSite:
    """A hospital of the demo: its population, recording conditions and export conventions."""

    name: str  #: canonical site name
    hospital: str  #: as written in the export
    prefix: str  #: first letter of its patient, exam and ECG ids
    age_mean: float
    age_sd: float
    male_share: float
    recording: RecordingSite
    samples_first: bool  #: ECG files stored (5000, 12) instead of (12, 5000): another vendor
    first_day: str
    last_day: str


INTERNAL = DemoSite(
    "internal",
    "Demo University Hospital",
    "D",
    63.7,
    10.1,
    0.55,
    INTERNAL_SITE,
    False,
    "2019-01-01",
    "2023-06-30",
)
EXTERNAL = DemoSite(
    "external",
    "Demo District Hospital",
    "X",
    62.6,
    14.2,
    0.611,
    EXTERNAL_SITE,
    True,
    "2021-03-01",
    "2023-06-30",
)


@dataclass(frozen=True)
class DemoCohort:
    """A generated cohort: the export table, its hidden truth and the ECG simulation parameters.

    All three are in the same row order (one row per ECG paired with a CCTA exam). ``table`` is exactly
    what ``export.csv`` holds; ``truth`` holds what the export hides (ordinal grades, planted ST-T
    amplitudes per vessel, after-CCTA flag, normal read, latent burden ...).
    """

    table: pd.DataFrame
    truth: pd.DataFrame
    params: EcgParams
    size: str
    seed: int

    def signals(self, rows=None, *, noise: bool = True) -> np.ndarray:
        """Simulate the ECGs of some rows (default all): float32 (n, 12, 5000) in mV."""
        params = self.params if rows is None else self.params.subset(rows)
        return simulate_ecgs(params, noise=noise)


def make_demo_cohort(size: str | CohortSize = "small", seed: int = 0) -> DemoCohort:
    """Generate the demo cohort deterministically from ``seed`` (no signals yet: see ``.signals``)."""
    if isinstance(size, str) and size not in SIZES:
        raise ValueError(
            f"unknown demo size {size!r}; expected one of {sorted(SIZES)} or a CohortSize"
        )
    counts = SIZES[size] if isinstance(size, str) else size
    internal_rng, external_rng = np.random.default_rng(seed).spawn(2)
    competing = np.random.default_rng([seed, COMPETING_STREAM]).spawn(2)
    factors = np.random.default_rng([seed, RISK_FACTOR_STREAM]).spawn(2)
    parts = [
        _make_site(INTERNAL, counts.internal, internal_rng, competing[0], factors[0]),
        _make_site(EXTERNAL, counts.external, external_rng, competing[1], factors[1]),
    ]
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    truth = pd.concat([p[1] for p in parts], ignore_index=True)
    params = EcgParams.concat([p[2] for p in parts])
    return DemoCohort(
        table=table,
        truth=truth,
        params=params,
        size=size if isinstance(size, str) else "custom",
        seed=seed,
    )


# ----------------------------------------------------------------------------------------------
# One site
# ----------------------------------------------------------------------------------------------


def _make_site(
    site: DemoSite,
    counts: SiteCounts,
    rng: np.random.Generator,
    competing_rng: np.random.Generator,
    factor_rng: np.random.Generator,
):
    """Patients -> exams -> ECG rows of one site; returns (table, truth, params) sorted like the
    export. ``competing_rng`` draws only the competing events (:func:`_competing`),
    ``factor_rng`` only the risk factors (:func:`_risk_factors`)."""
    if not counts.patients <= counts.exams <= counts.ecgs:
        raise ValueError(f"{site.name}: need patients <= exams <= ECGs, got {counts}")
    patients = _patients(site, counts.patients, rng)
    exams = _exams(site, patients, counts.exams, rng)
    ecgs = _ecgs(exams, counts.ecgs, rng)
    followup = _followup(patients, exams, rng)
    competing = _competing(patients, followup, competing_rng)
    factors = _risk_factors(patients, factor_rng)

    exam_of = ecgs["exam"]
    person = exams["patient"][exam_of]
    grades = exams["grades"][exam_of]
    params = sample_ecg_params(
        grades,
        rng,
        person=person,
        age=patients["age"],
        male=patients["male"],
        lvh=patients["lvh"],
        site=site.recording,
    )
    reads, normal = ecg_reads(params, rng)

    ccta_time = exams["time"][exam_of]
    ecg_time = ccta_time - ecgs["before_s"].astype("timedelta64[s]")
    years = (ecg_time - exams["time"][exams["first"][exam_of]]) / np.timedelta64(1, "D") / 365.25
    age = np.floor(patients["age"][person] + years).astype(int)

    order = np.lexsort((ecg_time, ccta_time, person))
    exam_number = _first_seen_numbering(exam_of[order])
    ecg_ids = np.array([f"{site.prefix}E{i + 1:07d}" for i in range(len(order))])
    symptom = exams["symptom"][exam_of]
    table = pd.DataFrame(
        {
            "Patient ID": [f"{site.prefix}P{p + 1:06d}" for p in person[order]],
            "Exam ID": [f"{site.prefix}C{e + 1:07d}" for e in exam_number],
            "CCTA date": pd.Series(ccta_time[order]).dt.strftime("%Y-%m-%d %H:%M"),
            "ECG ID": ecg_ids,
            "ECG acquired": pd.Series(ecg_time[order]).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "ECG file": [f"ecg/{i}.npy" for i in ecg_ids],
            "Hospital": site.hospital,
            "Age": age[order],
            "Sex": np.where(patients["male"][person[order]], "M", "F"),
            "ECG interpretation": reads[order],
            "Chest pain": [SYMPTOM_TEXT.get(s, "") for s in symptom[order]],
            **{v: [GRADE_TEXT[g] for g in grades[order, i]] for i, v in enumerate(VESSELS)},
            "Follow-up days": followup["days"][person[order]],
            "MACE": followup["event"][person[order]].astype(int),
            "Non-cardiovascular death": competing[person[order]].astype(int),
            **{
                f.column: [YES_NO[bool(x)] for x in factors[f.key][person[order]]]
                for f in RISK_FACTOR_MODELS
            },
        }
    )
    truth = pd.DataFrame(
        {
            "patient_id": table["Patient ID"],
            "ecg_id": ecg_ids,
            "site": site.name,
            "samples_first": site.samples_first,
            **{grade_col(v): grades[order, i] for i, v in enumerate(VESSELS)},
            **{
                label_col(v): (grades[order, i] >= 3).astype(np.int8) for i, v in enumerate(VESSELS)
            },
            **{f"planted_st_{v}": params.planted_mv[order, i] for i, v in enumerate(VESSELS)},
            "after_ccta": ecgs["before_s"][order] < 0,
            "interval_hours": ecgs["before_s"][order] / 3600.0,
            "normal_read": normal[order],
            "symptom": [s if s else None for s in symptom[order]],
            "burden": exams["burden"][exam_of][order],
            "lvh": patients["lvh"][person[order]],
            "heart_rate": params.heart_rate[order],
            "pr_ms": 1000 * params.pr[order],
            "qrs_ms": 1000 * params.qrs[order],
            "qtc_ms": 1000 * params.qtc[order],
            "followup_days": followup["days"][person[order]],
            "mace": followup["event"][person[order]],
            "competing": competing[person[order]],
            **{f.key: factors[f.key][person[order]] for f in RISK_FACTOR_MODELS},
        }
    )
    return table[list(EXPORT_COLUMNS)], truth, params.subset(order)


def _first_seen_numbering(keys: np.ndarray) -> np.ndarray:
    """Number keys 0, 1, 2 ... in the order they first appear (accession numbers in export order)."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=int)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse]


def _patients(site: DemoSite, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Age at the first CCTA, sex, LVH, and the latent atherosclerotic burden.

    The burden is standardised against the internal population (age 63.7 +- 10.1, 55% men), so the
    external site's different age mix shifts its prevalence as a real distribution shift would.
    """
    # Exact age in years at the first CCTA; the export's whole years are floored, hence the half year.
    age = rng.normal(site.age_mean + 0.5, site.age_sd, n)
    for _ in range(20):  # redraw outside the adult range (a clip would pile ages up at the bounds)
        outside = (age < AGE_RANGE[0]) | (age > AGE_RANGE[1])
        if not outside.any():
            break
        age[outside] = rng.normal(site.age_mean + 0.5, site.age_sd, outside.sum())
    age = np.clip(age, *AGE_RANGE)
    male = rng.random(n) < site.male_share
    age_z = (age - INTERNAL.age_mean) / 10.0
    beta_age, beta_male = 0.55, 0.55
    scale = np.sqrt(
        beta_age**2 * (INTERNAL.age_sd / 10.0) ** 2
        + beta_male**2 * INTERNAL.male_share * (1 - INTERNAL.male_share)
        + 1.0
    )
    burden = (
        beta_age * age_z + beta_male * (male - INTERNAL.male_share) + rng.normal(0, 1, n)
    ) / scale
    # LVH: hypertension is commoner with age and goes with atherosclerosis.
    lvh = rng.random(n) < expit(-3.1 + 0.35 * age_z + 0.3 * burden)
    vessel_part = rng.normal(0.0, 1.0, (n, len(VESSELS)))
    return {"age": age, "male": male, "burden": burden, "lvh": lvh, "vessel_part": vessel_part}


def _exams(
    site: DemoSite, patients: dict, n_exams: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """CCTA exams: times, grades and the symptom that led to them.

    Extra exams go to random patients (a few get three); a repeat CCTA follows 1-24 months later.
    """
    n_patients = len(patients["age"])
    per_patient = 1 + np.bincount(
        rng.choice(n_patients, n_exams - n_patients), minlength=n_patients
    )
    patient = np.repeat(np.arange(n_patients), per_patient)
    first = np.repeat(
        np.cumsum(per_patient) - per_patient, per_patient
    )  # index of the patient's first exam
    rank = np.arange(n_exams) - first

    day0 = np.datetime64(site.first_day, "s")
    span_days = (np.datetime64(site.last_day, "D") - np.datetime64(site.first_day, "D")).astype(int)
    gap_days = np.where(rank > 0, np.clip(30 + rng.exponential(200.0, n_exams), 30, 720), 0.0)
    start_day = rng.integers(0, span_days, n_patients)[patient]
    day = start_day + _cumsum_within(gap_days, first).astype(int)
    minute = rng.integers(8 * 60, 18 * 60, n_exams)  # scanner hours
    time = day0 + (day * 86400 + minute * 60).astype("timedelta64[s]")

    # Disease progresses slowly between exams; the vessel-specific part mostly persists.
    years = (day - start_day) / 365.25
    burden = patients["burden"][patient] + 0.08 * years
    own = EXAM_PERSISTENCE * patients["vessel_part"][patient] + np.sqrt(
        1 - EXAM_PERSISTENCE**2
    ) * rng.normal(0, 1, (n_exams, len(VESSELS)))
    liability = np.sqrt(BURDEN_SHARE) * burden[:, None] + np.sqrt(1 - BURDEN_SHARE) * own
    thresholds = norm.isf(np.array([GRADE_TAIL[v] for v in VESSELS]))  # (vessels, 4)
    grades = (liability[:, :, None] > thresholds[None]).sum(axis=2)
    symptom = _symptoms(grades, burden, rng)
    return {
        "patient": patient,
        "first": first,
        "rank": rank,
        "time": time,
        "gap_days": gap_days,
        "burden": burden,
        "grades": grades,
        "symptom": symptom,
    }


def _cumsum_within(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group's first element (groups are contiguous)."""
    total = np.cumsum(values)
    return total - total[group_start] + values[group_start]


def _symptoms(grades: np.ndarray, burden: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The chest-pain category of each exam's referral ('' when not recorded).

    Typical angina becomes likelier with obstructive disease, which is what gives the guideline's
    pre-test probability its (modest) discrimination. Sampled by the Gumbel-max trick, vectorised.
    """
    categories = np.array([*SYMPTOMS, ""], dtype=object)
    base = np.log([0.18, 0.36, 0.24, 0.12, 0.10])
    severe = (grades >= 3).sum(axis=1)
    logits = np.tile(base, (len(grades), 1))
    logits[:, 0] += 0.45 * severe + 0.2 * burden
    logits[:, 3] += 0.15 * severe
    choice = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return categories[choice]


def _ecgs(exams: dict, n_before: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ECG rows: the exam each belongs to and how long before its CCTA (s; negative = after).

    Before-CCTA intervals mix the pre-scan ECG (5 min - 3 h), the work-up of the last days
    (3 h - 2 days) and the referral visit (2 days - 6 weeks); they never reach back past half the gap
    to the patient's previous exam, so each ECG pairs unambiguously with the next CCTA.
    """
    n_exams = len(exams["patient"])
    per_exam = 1 + np.bincount(rng.choice(n_exams, n_before - n_exams), minlength=n_exams)
    before_exam = np.repeat(np.arange(n_exams), per_exam)
    kind = rng.choice(3, n_before, p=[0.40, 0.25, 0.35])
    low = np.array([5 * 60, 3 * 3600, 2 * 86400])[kind]
    high = np.array([3 * 3600, 2 * 86400, 42 * 86400])[kind]
    before = np.exp(rng.uniform(np.log(low), np.log(high)))
    reach = np.where(
        exams["gap_days"][before_exam] > 0, exams["gap_days"][before_exam] * 86400 / 2, np.inf
    )
    before = np.minimum(before, reach)

    n_after = max(1, round(AFTER_CCTA_SHARE * n_before))
    after_exam = rng.choice(n_exams, n_after, replace=False)
    after = -np.exp(rng.uniform(np.log(10 * 60), np.log(5 * 86400), n_after))
    next_gap = _next_gap_days(exams)[after_exam] * 86400 / 2
    after = np.maximum(after, -next_gap)
    return {
        "exam": np.concatenate([before_exam, after_exam]),
        "before_s": np.round(np.concatenate([before, after])).astype(np.int64),
    }


def _next_gap_days(exams: dict) -> np.ndarray:
    """Days to the same patient's next exam (infinite for the last one)."""
    gap = np.full(len(exams["patient"]), np.inf)
    same = exams["patient"][1:] == exams["patient"][:-1]
    gap[:-1][same] = exams["gap_days"][1:][same]
    return gap


def _followup(patients: dict, exams: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Days from the first CCTA to MACE or censoring, per patient.

    Hazard: 2% a year without obstructive disease, times exp(0.55 x severity) with severity = number
    of vessels with grade >= 3 (left main twice) + 0.5 per occlusion, from the patient's worst exam.
    """
    n = len(patients["age"])
    worst = np.zeros((n, len(VESSELS)), dtype=int)
    np.maximum.at(worst, exams["patient"], exams["grades"])
    weight = np.array([2.0 if v == "LM" else 1.0 for v in VESSELS])
    severity = ((worst >= 3) * weight).sum(axis=1) + 0.5 * (worst == 4).sum(axis=1)
    age_z = (patients["age"] - INTERNAL.age_mean) / 10.0
    hazard = 0.02 / 365.0 * np.exp(0.55 * severity + 0.2 * age_z)
    event_day = rng.exponential(1.0 / hazard)
    last_exam_day = np.zeros(n)
    np.maximum.at(
        last_exam_day,
        exams["patient"],
        (exams["time"] - exams["time"][exams["first"]]) / np.timedelta64(1, "D"),
    )
    close = 365.0 + rng.uniform(0.0, 35.0, n)
    lost = np.maximum(rng.exponential(365.0 / 0.075, n), last_exam_day + 1.0)
    censor = np.minimum(close, lost)
    event = event_day <= censor
    days = np.ceil(np.where(event, event_day, censor)).astype(int)
    # lost: the follow-up ended before the close without MACE (who may have died: _competing)
    return {"days": np.maximum(days, 1), "event": event, "lost": ~event & (lost < close)}


def _competing(patients: dict, followup: dict, rng: np.random.Generator) -> np.ndarray:
    """Per patient, whether the follow-up ended with a non-cardiovascular death (a competing
    event of MACE): among the patients lost before the close without MACE, with probability
    ``expit(-1.0 + 0.8 x (age - 63.7) / 10)`` (about a quarter at the mean age).

    A death ends the follow-up at the day the loss did, so times and MACE stay as they were;
    the draws come from ``rng`` alone (one per patient), the stream of
    :data:`COMPETING_STREAM`, and change nothing else of the cohort.
    """
    age_z = (patients["age"] - INTERNAL.age_mean) / 10.0
    died = rng.random(len(age_z)) < expit(-1.0 + 0.8 * age_z)
    return followup["lost"] & died


def _risk_factors(patients: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per patient, whether each of :data:`RISK_FACTOR_MODELS` is present (bool arrays by key), from
    the latent burden, age and sex (:class:`RiskFactor`): one uniform draw per patient and factor
    from ``rng`` alone, the stream of :data:`RISK_FACTOR_STREAM`."""
    age_z = (patients["age"] - INTERNAL.age_mean) / 10.0
    male = patients["male"].astype(float)
    draws = rng.random((len(age_z), len(RISK_FACTOR_MODELS)))
    return {
        f.key: draws[:, j]
        < expit(f.intercept + f.burden * patients["burden"] + f.age * age_z + f.male * male)
        for j, f in enumerate(RISK_FACTOR_MODELS)
    }
