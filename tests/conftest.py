"""Shared fixtures: the ../shared folder beside the repository (``shared``, ``shared_data``,
``ecgfounder_fixtures``), the ci run with its trained folds (``ci_run``), small exports, and the
built ci book. A test that needs ``../shared`` takes one of these fixtures and skips, with the
reason, when the folder is absent."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglib.config import PROJECT_ROOT

SHARED = PROJECT_ROOT.parent / "shared"
DEMO_MAP = PROJECT_ROOT / "params" / "maps" / "demo_export.yaml"
#: The book the book tests check: the demo cohort with the tiny model of params/ci.yaml, built
#: by the real pipeline in its own folder so that the user's _build/html is left alone.
CI_PARAMS = "params/ci.yaml"
CI_BOOK = PROJECT_ROOT / "_build" / "ci-book"


def _require(folder: Path, what: str) -> Path:
    if not folder.is_dir():
        pytest.skip(
            f"{folder} not found: this test needs {what}, which the project reads "
            "from ../shared beside the repository"
        )
    return folder


@pytest.fixture
def shared() -> Path:
    """``../shared``: the shared fixtures and real ECG records."""
    return _require(SHARED, "the shared fixtures and real ECG records")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``: the real WFDB records (PTB, PhysioNet/CinC 2020/2021)."""
    return _require(SHARED / "data", "the real ECG records")


@pytest.fixture
def ecgfounder_fixtures() -> Path:
    """``../shared/fixtures/ecgfounder``: ECGFounder's reference code and checkpoint fixtures."""
    return _require(SHARED / "fixtures" / "ecgfounder", "the ECGFounder fixtures")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real records' folder the book reads (``ecglib.real.collection.real_data_dir``:
    ``../shared/data`` or ``$ECGLIB_REAL_DATA``), skipping with the reason when it is absent."""
    from ecglib.errors import MissingInputError
    from ecglib.real.collection import real_data_dir

    try:
        return real_data_dir()
    except MissingInputError as exc:
        pytest.skip(f"real ECG records not available: {exc.reason}")


@pytest.fixture(scope="session")
def real(data_dir):
    """Every real record of :func:`data_dir` read and beat-averaged once for the session."""
    from ecglib.real.beat_yield import real_beats

    return real_beats(data_dir)


@pytest.fixture(scope="session")
def ci_run():
    """The params of the ci run with its data, every fold and every variant (params/ci.yaml:
    lead I only, one network per vessel) prepared (finished folds are reused, so this is quick
    after the first time; the notebook tests prepare the same run)."""
    from ecglib.config import load_params
    from ecglib.data.prepare import prepare_data
    from ecglib.train.fit import fit_fold
    from ecglib.train.variants import fit_variants

    params = load_params(CI_PARAMS)
    prepare_data(params, progress=False)
    for fold in range(params.folds.n_folds):
        fit_fold(params, fold, progress=False)
    fit_variants(params, progress=False)
    return params


#: Check an already built book instead (e.g. your own, before publishing it):
#: ``ECGLIB_BOOK_HTML=_build/html ECGLIB_BOOK_PARAMS=params/yours.yaml pytest -m book``.
BOOK_HTML_ENV, BOOK_PARAMS_ENV = "ECGLIB_BOOK_HTML", "ECGLIB_BOOK_PARAMS"


def book_params() -> str:
    """The params of the book under test (their export holds the identifiers to look for)."""
    return os.environ.get(BOOK_PARAMS_ENV, CI_PARAMS)


@pytest.fixture(scope="session")
def ci_book() -> Path:
    """The ci book's ``_build/html``: the pipeline (``python -m ecglib run params/ci.yaml
    --variants --root _build/ci-book``), which reuses finished folds and variants and
    up-to-date notebooks; or the built book
    at ``$ECGLIB_BOOK_HTML``."""
    from ecglib.report import pipeline

    if os.environ.get(BOOK_HTML_ENV):
        html = Path(os.environ[BOOK_HTML_ENV]).resolve()
        if not (html / "index.html").is_file():
            pytest.fail(
                f"{BOOK_HTML_ENV}={html}: no index.html there (build the book first)", pytrace=False
            )
        return html
    try:
        index = pipeline.run(CI_PARAMS, root=CI_BOOK, variants=True)
    except SystemExit as exc:  # the pipeline's own message names the failing notebook
        pytest.fail(f"building the ci book failed: {exc}", pytrace=False)
    return index.parent


def export_row(i: int, **overrides) -> dict:
    """One row of a demo-format export (column names as in params/maps/demo_export.yaml)."""
    row = {
        "Patient ID": f"P{i // 2:03d}",
        "Exam ID": f"X{i // 2:03d}",
        "CCTA date": "2024-03-05 14:00",
        "ECG ID": f"E{i:03d}",
        "ECG acquired": "2024-03-05 09:30:00",
        "ECG file": f"ecg/E{i:03d}.npy",
        "Hospital": "Demo University Hospital",
        "Age": "61",
        "Sex": "M" if i % 3 else "F",
        "ECG interpretation": "Sinus rhythm. Normal ECG" if i % 2 else "ST depression",
        "Chest pain": "typical angina",
        "RCA": "No significant stenosis",
        "LM": "No significant stenosis",
        "LAD": "Severe stenosis (70-99%)" if i % 4 == 0 else "Mild stenosis (25-49%)",
        "LCX": "Occluded (100%)" if i == 1 else "Moderate stenosis (50-69%)",
        "Follow-up days": "365",
        "MACE": "0",
        "Non-cardiovascular death": "0",
        "Family history of CAD": "no",
        "Smoking": "yes" if i % 2 else "no",
        "Dyslipidaemia": "no",
        "Hypertension": "yes",
        "Diabetes": "no",
    }
    row.update(overrides)
    return row


def write_export(folder: Path, rows: list[dict], *, ecgs: bool = True, seed: int = 0) -> Path:
    """Write rows as export.csv and, with ``ecgs``, a synthetic (12, 5000) ECG per row."""
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "export.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    if ecgs:
        rng = np.random.default_rng(seed)
        t = np.arange(5000) / 500.0
        for row in rows:
            path = folder / row["ECG file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            signal = np.sin(2 * np.pi * 1.2 * t)[None, :] * rng.uniform(0.5, 1.5, (12, 1))
            np.save(path, (signal + 0.01 * rng.standard_normal((12, 5000))).astype(np.float32))
    return table
