"""WFDB header comments (Challenge and PTB formats) and the SNOMED CT table, on synthetic lines
and on the real headers of ../shared/data, checked against each folder's cohort.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecglib.errors import DataError
from ecglib.real.headers import PTB_FIELDS, parse_comments, read_header
from ecglib.real.snomed import (
    AF_FLUTTER_CODES,
    CPSC2018_ABBREV,
    RHYTHMS,
    SINUS_CODES,
    SNOMED,
    describe,
    rhythm_of,
    snomed_name,
    split_codes,
    states_rhythm,
    to_snomed,
)


@pytest.fixture
def cinc(shared_data) -> pd.DataFrame:
    """cohort.csv of the real CinC records (../shared/data/cinc)."""
    return pd.read_csv(shared_data / "cinc" / "cohort.csv", dtype=str, keep_default_na=False)


@pytest.fixture
def ptbdb(shared_data) -> pd.DataFrame:
    """cohort.csv of the real PTB records (../shared/data/ptbdb)."""
    return pd.read_csv(shared_data / "ptbdb" / "cohort.csv", dtype=str, keep_default_na=False)


# --- synthetic comment lines ---------------------------------------------------------------------

CHALLENGE = [
    "#Age: 74",
    "#Sex: Male",
    "#Dx: 164889003,59118001",
    "#Rx: Unknown",
    "#Hx: Unknown",
    "#Sx: Unknown",
]


def test_challenge_comments_parse():
    h = parse_comments(CHALLENGE, "X1")
    assert h.format == "challenge" and h.record == "X1"
    assert h.age == 74.0 and h.sex == "male"
    assert h.dx == ("164889003", "59118001") and h.dx_snomed == h.dx
    assert h.rx is None and h.hx is None and h.sx is None  # "Unknown" is missing


def test_spacing_after_hash_and_case_of_values_do_not_matter():
    h = parse_comments(["# Age: 61", "# Sex: female", "# Dx: 426783006"], "X2")
    assert (h.format, h.age, h.sex, h.dx_snomed) == ("challenge", 61.0, "female", ("426783006",))


@pytest.mark.parametrize("age", ["NaN", "nan", "", "Unknown", "n/a"])
def test_missing_age_parses_to_none(age):
    assert parse_comments([f"#Age: {age}", "#Sex: Male", "#Dx: 426783006"]).age is None


@pytest.mark.parametrize("sex", ["Unknown", "", "NaN", "n/a"])
def test_missing_sex_parses_to_none(sex):
    assert parse_comments(["#Age: 50", f"#Sex: {sex}", "#Dx: 426783006"]).sex is None


@pytest.mark.parametrize("sex,expected", [("M", "male"), ("f", "female"), ("FEMALE", "female")])
def test_sex_spellings(sex, expected):
    assert parse_comments([f"#Sex: {sex}", "#Dx: 426783006"]).sex == expected


def test_sx_misspelt_unknows_is_missing():
    # The 140 early CPSC headers say "#Sx: Unknows".
    assert parse_comments(CHALLENGE[:5] + ["#Sx: Unknows"]).sx is None


def test_cpsc_abbreviations_map_to_snomed():
    h = parse_comments(["#Age: 87", "#Sex: Male", "#Dx: AF,RBBB"], "A0012")
    assert h.dx == ("AF", "RBBB") and h.dx_snomed == ("164889003", "59118001")
    assert to_snomed("Normal") == "426783006" and to_snomed(" 59118001 ") == "59118001"


@pytest.mark.parametrize(
    "lines,what",
    [
        (["#Age: old", "#Dx: 426783006"], "age 'old' is not a number"),
        (["#Age: -3", "#Dx: 426783006"], "outside"),
        (["#Age: 250", "#Dx: 426783006"], "outside"),
        (["#Sex: X", "#Dx: 426783006"], "sex 'X'"),
        (["#Dx: 426783006,WHAT"], "diagnosis 'WHAT'"),
        (["#Age: 50", "#Age: 51", "#Dx: 426783006"], "given twice"),
    ],
)
def test_bad_values_raise_naming_the_record(lines, what):
    with pytest.raises(DataError, match=what) as err:
        parse_comments(lines, "REC9")
    assert err.value.record == "REC9"


def test_repeated_identical_field_is_fine():
    # PTB headers give "Catheterization date" twice, with the same value.
    h = parse_comments(
        [
            "# Catheterization date: 16-Oct-90",
            "# Reason for admission: x",
            "# Catheterization date: 16-Oct-90",
        ]
    )
    assert h.get("catheterization date") == "16-Oct-90" and h.format == "ptb"


def test_formats():
    assert parse_comments([]).format == "none"
    assert parse_comments(["# a free remark"]).format == "other"
    assert parse_comments(["# age: 50", "# Reason for admission: Healthy control"]).format == "ptb"


def test_read_header_record_line_and_errors(tmp_path):
    hea = tmp_path / "R1.hea"
    hea.write_text(
        "R1 12 500/1 5000\n"
        + "R1.dat 16 200/mV 16 0 0 0 0 I\n" * 12
        + "#Age: 40\n#Sex: Female\n#Dx: 164889003\n"
    )
    h = read_header(tmp_path / "R1")  # base name works as well as the .hea path
    assert (h.record, h.n_sig, h.fs, h.n_samples) == ("R1", 12, 500.0, 5000)
    assert (h.age, h.sex, h.dx_snomed) == (40.0, "female", ("164889003",))
    with pytest.raises(DataError, match="cannot read WFDB header") as err:
        read_header(tmp_path / "absent.hea", record="absent")
    assert err.value.record == "absent"
    (tmp_path / "bad.hea").write_text("bad twelve 500 5000\n")
    with pytest.raises(DataError, match="malformed"):
        read_header(tmp_path / "bad.hea")
    (tmp_path / "empty.hea").write_text("# only a comment\n")
    with pytest.raises(DataError, match="no record line"):
        read_header(tmp_path / "empty.hea")


# --- SNOMED CT table and rhythm --------------------------------------------------------------------


def test_named_codes_of_the_brief():
    assert snomed_name("426783006") == "sinus rhythm"
    assert snomed_name("429622005") == "ST depression"
    assert snomed_name("164931005") == "ST elevation"
    assert snomed_name("164934002") == "T wave abnormal"
    assert snomed_name("164865005") == "myocardial infarction"
    assert snomed_name("164889003") == "atrial fibrillation"
    assert snomed_name("1234") == "SNOMED CT 1234"  # unknown codes are named, never crash
    assert describe("164889003,59118001") == "atrial fibrillation; right bundle branch block"


def test_rhythm_rules():
    assert set(RHYTHMS) == {"sinus", "AF/flutter", "other"}
    assert rhythm_of("426783006") == "sinus"
    assert rhythm_of(["426177001", "284470004"]) == "sinus"  # sinus brady with PACs
    assert rhythm_of("164889003,59118001") == "AF/flutter"
    assert rhythm_of("164890007") == "AF/flutter"
    assert rhythm_of("426783006,164889003") == "AF/flutter"  # AF wins over sinus
    assert rhythm_of("10370003") == "other"  # pacing
    assert rhythm_of("59118001") == "other" and not states_rhythm("59118001")  # no rhythm stated
    assert rhythm_of("") == "other" and rhythm_of(None) == "other"
    assert states_rhythm("10370003") and states_rhythm("426783006")
    assert not SINUS_CODES & AF_FLUTTER_CODES
    assert split_codes(float("nan")) == () and split_codes(" 1, 2 ,") == ("1", "2")


def test_snomed_table_covers_every_code_in_the_real_records(cinc):
    present = {c for codes in cinc["dx_snomed"] for c in split_codes(codes)}
    assert len(present) == 58
    assert present <= set(SNOMED), sorted(present - set(SNOMED))
    assert set(SNOMED) == present  # the table is exactly the codes present


def test_cpsc_abbreviation_map_agrees_with_cohort_csv(cinc):
    abbrev = cinc[cinc["dx_format"] == "cpsc2018_abbrev"]
    assert len(abbrev) == 140
    mapped = abbrev["dx_codes"].map(lambda s: ",".join(CPSC2018_ABBREV[t] for t in s.split(",")))
    assert (mapped == abbrev["dx_snomed"]).all()


# --- real headers against cohort.csv ---------------------------------------------------------------


@pytest.mark.parametrize(
    "folder,record,age,sex,dx",
    [
        ("cpsc_2018", "A0001", 74.0, "male", ("59118001",)),
        ("cpsc_2018", "A0011", 87.0, "male", ("164909002",)),  # "#Dx: LBBB", "#Sx: Unknows"
        ("cpsc_2018_extra", "Q0001", 53.0, "male", ("164867002", "427084000")),
        ("georgia", "E00001", None, "female", ("426783006",)),  # "#Age: NaN"
        ("chapman_shaoxing", "JS00001", 85.0, "male", ("164889003", "59118001", "164934002")),
        ("ningbo", "JS11438", 4.0, "male", ("427084000",)),
        ("ptb-xl", "HR00001", 56.0, "female", ("251146004", "426783006")),
        ("ptb", "S0001", 81.0, "female", ("251146004", "426783006")),
    ],
)
def test_real_challenge_headers(shared_data, cinc, folder, record, age, sex, dx):
    h = read_header(shared_data / "cinc" / folder / f"{record}.hea")
    assert h.format == "challenge" and h.record == record
    assert (h.age, h.sex, h.dx_snomed) == (age, sex, dx)
    assert (h.fs, h.n_samples, h.n_sig) == (500.0, 5000, 12)
    row = cinc.set_index("record").loc[record]
    assert row["source"] == folder
    assert h.sex == row["sex"].lower()
    assert (h.age is None) == (row["age"] == "NaN")
    assert ",".join(h.dx_snomed) == row["dx_snomed"] and ",".join(h.dx) == row["dx_codes"]


def test_every_challenge_header_matches_cohort_csv(shared_data, cinc):
    n_missing_age = 0
    for row in cinc.itertuples():
        h = read_header(shared_data / "cinc" / row.source / f"{row.record}.hea")
        assert h.format == "challenge", row.record
        assert h.sex == row.sex.lower(), row.record
        if row.age == "NaN":
            assert h.age is None
            n_missing_age += 1
        else:
            assert h.age == float(row.age), row.record
        assert ",".join(h.dx_snomed) == row.dx_snomed, row.record
        assert ",".join(h.dx) == row.dx_codes, row.record
    assert n_missing_age == 3  # three Georgia records say "#Age: NaN"


def test_ptb_headers_match_cohort_csv(shared_data, ptbdb):
    assert len(ptbdb) == 6
    for row in ptbdb.to_dict("records"):
        h = read_header(shared_data / "ptbdb" / f"{row['record']}.hea", record=row["record"])
        assert h.format == "ptb" and h.dx == () and h.dx_snomed == ()
        assert h.age == float(row["age"]) and h.sex == row["sex"]
        f = h.ptb_fields()
        assert set(f) == set(PTB_FIELDS)
        for col in (
            "reason_for_admission",
            "acute_infarction_localization",
            "riva_text",
            "rcx_text",
            "rca_text",
            "catheterization_date",
            "admission_date",
            "infarction_date",
        ):
            assert f[col] == row[col], (row["record"], col)
        assert h.get("Previous infarction (2) date") is None  # "n/a" is missing


def test_ptb_header_values(shared_data):
    h = read_header(shared_data / "ptbdb" / "patient012" / "s0043lre.hea")
    f = h.ptb_fields()
    assert (h.age, h.sex) == (67.0, "male")
    assert f["n_vessels_involved"] == "3" and f["former_infarction_localization"] == "inferior"
    assert f["rca_text"] == "RCA proximal 70%." and f["smoker"] == "yes"
    assert f["ecg_date"] == "12/11/1990"
    assert np.isclose(h.fs, 500.0) and h.n_samples == 5000
