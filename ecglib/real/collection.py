"""Where the shared real ECG records live, and which databases and licences they come from.

The real WFDB records stay outside the repository, in ``../shared/data`` beside it (``cinc/``:
PhysioNet/CinC Challenge 2020/2021 training records, CC BY 4.0; ``ptbdb/``: PTB Diagnostic ECG
Database, ODC-By 1.0; each folder's ``LICENSE.txt`` gives the citations). :func:`real_data_dir`
finds them; the environment variable :data:`REAL_DATA_ENV` (``ECGLIB_REAL_DATA``) points
elsewhere. Without them it raises :class:`~ecglib.errors.MissingInputError`, which a chapter
turns into a skipped part. :func:`sources_table` lists the source databases of a folder's
records with the licence read from each folder's ``LICENSE.txt``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ecglib.config import PROJECT_ROOT, resolve_path
from ecglib.errors import MissingInputError

if TYPE_CHECKING:
    from ecglib.real.beat_yield import RealBeats

__all__ = ["REAL_DATA_ENV", "default_real_data_dir", "real_data_dir", "SOURCES", "sources_table"]

#: Environment variable naming another folder of real records (default: ../shared/data).
REAL_DATA_ENV = "ECGLIB_REAL_DATA"


def default_real_data_dir() -> Path:
    """``shared/data`` beside the repository (``PROJECT_ROOT.parent / "shared" / "data"``)."""
    return PROJECT_ROOT.parent / "shared" / "data"


def real_data_dir() -> Path:
    """The folder of real WFDB records: ``$ECGLIB_REAL_DATA`` (relative paths against the project
    root) or :func:`default_real_data_dir`. Raises :class:`MissingInputError` when it is absent
    or holds no WFDB header."""
    value = os.environ.get(REAL_DATA_ENV)
    folder = resolve_path(value) if value else default_real_data_dir()
    where = f"{REAL_DATA_ENV}={value}" if value else "the default location"
    if not folder.is_dir():
        raise MissingInputError(
            f"the real ECG records are not available: {folder} ({where}) does not exist. They live "
            f"in shared/data beside the repository and are never copied into it; set "
            f"{REAL_DATA_ENV} to the folder holding cinc/ and ptbdb/ to use another copy"
        )
    if next(folder.rglob("*.hea"), None) is None:
        raise MissingInputError(
            f"the real-records folder {folder} ({where}) holds no WFDB header (*.hea)"
        )
    return folder


#: Source database -> (data folder, name, bibliography keys in book/references.bib).
SOURCES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "cpsc_2018": (
        "cinc",
        "China Physiological Signal Challenge 2018",
        ("liu2018cpsc", "perezalday2020challenge"),
    ),
    "cpsc_2018_extra": (
        "cinc",
        "China Physiological Signal Challenge 2018, extra",
        ("liu2018cpsc", "perezalday2020challenge"),
    ),
    "georgia": (
        "cinc",
        "Georgia 12-lead ECG Challenge database (Emory)",
        ("perezalday2020challenge",),
    ),
    "chapman_shaoxing": (
        "cinc",
        "Chapman University - Shaoxing People's Hospital",
        ("zheng2020chapman", "perezalday2020challenge"),
    ),
    "ningbo": ("cinc", "Ningbo First Hospital", ("zheng2020ningbo", "reyna2021challenge")),
    "ptb": (
        "cinc",
        "PTB Diagnostic ECG Database (Challenge copy)",
        ("bousseljot1995ptb", "perezalday2020challenge"),
    ),
    "ptb-xl": ("cinc", "PTB-XL (Challenge copy)", ("wagner2020ptbxl", "perezalday2020challenge")),
    "ptbdb": (
        "ptbdb",
        "PTB Diagnostic ECG Database (with angiography)",
        ("bousseljot1995ptb", "goldberger2000physionet"),
    ),
}
_LICENCE = re.compile(r"\((CC BY [0-9.]+|ODC-By [0-9.]+)\)", re.IGNORECASE)


def _licence(data_dir: Path, folder: str) -> str:
    """The licence named in ``<folder>/LICENSE.txt`` (e.g. ``"CC BY 4.0"``), or a note."""
    path = data_dir / folder / "LICENSE.txt"
    if not path.is_file():
        return "no LICENSE.txt"
    match = _LICENCE.search(path.read_text(encoding="utf-8", errors="replace"))
    return match.group(1) if match else "see LICENSE.txt"


def sources_table(real: RealBeats) -> pd.DataFrame:
    """One row per source database: folder, name, licence (from the folder's LICENSE.txt),
    records and bibliography keys (entries of ``book/references.bib``)."""
    data_dir = real.data_dir
    counts = real.records["source"].value_counts()
    rows = []
    for source in [*SOURCES, *sorted(set(counts.index) - set(SOURCES))]:
        if source not in counts.index:
            continue
        folder, name, keys = SOURCES.get(source, ("?", source, ()))
        rows.append(
            {
                "source": source,
                "folder": folder,
                "database": name,
                "licence": _licence(data_dir, folder),
                "records": int(counts[source]),
                "references": ", ".join(keys),
            }
        )
    return pd.DataFrame(
        rows, columns=["source", "folder", "database", "licence", "records", "references"]
    )
