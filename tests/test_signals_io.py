"""ecg_read: .npy orientation, WFDB lead matching and units, and named errors for bad files."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecglib.errors import DataError, SignalError
from ecglib.schema import FS, LEADS
from ecglib.signals import Ecg, ecg_read

PTB_RECORDS = [
    "patient001/s0010_re",
    "patient001/s0014lre",
    "patient001/s0016lre",
    "patient002/s0015lre",
    "patient003/s0017lre",
    "patient012/s0043lre",
]


def _signal(t: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.5, size=(len(LEADS), t))


# --- .npy ----------------------------------------------------------------------------------------


def test_npy_both_orientations_read_equal(tmp_path):
    x = _signal()
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "b.npy", x.T)
    a = ecg_read(tmp_path / "a.npy")
    b = ecg_read(tmp_path / "b.npy")
    assert a.signal.shape == (12, 1000) and b.signal.shape == (12, 1000)
    np.testing.assert_array_equal(a.signal, x)
    np.testing.assert_array_equal(b.signal, x)
    assert a.signal.dtype == np.float64
    assert a.leads == LEADS and a.units == "mV" and a.fs == FS


def test_npy_fs_and_units_from_caller(tmp_path):
    x = _signal(t=500)
    np.save(tmp_path / "u.npy", (x * 1000).astype(np.float32))  # microvolts
    e = ecg_read(tmp_path / "u.npy", fs=250, units="uV")
    assert e.fs == 250.0
    assert e.duration_s == pytest.approx(2.0)
    np.testing.assert_allclose(e.signal, x, rtol=1e-6, atol=1e-6)


def test_npy_integer_samples_are_accepted(tmp_path):
    np.save(tmp_path / "i.npy", np.arange(12 * 300, dtype=np.int16).reshape(12, 300))
    e = ecg_read(tmp_path / "i.npy")
    assert e.signal.dtype == np.float64 and e.signal[11, 299] == 12 * 300 - 1


@pytest.mark.parametrize("shape", [(12, 12), (11, 5000), (5000, 13), (12,), (2, 12, 500)])
def test_npy_wrong_shape_is_refused(tmp_path, shape):
    np.save(tmp_path / "s.npy", np.zeros(shape))
    with pytest.raises(SignalError, match=r"rec-s: .*(wrong shape|ambiguous)") as err:
        ecg_read(tmp_path / "s.npy", record_id="rec-s")
    assert str(shape) in str(err.value)


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((12, 100), dtype=complex),
        np.full((12, 100), "x"),
        np.zeros((12, 100), dtype=bool),
    ],
)
def test_npy_wrong_dtype_is_refused(tmp_path, arr):
    np.save(tmp_path / "d.npy", arr)
    with pytest.raises(SignalError, match=r"^rec-d: wrong dtype"):
        ecg_read(tmp_path / "d.npy", record_id="rec-d")


def test_npy_object_array_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(SignalError, match=r"^rec-o: cannot read .*o\.npy"):
        ecg_read(tmp_path / "o.npy", record_id="rec-o")


def test_missing_file_names_record_or_path(tmp_path):
    with pytest.raises(SignalError, match=r"^ECG-7: file not found") as err:
        ecg_read(tmp_path / "nope.npy", record_id="ECG-7")
    assert err.value.record == "ECG-7"
    missing = tmp_path / "nope_record"
    with pytest.raises(SignalError, match="file not found") as err:
        ecg_read(missing)
    assert err.value.record == str(missing)  # no record_id: the path names it
    assert isinstance(err.value, DataError)


def test_corrupt_npy_names_record(tmp_path):
    (tmp_path / "g.npy").write_bytes(os.urandom(2048))
    with pytest.raises(SignalError, match=r"^ECG-g: cannot read"):
        ecg_read(tmp_path / "g.npy", record_id="ECG-g")


def test_truncated_npy_names_record(tmp_path):
    np.save(tmp_path / "t.npy", _signal(t=5000))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[: len(data) // 3])
    with pytest.raises(SignalError, match=r"^ECG-t: cannot read"):
        ecg_read(tmp_path / "t.npy", record_id="ECG-t")


def test_unsupported_format(tmp_path):
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(SignalError, match="unsupported file type '.csv'"):
        ecg_read(tmp_path / "x.csv")


def test_ecg_is_immutable():
    e = Ecg(_signal(t=10), fs=500, record="r")
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.fs = 250  # type: ignore[misc]
    with pytest.raises(ValueError):
        e.signal[0, 0] = 1.0


# --- WFDB written here ------------------------------------------------------------------------


def _write_wfdb(
    tmp_path: Path, name: str, x_by_lead: dict[str, np.ndarray], units: str = "mV", fs: float = 500
) -> Path:
    names = list(x_by_lead)
    sig = np.stack([x_by_lead[n] for n in names], axis=1)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=[units] * len(names),
        sig_name=names,
        p_signal=sig,
        fmt=["16"] * len(names),
        write_dir=str(tmp_path),
    )
    return tmp_path / name


def test_wfdb_shuffled_lowercase_leads_with_frank_leads_are_reordered(tmp_path):
    # PTB-style: 15 channels, lower-case names, Frank leads vx, vy, vz; written in microvolts.
    rng = np.random.default_rng(1)
    truth = {lead: rng.normal(0, 0.5, 2000) for lead in LEADS}  # mV
    order = [
        "v3",
        "vx",
        "i",
        "avf",
        "v6",
        "iii",
        "vy",
        "avr",
        "v1",
        "ii",
        "v4",
        "avl",
        "vz",
        "v2",
        "v5",
    ]
    canon = {lead.lower(): lead for lead in LEADS}
    channels = {
        n: (truth[canon[n]] if n in canon else rng.normal(0, 0.3, 2000)) * 1000 for n in order
    }
    base = _write_wfdb(tmp_path, "shuf", channels, units="uV")
    for path in (base, base.with_suffix(".hea")):
        e = ecg_read(path, record_id="shuf")
        assert e.leads == LEADS and e.units == "mV" and e.fs == 500.0
        assert e.signal.shape == (12, 2000)
        for i, lead in enumerate(LEADS):
            # 16-bit quantisation of +-2000 uV: well under 1 uV
            np.testing.assert_allclose(e.signal[i], truth[lead], atol=2e-3, err_msg=lead)


def test_wfdb_missing_and_duplicate_leads_are_named(tmp_path):
    rng = np.random.default_rng(2)
    eleven = {lead: rng.normal(size=500) for lead in LEADS if lead not in ("aVL",)}
    base = _write_wfdb(tmp_path, "miss", eleven)
    with pytest.raises(SignalError, match=r"^miss-1: missing standard lead\(s\) aVL;"):
        ecg_read(base, record_id="miss-1")
    dup = {lead: rng.normal(size=500) for lead in LEADS}
    dup["v2"] = rng.normal(size=500)  # a second V2, differently spelled
    base = _write_wfdb(tmp_path, "dup", dup)
    with pytest.raises(SignalError, match=r"duplicated lead\(s\) V2 \(V2, v2\)"):
        ecg_read(base, record_id="dup-1")


def test_wfdb_unknown_units_are_refused(tmp_path):
    base = _write_wfdb(
        tmp_path, "mmhg", {lead: np.sin(np.arange(300) / 7) for lead in LEADS}, units="mmHg"
    )
    with pytest.raises(SignalError, match=r"lead I has unknown units 'mmHg'"):
        ecg_read(base)


def test_wfdb_rate_comes_from_the_header_not_the_npy_setting(tmp_path):
    # ecg_preprocess(path, fs=params.signals.npy_fs) is called on mixed folders: fs is for .npy only
    base = _write_wfdb(
        tmp_path, "fs", {lead: np.sin(np.arange(300) / 7) for lead in LEADS}, fs=1000
    )
    assert ecg_read(base).fs == 1000.0
    assert ecg_read(base, fs=500).fs == 1000.0
    np.save(tmp_path / "fs.npy", np.ones((12, 300)))
    assert ecg_read(tmp_path / "fs.npy", fs=250).fs == 250.0


def test_wfdb_corrupt_header_and_missing_or_truncated_dat(tmp_path):
    (tmp_path / "garbage.hea").write_bytes(b"\x00\xff garbage \x13\n\x01\x02")
    with pytest.raises(SignalError, match=r"^bad-hea: cannot read WFDB record"):
        ecg_read(tmp_path / "garbage.hea", record_id="bad-hea")
    base = _write_wfdb(tmp_path, "cut", {lead: np.sin(np.arange(3000) / 9) for lead in LEADS})
    dat = tmp_path / "cut.dat"
    os.truncate(dat, dat.stat().st_size // 2)
    with pytest.raises(SignalError, match=r"^cut-1: cannot read WFDB record"):
        ecg_read(base, record_id="cut-1")
    dat.unlink()
    with pytest.raises(SignalError, match=r"^cut-1: cannot read WFDB record .*FileNotFoundError"):
        ecg_read(base, record_id="cut-1")


# --- real records -------------------------------------------------------------------------------


@pytest.mark.parametrize("rec", PTB_RECORDS)
def test_real_ptb_records(shared_data, rec):
    base = shared_data / "ptbdb" / rec
    e = ecg_read(base, record_id=rec)
    raw = wfdb.rdrecord(str(base))
    assert e.signal.shape == (12, 5000) and e.fs == 500.0 and e.leads == LEADS
    assert raw.sig_name == list(LEADS) and raw.units == ["mV"] * 12  # what the files hold
    np.testing.assert_array_equal(e.signal, raw.p_signal.T)
    # plausible millivolt amplitudes: each lead's peak-to-peak between 0.1 and 10 mV
    ptp = np.ptp(e.signal, axis=1)
    assert ((ptp > 0.1) & (ptp < 10)).all(), ptp


def test_real_cinc_records(shared_data, tmp_path):
    # A0001 was 7500 samples (15 s) in CPSC 2018; the shared copy keeps its first 10 s.
    e = ecg_read(shared_data / "cinc" / "cpsc_2018" / "A0001.hea", record_id="A0001")
    assert e.signal.shape == (12, 5000) and e.fs == 500.0
    # reordering on a real record: copy it, shuffle the channel lines of its header
    src = shared_data / "cinc" / "ptb-xl"
    for suffix in (".hea", ".dat"):
        shutil.copyfile(src / f"HR00001{suffix}", tmp_path / f"HR00001{suffix}")
    lines = (tmp_path / "HR00001.hea").read_text().splitlines()
    # a format-16 .dat interleaves samples, so moving header lines would mislabel columns; instead
    # rename the leads in reverse and check that the reader follows the names, not the positions
    chan = lines[1:13]
    renamed = [" ".join(c.split()[:-1] + [LEADS[11 - i]]) for i, c in enumerate(chan)]
    (tmp_path / "HR00001.hea").write_text("\n".join([lines[0], *renamed, *lines[13:]]) + "\n")
    orig = ecg_read(src / "HR00001", record_id="HR00001")
    rev = ecg_read(tmp_path / "HR00001", record_id="HR00001-reversed")
    np.testing.assert_array_equal(rev.signal, orig.signal[::-1])
