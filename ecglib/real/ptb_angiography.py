"""Per-vessel coronary angiography findings of the PTB Diagnostic ECG Database, as 0-4 grades.

The PTB headers (Bousseljot et al. 1995) report the invasive coronary angiography of each
patient per vessel, in free text::

    # Left coronary artery stenoses (RIVA): RIVA 70% proximal to ramus diagonalis_2
    # Left coronary artery stenoses (RCX): No stenoses
    # Right coronary artery stenoses (RCA): RCA distal to ramus ventricularis dexter 50%

Vessels: RIVA (ramus interventricularis anterior) is the **LAD**, RCX (ramus circumflexus) the
**LCX**, RCA the **RCA** (:data:`PTB_VESSEL_FIELDS`). There is **no left main field**: ``grade_LM``
is always missing (``<NA>``), never assumed normal, so :func:`ecglib.schema.binarise_grades`, which
needs all four vessels, refuses these rows by design; use the three graded vessels one by one.

The grade table (:data:`PERCENT_GRADES`)
----------------------------------------
A stated diameter stenosis in percent maps to the project's ordinal scale with the same bins
as the demo's CCTA report texts (``ecglib.demo.cohort.GRADE_TEXT``: "Mild stenosis (25-49%)",
"Moderate stenosis (50-69%)", "Severe stenosis (70-99%)", "Occluded (100%)"), which are the
CAD-RADS stenosis bins (Cury et al., J Cardiovasc Comput Tomogr 2016;10:269 and CAD-RADS 2.0,
2022) with CAD-RADS 0 (no plaque) and 1 (minimal, 1-24%) merged into the project's grade 0:

==========================  =====  ==========
stated stenosis              grade  name
==========================  =====  ==========
"No stenoses", 0-24%          0     none
25-49%                        1     mild
50-69%                        2     moderate
70-99%                        3     severe
100%, "occlusion"/"occluded"  4     occluded
==========================  =====  ==========

Bins are half-open (24.9% is none, 25% mild, 69.5% moderate), so decimals are graded too.

How a text is read (:func:`grade_stenosis_text`)
------------------------------------------------
1. A missing value (``n/a``, empty, ``Unknown``: :data:`ecglib.real.headers.MISSING_TOKENS`)
   gives ``None`` (no angiography reported for that vessel).
2. Exactly a no-stenosis phrase (:data:`NO_STENOSIS_TEXTS`, case-insensitive, trailing
   punctuation ignored: "No stenoses", "no stenosis", "normal") gives 0. ("None" is a
   missing-value token in these headers, so it gives ``None``, not 0: ambiguity is not graded.)
3. Otherwise every lesion the text states is graded and the vessel gets the **worst** (a
   vessel's CCTA grade is that of its most severe stenosis): each percentage ``70%``; each
   range ``50-70%`` (graded only if both ends fall in one bin); ``<x%``, read as [0, x); ``>x%``,
   read as (x, 100) because an occlusion is reported as such; every "occlusion"/"occluded"
   (grade 4); and every "subtotal occlusion"/"subtotal stenosis", a 99% stenosis (grade 3).
   Numbers without ``%`` (the branch numbers in ``ramus diagonalis_2``) are not lesions.
4. A text with no lesion and no no-stenosis phrase, a percentage above 100, or a range or
   bound that spans two grades raises :class:`~ecglib.errors.DataError` naming the record, the
   vessel and the text: it must be graded by a person, not guessed.

The percentages are of invasive catheter angiography (PTB, 1990s), not of CCTA; they are graded on
the CCTA scale's cut-offs so that the book can put the PTB ECGs next to the model's output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ecglib import schema
from ecglib.errors import DataError
from ecglib.real.headers import Header, is_missing, read_header

#: Vessel -> the PTB header key holding its angiography text. No left main field exists.
PTB_VESSEL_FIELDS: dict[str, str] = {
    "RCA": "Right coronary artery stenoses (RCA)",
    "LAD": "Left coronary artery stenoses (RIVA)",
    "LCX": "Left coronary artery stenoses (RCX)",
}

#: (lower bound %, upper bound %, grade): a stenosis p has the grade whose lo <= p < hi; exactly
#: 100% is grade 4.
PERCENT_GRADES: tuple[tuple[float, float, int], ...] = (
    (0.0, 25.0, 0),
    (25.0, 50.0, 1),
    (50.0, 70.0, 2),
    (70.0, 100.0, 3),
)
OCCLUDED_GRADE = 4

#: Texts that state no stenosis at all (lower-case, without trailing punctuation).
NO_STENOSIS_TEXTS: frozenset[str] = frozenset(
    {
        "no stenoses",
        "no stenosis",
        "no significant stenoses",
        "no significant stenosis",
        "normal",
        "no",
    }
)

_NUM = r"(\d+(?:\.\d+)?)"
_RANGE = re.compile(rf"(?<![\w.]){_NUM}\s*%?\s*(?:-|\u2013|to)\s*{_NUM}\s*%", re.IGNORECASE)
_BOUND = re.compile(rf"(<=|>=|<|>|\u2264|\u2265)\s*{_NUM}\s*%")
_PERCENT = re.compile(rf"(?<![\w.]){_NUM}\s*%")
_SUBTOTAL = re.compile(
    r"\bsub-?total(?:ly)?\s+(?:occlu(?:sion|sions|ded)|stenos[ie]s)\b", re.IGNORECASE
)
_OCCLUSION = re.compile(r"\b(?:occlu(?:sion|sions|ded)|totally\s+occluded)\b", re.IGNORECASE)
#: A subtotal occlusion or stenosis is a 99% stenosis: severe, not occluded.
SUBTOTAL_PERCENT = 99.0
#: Just below a bin edge, for the open ends of ``<x%`` and ``>x%``.
_EPS = 1e-6


def grade_of_percent(percent: float) -> int:
    """The 0-4 grade of a diameter stenosis in percent (table in the module docstring)."""
    p = float(percent)
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"a stenosis of {percent!r}% is outside 0-100%")
    if p == 100.0:
        return OCCLUDED_GRADE
    for lo, hi, grade in PERCENT_GRADES:
        if lo <= p < hi:
            return grade
    raise AssertionError("unreachable: PERCENT_GRADES covers [0, 100)")


def grade_table() -> pd.DataFrame:
    """The grade table as a DataFrame (for the book): stenosis, grade, name."""
    rows = [{"stenosis": "no stenoses", "grade": 0}]
    rows += [{"stenosis": f"{lo:g}-{hi - 1:g}%", "grade": g} for lo, hi, g in PERCENT_GRADES]
    rows += [{"stenosis": "100%, occlusion", "grade": OCCLUDED_GRADE}]
    table = pd.DataFrame(rows)
    table["name"] = table["grade"].map(schema.GRADES)
    return table


def grade_stenosis_text(
    text: str | None, *, record: str = "<unnamed>", vessel: str = "vessel"
) -> int | None:
    """The 0-4 grade of one vessel's PTB angiography text, ``None`` when missing.

    Rules in the module docstring; a text that cannot be graded raises
    :class:`~ecglib.errors.DataError` naming ``record``, ``vessel`` and the text.
    """
    if is_missing(text):
        return None
    raw = str(text)
    norm = re.sub(r"\s+", " ", raw).strip().rstrip(".,;: ").strip()
    if norm.lower() in NO_STENOSIS_TEXTS:
        return 0

    def fail(why: str) -> DataError:
        return DataError(
            record,
            f"{vessel} angiography text {raw!r}: {why}; grade it by hand "
            "(see ecglib.real.ptb_angiography)",
        )

    def grade(p: float) -> int:
        try:
            return grade_of_percent(p)
        except ValueError as exc:
            raise fail(str(exc)) from None

    grades: list[int] = []
    rest = norm
    for m in _RANGE.finditer(rest):
        lo, hi = float(m.group(1)), float(m.group(2))
        if lo > hi:
            raise fail(f"range {m.group(0)!r} runs backwards")
        g_lo, g_hi = grade(lo), grade(hi)
        if g_lo != g_hi:
            raise fail(
                f"range {m.group(0)!r} spans grades {schema.GRADES[g_lo]} and {schema.GRADES[g_hi]}"
            )
        grades.append(g_lo)
    rest = _RANGE.sub(" ", rest)
    for m in _BOUND.finditer(rest):
        op, x = m.group(1), float(m.group(2))
        if op in ("<", "<=", "\u2264"):
            lo, hi = 0.0, x if op != "<" else x - _EPS
        else:
            lo, hi = (x if op != ">" else x + _EPS), 100.0 - _EPS
        g_lo, g_hi = grade(max(lo, 0.0)), grade(min(hi, 100.0))
        if g_lo != g_hi:
            raise fail(
                f"{m.group(0)!r} spans grades {schema.GRADES[g_lo]} to {schema.GRADES[g_hi]}"
            )
        grades.append(g_lo)
    rest = _BOUND.sub(" ", rest)
    grades += [grade(float(m.group(1))) for m in _PERCENT.finditer(rest)]
    grades += [grade(SUBTOTAL_PERCENT) for _ in _SUBTOTAL.finditer(rest)]
    rest = _SUBTOTAL.sub(" ", rest)
    grades += [OCCLUDED_GRADE for _ in _OCCLUSION.finditer(rest)]
    if not grades:
        raise fail("no percentage, no 'occlusion' and not a no-stenosis phrase")
    return max(grades)


def ptb_vessel_grades(header: Header) -> dict[str, int | None]:
    """Grades of the four vessels from a parsed PTB header; LM is always ``None`` (no field)."""
    out: dict[str, int | None] = {}
    for vessel in schema.VESSELS:
        key = PTB_VESSEL_FIELDS.get(vessel)
        out[vessel] = (
            None
            if key is None
            else grade_stenosis_text(header.get(key), record=header.record, vessel=vessel)
        )
    return out


def ptb_angiography_table(source: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per PTB record: its angiography texts and ``grade_<vessel>`` columns.

    ``source`` is a data folder (every record in it, as :func:`ecglib.real.records.find_records`
    lists them; records whose header is not a PTB clinical summary are left out) or an iterable
    of header paths. Columns: ``record`` (path relative to the folder, e.g.
    ``patient001/s0010_re``), ``patient`` (the ``patientNNN`` folder, if any), ``rca_text``,
    ``riva_text``, ``rcx_text``, and ``grade_RCA``, ``grade_LM`` (always missing), ``grade_LAD``,
    ``grade_LCX`` as nullable integers. An ungradable text raises
    :class:`~ecglib.errors.DataError`.
    """
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        from ecglib.real.records import find_records

        refs = [(r.relpath, r.path) for r in find_records(source) if r.exists]
    else:
        paths = [Path(p) for p in ([source] if isinstance(source, (str, os.PathLike)) else source)]
        refs = [(str(p.with_suffix("")) if p.suffix == ".hea" else str(p), p) for p in paths]
    rows = []
    for relpath, path in refs:
        header = read_header(path, record=str(relpath))
        if header.format != "ptb":
            continue
        grades = ptb_vessel_grades(header)
        parts = Path(relpath).parts
        patient = next((p for p in parts if re.fullmatch(r"patient\d+", p)), None)
        fields = header.ptb_fields()
        rows.append(
            {
                "record": str(relpath),
                "patient": patient,
                "rca_text": fields["rca_text"],
                "riva_text": fields["riva_text"],
                "rcx_text": fields["rcx_text"],
                **{schema.grade_col(v): grades[v] for v in schema.VESSELS},
            }
        )
    columns = ["record", "patient", "rca_text", "riva_text", "rcx_text", *schema.grade_cols()]
    table = pd.DataFrame(rows, columns=columns)
    for col in schema.grade_cols():
        table[col] = pd.array(table[col].tolist(), dtype="Int64")
    return table
