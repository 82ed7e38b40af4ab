"""The published book names no patient: the built ci book (the demo cohort) holds none of the
cohort's patient, ECG or CCTA ids, exam dates or ECG file paths, in any file."""

import pytest

from conftest import book_params
from ecglib.config import load_params
from ecglib.report.privacy import run_identifiers, scan_identifiers

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def identifiers():
    return run_identifiers(load_params(book_params()))


def test_the_built_book_holds_no_identifier_of_the_cohort(ci_book, identifiers):
    files = [p for p in ci_book.rglob("*") if p.is_file()]
    # the scan covers pages, the search index and the executed notebooks offered for download
    assert any(p.name == "searchindex.js" for p in files)
    assert any(p.suffix == ".ipynb" for p in files)
    assert any(p.suffix == ".html" for p in files)
    hits = scan_identifiers(ci_book, identifiers)
    assert hits.empty, f"identifying strings in the built book:\n{hits.to_string(index=False)}"


def test_the_scan_looks_for_every_kind_of_identifier_and_finds_them_in_the_export(
    ci_book, identifiers
):
    """Positive control: the same scan finds the identifiers where they are, in the export
    (which the ci book's pipeline wrote)."""
    params = load_params(book_params())
    # the canonical columns every export has (ccta_id is optional; the demo export has it)
    assert {"patient_id", "ecg_id", "ccta_time", "ecg_time", "ecg_path"} <= set(identifiers)
    assert all(len(v) >= 50 for v in identifiers.values()), {
        k: len(v) for k, v in identifiers.items()
    }
    export = params.path(params.data.table)
    hits = scan_identifiers(export.parent, identifiers)
    in_export = hits[hits["file"] == export.name]
    assert set(in_export["kind"]) == set(identifiers)
