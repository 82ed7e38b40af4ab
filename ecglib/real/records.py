"""Every real WFDB record of a data folder, loaded through the project's ECG path, in one table.

:func:`find_records` lists a folder's records: every ``*.hea`` below it, plus every record named
in a PhysioNet ``RECORDS`` file (a listed record without its header is kept, and rejected by
:func:`load_records` with the reason). :func:`load_records` then, for each record,

1. parses the header comments (:func:`ecglib.real.headers.read_header`: age, sex, diagnoses);
2. reads the signal with :func:`ecglib.signals.ecg_read` (WFDB, leads by name, mV);
3. runs :func:`ecglib.signals.ecg_preprocess` on it, which applies :func:`ecglib.signals.ecg_check`
   (non-finite, flat, saturated leads) and the length rule, i.e. exactly what decides whether
   the ECG would enter a run's ECG store,

and returns one row per record with ``status`` ``"ok"`` or ``"rejected"`` and the ``reason``.
Only :class:`~ecglib.errors.DataError` (and its subclass :class:`~ecglib.errors.SignalError`) is
caught, and each is recorded against its record; any other exception is a bug and propagates.

Source databases (:func:`source_of`) follow the Challenge's record-name prefixes
(``../shared/data/cinc/LICENSE.txt``): ``A*`` cpsc_2018, ``Q*`` cpsc_2018_extra, ``E*`` georgia,
``HR*`` ptb-xl, ``S*`` ptb, ``I*`` incart, ``JS00001-JS10646`` chapman_shaoxing and
``JS10647-JS45551`` ningbo; PTB Diagnostic ECG Database names (``s0010_re``) and records under a
``ptbdb`` folder are ``ptbdb``; PTB-XL's own file names (``00001_hr``, ``00001_lr``) are ptb-xl.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ecglib.errors import DataError
from ecglib.real.headers import Header, read_header
from ecglib.real.snomed import describe, rhythm_of, states_rhythm
from ecglib.signals import ecg_preprocess, ecg_read

#: Values of the ``status`` column.
STATUSES: tuple[str, ...] = ("ok", "rejected")
#: Columns of the :func:`load_records` table, in order.
COLUMNS: tuple[str, ...] = (
    "record",
    "relpath",
    "path",
    "source",
    "header_format",
    "age",
    "sex",
    "dx_codes",
    "diagnosis",
    "rhythm",
    "rhythm_stated",
    "fs",
    "n_samples",
    "status",
    "failed_at",
    "reason",
)
#: Last record number of Chapman-Shaoxing in the Challenge's JS numbering; Ningbo follows.
CHAPMAN_LAST_JS = 10646

_PREFIXES = (
    (re.compile(r"^A\d+$"), "cpsc_2018"),
    (re.compile(r"^Q\d+$"), "cpsc_2018_extra"),
    (re.compile(r"^E\d+$"), "georgia"),
    (re.compile(r"^HR\d+$"), "ptb-xl"),
    (re.compile(r"^S\d+$"), "ptb"),
    (re.compile(r"^I\d+$"), "incart"),
    (re.compile(r"^s\d{4}[a-z_]{3,4}$"), "ptbdb"),
    (re.compile(r"^\d{5}_(?:hr|lr)$"), "ptb-xl"),
)


@dataclass(frozen=True)
class RecordRef:
    """One record of a folder: ``record`` (the WFDB name), ``relpath`` (relative to the folder,
    without ``.hea``), ``path`` (the header file) and whether that header exists."""

    record: str
    relpath: str
    path: Path
    exists: bool = True


def source_of(record: str, relpath: str | None = None) -> str:
    """The source database of a record, from its name (and its folder for ``ptbdb``); names
    that match no rule give ``"unknown"``."""
    name = str(record)
    if relpath is not None and "ptbdb" in Path(relpath).parts:
        return "ptbdb"
    m = re.fullmatch(r"JS(\d+)", name)
    if m:
        return "chapman_shaoxing" if int(m.group(1)) <= CHAPMAN_LAST_JS else "ningbo"
    for pattern, source in _PREFIXES:
        if pattern.match(name):
            return source
    return "unknown"


def find_records(folder: str | os.PathLike) -> list[RecordRef]:
    """Every record below ``folder``: each ``*.hea`` file and each entry of each ``RECORDS``
    file (relative to that file's folder), deduplicated, sorted by relative path."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(str(root), "data folder not found")
    found: dict[str, RecordRef] = {}
    for hea in root.rglob("*.hea"):
        rel = hea.relative_to(root).with_suffix("").as_posix()
        found[rel] = RecordRef(record=hea.stem, relpath=rel, path=hea, exists=True)
    for listing in root.rglob("RECORDS"):
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            entry = line.strip().rstrip("/")
            if not entry or entry.startswith("#"):
                continue
            hea = listing.parent / f"{entry}.hea"
            rel = hea.relative_to(root).with_suffix("").as_posix()
            if rel not in found:
                found[rel] = RecordRef(
                    record=Path(entry).name, relpath=rel, path=hea, exists=hea.is_file()
                )
    return [found[k] for k in sorted(found)]


def load_records(folder: str | os.PathLike, *, progress: bool = False) -> pd.DataFrame:
    """Load and check every record of ``folder``; one row per record (columns :data:`COLUMNS`).

    ``path`` is the header file, ``relpath`` the record relative to the folder.
    ``age`` (float, NaN when unknown), ``sex`` (``male``/``female``/None) and ``dx_codes`` (the
    SNOMED CT codes, comma-separated as in the headers; CPSC 2018 abbreviations mapped) come from
    the header; ``diagnosis`` names the codes (PTB: the reason for admission); ``rhythm`` is
    :func:`ecglib.real.snomed.rhythm_of` of the codes, and None for headers without a ``Dx``
    line (PTB); ``rhythm_stated`` says whether any code states a rhythm at all (an ``"other"``
    record without one is unstated, not abnormal). ``fs`` and ``n_samples`` are the
    recording's (from the signal when it could be read, else from the header's record line).
    ``failed_at`` is the first failing step (``header``, ``read`` or ``check``) and ``reason``
    every failure's message, joined by ``"; "``; both are empty for ``ok`` records.

    The ``relpath`` of a PTB record loaded from the ``ptbdb`` folder itself is
    ``patient001/s0010_re``; loaded from ``../shared/data`` it is ``ptbdb/patient001/s0010_re``.
    The table holds record names: keep it out of the book's text (no ECG ids there).
    """
    rows = []
    refs = find_records(folder)
    for ref in tqdm(refs, desc="real ECG records", unit="rec", disable=not progress):
        rows.append(_load_one(ref))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["age"] = table["age"].astype(float)
    return table


def _load_one(ref: RecordRef) -> dict:
    row: dict = {
        "record": ref.record,
        "relpath": ref.relpath,
        "path": str(ref.path),
        "source": source_of(ref.record, ref.relpath),
        "header_format": None,
        "age": np.nan,
        "sex": None,
        "dx_codes": "",
        "diagnosis": "",
        "rhythm": None,
        "rhythm_stated": None,
        "fs": np.nan,
        "n_samples": np.nan,
    }
    failures: list[tuple[str, str]] = []
    header: Header | None = None
    if not ref.exists:
        failures.append(("read", f"listed in RECORDS but {ref.path.name} does not exist"))
    else:
        try:
            header = read_header(ref.path, record=ref.record)
        except DataError as exc:
            failures.append(("header", exc.problem))
    if header is not None:
        row["header_format"] = header.format
        row["age"] = np.nan if header.age is None else header.age
        row["sex"] = header.sex
        row["dx_codes"] = ",".join(header.dx_snomed)
        if header.format == "challenge":
            row["rhythm"] = rhythm_of(header.dx_snomed)
            row["rhythm_stated"] = states_rhythm(header.dx_snomed)
            row["diagnosis"] = describe(header.dx_snomed)
        elif header.format == "ptb":
            row["diagnosis"] = header.get("Reason for admission") or ""
        row["fs"] = np.nan if header.fs is None else header.fs
        row["n_samples"] = np.nan if header.n_samples is None else header.n_samples
    if ref.exists:
        try:
            ecg = ecg_read(ref.path, record_id=ref.record)
        except DataError as exc:
            failures.append(("read", exc.problem))
        else:
            row["fs"], row["n_samples"] = ecg.fs, ecg.n_samples
            try:
                ecg_preprocess(ecg, record_id=ref.record)
            except DataError as exc:
                failures.append(("check", exc.problem))
    row["status"] = "rejected" if failures else "ok"
    row["failed_at"] = failures[0][0] if failures else ""
    row["reason"] = "; ".join(problem for _, problem in failures)
    return row


def summarise(table: pd.DataFrame, by: str | list[str] = "source") -> pd.DataFrame:
    """Counts of ``ok`` and ``rejected`` records per group (``source``, ``rhythm``, ...), with a
    total row and column; missing group values are shown as ``"(none)"``."""
    keys = [by] if isinstance(by, str) else list(by)
    data = table.assign(**{k: table[k].fillna("(none)") for k in keys})
    counts = pd.crosstab(
        [data[k] for k in keys], data["status"], margins=True, margins_name="total"
    )
    return counts.reindex(
        columns=[*[s for s in STATUSES if s in counts.columns], "total"], fill_value=0
    )


def read_ok_signals(table: pd.DataFrame, *, dtype=np.float32) -> np.ndarray:
    """The raw signals (mV, :data:`~ecglib.schema.LEADS` order) of the table's ``ok`` rows,
    stacked as (n_ok, 12, T) in row order. All must share one rate and length (true of
    ``../shared/data``: 500 Hz, 5000 samples); otherwise a ``ValueError`` says which differ."""
    ok = table[table["status"] == "ok"]
    shapes = ok[["fs", "n_samples"]].drop_duplicates()
    if len(shapes) > 1:
        raise ValueError(
            f"records differ in rate/length ({shapes.to_dict('records')}); "
            "resample them (ecglib.signals.ecg_preprocess) before stacking"
        )
    if ok.empty:
        return np.empty((0, 12, 0), dtype=dtype)
    out = np.empty((len(ok), 12, int(ok["n_samples"].iloc[0])), dtype=dtype)
    for i, (path, record) in enumerate(zip(ok["path"], ok["record"])):
        out[i] = ecg_read(path, record_id=record).signal
    return out
