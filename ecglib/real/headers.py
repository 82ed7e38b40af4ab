"""The clinical comments of a WFDB header: age, sex, diagnoses and the PTB clinical summary.

A WFDB header (``NAME.hea``) starts with a record line (``NAME n_sig fs n_samples``), one line per
signal, and then free ``#`` comment lines. Two comment conventions occur in ``../shared/data``:

Challenge headers (PhysioNet/CinC Challenge 2020/2021; ``cinc/``)
    Six ``key: value`` lines, ``#Age: 74``, ``#Sex: Male``, ``#Dx: 164889003,59118001``,
    ``#Rx: Unknown``, ``#Hx: Unknown``, ``#Sx: Unknown`` (with or without a space after ``#``;
    the Georgia records leave out ``#Sx``). ``Dx`` is a comma-separated list of SNOMED CT codes,
    or of CPSC 2018 abbreviations in the early release (``#Dx: AF,RBBB``), mapped to codes by
    :func:`ecglib.real.snomed.to_snomed`.
PTB Diagnostic ECG Database headers (``ptbdb/``)
    The clinical summary, one ``# key: value`` line per field, lower-case ``age``/``sex``:
    ``# age: 81``, ``# sex: female``, ``# Reason for admission: Myocardial infarction``,
    ``# Acute infarction (localization): infero-latera``, the angiography findings per vessel
    ``# Left coronary artery stenoses (RIVA): RIVA 70% proximal to ramus diagonalis_2`` (also
    ``(RCX)`` and ``Right coronary artery stenoses (RCA)``; graded by
    :mod:`ecglib.real.ptb_angiography`), dates, haemodynamics and medication. :data:`PTB_FIELDS`
    names the ones the project uses.

Missing values
--------------
The headers write "not known" in several ways: ``Age: NaN`` (some Georgia records),
``Sex: Unknown``, ``Sx: Unknows`` (sic; the early CPSC records), ``n/a`` (PTB). Every value in
:data:`MISSING_TOKENS` (case-insensitive) parses to ``None``. Anything else that cannot be read,
an age that is not a number in 0-120 or a sex other than male/female (``M``/``F`` accepted),
an unknown ``Dx`` token, a key given twice with different values, or an unreadable file, raises
:class:`~ecglib.errors.DataError` naming the record: a value is never guessed.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ecglib.errors import DataError
from ecglib.real.snomed import to_snomed

#: Values that mean "not known" (compared lower-cased, stripped).
MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "nan", "none", "null", "unknown", "unknows", "unk", "n/a", "na", "-", "?", "not known"}
)
#: Accepted spellings of the two sexes (lower-cased).
SEX_TOKENS: dict[str, str] = {"male": "male", "m": "male", "female": "female", "f": "female"}
#: Plausible ages in years (children occur in the Ningbo set; nobody is older than 120).
AGE_LIMITS: tuple[float, float] = (0.0, 120.0)

#: Header formats :func:`read_header` recognises.
FORMATS: tuple[str, ...] = ("challenge", "ptb", "other", "none")

#: Clinical fields of the PTB Diagnostic ECG Database headers: our name -> the header's key
#: (the column names of ``../shared/data/ptbdb/cohort.csv``).
PTB_FIELDS: dict[str, str] = {
    "reason_for_admission": "Reason for admission",
    "acute_infarction_localization": "Acute infarction (localization)",
    "former_infarction_localization": "Former infarction (localization)",
    "additional_diagnoses": "Additional diagnoses",
    "smoker": "Smoker",
    "n_vessels_involved": "Number of coronary vessels involved",
    "riva_text": "Left coronary artery stenoses (RIVA)",
    "rcx_text": "Left coronary artery stenoses (RCX)",
    "rca_text": "Right coronary artery stenoses (RCA)",
    "ventriculography": "Ventriculography",
    "ecg_date": "ECG date",
    "catheterization_date": "Catheterization date",
    "admission_date": "Admission date",
    "infarction_date": "Infarction date",
}
#: Keys whose presence marks a PTB clinical summary (lower-cased).
_PTB_MARKERS = ("reason for admission", "acute infarction (localization)", "ecg date")


@dataclass(frozen=True)
class Header:
    """A WFDB header's record line and parsed comments.

    ``age`` (years) and ``sex`` (``"male"``/``"female"``) are ``None`` when the header does not
    know them. ``dx`` holds the ``Dx`` tokens as written, ``dx_snomed`` the same as SNOMED CT
    codes; both are ``()`` for headers without a ``Dx`` line. ``fields`` maps every
    ``key: value`` comment (key as written, value stripped) and ``comments`` keeps every comment
    line in order. ``fs`` and ``n_samples`` come from the record line (``None`` if absent).
    """

    record: str
    format: str
    age: float | None = None
    sex: str | None = None
    dx: tuple[str, ...] = ()
    dx_snomed: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)
    comments: tuple[str, ...] = ()
    n_sig: int | None = None
    fs: float | None = None
    n_samples: int | None = None

    def get(self, key: str) -> str | None:
        """A comment field by key (case-insensitive), ``None`` when absent or a missing token."""
        wanted = key.strip().lower()
        for k, v in self.fields.items():
            if k.lower() == wanted:
                return None if is_missing(v) else v
        return None

    @property
    def rx(self) -> str | None:
        return self.get("Rx")

    @property
    def hx(self) -> str | None:
        return self.get("Hx")

    @property
    def sx(self) -> str | None:
        return self.get("Sx")

    def ptb_fields(self) -> dict[str, str | None]:
        """The PTB clinical fields of :data:`PTB_FIELDS` under our names (``None`` if missing)."""
        return {name: self.get(key) for name, key in PTB_FIELDS.items()}


def is_missing(value: object) -> bool:
    """True for ``None``, NaN and the tokens of :data:`MISSING_TOKENS`."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return str(value).strip().lower() in MISSING_TOKENS


def parse_age(value: str | None, record: str = "<unnamed>") -> float | None:
    """Age in years from a header value; missing tokens give ``None``."""
    if is_missing(value):
        return None
    text = str(value).strip()
    try:
        age = float(text)
    except ValueError:
        raise DataError(record, f"age {text!r} is not a number") from None
    lo, hi = AGE_LIMITS
    if not lo <= age <= hi:
        raise DataError(record, f"age {text!r} is outside {lo:g}-{hi:g} years")
    return age


def parse_sex(value: str | None, record: str = "<unnamed>") -> str | None:
    """``"male"``/``"female"`` from a header value; missing tokens give ``None``."""
    if is_missing(value):
        return None
    text = str(value).strip()
    sex = SEX_TOKENS.get(text.lower())
    if sex is None:
        raise DataError(
            record,
            f"sex {text!r} is not one of Male, Female, M, F (or a missing value such as Unknown)",
        )
    return sex


def parse_dx(
    value: str | None, record: str = "<unnamed>"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tokens as written, SNOMED CT codes) of a comma-separated ``Dx`` value."""
    if is_missing(value):
        return (), ()
    tokens = tuple(t.strip() for t in str(value).split(",") if t.strip())
    return tokens, tuple(to_snomed(t, record) for t in tokens)


def parse_comments(lines: list[str] | tuple[str, ...], record: str = "<unnamed>") -> Header:
    """A :class:`Header` (without record-line values) from comment lines, with or without
    their leading ``#``."""
    comments = tuple(line.lstrip("#").strip() for line in lines)
    fields: dict[str, str] = {}
    for line in comments:
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        key, value = key.strip(), value.strip()
        if not key:
            continue
        if key in fields and fields[key] != value:
            raise DataError(
                record,
                f"header field {key!r} is given twice with different values "
                f"({fields[key]!r} and {value!r})",
            )
        fields.setdefault(key, value)
    lower = {k.lower(): v for k, v in fields.items()}
    if not comments:
        fmt = "none"
    elif "dx" in lower:
        fmt = "challenge"
    elif any(m in lower for m in _PTB_MARKERS):
        fmt = "ptb"
    else:
        fmt = "other"
    dx, dx_snomed = parse_dx(lower.get("dx"), record)
    return Header(
        record=record,
        format=fmt,
        age=parse_age(lower.get("age"), record),
        sex=parse_sex(lower.get("sex"), record),
        dx=dx,
        dx_snomed=dx_snomed,
        fields=fields,
        comments=comments,
    )


def read_header(path: str | os.PathLike, record: str | None = None) -> Header:
    """Parse a WFDB header file (``NAME.hea`` or the record's base name ``NAME``).

    ``record`` names the record in errors (default: the file's stem). The file is read as text
    without wfdb, so that a header whose signal lines wfdb would refuse still yields its
    clinical data. Raises :class:`~ecglib.errors.DataError` when the file cannot be read or a
    value cannot be parsed (see the module docstring).
    """
    p = Path(path)
    if p.suffix.lower() != ".hea":
        p = p.with_name(p.name + ".hea")
    rid = record if record is not None else p.stem
    try:
        text = p.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise DataError(rid, f"cannot read WFDB header {p}: {exc.strerror or exc}") from exc
    lines = text.splitlines()
    comments = [ln for ln in lines if ln.lstrip().startswith("#")]
    body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    header = parse_comments(comments, rid)
    n_sig, fs, n_samples = _record_line(body[0] if body else "", rid)
    return dataclasses.replace(header, n_sig=n_sig, fs=fs, n_samples=n_samples)


def _record_line(line: str, record: str) -> tuple[int | None, float | None, int | None]:
    """(n_sig, fs, n_samples) of a WFDB record line ``name[/segments] n_sig [fs[/cf][(base)]
    [n_samples ...]]``; absent fields are ``None``."""
    parts = line.split()
    if len(parts) < 2:
        raise DataError(record, f"WFDB header has no record line (got {line!r})")
    try:
        n_sig = int(parts[1])
        fs = float(re.split(r"[/(]", parts[2])[0]) if len(parts) > 2 else None
        n_samples = int(parts[3]) if len(parts) > 3 else None
    except ValueError:
        raise DataError(record, f"WFDB record line {line!r} is malformed") from None
    return n_sig, fs, n_samples
