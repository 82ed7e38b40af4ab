"""Guideline pre-test probability (PTP) of obstructive CAD, and combining it with the AI strata.

The table is the 2019 ESC chronic coronary syndromes guideline's PTP by age, sex and symptoms
(:data:`ESC_2019_CITATION`; pooled from 15,815 symptomatic patients), as printed in the
project's DESIGN.md. The guideline gives no PTP below age 30: such patients get NaN with the
reason ``"age < 30: the guideline table starts at 30"`` (or an error with ``errors="raise"``).
Ages are whole years at the ECG; bands are ``[30, 40), [40, 50), [50, 60), [60, 70), [70, inf)``.

Categories (guideline wording: "<5%", "5-15%", ">15%"), on the table's whole percents:

- ``low``       PTP < 5%: testing can be deferred;
- ``grey zone`` 5% <= PTP <= 15%: the clinical likelihood decides. **Both boundaries belong to
  the grey zone**: exactly 5% is grey zone (not low), exactly 15% is grey zone (not testing),
  because the guideline's low and testing categories are the strict inequalities "<5%" and
  ">15%";
- ``testing``   PTP > 15%: non-invasive testing is most beneficial.

**Combining AI strata with PTP** (:func:`combine_ptp_ai`): the default rule
:data:`GREY_ZONE_RULE` lets the AI act only where the guideline itself asks for more
information, the 5-15% grey zone, as a clinical-likelihood modifier:

    PTP low      -> low, whatever the AI says
    PTP grey     -> low if AI low, grey zone if AI intermediate, testing if AI high
    PTP testing  -> testing, whatever the AI says

so the AI never overrides a guideline decision, and every change is a reclassification out of
the grey zone. :data:`SHIFT_ONE_RULE` (AI low moves every patient one category down, AI high
one up) is the more aggressive alternative for a sensitivity analysis; any mapping
``(ptp category, AI stratum) -> category`` can be passed. The AI stratum for a patient-level
PTP is the patient-level one from :func:`patient_ai_stratum` (high if any vessel is high, low
if every vessel is low). :func:`rule_out_summary` reports the rule-out performance: patients
and missed events in the low category, its NPV with a CI (Wilson, or the percentile interval of
patient resamples, :func:`resampled_rule_out`, when a patient has several examinations), and
the share in the grey zone before and after; the NRI of the combination against PTP alone is
:func:`ecglib.metrics.nri.categorical_nri`.

The lookup is written by hand: it is a published table, which no library ships.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics._inputs import MissingInputError, as_binary, require_columns, same_length

__all__ = [
    "MissingInputError",
    "ESC_2019_CITATION",
    "AGE_BANDS",
    "PTP_TABLE",
    "PTP_CATEGORIES",
    "GREY_ZONE_RULE",
    "SHIFT_ONE_RULE",
    "age_band",
    "ptp_lookup",
    "ptp_category",
    "ptp_table",
    "patient_ai_stratum",
    "combine_ptp_ai",
    "rule_out_summary",
    "resampled_rule_out",
]
from ecglib.metrics.resamples import percentile_interval, weighted_rate
from ecglib.metrics.strata import STRATA
from ecglib.metrics.thresholds import proportion_ci

ESC_2019_CITATION = (
    "Knuuti J, Wijns W, Saraste A, et al. 2019 ESC Guidelines for the diagnosis and management of "
    "chronic coronary syndromes. Eur Heart J 2020;41:407-477. doi:10.1093/eurheartj/ehz425 "
    "(Table 5: pre-test probabilities of obstructive coronary artery disease by age, sex and "
    "the nature of symptoms)."
)

#: Age bands of the table: label -> [lower, upper) in whole years.
AGE_BANDS: dict[str, tuple[float, float]] = {
    "30-39": (30, 40),
    "40-49": (40, 50),
    "50-59": (50, 60),
    "60-69": (60, 70),
    "70+": (70, np.inf),
}

# The table as printed (percent), one row per age band; per symptom (men, women).
_TABLE = {
    #          typical   atypical  non-anginal  dyspnoea
    "30-39": ((3, 5), (4, 3), (1, 1), (0, 3)),
    "40-49": ((22, 10), (10, 6), (3, 2), (12, 3)),
    "50-59": ((32, 13), (17, 6), (11, 3), (20, 9)),
    "60-69": ((44, 16), (26, 11), (22, 6), (27, 14)),
    "70+": ((52, 27), (34, 19), (24, 10), (32, 12)),
}

#: The table in long form: one row per (age_band, sex, symptom) with ``ptp_percent`` (40 rows).
PTP_TABLE: pd.DataFrame = pd.DataFrame(
    [
        {"age_band": band, "sex": sex, "symptom": symptom, "ptp_percent": cells[j][k]}
        for band, cells in _TABLE.items()
        for j, symptom in enumerate(schema.SYMPTOMS)
        for k, sex in enumerate(schema.SEXES)
    ]
)

#: PTP categories in increasing order.
PTP_CATEGORIES: tuple[str, ...] = ("low", "grey zone", "testing")
#: Category boundaries in percent: low < 5 <= grey zone <= 15 < testing.
LOW_BELOW_PERCENT = 5.0
TESTING_ABOVE_PERCENT = 15.0

#: Default combination: the AI moves grey-zone patients only (see the module docstring).
GREY_ZONE_RULE: dict[tuple[str, str], str] = {
    ("low", "low"): "low",
    ("low", "intermediate"): "low",
    ("low", "high"): "low",
    ("grey zone", "low"): "low",
    ("grey zone", "intermediate"): "grey zone",
    ("grey zone", "high"): "testing",
    ("testing", "low"): "testing",
    ("testing", "intermediate"): "testing",
    ("testing", "high"): "testing",
}
#: Alternative: AI low moves any patient one category down, AI high one up.
SHIFT_ONE_RULE: dict[tuple[str, str], str] = {
    ("low", "low"): "low",
    ("low", "intermediate"): "low",
    ("low", "high"): "grey zone",
    ("grey zone", "low"): "low",
    ("grey zone", "intermediate"): "grey zone",
    ("grey zone", "high"): "testing",
    ("testing", "low"): "grey zone",
    ("testing", "intermediate"): "testing",
    ("testing", "high"): "testing",
}

_LOOKUP = {
    (r.age_band, r.sex, r.symptom): float(r.ptp_percent) for r in PTP_TABLE.itertuples(index=False)
}


def age_band(age) -> np.ndarray:
    """Age band label of each age (object array); None for missing ages and ages < 30."""
    age = np.atleast_1d(np.asarray(age, dtype=float))
    out = np.full(age.shape, None, dtype=object)
    for label, (lo, hi) in AGE_BANDS.items():
        out[(age >= lo) & (age < hi)] = label
    return out


def ptp_lookup(age, sex, symptom, *, errors: str = "nan") -> pd.DataFrame:
    """Guideline PTP of each patient: columns ``age_band``, ``ptp`` (probability, 0-1),
    ``ptp_percent`` (as printed) and ``reason`` (why ``ptp`` is NaN, else None).

    ``sex`` in :data:`ecglib.schema.SEXES`, ``symptom`` in :data:`ecglib.schema.SYMPTOMS`.
    ``errors="nan"`` leaves NaN with a reason for patients the table does not cover (missing
    age, sex or symptom, age < 30, an unknown value); ``errors="raise"`` raises ``ValueError``
    naming the first such row.
    """
    if errors not in ("nan", "raise"):
        raise ValueError(f"errors must be 'nan' or 'raise', got {errors!r}")
    age = np.atleast_1d(np.asarray(age, dtype=float))
    sex = np.atleast_1d(np.asarray(sex, dtype=object))
    symptom = np.atleast_1d(np.asarray(symptom, dtype=object))
    n = same_length(age=age, sex=sex, symptom=symptom)
    bands = age_band(age)
    percent = np.full(n, np.nan)
    reasons = np.full(n, None, dtype=object)
    for i in range(n):
        reasons[i] = _reason(age[i], sex[i], symptom[i])
        if reasons[i] is None:
            percent[i] = _LOOKUP[(bands[i], sex[i], symptom[i])]
    if errors == "raise" and any(r is not None for r in reasons):
        i = next(i for i, r in enumerate(reasons) if r is not None)
        raise ValueError(
            f"no guideline PTP for row {i}: {reasons[i]} "
            f"({sum(r is not None for r in reasons)} such rows)"
        )
    return pd.DataFrame(
        {"age_band": bands, "ptp": percent / 100.0, "ptp_percent": percent, "reason": reasons}
    )


def ptp_category(ptp) -> pd.Categorical:
    """``low`` (< 5%), ``grey zone`` (5-15%, both ends included), ``testing`` (> 15%).

    ``ptp`` is a probability (0-1); NaN stays missing. The comparison is made in percent rounded
    to 9 decimals, so 0.05 and 0.15 land in the grey zone despite binary floating point.
    """
    pct = np.round(np.atleast_1d(np.asarray(ptp, dtype=float)) * 100.0, 9)
    codes = np.where(pct < LOW_BELOW_PERCENT, 0, np.where(pct > TESTING_ABOVE_PERCENT, 2, 1))
    codes = np.where(np.isnan(pct), -1, codes)
    return pd.Categorical.from_codes(codes, categories=list(PTP_CATEGORIES), ordered=True)


def ptp_table(cohort: pd.DataFrame) -> pd.DataFrame:
    """PTP and its category for every row of a cohort table (``age``, ``sex``, ``symptom``).

    Raises :class:`MissingInputError` when the cohort has no symptom (or age, sex) column or no
    value in it: the chapter cannot be computed and the notebook says so. Rows the table does not
    cover get NaN and a ``reason``.
    """
    require_columns(cohort, ("age", "sex", "symptom"), "the guideline pre-test probability")
    out = ptp_lookup(cohort["age"], cohort["sex"], cohort["symptom"])
    out.index = cohort.index
    out["ptp_category"] = ptp_category(out["ptp"])
    return out


def patient_ai_stratum(strata: pd.DataFrame) -> pd.Categorical:
    """Patient-level AI stratum from per-vessel strata (one column per vessel): ``high`` if any
    vessel is high, ``low`` if every vessel is low, else ``intermediate``."""
    codes = np.column_stack(
        [
            pd.Categorical(strata[c], categories=list(STRATA), ordered=True).codes
            for c in strata.columns
        ]
    )
    if (codes < 0).any():
        raise ValueError(f"per-vessel strata must be one of {STRATA} without missing values")
    out = np.where((codes == 2).any(axis=1), 2, np.where((codes == 0).all(axis=1), 0, 1))
    return pd.Categorical.from_codes(out, categories=list(STRATA), ordered=True)


def combine_ptp_ai(
    ptp_cat, ai_stratum, rule: Mapping[tuple[str, str], str] = GREY_ZONE_RULE
) -> pd.Categorical:
    """Combined category of each patient: ``rule[(ptp category, AI stratum)]``.

    Default :data:`GREY_ZONE_RULE` (module docstring). Patients with a missing PTP category or AI
    stratum stay missing.
    """
    missing = set((c, s) for c in PTP_CATEGORIES for s in STRATA) - set(rule)
    if missing:
        raise ValueError(f"the combination rule does not cover {sorted(missing)}")
    bad = set(rule.values()) - set(PTP_CATEGORIES)
    if bad:
        raise ValueError(f"the combination rule maps to unknown categories {sorted(bad)}")
    ptp_cat = pd.Categorical(ptp_cat, categories=list(PTP_CATEGORIES), ordered=True)
    ai = pd.Categorical(ai_stratum, categories=list(STRATA), ordered=True)
    same_length(ptp_category=ptp_cat, ai_stratum=ai)
    out = [
        rule[(c, s)] if isinstance(c, str) and isinstance(s, str) else None
        for c, s in zip(ptp_cat, ai)
    ]
    return pd.Categorical(out, categories=list(PTP_CATEGORIES), ordered=True)


def resampled_rule_out(y, categories, *, weights) -> pd.DataFrame:
    """The rule-out proportions of one categorisation in every resample of ``weights``.

    ``weights`` is ``(B, N)``, one column per row (the run's shared patient resamples,
    :meth:`ecglib.metrics.resamples.PatientResamples.weights`). Each proportion is a ratio of
    weighted sums (:func:`ecglib.metrics.resamples.weighted_rate`), all resamples at once:
    ``npv_low = sum_i w_bi (1 - y_i) low_i / sum_i w_bi low_i`` and ``sensitivity = sum_i w_bi
    y_i (1 - low_i) / sum_i w_bi y_i``. Rows with a missing category are left out; a resample
    without a low row (or without an event) is NaN. Returns a ``(B, 2)`` frame.
    """
    y = as_binary(y)
    cats = pd.Categorical(categories, categories=list(PTP_CATEGORIES), ordered=True)
    same_length(y=y, categories=cats)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(y):
        raise ValueError(
            f"weights must have shape (resamples, {len(y)}), one column per row; got {w.shape}"
        )
    codes = np.asarray(cats.codes)
    known = codes >= 0
    w, yk, low = w[:, known], y[known], (codes[known] == 0).astype(float)
    return pd.DataFrame(
        {
            "npv_low": weighted_rate(w, 1 - yk, among=low),
            "sensitivity": weighted_rate(w, 1 - low, among=yk),
        }
    )


def rule_out_summary(
    y,
    categories: Mapping[str, object],
    *,
    method: str = "wilson",
    alpha: float = 0.05,
    weights=None,
) -> pd.DataFrame:
    """Rule-out performance of each categorisation (e.g. ``{"PTP": ..., "PTP + AI": ...}``).

    Per categorisation: ``n``, patients and share in each category, ``missed_events`` (events
    in ``low``), ``npv_low`` = non-events / patients in ``low`` with its CI, ``sensitivity`` of
    "not low" (events outside ``low`` / events), and ``grey_zone_share``. Rows with a missing
    category are excluded and counted in ``n_missing``; compare categorisations on the same
    patients.

    The CIs are ``method``'s (Wilson by default: rows as independent patients) or, given
    ``weights`` (``(B, N)`` patient resamples, one column per row), the percentile interval of
    the resampled proportions (:func:`resampled_rule_out`; the cluster bootstrap when a patient
    has several rows), with ``n_boot`` and the resamples where each proportion is undefined
    (``npv_low_undefined``, ``sensitivity_undefined``). The ``interval`` column names the method.
    """
    y = as_binary(y)
    rows = []
    for name, cats in categories.items():
        cats = pd.Categorical(cats, categories=list(PTP_CATEGORIES), ordered=True)
        same_length(y=y, categories=cats)
        known = np.asarray(cats.codes >= 0)
        yk, ck = y[known], np.asarray(cats.codes)[known]
        low = ck == 0
        npv, lo, hi = proportion_ci(
            int(np.sum(yk[low] == 0)), int(low.sum()), method=method, alpha=alpha
        )
        sens, s_lo, s_hi = proportion_ci(
            int(np.sum(yk[~low] == 1)), int(yk.sum()), method=method, alpha=alpha
        )
        row = {
            "categorisation": name,
            "n": int(known.sum()),
            "n_missing": int((~known).sum()),
            "events": int(yk.sum()),
        }
        for code, cat in enumerate(PTP_CATEGORIES):
            row[f"n_{cat}"] = int(np.sum(ck == code))
            row[f"share_{cat}"] = float(np.mean(ck == code)) if len(ck) else np.nan
        row.update(
            {
                "missed_events": int(yk[low].sum()),
                "npv_low": npv[0],
                "npv_low_lo": lo[0],
                "npv_low_hi": hi[0],
                "sensitivity": sens[0],
                "sensitivity_lo": s_lo[0],
                "sensitivity_hi": s_hi[0],
                "grey_zone_share": row["share_grey zone"],
                "interval": method,
            }
        )
        if weights is not None:
            boot = resampled_rule_out(y, cats, weights=weights)
            (npv_lo, sens_lo), (npv_hi, sens_hi) = percentile_interval(boot.to_numpy(), 1 - alpha)
            row.update(
                {
                    "npv_low_lo": float(npv_lo),
                    "npv_low_hi": float(npv_hi),
                    "sensitivity_lo": float(sens_lo),
                    "sensitivity_hi": float(sens_hi),
                    "interval": "patient bootstrap percentile",
                    "n_boot": len(boot),
                    "npv_low_undefined": int(boot["npv_low"].isna().sum()),
                    "sensitivity_undefined": int(boot["sensitivity"].isna().sum()),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("categorisation")


def _reason(age: float, sex, symptom) -> str | None:
    if np.isnan(age):
        return "age missing"
    if age < 30:
        return "age < 30: the guideline table starts at 30"
    if _missing(sex):
        return "sex missing"
    if sex not in schema.SEXES:
        return f"sex {sex!r} is not one of {schema.SEXES}"
    if _missing(symptom):
        return "symptom missing"
    if symptom not in schema.SYMPTOMS:
        return f"symptom {symptom!r} is not one of {schema.SYMPTOMS}"
    return None


def _missing(value) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    )
