"""Check that a built book identifies no patient: scan every file for the cohort's identifiers.

The book is meant to be published, so nothing in it may name a patient, an ECG or a CCTA exam,
give an exam date or point at a patient's file. :func:`cohort_identifiers` collects, from the
run's own export table, every value of the identifying columns (``patient_id``, ``ccta_id``,
``ecg_id``), every exam time (``ccta_time``, ``ecg_time``) both as written and as an ISO date,
and every ECG file path (as written, absolute, and its file name without suffix);
:func:`scan_identifiers` then looks for them in every file of a folder (HTML, JavaScript such as
the search index, the executed notebooks under ``_sources``, images) and reports where, without
repeating the identifier itself, so that the report can go into a CI log.

``python -m ecglib scan-book params/demo.yaml`` runs both on ``_build/html``.

A match is an occurrence bounded by non-alphanumeric characters, so the ECG id ``E12`` is found
in ``E12.npy`` and in ``id=E12,`` but not inside ``E123``. Short numeric identifiers (a
patient number ``17``) would match any such number in the book; pass them through a
de-identification step before export, or read the hits one by one.

Why hand-written: no maintained library scans a static site for a given list of thousands of
literal strings with token boundaries; :mod:`re` with an alternation of thousands of literals
is slow, so candidates are found by set membership of the alphanumeric tokens and confirmed
by a string comparison at the token's position.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from ecglib.data.cohort import ExportMap, apply_map, read_table

__all__ = [
    "ID_COLUMNS",
    "TIME_COLUMNS",
    "PATH_COLUMNS",
    "cohort_identifiers",
    "scan_identifiers",
    "run_identifiers",
]

#: Canonical columns whose values name a patient, an ECG or an exam.
ID_COLUMNS: tuple[str, ...] = ("patient_id", "ccta_id", "ecg_id")
#: Canonical columns holding exam dates and times.
TIME_COLUMNS: tuple[str, ...] = ("ccta_time", "ecg_time")
#: Canonical columns holding a patient's file.
PATH_COLUMNS: tuple[str, ...] = ("ecg_path",)

_TOKEN = re.compile(r"[A-Za-z0-9]+")


def cohort_identifiers(table: str | Path, export_map: ExportMap) -> dict[str, set[str]]:
    """Identifying strings of an export, by kind: ``{"patient_id": {...}, "ccta_time": {...}, ...}``.

    The export is read through its column map (:func:`ecglib.data.cohort.apply_map`), as the run read
    it, so ids the map derives (an ECG id from the file name, a CCTA key from patient and date)
    are included and times are parsed with the run's own day/month rule. Times are listed as
    written in the export and as ISO dates (``YYYY-MM-DD``, the form a table in the book would
    print); ECG paths as written, resolved against the table's folder, and their file name
    without suffix.
    """
    table = Path(table)
    raw = read_table(table)
    canonical = apply_map(raw, export_map, source=table.name)
    found: dict[str, set[str]] = {}
    for column in ID_COLUMNS:
        if column in canonical:
            found[column] = _strings(canonical[column])
    for column in TIME_COLUMNS:
        source = export_map.columns.get(column)
        written = _strings(raw[source]) if source in raw.columns else set()
        found[column] = written | set(canonical[column].dropna().dt.strftime("%Y-%m-%d"))
    for column in PATH_COLUMNS:
        written = _strings(canonical[column])
        paths = [Path(v) for v in written]
        found[column] = (
            written
            | {str(p if p.is_absolute() else (table.parent / p).resolve()) for p in paths}
            | {p.stem for p in paths if p.stem}
        )
    return found


def _strings(values: pd.Series) -> set[str]:
    return {str(v).strip() for v in values.dropna() if str(v).strip()}


def run_identifiers(params) -> dict[str, set[str]]:
    """:func:`cohort_identifiers` of a run's export (``params.data``)."""
    return cohort_identifiers(
        params.path(params.data.table), ExportMap.from_yaml(params.path(params.data.map))
    )


def scan_identifiers(folder: str | Path, identifiers: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """Every occurrence of ``identifiers`` in the files under ``folder``, without the values.

    Returns one row per file and kind of identifier: ``file`` (relative to ``folder``), ``kind``
    (the key of ``identifiers``), ``hits`` (occurrences) and ``distinct`` (different values
    found). Empty when nothing was found. Files are read as bytes (Latin-1), so images and
    compressed files are scanned too, for what their raw bytes hold.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder (build the book first)")
    # needles by their first alphanumeric token: the fast path is a set intersection per file
    by_first: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for kind, values in identifiers.items():
        for value in values:
            tokens = _TOKEN.findall(value)
            if tokens:
                by_first[tokens[0]].append((kind, value))
    rows = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("latin-1")
        if by_first.keys().isdisjoint(_TOKEN.findall(text)):
            continue
        hits: dict[str, list[str]] = defaultdict(list)
        for match in _TOKEN.finditer(text):
            for kind, value in by_first.get(match.group(), ()):
                start, end = match.start(), match.start() + len(value)
                if text.startswith(value, start) and not _alnum(text, end):
                    hits[kind].append(value)
        for kind, values in hits.items():
            rows.append(
                dict(
                    file=str(path.relative_to(folder)),
                    kind=kind,
                    hits=len(values),
                    distinct=len(set(values)),
                )
            )
    return pd.DataFrame(rows, columns=["file", "kind", "hits", "distinct"])


def _alnum(text: str, index: int) -> bool:
    return index < len(text) and text[index].isascii() and text[index].isalnum()
