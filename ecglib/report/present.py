"""How numbers and tables read in the book: estimates with their intervals, p-values, counts,
percentages, plurals, and every table a chapter shows.

One place for the formatting rules, so that a chapter's text, its tables and its figure legends
agree (a p-value reads "< 0.001" everywhere, never "0.000"; a count is an integer; a missing
value is an em dash whose reason is a footnote, never ``nan``, ``None`` or ``<NA>``).
:func:`render_table` is the HTML of every DataFrame a page shows: the page set-up
(:func:`ecglib.chapters.page.setup`) registers it with IPython, so chapters return plain
DataFrames and never format them one by one.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics.small_counts import WITHHELD

__all__ = [
    "format_estimate",
    "format_bounds",
    "format_p",
    "format_count",
    "format_percent",
    "format_number",
    "plural",
    "cite",
    "human_name",
    "format_cell",
    "present_table",
    "render_table",
    "wide_estimates",
    "numbers_from",
]

#: How a missing value reads in the book's tables and text.
MISSING = "\u2014"
#: An interval whose bounds are equal at the printed precision, e.g. the percentile bootstrap of
#: an NPV with no missed event in any resample: "1.000 [1.000-1.000]" would read as certainty.
ZERO_WIDTH = "zero-width interval"
#: A table longer than this shows its first rows and folds the rest into a "show all" block.
MAX_ROWS = 25


def format_estimate(
    value: float, low: float = math.nan, high: float = math.nan, digits: int = 3
) -> str:
    """``"0.794 [0.771-0.816]"``, ``"0.794"`` without bounds, ``"n/a"`` for a missing value,
    ``"1.000 (zero-width interval)"`` when the bounds are equal at ``digits``.

    Bounds are printed when both are finite; one missing bound prints ``[CI n/a]``.
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    has_low = low is not None and np.isfinite(low)
    has_high = high is not None and np.isfinite(high)
    if has_low and has_high:
        if _zero_width(low, high, digits):
            return f"{text} ({ZERO_WIDTH})"
        dash = " to " if min(low, high) < 0 else "-"  # "-0.05--0.01" would be unreadable
        return f"{text} [{low:.{digits}f}{dash}{high:.{digits}f}]"
    if has_low or has_high:
        return f"{text} [CI n/a]"
    return text


def _zero_width(low: float, high: float, digits: int) -> bool:
    return f"{low:.{digits}f}" == f"{high:.{digits}f}"


def format_bounds(low: float, high: float, digits: int = 3, *, level: str = "95% CI") -> str:
    """An interval in running text: ``"95% CI 0.667 to 1.000"``; ``"zero-width 95% CI"`` when
    the bounds are equal at ``digits`` (a proportion of 0 or 1 in every resample: the
    percentile bootstrap has no spread to show); ``"no 95% CI"`` when a bound is missing."""
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return f"no {level}"
    if _zero_width(low, high, digits):
        return f"{ZERO_WIDTH.replace('interval', level)}"
    return f"{level} {low:.{digits}f} to {high:.{digits}f}"


def format_p(p: float, *, prefix: str | None = None) -> str:
    """A p-value as the book prints it everywhere: ``"< 0.001"``, three decimals below 0.1
    (``"0.043"``), two above (``"0.43"``), ``"n/a"`` when it does not exist. ``prefix="p"``
    gives ``"p < 0.001"``, ``"p = 0.043"``, ``"p = n/a"`` (figure annotations)."""
    if p is None or not np.isfinite(p):
        text, sign = "n/a", "="
    elif p < 0.001:
        text, sign = "0.001", "<"
    else:
        text, sign = (f"{p:.3f}" if p < 0.1 else f"{p:.2f}"), "="
    if prefix:
        return f"{prefix} {sign} {text}"
    return f"< {text}" if sign == "<" else text


def wide_estimates(
    table: pd.DataFrame,
    index: str | Sequence[str],
    value: str = "auc",
    low: str = "ci_low",
    high: str = "ci_high",
    digits: int = 3,
    columns: str = "vessel",
) -> pd.DataFrame:
    """A long table of estimates as text ``0.712 [0.650-0.768]``, one column per ``columns``
    value (vessels in the paper's order), one row per ``index``; a row withheld under the
    small-count policy (:func:`ecglib.metrics.small_counts.withhold`) shows its reason, e.g.
    ``too few events (2)``."""
    # a row withheld under the small-count policy shows why instead of a number
    withheld = table[WITHHELD] if WITHHELD in table.columns else pd.Series("", index=table.index)
    text = table.assign(
        _text=[
            withheld.at[i] or format_estimate(r[value], r[low], r[high], digits)
            for i, r in table.iterrows()
        ]
    )
    wide = text.pivot(index=index, columns=columns, values="_text")
    if columns == "vessel":
        wide = wide[[v for v in schema.VESSELS if v in wide.columns]]
    wide.columns.name = None
    return wide.loc[list(dict.fromkeys(text.set_index(index).index))]


def numbers_from(
    table,
    columns: Sequence[str],
    *,
    prefix: str = "",
    key: str = "vessel",
    rows: Sequence[str] = schema.VESSELS,
    scale: float = 1.0,
) -> dict[str, float]:
    """Glue-ready numbers ``<prefix><column>_<row>`` from a table with one row per ``key``
    value (a column or the index), times ``scale`` (100 for percent). A part that was not
    computed (any non-DataFrame, e.g. a :class:`ecglib.chapters.parts.Skipped`) or an absent
    row gives NaN, so the chapter's text always finds its keys."""
    have = isinstance(table, pd.DataFrame)
    if have and key in table.columns:
        table = table.set_index(key)
    out = {}
    for column in columns:
        for row in rows:
            value = float(table.at[row, column]) if have and row in table.index else math.nan
            out[f"{prefix}{column}_{row}"] = value * scale
    return out


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(float(value))
    if isinstance(value, str):
        return value.strip() in {"", "nan", "NaN", "None", "<NA>", "NaT"}
    return False


def format_count(n: Any) -> str:
    """A count as an integer (``557``, ``12,345``); an em dash when it is missing. Refuses a
    count that is not a whole number (a float count is a bug upstream, not a rounding job)."""
    if _missing(n):
        return MISSING
    value = float(n)
    if value != round(value):
        raise ValueError(f"a count must be a whole number, got {n!r}")
    return f"{int(round(value)):,}"


def format_percent(fraction: Any, digits: int = 1) -> str:
    """A proportion (0-1) as a percentage: ``0.204 -> "20.4%"``; an em dash when missing."""
    if _missing(fraction):
        return MISSING
    return f"{100 * float(fraction):.{digits}f}%"


def format_number(value: Any, digits: int = 3) -> str:
    """A number as the book prints it: whole numbers as integers, others with ``digits``
    decimals; an em dash when missing, "yes"/"no" for a boolean."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if _missing(value):
        return MISSING
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{float(value):.{digits}f}"


#: Digits to superscripts, for powers of ten (``10⁻⁹``).
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: A number in Python's exponent notation inside free text (``1e-05``, ``3.7E-8``).
_EXPONENT = re.compile(r"(?<![\w.])([-+]?\d+(?:\.\d+)?)[eE]([-+]?\d+)\b")


def format_scientific(value: Any, digits: int = 2) -> str:
    """A number as a paper prints a power of ten: ``3.7e-08 -> "3.7 × 10⁻⁸"``,
    ``1e-05 -> "10⁻⁵"`` (``digits`` significant digits; never Python's ``3.7e-08``, which the
    book's scanner counts as raw output); an em dash when missing, ``"0"`` for zero."""
    if _missing(value):
        return MISSING
    value = float(value)
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPT)
    if mantissa in ("1", "-1"):
        return power if mantissa == "1" else "-" + power
    return f"{mantissa} × {power}"


def unexponent(text: str, digits: int = 3) -> str:
    """``text`` with every number in exponent notation written as :func:`format_scientific`
    does (``"< 1e-05" -> "< 10⁻⁵"``): for labels that come from a file as free text."""
    return _EXPONENT.sub(lambda m: format_scientific(float(m[0]), digits), text)


def plural(n: Any, word: str, many: str | None = None, *, number: bool = True) -> str:
    """``"1 event"``, ``"4 events"``, ``"0 events"`` (``many`` for irregular plurals:
    ``plural(2, "patient", "patients")``, ``plural(3, "analysis", "analyses")``);
    ``number=False`` gives the word alone."""
    count = float(n)
    form = word if count == 1 else (many or f"{word}s")
    return f"{format_count(n) if count == round(count) else n} {form}" if number else form


#: Column names the book spells its own way (:func:`human_name`).
NAMES: dict[str, str] = {
    "auc": "AUC",
    "ci": "95% CI",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "n": "n",
    "p": "p",
    "p_value": "p",
    "p_holm": "p (Holm)",
    "oe_ratio": "O/E",
    "npv": "NPV",
    "ppv": "PPV",
    "nri": "NRI",
    "ecg": "ECG",
    "ptp": "PTP",
    "id": "id",
}
#: Words kept upper case inside a snake_case column name.
ACRONYMS = frozenset({"auc", "ci", "ecg", "ptp", "nri", "npv", "ppv", "mace", "st", "lm", "lad"})
ACRONYMS = ACRONYMS | {"lcx", "rca", "ig", "roc", "hr", "iqr", "sd", "o/e", "mv", "ms", "cpu"}


def human_name(name: Any) -> str:
    """A column name as a reader reads it: ``"ci_low" -> "CI low"``, ``"n_events" -> "Events"``
    style names (snake_case) in sentence case with acronyms kept; a name that already has a
    space or a capital is left as written."""
    text = str(name)
    if text in NAMES:
        return NAMES[text]
    if not re.fullmatch(r"[a-z0-9_]+", text):
        return text
    words = [w.upper() if w in ACRONYMS else w for w in text.split("_") if w]
    if words and words[0] == "n" and len(words) > 1:  # n_events -> "n events"
        return " ".join(words)
    out = " ".join(words)
    return out[:1].upper() + out[1:]


_P_COLUMN = re.compile(r"(^|[\s_(])p(_value|_holm)?($|[\s_)])|^p[ (]", re.IGNORECASE)
_COUNT_COLUMN = re.compile(
    r"^(n|count|events|positives|negatives|patients|ecgs|missed|cases|controls)\b"
    r"|^n[_ ]|[_ ](n|count|events|positives|negatives|patients|ecgs)$",
    re.IGNORECASE,
)


def _floats(values: pd.Series) -> np.ndarray:
    """Numbers as a float array, a missing value (NaN, None, pd.NA of a nullable dtype) as NaN."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _digits_for(values: pd.Series, digits: int) -> int:
    """Fewer decimals for large values, so that a column reads 123.4 rather than 123.412."""
    finite = np.abs(_floats(values))
    finite = finite[np.isfinite(finite)]
    top = finite.max() if len(finite) else 0.0
    if top < 10:
        return digits
    return 1 if top < 1000 else 0


def format_cell(value: Any, *, digits: int = 3, p_value: bool = False) -> str:
    """One table cell as text (:func:`render_table`): p-values by :func:`format_p`, numbers by
    :func:`format_number`, a mapping as ``"key: value; ..."``, a list as ``"a, b"``."""
    if isinstance(value, Mapping):
        return "; ".join(
            f"{human_name(k)}: {format_cell(v, digits=digits)}" for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return ", ".join(format_cell(v, digits=digits) for v in value)
    if isinstance(value, str):
        return MISSING if _missing(value) else value
    if p_value and not _missing(value) and not isinstance(value, (bool, np.bool_)):
        return format_p(float(value))
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return str(value)
    return format_number(value, digits)


def present_table(table: pd.DataFrame, *, digits: int = 3) -> tuple[pd.DataFrame, bool]:
    """``table`` as text for the page, and whether it had a missing value: a named index
    becomes columns (an unnamed range index is dropped), column names are human
    (:func:`human_name`), whole-number columns read as integers, p-value columns (a column
    named ``p``, ``p_value``, ``... p``, ``p (...)``) by :func:`format_p`, booleans as yes/no,
    every other number rounded to ``digits`` decimals (fewer for large values), and a missing
    value as an em dash."""
    out = table.copy()
    plain = isinstance(out.index, pd.RangeIndex) and out.index.name is None
    if plain:
        out = out.reset_index(drop=True)
    else:  # row labels are content: an unnamed level gets an empty header
        names = [n if n is not None else "" for n in out.index.names]
        out.index.names = [f"_level_{i}" if not n else n for i, n in enumerate(names)]
        out = out.reset_index().rename(
            columns={f"_level_{i}": "" for i, n in enumerate(names) if not n}
        )
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [
            " ".join(human_name(p) for p in col if str(p) and not str(p).startswith("Unnamed"))
            for col in out.columns
        ]
    missing = bool(out.map(_missing).to_numpy().any()) if len(out) else False
    text = []
    for i, column in enumerate(out.columns):  # by position: two columns may share a name
        values = out.iloc[:, i]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        is_p = bool(_P_COLUMN.search(str(column)))
        if numeric and not is_p:
            finite = _floats(values)
            finite = finite[np.isfinite(finite)]
            whole = len(finite) > 0 and bool((finite == finite.round()).all())
            if whole and _COUNT_COLUMN.search(str(column)):
                text.append([format_count(v) for v in values])
            elif whole and pd.api.types.is_integer_dtype(values):  # a fold, a seed, a year
                text.append([MISSING if _missing(v) else str(int(v)) for v in values])
            else:
                d = _digits_for(values, digits)
                text.append([format_cell(v, digits=d) for v in values])
        else:
            text.append([format_cell(v, digits=digits, p_value=is_p) for v in values])
    shown = pd.DataFrame(dict(enumerate(text)), index=range(len(out)))
    shown.columns = list(out.columns)
    shown.columns = [human_name(c) for c in shown.columns]
    return shown, missing


def render_table(table: pd.DataFrame, *, digits: int = 3, max_rows: int = MAX_ROWS) -> str:
    """The HTML of a table on a page (:func:`present_table`), with a footnote saying why a cell
    is an em dash (``table.attrs["missing"]``, else a generic reason), and the rows past
    ``max_rows`` folded into a "show all" block. The columns named in
    ``table.attrs["verbatim"]`` hold text quoted as a program wrote it (an error message): they
    are shown as code, which the raw-output scan (:mod:`ecglib.report.scan`) does not read."""
    shown, missing = present_table(table, digits=digits)
    verbatim = {human_name(c) for c in table.attrs.get("verbatim", ())}
    shown = shown.copy()
    for i, column in enumerate(shown.columns):
        wrap = '<code class="ecglib-verbatim">{}</code>' if column in verbatim else "{}"
        shown.iloc[:, i] = [wrap.format(escape(str(v))) for v in shown.iloc[:, i]]
    shown.columns = [escape(str(c)) for c in shown.columns]

    def html(frame: pd.DataFrame) -> str:
        with pd.option_context("display.max_colwidth", None):
            return frame.to_html(index=False, escape=False, border=0, classes="ecglib-table")

    if len(shown) > max_rows:
        body = (
            html(shown.iloc[:max_rows])
            + f"<details><summary>Show all {len(shown):,} rows</summary>"
            + html(shown)
            + "</details>"
        )
    else:
        body = html(shown)
    note = ""
    if missing:
        reason = table.attrs.get("missing") or "not available for this row (see the text above)"
        note = f'<p class="table-note"><small>{MISSING}: {escape(str(reason))}</small></p>'
    return f'<div class="ecglib-table-wrap" style="overflow-x:auto">{body}{note}</div>'


#: The book's bibliography, which tables cite from (:func:`cite`).
BIBLIOGRAPHY = "book/references.bib"


@functools.lru_cache(maxsize=4)
def _bibliography(path: str):
    from pybtex.database import parse_file

    return parse_file(path, bib_format="bibtex")


def cite(keys: str | Sequence[str], bib: str | os.PathLike | None = None) -> str:
    """Bibliography keys as a reader cites them, author and year (``"bousseljot1995ptb,
    goldberger2000physionet"`` -> ``"Bousseljot et al. (1995); Goldberger et al. (2000)"``),
    from the book's ``references.bib`` parsed by pybtex (the same entries the book's
    bibliography lists). A key that is not in the file is an error naming it."""
    from ecglib.config import PROJECT_ROOT

    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    path = Path(bib) if bib is not None else PROJECT_ROOT / BIBLIOGRAPHY
    entries = _bibliography(str(path)).entries
    out = []
    for key in keys:
        if key not in entries:
            raise KeyError(f"citation key {key!r} is not in {path}")
        entry = entries[key]
        authors = entry.persons.get("author", [])
        names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in authors]
        etal = any("et al" in " ".join(p.first_names + p.middle_names) for p in authors)
        if len(names) > 2 or etal or (names and names[-1] == "others"):
            who = f"{names[0]} et al."
        else:
            who = " and ".join(names) or entry.fields.get("title", key)
        out.append(f"{who} ({entry.fields.get('year', 'n.d.')})")
    return "; ".join(out)
