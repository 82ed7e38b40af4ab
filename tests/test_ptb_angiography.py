"""The PTB angiography texts -> 0-4 grades: the explicit cut-off table, the text rules, and the
six real records of ../shared/data/ptbdb."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ecglib import schema
from ecglib.demo.cohort import GRADE_TEXT
from ecglib.errors import DataError
from ecglib.real.headers import parse_comments
from ecglib.real.ptb_angiography import (
    PERCENT_GRADES,
    PTB_VESSEL_FIELDS,
    grade_of_percent,
    grade_stenosis_text,
    grade_table,
    ptb_angiography_table,
    ptb_vessel_grades,
)


@pytest.fixture
def ptbdb(shared_data) -> Path:
    """The real PTB records (../shared/data/ptbdb, with its cohort.csv)."""
    return shared_data / "ptbdb"


# --- the cut-off table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "percent,grade",
    [
        (0, 0),
        (10, 0),
        (24, 0),
        (24.9, 0),
        (25, 1),
        (49, 1),
        (49.9, 1),
        (50, 2),
        (65, 2),
        (69, 2),
        (69.5, 2),
        (70, 3),
        (75, 3),
        (90, 3),
        (99, 3),
        (99.9, 3),
        (100, 4),
    ],
)
def test_percent_cutoffs(percent, grade):
    assert grade_of_percent(percent) == grade


@pytest.mark.parametrize("bad", [-1, 100.5, 150])
def test_percent_outside_0_100_refused(bad):
    with pytest.raises(ValueError, match="outside 0-100"):
        grade_of_percent(bad)


def test_cutoffs_are_the_demo_grade_texts_bins():
    # The demo's CCTA report texts state their percent bins; the PTB table must use the same ones.
    for grade, text in GRADE_TEXT.items():
        m = re.search(r"\((\d+)(?:-(\d+))?%\)", text)
        if m is None:
            assert grade == 0  # "No significant stenosis"
            continue
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        assert grade_of_percent(lo) == grade_of_percent(hi) == grade, text
    assert [(lo, hi, g) for lo, hi, g in PERCENT_GRADES] == [
        (0, 25, 0),
        (25, 50, 1),
        (50, 70, 2),
        (70, 100, 3),
    ]


def test_grade_table_for_the_book():
    t = grade_table()
    assert list(t["stenosis"]) == [
        "no stenoses",
        "0-24%",
        "25-49%",
        "50-69%",
        "70-99%",
        "100%, occlusion",
    ]
    assert list(t["grade"]) == [0, 0, 1, 2, 3, 4]
    assert list(t["name"]) == [schema.GRADES[g] for g in t["grade"]]


# --- text rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,grade",
    [
        # the six real records' texts
        ("RIVA 70% proximal to ramus diagonalis_2", 3),
        ("RIVA 65% proximal to ramus diagonalis_1", 2),
        ("RIVA distal to ramus diagonalis_1  60%, ", 2),
        ("RCX distal to ramus marginalis sinister_1 75%", 3),
        ("RCA distal to ramus ventricularis dexter 50%", 2),
        ("RCA proximal 70%.", 3),
        ("No stenoses", 0),
        # other forms
        ("no stenosis", 0),
        ("normal", 0),
        ("NO STENOSES.", 0),
        ("RIVA 20% proximal", 0),
        ("RIVA 30% proximal, 90% distal to ramus diagonalis_1", 3),  # the worst lesion counts
        ("RCA occlusion", 4),
        ("RCX occluded distal to ramus marginalis sinister_1", 4),
        ("RIVA 50% proximal, occlusion distal", 4),
        ("RCA 100%", 4),
        ("RCA subtotal occlusion", 3),
        ("RIVA subtotally occluded, RCA occluded", 4),
        ("RCX subtotal stenosis distal", 3),
        ("RCA 70-90% proximal", 3),
        ("RCA 70 - 80 %", 3),
        ("RCA 50%-60%", 2),
        ("RCX < 25%", 0),
        ("RIVA >70% proximal", 3),
        ("RIVA >= 70%", 3),
        ("RIVA 75.5% proximal", 3),
    ],
)
def test_texts(text, grade):
    assert grade_stenosis_text(text, record="r", vessel="X") == grade


@pytest.mark.parametrize("text", ["n/a", "", None, "Unknown", "  ", "None"])
def test_missing_text_is_none(text):
    assert grade_stenosis_text(text) is None


@pytest.mark.parametrize(
    "text,why",
    [
        ("RIVA proximal to ramus diagonalis_2", "no percentage"),  # a lesion without its size
        ("RIVA stenosed", "no percentage"),
        ("RIVA 120% proximal", "outside 0-100"),
        ("RCA 40-60%", "spans grades mild and moderate"),
        ("RCA 90-100%", "spans grades severe and occluded"),
        ("RCX < 50%", "spans grades none to mild"),
        ("RIVA > 60%", "spans grades moderate to severe"),
        ("RCA 80-60%", "runs backwards"),
    ],
)
def test_ungradable_texts_raise_naming_record_vessel_and_text(text, why):
    with pytest.raises(DataError, match=why) as err:
        grade_stenosis_text(text, record="patient099/s0999lre", vessel="LAD")
    assert err.value.record == "patient099/s0999lre"
    assert "LAD" in err.value.problem and repr(text) in err.value.problem


def test_branch_numbers_are_not_lesions():
    # "_1", "_2" are branch numbers; only numbers followed by % are stenoses.
    assert grade_stenosis_text("RCX distal to ramus marginalis sinister_1 30%") == 1
    with pytest.raises(DataError):
        grade_stenosis_text("RIVA distal to ramus diagonalis_2")


def test_vessel_grades_from_a_header_lm_always_missing():
    h = parse_comments(
        [
            "# age: 60",
            "# Reason for admission: Myocardial infarction",
            "# Left coronary artery stenoses (RIVA): RIVA 90% proximal",
            "# Left coronary artery stenoses (RCX): No stenoses",
            "# Right coronary artery stenoses (RCA): n/a",
        ],
        "pX/s1",
    )
    assert ptb_vessel_grades(h) == {"RCA": None, "LM": None, "LAD": 3, "LCX": 0}
    assert set(PTB_VESSEL_FIELDS) == {"RCA", "LAD", "LCX"}  # no left main field


# --- the real records -------------------------------------------------------------------------

EXPECTED = {  # record: (RCA, LAD, LCX)
    "patient001/s0010_re": (0, 3, 0),
    "patient001/s0014lre": (0, 3, 0),
    "patient001/s0016lre": (0, 3, 0),
    "patient002/s0015lre": (0, 2, 0),
    "patient003/s0017lre": (2, 0, 0),
    "patient012/s0043lre": (3, 2, 3),
}


def test_real_ptb_table(ptbdb):
    t = ptb_angiography_table(ptbdb)
    assert list(t["record"]) == list(EXPECTED)
    assert list(t["patient"]) == [r.split("/")[0] for r in EXPECTED]
    for row in t.itertuples():
        assert (row.grade_RCA, row.grade_LAD, row.grade_LCX) == EXPECTED[row.record], row.record
    assert t["grade_LM"].isna().all()
    assert all(str(t[c].dtype) == "Int64" for c in schema.grade_cols())
    # the texts are the headers' own, as cohort.csv lists them
    cohort = pd.read_csv(ptbdb / "cohort.csv", dtype=str, keep_default_na=False)
    merged = t.merge(cohort, on="record", suffixes=("", "_csv"))
    assert len(merged) == 6
    for col in ("rca_text", "riva_text", "rcx_text"):
        assert (merged[col] == merged[f"{col}_csv"]).all(), col
    # severe (grade >= 3) vessels: patient001 LAD; patient012 RCA and LCX
    severe = {
        (r.record, v)
        for r in t.itertuples()
        for v in ("RCA", "LAD", "LCX")
        if getattr(r, f"grade_{v}") >= schema.POSITIVE_GRADE
    }
    assert severe == {(f"patient001/{s}", "LAD") for s in ("s0010_re", "s0014lre", "s0016lre")} | {
        ("patient012/s0043lre", "RCA"),
        ("patient012/s0043lre", "LCX"),
    }


def test_table_from_header_paths(ptbdb):
    paths = [ptbdb / "patient003" / "s0017lre.hea"]
    t = ptb_angiography_table(paths)
    assert len(t) == 1 and t.loc[0, "grade_RCA"] == 2 and t.loc[0, "patient"] == "patient003"


def test_table_skips_non_ptb_headers_and_raises_on_bad_text(tmp_path):
    (tmp_path / "patient900").mkdir()
    body = "r 12 500 5000\n" + "r.dat 16 200/mV 16 0 0 0 0 I\n" * 12
    (tmp_path / "A0001.hea").write_text(body + "#Age: 50\n#Sex: Male\n#Dx: 426783006\n")
    (tmp_path / "patient900" / "s9000lre.hea").write_text(
        body + "# age: 70\n# sex: male\n# Reason for admission: Myocardial infarction\n"
        "# Left coronary artery stenoses (RIVA): RIVA proximal\n"
    )
    with pytest.raises(DataError, match="RIVA proximal") as err:
        ptb_angiography_table(tmp_path)
    assert err.value.record == "patient900/s9000lre"
    (tmp_path / "patient900" / "s9000lre.hea").unlink()
    assert ptb_angiography_table(tmp_path).empty  # the Challenge header is not a PTB summary
