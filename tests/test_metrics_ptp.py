"""2019 ESC pre-test probability: every table cell, category boundaries, AI + PTP combination."""

import re

import numpy as np
import pandas as pd
import pytest

from ecglib import schema
from ecglib.metrics import nri, ptp
from ecglib.metrics.ptp import MissingInputError

# The table exactly as DESIGN.md prints it (percent, men / women), typed independently of the
# module so that a typo on either side fails.
DESIGN_TABLE = """
| 30-39 | 3 / 5 | 4 / 3 | 1 / 1 | 0 / 3 |
| 40-49 | 22 / 10 | 10 / 6 | 3 / 2 | 12 / 3 |
| 50-59 | 32 / 13 | 17 / 6 | 11 / 3 | 20 / 9 |
| 60-69 | 44 / 16 | 26 / 11 | 22 / 6 | 27 / 14 |
| 70+ | 52 / 27 | 34 / 19 | 24 / 10 | 32 / 12 |
"""
BAND_AGES = {
    "30-39": (30, 35, 39.9),
    "40-49": (40, 45, 49),
    "50-59": (50, 55, 59),
    "60-69": (60, 65, 69),
    "70+": (70, 80, 101),
}


def _parse(text: str) -> dict:
    cells = {}
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if len(parts) != 5 or not re.match(r"^\d\d(-\d\d|\+)$", parts[0]):
            continue
        for symptom, cell in zip(schema.SYMPTOMS, parts[1:]):
            men, women = (int(x) for x in cell.split("/"))
            cells[(parts[0], "male", symptom)] = men
            cells[(parts[0], "female", symptom)] = women
    return cells


CELLS = _parse(DESIGN_TABLE)


def test_forty_cells():
    assert len(CELLS) == 40 and len(ptp.PTP_TABLE) == 40


@pytest.mark.parametrize("band,sex,symptom", sorted(CELLS))
def test_every_cell_matches_design_table(band, sex, symptom):
    expected = CELLS[(band, sex, symptom)]
    ages = BAND_AGES[band]
    out = ptp.ptp_lookup(ages, [sex] * 3, [symptom] * 3)
    assert out["ptp_percent"].tolist() == [expected] * 3
    assert out["ptp"].tolist() == pytest.approx([expected / 100] * 3)
    assert out["age_band"].tolist() == [band] * 3
    assert out["reason"].isna().all()


def test_module_table_equals_shared_design_md(shared):
    text = (shared / "DESIGN.md").read_text()
    start = text.index("Guideline pre-test probability")
    design = _parse(text[start : start + 2000])
    assert design == CELLS
    module = {(r.age_band, r.sex, r.symptom): r.ptp_percent for r in ptp.PTP_TABLE.itertuples()}
    assert module == design


def test_citation_names_the_guideline():
    assert "Eur Heart J 2020;41:407" in ptp.ESC_2019_CITATION
    assert "Knuuti" in ptp.ESC_2019_CITATION


def test_age_band_edges():
    assert ptp.age_band([29.99, 30, 39, 39.99, 40, 69.99, 70, 105]).tolist() == [
        None,
        "30-39",
        "30-39",
        "30-39",
        "40-49",
        "60-69",
        "70+",
        "70+",
    ]


def test_under_30_and_missing_inputs_get_nan_with_reason():
    out = ptp.ptp_lookup(
        [29, np.nan, 50, 50, 50, 50],
        ["male", "male", None, "male", "male", "other"],
        ["typical", "typical", "typical", None, "stabbing", "typical"],
    )
    assert out["ptp"].isna().all()
    assert out["reason"].tolist() == [
        "age < 30: the guideline table starts at 30",
        "age missing",
        "sex missing",
        "symptom missing",
        "symptom 'stabbing' is not one of " + str(schema.SYMPTOMS),
        "sex 'other' is not one of " + str(schema.SEXES),
    ]
    with pytest.raises(ValueError, match="row 0: age < 30"):
        ptp.ptp_lookup([29, 50], ["male", "male"], ["typical", "typical"], errors="raise")


def test_category_boundaries():
    # low < 5% <= grey zone <= 15% < testing: both 5% and 15% are grey zone
    cats = ptp.ptp_category([0.0, 0.049, 0.05, 0.10, 0.15, 0.151, 0.52, np.nan])
    assert list(cats.astype(object)[:7]) == [
        "low",
        "low",
        "grey zone",
        "grey zone",
        "grey zone",
        "testing",
        "testing",
    ]
    assert pd.isna(cats[7])
    # floating-point forms of the boundaries still land in the grey zone
    assert (
        list(ptp.ptp_category([5 / 100, 15 / 100, 0.1 + 0.05]).astype(object)) == ["grey zone"] * 3
    )
    # a table cell exactly at 5% (women 30-39, typical angina) is grey zone
    cell = ptp.ptp_lookup([35], ["female"], ["typical"])
    assert cell["ptp_percent"].iloc[0] == 5
    assert ptp.ptp_category(cell["ptp"])[0] == "grey zone"


def test_ptp_table_on_cohort_and_missing_symptoms():
    cohort = pd.DataFrame(
        {
            "age": [45, 65, 25],
            "sex": ["male", "female", "male"],
            "symptom": ["typical", "non-anginal", "atypical"],
        },
        index=[10, 11, 12],
    )
    out = ptp.ptp_table(cohort)
    assert list(out.index) == [10, 11, 12]
    assert out["ptp_percent"].iloc[:2].tolist() == [22, 6]
    assert list(out["ptp_category"].astype(object)[:2]) == ["testing", "grey zone"]
    assert pd.isna(out["ptp_category"].iloc[2])
    with pytest.raises(MissingInputError) as info:
        ptp.ptp_table(cohort.drop(columns="symptom"))
    assert "symptom" in info.value.reason
    with pytest.raises(MissingInputError, match="no row of the cohort"):
        ptp.ptp_table(cohort.assign(symptom=None))


def test_patient_ai_stratum():
    strata = pd.DataFrame(
        {
            "RCA": ["low", "low", "high", "intermediate"],
            "LM": ["low", "intermediate", "low", "low"],
            "LAD": ["low", "low", "intermediate", "low"],
        }
    )
    assert list(ptp.patient_ai_stratum(strata).astype(object)) == [
        "low",
        "intermediate",
        "high",
        "intermediate",
    ]


@pytest.mark.parametrize(
    "ptp_cat,ai,expected",
    [
        ("low", "low", "low"),
        ("low", "intermediate", "low"),
        ("low", "high", "low"),
        ("grey zone", "low", "low"),
        ("grey zone", "intermediate", "grey zone"),
        ("grey zone", "high", "testing"),
        ("testing", "low", "testing"),
        ("testing", "intermediate", "testing"),
        ("testing", "high", "testing"),
    ],
)
def test_grey_zone_rule(ptp_cat, ai, expected):
    assert ptp.combine_ptp_ai([ptp_cat], [ai])[0] == expected


def test_shift_one_rule_and_incomplete_rules():
    out = ptp.combine_ptp_ai(
        ["low", "testing", "grey zone"], ["high", "low", "high"], rule=ptp.SHIFT_ONE_RULE
    )
    assert list(out.astype(object)) == ["grey zone", "grey zone", "testing"]
    with pytest.raises(ValueError, match="does not cover"):
        ptp.combine_ptp_ai(["low"], ["low"], rule={("low", "low"): "low"})
    out = ptp.combine_ptp_ai(["low", np.nan], ["low", "high"])
    assert out[0] == "low" and pd.isna(out[1])


def test_rule_out_summary_and_nri_on_toy():
    # 8 patients; PTP alone: 2 low, 4 grey, 2 testing.
    y = [0, 1, 0, 0, 1, 0, 1, 0]
    ptp_cat = [
        "low",
        "low",
        "grey zone",
        "grey zone",
        "grey zone",
        "grey zone",
        "testing",
        "testing",
    ]
    ai = ["low", "low", "low", "intermediate", "high", "low", "high", "low"]
    comb = ptp.combine_ptp_ai(ptp_cat, ai)
    # grey -> low for patients 2 and 5 (AI low), grey -> testing for patient 4 (AI high)
    assert list(comb.astype(object)) == [
        "low",
        "low",
        "low",
        "grey zone",
        "testing",
        "low",
        "testing",
        "testing",
    ]
    s = ptp.rule_out_summary(y, {"PTP": ptp_cat, "PTP + AI": comb})
    # PTP: low = patients 0, 1 -> 1 missed event, NPV 1/2; grey share 4/8
    assert s.loc["PTP", "n_low"] == 2 and s.loc["PTP", "missed_events"] == 1
    assert s.loc["PTP", "npv_low"] == pytest.approx(0.5)
    assert s.loc["PTP", "grey_zone_share"] == pytest.approx(0.5)
    # PTP + AI: low = 0, 1, 2, 5 -> still 1 missed event, NPV 3/4; grey share 1/8
    assert s.loc["PTP + AI", "n_low"] == 4 and s.loc["PTP + AI", "missed_events"] == 1
    assert s.loc["PTP + AI", "npv_low"] == pytest.approx(0.75)
    assert s.loc["PTP + AI", "grey_zone_share"] == pytest.approx(1 / 8)
    assert s.loc["PTP + AI", "sensitivity"] == pytest.approx(2 / 3)
    assert s.loc["PTP + AI", "npv_low_lo"] <= 0.75 <= s.loc["PTP + AI", "npv_low_hi"]
    # NRI against PTP alone: events: patient 4 up (1 of 3); non-events: 2 and 5 down (2 of 5)
    r = nri.categorical_nri(y, ptp_cat, comb, ptp.PTP_CATEGORIES)
    assert (r.events_up, r.events_down, r.nonevents_up, r.nonevents_down) == (1, 0, 0, 2)
    assert r.nri == pytest.approx(1 / 3 + 2 / 5)
