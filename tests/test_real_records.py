"""Every real record of ../shared/data accounted for (loaded or rejected with a reason), and the
records table's behaviour on synthetic folders with broken records."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecglib.real.records import (
    COLUMNS,
    find_records,
    load_records,
    read_ok_signals,
    source_of,
    summarise,
)
from ecglib.schema import LEADS

#: The six Ningbo records whose chest leads are exactly 0 mV (see ecglib.signals.checks).
FLAT_NINGBO = {"JS11438", "JS20004", "JS20008", "JS45542", "JS45544", "JS45551"}


@functools.cache
def _records_table(data: Path) -> pd.DataFrame:
    return load_records(data)  # reads all 399 records: once per session, not once per test


@pytest.fixture
def table(shared_data) -> pd.DataFrame:
    """The records table of every real record in ../shared/data."""
    return _records_table(shared_data).copy()


# --- all 399 real records ----------------------------------------------------------------------


def test_every_record_is_accounted_for(table):
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 399 and table["relpath"].is_unique
    assert (
        table["relpath"].str.startswith("cinc/").sum(),
        table["relpath"].str.startswith("ptbdb/").sum(),
    ) == (393, 6)
    assert table["status"].value_counts().to_dict() == {"ok": 393, "rejected": 6}
    # every rejection has a reason, every ok record none
    ok = table["status"] == "ok"
    assert (table.loc[~ok, "reason"].str.len() > 0).all()
    assert (table.loc[ok, ["reason", "failed_at"]] == "").all().all()


def test_the_rejections_are_the_six_flat_ningbo_records(table):
    rejected = table[table["status"] == "rejected"]
    assert set(rejected["record"]) == FLAT_NINGBO
    assert (rejected["source"] == "ningbo").all()
    assert (rejected["failed_at"] == "check").all()
    assert rejected["reason"].str.startswith("flat leads (peak-to-peak < 0.01 mV): ").all()
    # only chest leads, each exactly 0 mV
    for reason in rejected["reason"]:
        leads = [part.split(" (")[0] for part in reason.split(": ", 1)[1].split(", ")]
        assert set(leads) <= {"V1", "V2", "V3", "V4", "V5", "V6"}, reason
        assert reason.count("(0 mV)") == len(leads)


def test_counts_per_source(table):
    counts = summarise(table, "source")
    expected = {  # source: (ok, rejected)
        "chapman_shaoxing": (20, 0),
        "cpsc_2018": (155, 0),
        "cpsc_2018_extra": (29, 0),
        "georgia": (74, 0),
        "ningbo": (60, 6),
        "ptb": (10, 0),
        "ptb-xl": (39, 0),
        "ptbdb": (6, 0),
        "total": (393, 6),
    }
    assert {k: (int(r["ok"]), int(r["rejected"])) for k, r in counts.iterrows()} == expected
    assert (counts["total"] == counts["ok"] + counts["rejected"]).all()


def test_counts_per_rhythm(table):
    counts = summarise(table, "rhythm")
    # "(none)": the PTB diagnostic records state no Dx codes, so no rhythm
    expected = {
        "AF/flutter": (43, 0),
        "other": (172, 3),
        "sinus": (172, 3),
        "(none)": (6, 0),
        "total": (393, 6),
    }
    assert {k: (int(r["ok"]), int(r["rejected"])) for k, r in counts.iterrows()} == expected
    cinc = table[table["header_format"] == "challenge"]
    unstated = cinc[~cinc["rhythm_stated"].astype(bool)]
    assert len(unstated) == 157 and (unstated["rhythm"] == "other").all()
    assert table.loc[table["source"] == "ptbdb", "rhythm"].isna().all()


def test_all_records_are_12_lead_500_hz_10_s(table):
    assert (table["fs"] == 500).all() and (table["n_samples"] == 5000).all()
    assert table["header_format"].value_counts().to_dict() == {"challenge": 393, "ptb": 6}


def test_table_agrees_with_cinc_cohort_csv(table, shared_data):
    cohort = pd.read_csv(shared_data / "cinc" / "cohort.csv", dtype=str, keep_default_na=False)
    cinc = table[table["relpath"].str.startswith("cinc/")].set_index("record")
    assert set(cinc.index) == set(cohort["record"])
    c = cohort.set_index("record").loc[cinc.index]
    assert (cinc["source"] == c["source"]).all()  # name prefixes give the source database
    assert (cinc["relpath"] == "cinc/" + c["source"] + "/" + c.index).all()
    assert (cinc["sex"] == c["sex"].str.lower()).all()
    age = pd.to_numeric(c["age"], errors="coerce")
    assert ((cinc["age"] == age) | (cinc["age"].isna() & age.isna())).all()
    assert cinc["age"].isna().sum() == 3
    assert (cinc["dx_codes"] == c["dx_snomed"]).all()


def test_table_agrees_with_ptbdb_cohort_csv(table, shared_data):
    cohort = pd.read_csv(shared_data / "ptbdb" / "cohort.csv", dtype=str, keep_default_na=False)
    ptb = table[table["source"] == "ptbdb"].copy()
    ptb["record_csv"] = ptb["relpath"].str.removeprefix("ptbdb/")
    merged = ptb.merge(cohort, left_on="record_csv", right_on="record", suffixes=("", "_csv"))
    assert len(merged) == 6
    assert (merged["age"] == merged["age_csv"].astype(float)).all()
    assert (merged["sex"] == merged["sex_csv"]).all()
    assert (merged["diagnosis"] == merged["reason_for_admission"]).all()
    assert (merged["dx_codes"] == "").all()


def test_read_ok_signals_of_a_few_records(table):
    few = table[table["source"] == "ptbdb"].head(2)
    x = read_ok_signals(few)
    assert x.shape == (2, 12, 5000) and x.dtype == np.float32
    assert np.isfinite(x).all() and (np.ptp(x, axis=2) > 0.1).all()


def test_ptbdb_folder_alone_uses_its_records_file(shared_data):
    refs = find_records(shared_data / "ptbdb")
    listed = (shared_data / "ptbdb" / "RECORDS").read_text().split()
    assert [r.relpath for r in refs] == sorted(listed) and all(r.exists for r in refs)


# --- source names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record,source",
    [
        ("A0001", "cpsc_2018"),
        ("Q0001", "cpsc_2018_extra"),
        ("E00001", "georgia"),
        ("HR00001", "ptb-xl"),
        ("S0001", "ptb"),
        ("I0001", "incart"),
        ("JS00001", "chapman_shaoxing"),
        ("JS10646", "chapman_shaoxing"),
        ("JS10647", "ningbo"),
        ("JS45551", "ningbo"),
        ("s0010_re", "ptbdb"),
        ("s0014lre", "ptbdb"),
        ("00001_hr", "ptb-xl"),
        ("21837_lr", "ptb-xl"),
        ("patient_x", "unknown"),
    ],
)
def test_source_of(record, source):
    assert source_of(record) == source


def test_source_from_a_ptbdb_folder():
    assert source_of("anything", "ptbdb/patient001/anything") == "ptbdb"


# --- broken records never crash the table ---------------------------------------------------------


def _write(
    folder: Path,
    name: str,
    signal: np.ndarray | None = None,
    comments: tuple[str, ...] = ("Age: 60", "Sex: Female", "Dx: 426783006"),
) -> None:
    if signal is None:
        t = np.arange(5000) / 500
        signal = np.outer(np.sin(2 * np.pi * 1.1 * t), np.linspace(0.5, 1.5, 12))
    wfdb.wrsamp(
        name,
        fs=500,
        units=["mV"] * 12,
        sig_name=list(LEADS),
        p_signal=signal,
        fmt=["16"] * 12,
        comments=list(comments),
        write_dir=str(folder),
    )


def test_broken_records_are_rejected_with_reasons(tmp_path):
    _write(tmp_path, "A0001")  # fine
    flat = np.outer(np.sin(np.arange(5000) / 50), np.ones(12))
    flat[:, 6] = 0.0
    _write(tmp_path, "A0002", flat)  # V1 flat
    nan = np.outer(np.sin(np.arange(5000) / 50), np.ones(12))
    nan[100:200, 1] = np.nan
    _write(tmp_path, "A0003", nan)  # NaN samples in II
    _write(tmp_path, "A0004", comments=("Age: 60", "Sex: Robot", "Dx: 426783006"))  # bad header
    _write(tmp_path, "A0005")
    dat = tmp_path / "A0005.dat"
    dat.write_bytes(dat.read_bytes()[:1000])  # truncated signal file
    _write(tmp_path, "A0006", comments=("Age: NaN", "Sex: Unknown", "Dx: AF,RBBB"))  # odd but fine
    _write(tmp_path, "A0007", np.outer(np.sin(np.arange(2500) / 50), np.ones(12)))  # 5 s only
    (tmp_path / "RECORDS").write_text("A0001\nA0008\n")  # A0008 is listed but absent

    t = load_records(tmp_path).set_index("record")
    assert len(t) == 8
    assert t["status"].to_dict() == {
        "A0001": "ok",
        "A0002": "rejected",
        "A0003": "rejected",
        "A0004": "rejected",
        "A0005": "rejected",
        "A0006": "ok",
        "A0007": "rejected",
        "A0008": "rejected",
    }
    assert t.loc["A0002", "failed_at"] == "check" and "flat leads" in t.loc["A0002", "reason"]
    assert "V1" in t.loc["A0002", "reason"]
    assert t.loc["A0003", "failed_at"] == "check" and "non-finite" in t.loc["A0003", "reason"]
    assert t.loc["A0004", "failed_at"] == "header" and "sex 'Robot'" in t.loc["A0004", "reason"]
    assert t.loc["A0004", "n_samples"] == 5000  # the signal itself was still read
    assert t.loc["A0005", "failed_at"] == "read" and "cannot read WFDB" in t.loc["A0005", "reason"]
    assert t.loc["A0007", "failed_at"] == "check" and "too short" in t.loc["A0007", "reason"]
    assert t.loc["A0008", "failed_at"] == "read" and "listed in RECORDS" in t.loc["A0008", "reason"]
    a6 = t.loc["A0006"]
    assert np.isnan(a6["age"]) and a6["sex"] is None and a6["dx_codes"] == "164889003,59118001"
    assert a6["rhythm"] == "AF/flutter"
    assert set(t["source"]) == {"cpsc_2018"}
    counts = summarise(t.reset_index(), "source")
    assert counts.loc["total"].to_dict() == {"ok": 2, "rejected": 6, "total": 8}


def test_read_ok_signals_refuses_mixed_lengths(tmp_path):
    _write(tmp_path, "A0001")
    t = load_records(tmp_path)
    t = pd.concat([t, t.assign(n_samples=4000)], ignore_index=True)
    with pytest.raises(ValueError, match="differ in rate/length"):
        read_ok_signals(t)


def test_missing_folder_is_a_data_error(tmp_path):
    from ecglib.errors import DataError

    with pytest.raises(DataError, match="data folder not found"):
        load_records(tmp_path / "nope")
