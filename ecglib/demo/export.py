"""Write the demo cohort as a hospital would export it: one CSV table plus one ``.npy`` file per ECG.

The export deliberately is *not* the canonical cohort table (hospital column names, free-text grades
and symptoms, two file orientations), so that the demo runs through the same column map and label
map as a real hospital's export. Layout::

    <out_dir>/export.csv          one row per ECG paired with a CCTA exam (columns: EXPORT_COLUMNS)
    <out_dir>/ecg/<ECG ID>.npy    float32 mV; internal site (12, 5000), external site (5000, 12)

The directory is written under a temporary name beside ``out_dir`` and renamed into place, so an
interrupted run never leaves a half-written export that looks complete, and nothing stale survives.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ecglib.demo.cohort import EXPORT_COLUMNS, CohortSize, DemoCohort, make_demo_cohort
from ecglib.demo.ecg import iter_ecg_chunks

TABLE_NAME = "export.csv"
ECG_DIR = "ecg"


def write_demo_export(
    out_dir: str | Path,
    size: str | CohortSize = "small",
    seed: int = 0,
    progress: bool = True,
    chunk_size: int = 128,
) -> Path:
    """Generate the demo cohort and write its raw export; returns the path of ``export.csv``.

    The same ``size`` and ``seed`` give a byte-identical export (and the same cohort as
    ``make_demo_cohort(size, seed)``, whose ``truth`` holds what the export hides). An existing
    ``out_dir`` is replaced only if it holds nothing but a previous demo export; anything else raises
    ``FileExistsError`` rather than deleting someone's files.
    """
    out_dir = Path(out_dir).resolve()
    _check_replaceable(out_dir)
    cohort = make_demo_cohort(size, seed)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.writing-", dir=out_dir.parent))
    try:
        _write_ecgs(cohort, staging, progress=progress, chunk_size=chunk_size)
        cohort.table.to_csv(
            staging / TABLE_NAME, index=False, encoding="utf-8", lineterminator="\n"
        )
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / TABLE_NAME


def _write_ecgs(cohort: DemoCohort, root: Path, *, progress: bool, chunk_size: int) -> None:
    """Simulate chunk by chunk (bounded memory) and save each record in its site's orientation."""
    (root / ECG_DIR).mkdir()
    files = cohort.table["ECG file"].to_numpy()
    samples_first = cohort.truth["samples_first"].to_numpy()
    with tqdm(total=len(files), unit="ECG", desc="demo ECGs", disable=not progress) as bar:
        for rows, signals in iter_ecg_chunks(cohort.params, chunk_size=chunk_size):
            for k, i in enumerate(range(rows.start, rows.stop)):
                signal = signals[k].T if samples_first[i] else signals[k]
                np.save(root / files[i], np.ascontiguousarray(signal))
            bar.update(rows.stop - rows.start)


def _check_replaceable(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir():
        content = {p.name for p in out_dir.iterdir()}
        foreign = sorted(content - {TABLE_NAME, ECG_DIR})
        if foreign:
            raise FileExistsError(
                f"{out_dir} holds files other than a demo export ({foreign[:5]}); "
                "choose an empty or new directory"
            )


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging`` with renames, removing the old export last."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        out_dir.rename(old / out_dir.name)
    staging.rename(out_dir)
    if old is not None:
        shutil.rmtree(old)


def main(argv: list[str] | None = None) -> None:
    """``python -m ecglib.demo.export OUT_DIR [--size small|medium|paper] [--seed N]``"""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", default="small", choices=["small", "medium", "paper"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_demo_export(args.out_dir, size=args.size, seed=args.seed)
    print(path)


__all__ = ["EXPORT_COLUMNS", "write_demo_export"]

if __name__ == "__main__":
    main()
