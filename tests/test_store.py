"""The ECG store: built once, reused while inputs are unchanged, rebuilt when they change."""

import numpy as np
import pandas as pd
import pytest

from conftest import export_row, write_export
from ecglib.data.store import StoreSettings, build_store, open_store
from ecglib.errors import DataError


@pytest.fixture
def ecg_paths(tmp_path):
    rows = [export_row(i) for i in range(6)]
    write_export(tmp_path / "raw", rows)
    return pd.Series([str(tmp_path / "raw" / r["ECG file"]) for r in rows])


def test_build_zscores_every_ecg(tmp_path, ecg_paths):
    store, failures = build_store(ecg_paths, tmp_path / "store", progress=False)
    assert failures.empty and not store.reused
    assert store.signals.shape == (6, 12, 5000) and store.signals.dtype == np.float32
    np.testing.assert_allclose(store.signals.mean(axis=2), 0, atol=1e-4)
    np.testing.assert_allclose(store.signals.std(axis=2), 1, atol=1e-3)
    raw = np.load(ecg_paths[3])
    expected = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    np.testing.assert_allclose(
        store.signals[store.rows_for(ecg_paths.iloc[[3]])[0]], expected, atol=1e-5
    )


def test_reused_while_unchanged_and_rebuilt_on_change(tmp_path, ecg_paths):
    folder = tmp_path / "store"
    build_store(ecg_paths, folder, progress=False)
    again, _ = build_store(ecg_paths, folder, progress=False)
    assert again.reused
    # new content under the same name: the content hash changes, the store is rebuilt
    np.save(ecg_paths[2], 2 * np.load(ecg_paths[2]) + np.linspace(0, 1, 5000, dtype=np.float32))
    rebuilt, _ = build_store(ecg_paths, folder, progress=False)
    assert not rebuilt.reused
    # another preprocessing setting: rebuilt too
    other, _ = build_store(ecg_paths, folder, StoreSettings(length_policy="center"), progress=False)
    assert not other.reused


def test_failures_are_reported_never_zero_filled(tmp_path, ecg_paths):
    bad = np.load(ecg_paths[1])
    bad[4, 100:120] = np.nan
    np.save(ecg_paths[1], bad)
    (tmp_path / "raw" / "ecg" / "E004.npy").unlink()
    store, failures = build_store(
        ecg_paths, tmp_path / "store", records=ecg_paths.str[-8:-4], progress=False
    )
    assert len(store) == 4
    assert sorted(failures["record"]) == ["E001", "E004"]
    problems = dict(zip(failures["record"], failures["problem"]))
    assert "NaN" in problems["E001"] or "non-finite" in problems["E001"]
    assert "cannot be opened" in problems["E004"]
    assert not (np.abs(store.signals).sum(axis=(1, 2)) == 0).any()
    with pytest.raises(DataError, match="not in the store"):
        store.rows_for(ecg_paths.iloc[[1]])
    # the failure list survives reuse
    again, failures_again = build_store(ecg_paths, tmp_path / "store", progress=False)
    assert again.reused and len(failures_again) == 2


def test_open_missing_store(tmp_path):
    with pytest.raises(DataError, match="no ECG store here"):
        open_store(tmp_path / "nothing")


def test_wfdb_records_are_stored(tmp_path, shared):
    base = shared / "data" / "ptbdb" / "patient001" / "s0010_re"
    paths = pd.Series([str(base) + ".hea"])
    store, failures = build_store(paths, tmp_path / "store", progress=False)
    assert failures.empty and store.signals.shape == (1, 12, 5000)
    np.testing.assert_allclose(store.signals[0].std(axis=1), 1, atol=1e-3)
