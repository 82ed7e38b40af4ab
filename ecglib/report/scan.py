"""Raw output in a built book: what a reader should never see on a page.

:func:`scan_book` reads the rendered text of every page of a built book (``_build/html``) and
lists, per page, each place where a value was printed as Python prints it rather than as the
book formats it (:mod:`ecglib.report.present`): ``nan``, ``None``, ``<NA>``, a ``True``/``False``
table cell, a dict or list repr, a cell or text cut with "...", a float with more than four
decimals, or a glued value that did not render. The code a page shows on purpose (its code
cells' input, code blocks and inline code in the prose) is left out: the scan reads what the
book says, not its code.

From the shell, on any built book (exit status 1 when something is found)::

    python -m ecglib.report.scan _build/html
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from bs4 import BeautifulSoup

__all__ = ["Problem", "PROBLEMS", "scan_html", "scan_book", "main"]

#: Folders and pages of a built book that hold no chapter text (Sphinx's own pages and assets).
SKIP_DIRS = frozenset({"_static", "_sources", "_images", "_downloads", "_sphinx_design_static"})
SKIP_PAGES = frozenset({"genindex.html", "search.html", "py-modindex.html"})
#: Characters shown on each side of a finding.
CONTEXT = 40


@dataclass(frozen=True)
class Problem:
    """One finding: the page (relative to the book), what is wrong, and the text around it."""

    page: str
    problem: str
    snippet: str


#: Patterns searched in a page's text: problem name -> regular expression.
PROBLEMS: dict[str, re.Pattern] = {
    "nan": re.compile(r"(?<![\w/-])nan(?![\w])", re.IGNORECASE),
    # "None of the ..." is English; None before punctuation, a number or the end is Python's
    "None": re.compile(r"(?<![\w`])None(?!\s+[a-z])(?![\w])"),
    "<NA>": re.compile(r"<NA>"),
    "dict repr": re.compile(r"\{\s*['\"][^'\"]*['\"]\s*:"),
    # "[0.771-0.816]" is an interval; "[0.1, 0.2]" or "['a', 'b']" is a printed list
    "list repr": re.compile(
        r"\[\s*(?:['\"][^'\"\]]*['\"]|-?\d+(?:\.\d+)?|None|True|False|nan)\s*,\s*"
        r"(?:['\"]|-?\d|None|True|False|nan|\.\.\.)"
    ),
    "array repr": re.compile(r"\b(?:array|Series|DataFrame|np\.\w+)\("),
    "truncated (...)": re.compile(r"\.\.\.|…"),
    "float with more than 4 decimals": re.compile(r"(?<![\w.])-?\d+\.\d{5,}(?![\d])"),
    "unformatted float (exponent)": re.compile(r"(?<![\w.])\d+(?:\.\d+)?e[-+]\d{2}\b"),
    "unrendered glue": re.compile(r"\{glue:[a-z]+\}"),
}
#: What a glued value that failed to render leaves in a paragraph: the spaces on both sides of
#: it (two spaces, or a space at a line break), an empty bracket, or a space before punctuation.
EMPTY_GLUE = re.compile(
    r"(?<=\S)[ \t]{2,}(?=\S)|[ \t]\n|\n[ \t]|\([ \t]*\)|\[[ \t]*\]|(?<=\w) [,;.:)](?!\w)"
)
#: Whole table cells that are Python's spelling of a missing or boolean value.
RAW_CELLS = frozenset({"True", "False", "None", "nan", "NaN", "<NA>", "NaT"})


def _article(soup: BeautifulSoup):
    """The page's own content: the theme's article, else ``main``, else the body."""
    for selector in ("article.bd-article", "div[role=main]", "main", "body"):
        found = soup.select_one(selector)
        if found is not None:
            return found
    return soup


def _strip_code(root) -> None:
    """Remove what the page shows as code on purpose: code cells' input, code blocks outside
    the cells' outputs, inline code in the prose, and Sphinx's permalink markers."""
    # the bibliography's entries (DOIs, arXiv numbers) are references, not results
    for tag in root.select(".citation-list, div.citation, .bibtex-citation"):
        tag.replace_with("reference")
    for tag in root.select(".ecglib-verbatim"):  # a quoted message (present.render_table)
        tag.replace_with("code")
    for tag in root.select("script, style, div.cell_input, a.headerlink, .toggle-details"):
        tag.decompose()
    for tag in root.select("div.highlight, pre, code"):
        if tag.find_parent("div", class_="cell_output") is None:
            # a word in its place, so that the prose around it keeps its spacing
            tag.replace_with("code")


def _snippet(text: str, start: int, end: int) -> str:
    left = max(0, start - CONTEXT)
    right = min(len(text), end + CONTEXT)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")


def scan_html(html: str, page: str = "") -> list[Problem]:
    """Every raw output in one rendered page (module docstring), in reading order."""
    soup = BeautifulSoup(html, "html.parser")
    root = _article(soup)
    _strip_code(root)
    found: list[Problem] = []
    # glue that failed: an empty pasted value, or the warning docutils leaves in its place
    for span in root.select("span.pasted-text, span.pasted-inline"):
        if not span.get_text(strip=True):
            context = span.find_parent(["p", "li", "td"]) or span.parent
            found.append(Problem(page, "empty glue", context.get_text(" ", strip=True)[:160]))
    for message in root.select("div.system-message, .problematic"):
        found.append(Problem(page, "build warning shown", message.get_text(" ", strip=True)[:160]))
        message.decompose()
    # a glue that failed leaves nothing, only the spaces around it ("was  in", "( )", "is .")
    for block in root.select("p, li, td, th, dt, dd, figcaption"):
        if block.find(["p", "li", "table", "div"]):
            continue  # its own blocks are read one by one
        if block.find_parent("div", class_="cell_output") is not None:
            continue  # glue renders in the prose; an output's spacing is its data's
        raw = block.get_text("")
        for match in EMPTY_GLUE.finditer(raw):
            snippet = re.sub(r"\s+", " ", _snippet(raw, match.start(), match.end()))
            found.append(Problem(page, "empty glue", snippet))
    for cell in root.select("td, th"):
        text = cell.get_text(" ", strip=True)
        if text in RAW_CELLS:
            row = cell.find_parent("tr")
            found.append(Problem(page, f"{text} table cell", row.get_text(" | ", strip=True)))
    text = re.sub(r"\s+", " ", root.get_text(" ", strip=True))
    for name, pattern in PROBLEMS.items():
        for match in pattern.finditer(text):
            found.append(Problem(page, name, _snippet(text, match.start(), match.end())))
    return found


def _pages(book: Path) -> Iterator[Path]:
    for path in sorted(book.rglob("*.html")):
        rel = path.relative_to(book)
        if rel.parts[0] in SKIP_DIRS or rel.name in SKIP_PAGES:
            continue
        yield path


def scan_book(book: str | Path) -> pd.DataFrame:
    """Every raw output on every page of the built book at ``book`` (its ``_build/html``), one
    row per finding: ``page``, ``problem``, ``snippet``. Empty when the book is clean."""
    book = Path(book)
    if not (book / "index.html").is_file():
        raise FileNotFoundError(f"{book}: no index.html there; is it a built book's html folder?")
    rows = []
    for path in _pages(book):
        rel = path.relative_to(book).as_posix()
        rows.extend(scan_html(path.read_text(encoding="utf-8"), rel))
    return pd.DataFrame(rows, columns=["page", "problem", "snippet"])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ecglib.report.scan BOOK_HTML``: print each finding as ``page: problem:
    snippet``; exit status 1 when there is any."""
    parser = argparse.ArgumentParser(
        prog="python -m ecglib.report.scan", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("book", help="a built book's html folder, e.g. _build/html")
    args = parser.parse_args(argv)
    try:
        found = scan_book(args.book)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    for row in found.itertuples(index=False):
        print(f"{row.page}: {row.problem}: {row.snippet}")
    pages = len(list(_pages(Path(args.book))))
    print(
        f"{len(found)} problem(s) on {found['page'].nunique()} of {pages} page(s)"
        if len(found)
        else f"no raw output on {pages} page(s)",
        file=sys.stderr,
    )
    return 1 if len(found) else 0


if __name__ == "__main__":
    raise SystemExit(main())
