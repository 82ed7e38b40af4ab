"""The risk-factor-weighted clinical likelihood (RF-CL) of obstructive CAD, the 2024 ESC model.

The 2024 ESC chronic coronary syndromes guideline (:data:`ESC_2024_CITATION`) replaced the 2019
pre-test probability table (:mod:`ecglib.metrics.ptp`) by the RF-CL of Winther et al.
(:data:`RF_CL_CITATION`), developed on > 40,000 symptomatic patients referred for CCTA in Western
Denmark, obstructive CAD = a stenosis of >= 50% on CCTA or invasive angiography. It is a logistic
model (Winther et al. 2020, supplementary **Table S3**, "RF-CL"):

.. math::

    \\operatorname{logit} p = -9.5260 + 1.6128\\,\\text{male} + 0.0844\\,\\text{age}
        + 2.7112\\,\\text{typical} - 0.4675\\,\\text{non-anginal} + 1.4940\\,g
        - 0.0187\\,\\text{age}\\cdot\\text{typical} - 0.0131\\,\\text{age}\\cdot g
        - 0.2799\\,\\text{typical}\\cdot g - 0.2091\\,\\text{male}\\cdot g

with age in years, ``g`` the risk-factor group (1: 0-1, 2: 2-3, 3: 4-5 of the five risk factors
of :data:`ecglib.schema.RISK_FACTORS`: family history of premature CAD, current or past
smoking, dyslipidaemia, hypertension, diabetes), and the symptoms in three groups: typical
angina; atypical angina or dyspnoea (the reference); non-anginal chest pain (or none). The
coefficients are those of Table S3 as implemented by the authors (S. E. Schmidt, S. Winther) and
in the R package ``pretestcad`` (``calculate_winther_2020_rf_cl_ptp``), whose worked example, a
40-year-old man without chest pain, dyspnoea or risk factors, gives 0.01414985
(``tests/test_metrics_rf_cl.py``).

The guideline prints the model as a table (2024 ESC guideline **Figure 4**, by sex, age band
30-39 ... 70-80, symptom score 0-1 / 2 / 3 and 0-1 / 2-3 / 4-5 risk factors;
:data:`ESC_2024_TABLE`): each cell is the model at the band's midpoint age to within one
percentage point, which the tests check. This module computes the model itself (:func:`rf_cl`),
defined at every adult age, and offers the printed table (:func:`rf_cl_table_lookup`) for
patients of 30-80.

**The cohort's symptoms.** The canonical ``symptom`` is one category per examination
(:data:`ecglib.schema.SYMPTOMS`); the guideline's symptom score is 3 for typical angina, 2 for
atypical angina or dyspnoea, 1 for non-anginal chest pain (:data:`SYMPTOM_SCORE`). A patient
with both non-anginal pain and dyspnoea (score 2) cannot be told apart in this coding and counts
as non-anginal.

**Categories.** The guideline's clinical-likelihood categories on the RF-CL are very low
(<= 5%), low (> 5-15%) and moderate (> 15-50%) (:func:`rf_cl_category`); the model never
exceeds about 50% in the guideline's range, so no higher category appears.

The formula and the table are written by hand: a published model, which no Python library
ships.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from ecglib import schema
from ecglib.metrics._inputs import require_columns, same_length

__all__ = [
    "RF_CL_CITATION",
    "ESC_2024_CITATION",
    "COEFFICIENTS",
    "SYMPTOM_SCORE",
    "RF_CL_CATEGORIES",
    "ESC_2024_TABLE",
    "risk_factor_count",
    "risk_factor_group",
    "rf_cl",
    "rf_cl_table_lookup",
    "rf_cl_category",
    "rf_cl_table",
]

RF_CL_CITATION = (
    "Winther S, Schmidt SE, Mayrhofer T, et al. Incorporating coronary calcification into "
    "pre-test assessment of the likelihood of coronary artery disease. J Am Coll Cardiol "
    "2020;76:2421-2432. doi:10.1016/j.jacc.2020.09.585 (supplementary Table S3: the RF-CL model)."
)
ESC_2024_CITATION = (
    "Vrints C, Andreotti F, Koskinas KC, et al. 2024 ESC Guidelines for the management of chronic "
    "coronary syndromes. Eur Heart J 2024;45:3415-3537. doi:10.1093/eurheartj/ehae177 (Figure 4: "
    "the risk-factor-weighted clinical likelihood of obstructive CAD)."
)

#: Table S3 of Winther et al. 2020, the RF-CL model (module docstring).
COEFFICIENTS: dict[str, float] = {
    "intercept": -9.5260,
    "male": 1.6128,
    "age": 0.0844,
    "typical": 2.7112,
    "non-anginal": -0.4675,
    "rf_group": 1.4940,
    "age x typical": -0.0187,
    "age x rf_group": -0.0131,
    "typical x rf_group": -0.2799,
    "male x rf_group": -0.2091,
}

#: The 2024 guideline's symptom score of each canonical symptom category.
SYMPTOM_SCORE: dict[str, int] = {"typical": 3, "atypical": 2, "dyspnoea": 2, "non-anginal": 1}

#: Clinical-likelihood categories of the 2024 guideline, in increasing order.
RF_CL_CATEGORIES: tuple[str, ...] = ("very low", "low", "moderate")
#: Upper bounds (percent, inclusive) of "very low" and "low".
VERY_LOW_MAX_PERCENT, LOW_MAX_PERCENT = 5.0, 15.0

#: Age bands of Figure 4, [lower, upper] in whole years (both inclusive).
TABLE_AGE_BANDS: dict[str, tuple[int, int]] = {
    "30-39": (30, 39),
    "40-49": (40, 49),
    "50-59": (50, 59),
    "60-69": (60, 69),
    "70-80": (70, 80),
}
# Figure 4 as printed (percent): (symptom score group, sex, risk-factor group) -> the five
# age bands of TABLE_AGE_BANDS.
_FIGURE_4 = {
    ("0-1", "female", "0-1"): (0, 1, 1, 2, 4),
    ("0-1", "female", "2-3"): (1, 1, 2, 4, 7),
    ("0-1", "female", "4-5"): (2, 3, 5, 7, 11),
    ("0-1", "male", "0-1"): (1, 2, 4, 8, 15),
    ("0-1", "male", "2-3"): (2, 4, 7, 12, 19),
    ("0-1", "male", "4-5"): (5, 8, 12, 17, 24),
    ("2", "female", "0-1"): (0, 1, 2, 3, 6),
    ("2", "female", "2-3"): (1, 2, 3, 6, 10),
    ("2", "female", "4-5"): (3, 5, 7, 11, 16),
    ("2", "male", "0-1"): (2, 3, 6, 12, 22),
    ("2", "male", "2-3"): (4, 6, 11, 17, 27),
    ("2", "male", "4-5"): (8, 12, 17, 25, 34),
    ("3", "female", "0-1"): (2, 4, 6, 10, 16),
    ("3", "female", "2-3"): (5, 7, 10, 14, 19),
    ("3", "female", "4-5"): (10, 12, 15, 19, 23),
    ("3", "male", "0-1"): (9, 14, 21, 32, 44),
    ("3", "male", "2-3"): (14, 20, 27, 35, 44),
    ("3", "male", "4-5"): (22, 27, 33, 39, 45),
}
#: Figure 4 in long form: ``symptom_group``, ``sex``, ``rf_group``, ``age_band``,
#: ``rf_cl_percent`` (90 rows).
ESC_2024_TABLE: pd.DataFrame = pd.DataFrame(
    [
        {
            "symptom_group": s,
            "sex": sex,
            "rf_group": r,
            "age_band": band,
            "rf_cl_percent": values[j],
        }
        for (s, sex, r), values in _FIGURE_4.items()
        for j, band in enumerate(TABLE_AGE_BANDS)
    ]
)
_RF_GROUPS = ("0-1", "2-3", "4-5")


def risk_factor_count(table: pd.DataFrame) -> pd.Series:
    """Number of the five risk factors (0-5) present in each row of ``table`` (0/1 columns of
    :data:`ecglib.schema.RISK_FACTORS`); NaN where any of them is not recorded (the guideline
    counts all five, so a missing one would undercount). Raises :class:`MissingInputError`
    when a column is absent."""
    require_columns(table, schema.RISK_FACTORS, "the risk-factor-weighted clinical likelihood")
    values = table[list(schema.RISK_FACTORS)].astype(float)
    bad = values.notna() & ~values.isin([0.0, 1.0])
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise ValueError(
            f"{schema.RISK_FACTORS[col]} of row {table.index[row]} is "
            f"{float(values.iat[row, col]):g}, not 0 or 1"
        )
    return values.sum(axis=1, min_count=len(schema.RISK_FACTORS)).where(values.notna().all(axis=1))


def risk_factor_group(count) -> np.ndarray:
    """The model's risk-factor group: 1 for 0-1, 2 for 2-3, 3 for 4-5 risk factors (NaN for a
    missing count)."""
    n = np.atleast_1d(np.asarray(count, dtype=float))
    bad = ~np.isnan(n) & ~np.isin(n, np.arange(6))
    if bad.any():
        raise ValueError(f"risk-factor counts must be 0-5, got {n[bad][0]!r}")
    return np.where(np.isnan(n), np.nan, 1.0 + (n >= 2) + (n >= 4))


def rf_cl(age, sex, symptom, n_risk_factors) -> np.ndarray:
    """The RF-CL probability (0-1) of each patient (module docstring's equation; Winther et
    al. 2020, Table S3). ``sex`` in :data:`ecglib.schema.SEXES`, ``symptom`` in
    :data:`ecglib.schema.SYMPTOMS`, ``n_risk_factors`` 0-5. NaN where any input is missing;
    an unknown sex or symptom raises ``ValueError``."""
    age = np.atleast_1d(np.asarray(age, dtype=float))
    sex = np.atleast_1d(np.asarray(sex, dtype=object))
    symptom = np.atleast_1d(np.asarray(symptom, dtype=object))
    g = risk_factor_group(n_risk_factors)
    same_length(age=age, sex=sex, symptom=symptom, n_risk_factors=g)
    male = _coded(sex, {"male": 1.0, "female": 0.0}, "sex")
    score = _coded(symptom, SYMPTOM_SCORE, "symptom")
    typical, nonanginal = (score == 3).astype(float), (score == 1).astype(float)
    c = COEFFICIENTS
    logit = (
        c["intercept"]
        + c["male"] * male
        + c["age"] * age
        + c["typical"] * typical
        + c["non-anginal"] * nonanginal
        + c["rf_group"] * g
        + c["age x typical"] * age * typical
        + c["age x rf_group"] * age * g
        + c["typical x rf_group"] * typical * g
        + c["male x rf_group"] * male * g
    )
    return np.where(np.isnan(score), np.nan, expit(logit))


def rf_cl_table_lookup(age, sex, symptom, n_risk_factors) -> np.ndarray:
    """The RF-CL as printed in the 2024 guideline's Figure 4, in percent; NaN outside its ages
    (30-80 years) or where an input is missing."""
    age = np.atleast_1d(np.asarray(age, dtype=float))
    sex = np.atleast_1d(np.asarray(sex, dtype=object))
    score = _coded(np.atleast_1d(np.asarray(symptom, dtype=object)), SYMPTOM_SCORE, "symptom")
    g = risk_factor_group(n_risk_factors)
    same_length(age=age, sex=sex, symptom=score, n_risk_factors=g)
    _coded(sex, {"male": 1.0, "female": 0.0}, "sex")
    out = np.full(len(age), np.nan)
    for i in range(len(age)):
        band = next(
            (b for j, (b, (lo, hi)) in enumerate(TABLE_AGE_BANDS.items()) if lo <= age[i] <= hi),
            None,
        )
        if band is None or np.isnan(score[i]) or np.isnan(g[i]) or sex[i] not in schema.SEXES:
            continue
        group = "0-1" if score[i] <= 1 else str(int(score[i]))
        values = _FIGURE_4[(group, sex[i], _RF_GROUPS[int(g[i]) - 1])]
        out[i] = values[list(TABLE_AGE_BANDS).index(band)]
    return out


def rf_cl_category(p) -> pd.Categorical:
    """``very low`` (<= 5%), ``low`` (> 5-15%), ``moderate`` (> 15%) of RF-CL probabilities
    (0-1; compared in percent rounded to 9 decimals, so 0.05 is very low); NaN stays missing."""
    pct = np.round(np.atleast_1d(np.asarray(p, dtype=float)) * 100.0, 9)
    codes = np.where(pct <= VERY_LOW_MAX_PERCENT, 0, np.where(pct <= LOW_MAX_PERCENT, 1, 2))
    codes = np.where(np.isnan(pct), -1, codes)
    return pd.Categorical.from_codes(codes, categories=list(RF_CL_CATEGORIES), ordered=True)


def rf_cl_table(cohort: pd.DataFrame) -> pd.DataFrame:
    """RF-CL of every row of a cohort table (``age``, ``sex``, ``symptom`` and the five risk
    factors): columns ``n_risk_factors``, ``rf_cl`` (0-1), ``rf_cl_category`` and ``reason``
    (why ``rf_cl`` is NaN, else None), on the cohort's index. Raises
    :class:`MissingInputError` when a column is absent or has no value."""
    require_columns(
        cohort,
        ("age", "sex", "symptom", *schema.RISK_FACTORS),
        "the risk-factor-weighted clinical likelihood",
    )
    count = risk_factor_count(cohort)
    p = rf_cl(cohort["age"], cohort["sex"], cohort["symptom"], count)
    reason = np.full(len(cohort), None, dtype=object)
    for name, missing in (
        ("a risk factor not recorded", count.isna().to_numpy()),
        ("symptom missing", cohort["symptom"].isna().to_numpy()),
        ("sex missing", cohort["sex"].isna().to_numpy()),
        ("age missing", cohort["age"].isna().to_numpy()),
    ):
        reason[missing] = name
    out = pd.DataFrame(
        {"n_risk_factors": count.to_numpy(), "rf_cl": p, "reason": reason}, index=cohort.index
    )
    out["rf_cl_category"] = rf_cl_category(out["rf_cl"])
    return out


def _coded(values: np.ndarray, codes: dict, name: str) -> np.ndarray:
    """Float codes of categorical ``values`` (NaN where missing); an unknown value raises."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            continue
        if v not in codes:
            raise ValueError(f"{name} {v!r} of row {i} is not one of {list(codes)}")
        out[i] = codes[v]
    return out
