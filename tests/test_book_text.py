"""The built ci book reads as a book, not as Python output: no page shows ``nan``, ``None``,
``<NA>``, a True/False cell, a dict or list repr, a cut cell, a float with more than four
decimals, or a glued value that did not render (:mod:`ecglib.report.scan`)."""

import pytest

from ecglib.report.scan import scan_book

pytestmark = pytest.mark.book


def test_no_page_of_the_built_book_shows_raw_output(ci_book):
    pages = [p for p in ci_book.rglob("*.html") if "_static" not in p.parts]
    assert len(pages) > 10  # the scan reads the chapters, not an empty folder
    found = scan_book(ci_book)
    assert found.empty, f"{len(found)} raw output(s) in the built book:\n" + found.to_string(
        index=False, max_colwidth=120
    )
