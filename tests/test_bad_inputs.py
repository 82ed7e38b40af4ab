"""The bad-input corpus (tests/bad_inputs/MANIFEST.yaml): every malformed input is refused by its
real loader with the expected error naming the record, key or file, or counted in the exclusion
flow; nothing is silently replaced (no all-zero signal, no made-up id, counts add up)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglib import errors, schema
from ecglib.config import PROJECT_ROOT
from ecglib.data.store import build_store, open_store
from ecglib.paths import RunPaths
from ecglib.report.corpus import (
    CORPUS_DIR,
    LOADERS,
    MANIFEST,
    corpus_table,
    entries,
    load_manifest,
    matches,
    run_entry,
)
from ecglib.signals import ecg_preprocess

MANIFEST_DATA = load_manifest()
ENTRIES = entries(MANIFEST_DATA)
CONTROLS = entries(MANIFEST_DATA, "controls")
#: Files of the corpus folder that are not inputs.
NOT_INPUTS = {"MANIFEST.yaml", "make_corpus.py"}


def _ids(items):
    return [e.id for e in items]


# ---- the manifest ----------------------------------------------------------------------------
def test_manifest_lists_every_file_and_nothing_else():
    assert len(ENTRIES) >= 25
    ids = _ids(ENTRIES + CONTROLS)
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    listed = set()
    for entry in ENTRIES + CONTROLS:
        assert entry.loader in LOADERS, entry.id
        assert entry.files or entry.generate, f"{entry.id}: neither files nor a generate recipe"
        for name in entry.files:
            path = CORPUS_DIR / name
            if entry.absent:
                assert not path.exists(), f"{entry.id}: {name} must be absent"
            else:
                assert path.is_file(), f"{entry.id}: {name} is missing from the corpus"
            listed.add(name)
    on_disk = {
        str(p.relative_to(CORPUS_DIR))
        for p in CORPUS_DIR.rglob("*")
        if p.is_file() and p.name not in NOT_INPUTS and "__pycache__" not in p.parts
    }
    assert on_disk - listed == set(), "files in the corpus that no entry describes"


def test_manifest_expectations_are_well_formed():
    for entry in ENTRIES:
        expect = entry.expect
        assert isinstance(expect, dict), f"{entry.id}: every corpus entry must expect a failure"
        if "error" in expect:
            error = getattr(errors, expect["error"], None)
            assert isinstance(error, type) and issubclass(error, errors.EcglibError), entry.id
            re.compile(expect["match"])
        else:
            assert expect.get("steps"), f"{entry.id}: an exclusion entry needs its steps"
            assert any(n for _, n in expect["steps"]), f"{entry.id}: excludes nothing"
            for regex, n in expect["steps"]:
                re.compile(regex)
                assert isinstance(n, int)


def test_corpus_is_small():
    total = sum(p.stat().st_size for p in CORPUS_DIR.rglob("*") if p.is_file())
    assert total < 2_000_000, f"the corpus is {total / 1e6:.1f} MB; generate large inputs instead"
    for path in CORPUS_DIR.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 64_000, f"{path.name} is large: generate it from a recipe"


# ---- controls: the clean inputs the defects are made from ------------------------------------
def _assert_model_input(x: np.ndarray, what: str) -> None:
    assert x.dtype == np.float32 and x.shape == (len(schema.LEADS), schema.N_SAMPLES), what
    assert np.isfinite(x).all(), f"{what}: non-finite values"
    assert np.abs(x).max(axis=1).min() > 0.5, f"{what}: a lead is (nearly) all zero"
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=1e-4, err_msg=what)
    np.testing.assert_allclose(x.std(axis=1), 1.0, atol=1e-3, err_msg=what)


@pytest.mark.parametrize("entry", CONTROLS, ids=_ids(CONTROLS))
def test_controls_load(entry, tmp_path):
    outcome = run_entry(entry, tmp_path, MANIFEST_DATA)
    assert not matches(entry, outcome), matches(entry, outcome)
    if entry.loader == "ecg":
        _assert_model_input(outcome.result, entry.id)
    elif entry.loader == "export":
        cohort, report = outcome.result
        assert len(cohort) == _n_data_rows(entry.path) == report.n_start
    elif entry.loader == "checkpoint":
        assert outcome.result.n_loaded > 0


# ---- every corpus entry ------------------------------------------------------------------------
@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_bad_input(entry, tmp_path):
    outcome = run_entry(entry, tmp_path, MANIFEST_DATA)
    problems = matches(entry, outcome)
    assert not problems, f"{entry.id} ({entry.defect}): " + "; ".join(problems)
    if outcome.kind == "error":
        # a deliberate, named error, not a crash somewhere inside a library
        assert isinstance(outcome.error, errors.EcglibError), repr(outcome.error)
        if isinstance(outcome.error, errors.DataError):
            assert outcome.error.record and str(outcome.error).startswith(outcome.error.record)
        if entry.loader == "ecg":
            assert outcome.error.record == entry.id, "the error must name the record it was given"
    else:
        _assert_nothing_replaced(entry, outcome)


def _n_data_rows(path: Path) -> int:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return sum(1 for row in csv.reader(f) if any(cell.strip() for cell in row)) - 1


def _assert_nothing_replaced(entry, outcome) -> None:
    """A loader that returned: every row is either kept or counted under one reason, and what
    is kept is real (grades as exported, labels from them, ids present, signals non-zero)."""
    if entry.loader == "prepare":
        cohort, report, store = outcome.result.cohort, outcome.result.report, outcome.result.store
    else:
        (cohort, report), store = outcome.result, None
    table = report.table()
    assert report.n_start == _n_data_rows(entry.path) == table["remaining"].iloc[0]
    assert report.n_start - table["excluded"].sum() == len(cohort) == table["remaining"].iloc[-1]
    assert len(report.excluded) == report.n_start - len(cohort)
    assert cohort["ecg_id"].notna().all() and cohort["patient_id"].notna().all()
    assert not cohort[["ecg_id", "patient_id"]].isin(["nan", "None", ""]).any().any()
    grades = cohort[schema.grade_cols()]
    assert grades.notna().all().all() and grades.isin(list(schema.GRADES)).all().all()
    assert (
        cohort[schema.label_cols()].to_numpy() == (grades.to_numpy() >= schema.POSITIVE_GRADE)
    ).all()
    if store is None:
        return
    # the store holds exactly the kept ECGs, each the real preprocessed file, never zeros
    rows = store.rows_for(cohort["ecg_path"])
    assert len(store) == len(cohort) == len(set(rows))
    for path, row in zip(cohort["ecg_path"], rows):
        x = np.asarray(store.signals[row])
        _assert_model_input(x, path)
        expected = ecg_preprocess(path, fs=float(MANIFEST_DATA["npy_fs"]), record_id="check")
        np.testing.assert_array_equal(x, expected)
    paths = RunPaths(store.folder.parent)
    on_disk = pd.read_csv(paths.exclusions)
    pd.testing.assert_frame_equal(on_disk, table, check_dtype=False)
    assert sorted(pd.read_csv(paths.cohort, dtype=str)["ecg_id"]) == sorted(cohort["ecg_id"])


# ---- all bad ECG files at once through the ECG store ----------------------------------------
def test_the_store_refuses_every_bad_ecg_file_and_keeps_only_the_good_ones(tmp_path):
    ecgs = [e for e in ENTRIES if e.loader == "ecg" and not e.generate]
    good = [e for e in CONTROLS if e.loader == "ecg"]
    paths = pd.Series([str(e.path) for e in good + ecgs])
    records = pd.Series([e.id for e in good + ecgs])
    store, failures = build_store(
        paths, tmp_path / "store", _store_settings(), records=records, progress=False
    )
    assert sorted(failures["record"]) == sorted(e.id for e in ecgs)
    by_record = failures.set_index("record")["problem"]
    for entry in ecgs:
        message = f"{entry.id}: {by_record[entry.id]}"
        if entry.absent:  # the store stats every file before reading: its own message
            assert re.search(rf"^{entry.id}: ECG file cannot be opened: No such file", message)
        else:
            assert re.search(entry.expect["match"], message), message
    assert len(store) == len(good) and list(store.index["ecg_path"]) == [str(e.path) for e in good]
    for entry, row in zip(good, store.rows_for(pd.Series([str(e.path) for e in good]))):
        _assert_model_input(np.asarray(store.signals[row]), entry.id)
    reopened = open_store(tmp_path / "store")
    assert reopened.signals.shape == (len(good), len(schema.LEADS), schema.N_SAMPLES)


def _store_settings():
    from ecglib.data.store import StoreSettings

    return StoreSettings(npy_fs=float(MANIFEST_DATA["npy_fs"]))


# ---- the appendix's table --------------------------------------------------------------------
def test_appendix_table_lists_every_entry_as_expected():
    table = corpus_table()
    assert list(table["input"]) == _ids(ENTRIES)
    assert table["as expected"].all(), table.loc[~table["as expected"], ["input", "message"]]
    assert (table["message"].str.len() > 0).all()
    text = table.to_csv()
    assert str(PROJECT_ROOT) not in text and str(CORPUS_DIR) not in text
    assert str(Path.home()) not in text or str(Path.home()) in ("/", "")
    assert MANIFEST.name == "MANIFEST.yaml"
