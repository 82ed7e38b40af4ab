"""The PTB-XL reader on a small PTB-XL-shaped folder built from the real PTB-XL records in
../shared/data/cinc/ptb-xl (their statements here are test labels, not PTB-XL's own)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglib import schema
from ecglib.errors import DataError
from ecglib.real.ptbxl import (
    EXCLUDED_MI_STATEMENTS,
    MI_PROXY_VESSELS,
    parse_scp_codes,
    proxy_col,
    proxy_cols,
    read_ptbxl,
)
from ecglib.real.records import load_records
from ecglib.signals import ecg_read

#: PTB-XL's scp_statements.csv header and the rows the test needs (values as in PTB-XL 1.0.3).
STATEMENTS_HEADER = (
    ",description,diagnostic,form,rhythm,diagnostic_class,diagnostic_subclass,"
    "Statement Category,SCP-ECG Statement Description,AHA code,aECG REFID,"
    "CDISC Code,DICOM Code"
)
STATEMENTS = [
    ("NORM", "normal ECG", "1.0", "", "", "NORM", "NORM"),
    ("IMI", "inferior myocardial infarction", "1.0", "", "", "MI", "IMI"),
    ("ASMI", "anteroseptal myocardial infarction", "1.0", "", "", "MI", "AMI"),
    ("ILMI", "inferolateral myocardial infarction", "1.0", "", "", "MI", "IMI"),
    ("AMI", "anterior myocardial infarction", "1.0", "", "", "MI", "AMI"),
    ("ALMI", "anterolateral myocardial infarction", "1.0", "", "", "MI", "AMI"),
    ("INJAS", "subendocardial injury in anteroseptal leads", "1.0", "", "", "MI", "AMI"),
    ("LMI", "lateral myocardial infarction", "1.0", "", "", "MI", "LMI"),
    ("INJAL", "subendocardial injury in anterolateral leads", "1.0", "", "", "MI", "AMI"),
    ("IPLMI", "inferoposterolateral myocardial infarction", "1.0", "", "", "MI", "IMI"),
    ("IPMI", "inferoposterior myocardial infarction", "1.0", "", "", "MI", "IMI"),
    ("INJIN", "subendocardial injury in inferior leads", "1.0", "", "", "MI", "IMI"),
    ("INJLA", "subendocardial injury in lateral leads", "1.0", "", "", "MI", "AMI"),
    ("PMI", "posterior myocardial infarction", "1.0", "", "", "MI", "PMI"),
    ("INJIL", "subendocardial injury in inferolateral leads", "1.0", "", "", "MI", "IMI"),
    ("ABQRS", "abnormal QRS", "", "1.0", "", "", ""),
    ("SR", "sinus rhythm", "", "", "1.0", "", ""),
    ("AFIB", "atrial fibrillation", "", "", "1.0", "", ""),
]

#: ecg_id: (patient_id, age, sex, scp_codes, strat_fold, recording_date)
ROWS = {
    1: ("15709.0", "56.0", "1", "{'NORM': 100.0, 'SR': 0.0}", 3, "1984-11-09 09:17:34"),
    2: ("13243.0", "19.0", "0", "{'IMI': 100.0, 'SR': 0.0}", 2, "1984-11-14 12:55:37"),
    3: (
        "20372.0",
        "300.0",
        "0",
        "{'ASMI': 80.0, 'AMI': 50.0, 'SR': 0.0}",
        5,
        "1984-11-15 12:49:10",
    ),
    4: (
        "17014.0",
        "24.0",
        "1",
        "{'LMI': 100.0, 'IMI': 35.0, 'ABQRS': 0.0}",
        9,
        "1984-11-15 13:44:57",
    ),
    5: ("17448.0", "19.0", "0", "{'INJAS': 100.0, 'AFIB': 0.0}", 10, "1984-11-17 10:43:15"),
    6: ("19005.0", "18.0", "0", "{'IPLMI': 50.0, 'PMI': 15.0}", 1, "1984-11-28 13:32:13"),
    7: ("13243.0", "20.0", "0", "{'ILMI': 100.0, 'SR': 0.0}", 2, "1985-01-02 08:00:00"),
}


def _copy_record(src: Path, dst_dir: Path, name: str) -> None:
    """Copy a Challenge PTB-XL record under PTB-XL's own name, without the Challenge's comments
    (PTB-XL's headers have none)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    (dst_dir / f"{name}.dat").write_bytes((src.with_suffix(".dat")).read_bytes())
    lines = src.with_suffix(".hea").read_text().splitlines()
    body = [ln.replace(src.stem, name) for ln in lines if not ln.startswith("#")]
    (dst_dir / f"{name}.hea").write_text("\n".join(body) + "\n")


def ptbxl_source(shared_data: Path) -> Path:
    """The real PTB-XL records of the Challenge (../shared/data/cinc/ptb-xl)."""
    return shared_data / "cinc" / "ptb-xl"


def build_ptbxl(
    shared_data: Path, folder: Path, rows: dict = ROWS, statements: list = STATEMENTS
) -> Path:
    """A PTB-XL-shaped folder at ``folder`` whose records are copies of the real ones."""
    source = ptbxl_source(shared_data)
    records = []
    for ecg_id, (patient, age, sex, codes, fold, date) in rows.items():
        hr = f"records500/00000/{ecg_id:05d}_hr"
        _copy_record(
            source / f"HR{ecg_id:05d}.hea", folder / "records500" / "00000", f"{ecg_id:05d}_hr"
        )
        records.append(
            {
                "ecg_id": ecg_id,
                "patient_id": patient,
                "age": age,
                "sex": sex,
                "height": "",
                "weight": "",
                "nurse": "",
                "site": "",
                "device": "CS-12",
                "recording_date": date,
                "report": "sinusrhythmus",
                "scp_codes": codes,
                "heart_axis": "",
                "strat_fold": fold,
                "filename_lr": f"records100/00000/{ecg_id:05d}_lr",
                "filename_hr": hr,
            }
        )
    pd.DataFrame(records).to_csv(folder / "ptbxl_database.csv", index=False)
    lines = [STATEMENTS_HEADER] + [",".join(s) + ",,,,,," for s in statements]
    (folder / "scp_statements.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def ptbxl(shared_data, tmp_path) -> Path:
    return build_ptbxl(shared_data, tmp_path / "ptb-xl")


def test_canonical_table_and_proxy_labels(ptbxl):
    t = read_ptbxl(ptbxl).set_index("ecg_id")
    assert list(t.index) == [str(i) for i in ROWS]
    for col in (
        "patient_id",
        "ecg_path",
        "ecg_time",
        "ccta_time",
        "site",
        "age",
        "sex",
        "ecg_diagnosis",
        "normal_ecg",
        *schema.grade_cols(),
        *proxy_cols(),
    ):
        assert col in t.columns, col
    # proxies per vessel: RCA, LM, LAD, LCX
    proxies = {
        i: tuple(t.loc[i, proxy_cols()].astype(object).where(t.loc[i, proxy_cols()].notna(), None))
        for i in t.index
    }
    assert proxies == {
        "1": (0, None, 0, 0),  # NORM
        "2": (1, None, 0, 0),  # IMI -> RCA
        "3": (0, None, 1, 0),  # ASMI + AMI -> LAD
        "4": (1, None, 0, 1),  # LMI -> LCX, IMI -> RCA
        "5": (0, None, 0, 0),  # INJAS: subendocardial injury is not an infarct proxy
        "6": (1, None, 0, 1),  # IPLMI -> RCA, PMI -> LCX
        "7": (1, None, 0, 0),  # ILMI -> RCA (PTB-XL subclass IMI)
    }
    assert t[proxy_col("LM")].isna().all() and str(t[proxy_col("LM")].dtype) == "Int64"
    assert t["mi_statements"].to_dict() == {
        "1": "",
        "2": "IMI",
        "3": "ASMI, AMI",
        "4": "LMI, IMI",
        "5": "",
        "6": "IPLMI, PMI",
        "7": "ILMI",
    }
    # no angiography: every grade is missing, never 0
    assert t[schema.grade_cols()].isna().all().all()
    assert "y_RCA" not in t.columns


def test_demographics_times_and_paths(ptbxl, shared_data):
    t = read_ptbxl(ptbxl).set_index("ecg_id")
    assert t.loc["1", "patient_id"] == "15709" and t.loc["7", "patient_id"] == "13243"
    assert t.loc["2", "patient_id"] == t.loc["7", "patient_id"]  # one patient, two ECGs
    assert t.loc["1", "sex"] == "female" and t.loc["2", "sex"] == "male"
    assert t.loc["1", "age"] == 56.0 and np.isnan(t.loc["3", "age"])  # 300 means > 89
    assert t["age_over_89"].to_dict() == {i: i == "3" for i in t.index}
    assert t.loc["1", "ecg_time"] == pd.Timestamp("1984-11-09 09:17:34")
    assert t["ccta_time"].isna().all() and t["ccta_id"].isna().all()
    assert (t["site"] == "ptb-xl").all() and (t["fs"] == 500).all()
    assert t["strat_fold"].to_dict() == {str(i): r[4] for i, r in ROWS.items()}
    assert t["normal_ecg"].to_dict() == {i: float(i == "1") for i in t.index}
    assert t.loc["1", "ecg_diagnosis"] == "normal ECG; sinus rhythm"
    # the path is the WFDB base name, read by the project's reader
    path = Path(t.loc["2", "ecg_path"])
    assert path.name == "00002_hr" and path.parent.name == "00000"
    ecg = ecg_read(path, record_id="ecg_id 2")
    ref = ecg_read(ptbxl_source(shared_data) / "HR00002", record_id="HR00002")
    assert ecg.signal.shape == (12, 5000) and ecg.fs == 500
    np.testing.assert_array_equal(ecg.signal, ref.signal)


def test_records_table_on_the_ptbxl_layout(ptbxl):
    t = load_records(ptbxl)
    assert len(t) == len(ROWS) and (t["status"] == "ok").all()
    assert (t["source"] == "ptb-xl").all()
    assert (t["header_format"] == "none").all() and t["rhythm"].isna().all()
    assert list(t["relpath"]) == [f"records500/00000/{i:05d}_hr" for i in ROWS]


def test_vessel_table_and_likelihood_options(ptbxl):
    both = {**MI_PROXY_VESSELS, "ILMI": ("RCA", "LCX")}
    t = read_ptbxl(ptbxl, vessels=both).set_index("ecg_id")
    assert t.loc["7", proxy_col("LCX")] == 1 and t.loc["7", proxy_col("RCA")] == 1
    strict = read_ptbxl(ptbxl, min_likelihood=50).set_index("ecg_id")
    assert strict.loc["6", proxy_col("LCX")] == 0  # PMI at likelihood 15 no longer counts
    assert strict.loc["4", proxy_col("RCA")] == 0  # IMI at 35
    assert strict.loc["4", proxy_col("LCX")] == 1  # LMI at 100


def test_default_tables_are_consistent():
    assert set(MI_PROXY_VESSELS).isdisjoint(EXCLUDED_MI_STATEMENTS)
    assert {v for vs in MI_PROXY_VESSELS.values() for v in vs} == {"RCA", "LAD", "LCX"}
    assert len(MI_PROXY_VESSELS) + len(EXCLUDED_MI_STATEMENTS) == 14  # PTB-XL's class MI


def test_parse_scp_codes():
    assert parse_scp_codes("{'NORM': 100.0, 'SR': 0.0}") == {"NORM": 100.0, "SR": 0.0}
    assert parse_scp_codes("{}") == {}
    for bad in (
        "{'NORM': 100.0",
        "['NORM']",
        "{'NORM': 'high'}",
        "{'NORM': 250.0}",
        "__import__('os')",
    ):
        with pytest.raises(DataError, match="scp_codes") as err:
            parse_scp_codes(bad, "ecg_id 9")
        assert err.value.record == "ecg_id 9"


def test_errors_name_the_ecg(shared_data, tmp_path):
    rows = dict(ROWS)
    rows[2] = (*ROWS[2][:3], "{'IMI': 100.0, 'XYZ': 50.0}", *ROWS[2][4:])
    with pytest.raises(DataError, match=r"\['XYZ'\] are not in scp_statements") as err:
        read_ptbxl(build_ptbxl(shared_data, tmp_path / "a", rows))
    assert err.value.record == "ecg_id 2"

    rows = dict(ROWS)
    rows[3] = (ROWS[3][0], ROWS[3][1], "2", *ROWS[3][3:])
    with pytest.raises(DataError, match="sex '2'"):
        read_ptbxl(build_ptbxl(shared_data, tmp_path / "b", rows))

    rows = dict(ROWS)
    rows[4] = (ROWS[4][0], "150", *ROWS[4][2:])
    with pytest.raises(DataError, match="outside 0-120"):
        read_ptbxl(build_ptbxl(shared_data, tmp_path / "c", rows))

    rows = dict(ROWS)
    rows[5] = (*ROWS[5][:5], "not a date")
    with pytest.raises(DataError, match="recording_date"):
        read_ptbxl(build_ptbxl(shared_data, tmp_path / "d", rows))


def test_missing_files_and_columns(ptbxl, tmp_path):
    with pytest.raises(DataError, match=r"00000/00001_lr.hea not found") as err:
        read_ptbxl(ptbxl, resolution="lr")  # records100/ was not downloaded
    assert err.value.record == "ecg_id 1"
    assert len(read_ptbxl(ptbxl, resolution="lr", check_files=False)) == len(ROWS)
    (ptbxl / "records500" / "00000" / "00004_hr.hea").unlink()
    with pytest.raises(DataError, match="00004_hr.hea not found"):
        read_ptbxl(ptbxl)
    with pytest.raises(DataError, match="ptbxl_database.csv not found"):
        read_ptbxl(tmp_path)
    db = pd.read_csv(ptbxl / "ptbxl_database.csv").drop(columns="scp_codes")
    db.to_csv(ptbxl / "ptbxl_database.csv", index=False)
    with pytest.raises(DataError, match=r"\['scp_codes'\] missing"):
        read_ptbxl(ptbxl, check_files=False)
    with pytest.raises(ValueError, match="resolution"):
        read_ptbxl(ptbxl, resolution="mid")


def test_duplicate_ecg_id(shared_data, tmp_path):
    folder = build_ptbxl(shared_data, tmp_path / "p")
    db = pd.read_csv(folder / "ptbxl_database.csv")
    pd.concat([db, db.iloc[[1]]]).to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.raises(DataError, match="more than once") as err:
        read_ptbxl(folder)
    assert err.value.record == "ecg_id 2"


def test_an_undecided_mi_statement_stops_reading(shared_data, tmp_path):
    extra = [*STATEMENTS, ("XMI", "some new myocardial infarction", "1.0", "", "", "MI", "XMI")]
    folder = build_ptbxl(shared_data, tmp_path / "p", statements=extra)
    with pytest.raises(DataError, match=r"\['XMI'\] are neither proxies"):
        read_ptbxl(folder)
