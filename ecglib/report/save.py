"""Saving a chapter's outputs where the run keeps them, de-identified, and gluing its numbers.

Every table and figure a notebook writes goes through :func:`save`: a DataFrame is refused when
a column or index level identifies a patient, an ECG or an exam, or holds a date
(:data:`IDENTIFYING_COLUMNS`), so nothing the run saves as a metric can carry one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglib.paths import RunPaths

__all__ = [
    "IDENTIFYING_COLUMNS",
    "check_deidentified",
    "save_table",
    "save_json",
    "save",
    "glue_numbers",
    "download_links",
    "BOOK_ROOT_ENV",
    "download_target",
    "glue_figure",
    "figure_image",
]

#: Columns that identify a patient, an ECG or an examination, or hold a date: never in a table
#: the book shows or a run saves as a metric.
IDENTIFYING_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "ecg_id",
    "ecg_path",
    "ccta_id",
    "ecg_time",
    "ccta_time",
    "ecg_diagnosis",
)


def check_deidentified(table: pd.DataFrame, what: str = "table") -> pd.DataFrame:
    """``table`` unchanged, or ``ValueError`` when a column or index level identifies a patient,
    an ECG or an exam, or holds a date (:data:`IDENTIFYING_COLUMNS`)."""
    names = [*map(str, table.columns), *[str(n) for n in table.index.names if n is not None]]
    bad = sorted(set(names) & set(IDENTIFYING_COLUMNS))
    dated = [str(c) for c in table.columns if pd.api.types.is_datetime64_any_dtype(table[c])]
    if bad or dated:
        raise ValueError(
            f"{what} holds identifying or date column(s) {bad + dated}; the book "
            "and the run's metrics never do"
        )
    return table


def save_table(
    table: pd.DataFrame, folder: str | os.PathLike, name: str, *, index: bool = False
) -> Path:
    """Write a metric table as ``<folder>/<name>.csv`` (after :func:`check_deidentified`)."""
    check_deidentified(table, name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    table.to_csv(path, index=index)
    return path


def save_json(numbers: Mapping[str, Any], folder: str | os.PathLike, name: str) -> Path:
    """Write plain numbers as ``<folder>/<name>.json`` (NaN and infinities as null)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(
        json.dumps({k: _plain(v) for k, v in numbers.items()}, indent=1, sort_keys=True),
        encoding="utf-8",
    )
    return path


def save(value: Any, paths: RunPaths, name: str) -> list[Path]:
    """Save a chapter output where the run keeps it: a matplotlib Figure as PNG and PDF under
    ``paths.figures`` (:func:`ecglib.plots.style.save_figure`), a DataFrame as CSV and a mapping as
    JSON under ``paths.metrics``. Returns the files written (what :func:`download_links` offers
    for download): every file named ``<name>.*`` in that folder."""
    from matplotlib.figure import Figure

    from ecglib.plots.style import save_figure

    if isinstance(value, Figure):
        folder = save_figure(value, paths.figures, name).parent
    elif isinstance(value, pd.DataFrame):
        named_index = any(n is not None for n in value.index.names)
        folder = save_table(value, paths.metrics, name, index=named_index).parent
    elif isinstance(value, Mapping):
        folder = save_json(value, paths.metrics, name).parent
    else:
        raise TypeError(
            f"cannot save a {type(value).__name__} ({name}); expected a Figure, a "
            "DataFrame or a mapping"
        )
    # every format the saver wrote (a figure's PNG and PDF, and any later one), largest last
    return sorted(folder.glob(f"{name}.*"), key=lambda p: (p.suffix != ".csv", p.suffix))


#: Set by the pipeline to the folder the book is built from (its Sphinx source folder), so that
#: a page's download links resolve wherever the book is built (``pipeline.run(root=...)``).
BOOK_ROOT_ENV = "ECGLIB_BOOK_ROOT"


def download_target(path: str | os.PathLike) -> str:
    """``path`` as a ``{download}`` role's target: from the book's source folder
    (:data:`BOOK_ROOT_ENV`, else the repository) with a leading ``/``, which Sphinx reads from
    the source folder whichever page the role is on (a page's text or a glued MyST cell)."""
    from ecglib.config import PROJECT_ROOT

    root = Path(os.environ.get(BOOK_ROOT_ENV) or PROJECT_ROOT).resolve()
    return "/" + os.path.relpath(Path(path).resolve(), root).replace(os.sep, "/")


def download_links(files: list[Path], *, label: str = "Download") -> str:
    """A Markdown line of ``{download}`` links to saved files (``"Download: auc.csv ·
    roc.pdf"``), which the book build copies beside the page (targets from
    :func:`download_target`). Empty without files."""
    if not files:
        return ""
    links = [f"{{download}}`{Path(path).name} <{download_target(path)}>`" for path in files]
    return f"{label}: " + " · ".join(links)


def glue_numbers(numbers: Mapping[str, Any]) -> None:
    """``myst_nb.glue`` every entry (not displayed), for ``{glue:text}`` in the chapter's text."""
    from myst_nb import glue

    for key, value in numbers.items():
        glue(key, _plain(value, nan=math.nan), display=False)


def _plain(value: Any, nan: Any = None) -> Any:
    """A JSON-friendly scalar: numpy scalars to Python, non-finite floats to ``nan``."""
    if isinstance(value, (np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else nan
    return value


def figure_image(png: str | os.PathLike, alt: str):
    """The saved PNG as a displayable image whose output metadata carries ``alt``.

    myst-nb renders a glued image's ``width``/``height`` from its output metadata but not its
    ``alt``; the book's Sphinx extension (``book/_ext/book_fixes.py``) reads ``alt`` from the same
    place. The displayed width is half the PNG's pixels (the PNG is drawn at 200 dpi, shown at
    about 100 px per inch), so the image is sharp on high-density screens.
    """
    from IPython.display import Image

    data = Path(png).read_bytes()
    image = Image(data=data, format="png", metadata={"alt": alt})
    width = _png_width(data)
    if width:
        image.width = width // 2
    return image


def glue_figure(name: str, png: str | os.PathLike, alt: str) -> None:
    """``myst_nb.glue`` the saved PNG under ``name`` (not displayed), with ``alt`` as its alt
    text (:func:`figure_image`), for the page's ``{glue:figure}`` directive."""
    from myst_nb import glue

    if not alt or not alt.strip():
        raise ValueError(f"figure {name!r} needs an alt text that says what it shows")
    glue(name, figure_image(png, alt), display=False)


def _png_width(data: bytes) -> int | None:
    """The pixel width in a PNG's IHDR chunk (bytes 16-20), None when ``data`` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(data[16:20], "big")
