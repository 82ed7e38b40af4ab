"""The ECG store: every ECG of a cohort preprocessed once into one memory-mapped array.

Layout of a store folder::

    signals.npy   float32 (n_ecgs, 12, 5000), opened with ``mmap_mode="r"``
    index.csv     one row per distinct ECG file: row, ecg_path, size, mtime_ns, sha256
    meta.json     the preprocessing settings and the fingerprint of all inputs

The fingerprint is a hash of the preprocessing settings and the *content* hash of every file,
so a store is reused while its inputs are unchanged and rebuilt when any file or setting
changes. File hashes are cached by (size, mtime) so that checking a large cohort costs a stat
per file, not a read. Training and evaluation read batches straight from the memory map.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ecglib import schema
from ecglib.errors import DataError, SignalError
from ecglib.signals import ecg_preprocess

#: Bumped when preprocessing code changes in a way that invalidates existing stores.
STORE_VERSION = 1


@dataclass(frozen=True)
class StoreSettings:
    npy_fs: float = float(schema.FS)
    length_policy: str = "start"
    filter: str = "none"
    n_samples: int = schema.N_SAMPLES


@dataclass
class EcgStore:
    """Preprocessed signals and the index that maps ECG files to rows."""

    folder: Path
    signals: np.ndarray
    index: pd.DataFrame
    reused: bool = False

    def __len__(self) -> int:
        return len(self.index)

    def rows_for(self, ecg_paths: pd.Series) -> np.ndarray:
        """Store rows of the given ECG files (a cohort's ``ecg_path`` column)."""
        lookup = pd.Series(self.index["row"].to_numpy(), index=self.index["ecg_path"])
        missing = ~ecg_paths.isin(lookup.index)
        if missing.any():
            raise DataError(ecg_paths[missing].iloc[0], "ECG file is not in the store; rebuild it")
        return lookup.loc[ecg_paths].to_numpy()


def build_store(
    ecg_paths: pd.Series,
    folder: str | Path,
    settings: StoreSettings = StoreSettings(),
    *,
    records: pd.Series | None = None,
    progress: bool = True,
) -> tuple[EcgStore, pd.DataFrame]:
    """Preprocess every distinct ECG file into ``folder``, or reuse an up-to-date store.

    ``records`` names each path in messages (e.g. the cohort's ``ecg_id``). Returns the store
    and a table of the files that failed (``ecg_path``, ``record``, ``problem``); the caller
    decides whether failures stop the run or are excluded. A failing file never enters the
    store as zeros: the store holds the files that passed.
    """
    folder = Path(folder)
    records = records if records is not None else ecg_paths
    names = dict(zip(ecg_paths, records.astype(str)))
    paths = list(dict.fromkeys(ecg_paths))  # distinct, in cohort order
    hashes, failures = _hash_files(paths, names, folder, progress)
    fingerprint = _fingerprint(settings, hashes)

    existing = _read_meta(folder)
    if existing and existing.get("fingerprint") == fingerprint:
        store = open_store(folder)
        store.reused = True
        return store, pd.DataFrame(existing["failures"], columns=["ecg_path", "record", "problem"])

    ok = [p for p in paths if p in hashes]
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    signals = np.lib.format.open_memmap(
        tmp / "signals.npy",
        mode="w+",
        dtype=np.float32,
        shape=(len(ok), len(schema.LEADS), settings.n_samples),
    )
    kept = []
    for path in tqdm(ok, desc="preprocessing ECGs", unit="ecg", disable=not progress):
        try:
            signals[len(kept)] = ecg_preprocess(
                path,
                fs=settings.npy_fs,
                record_id=names[path],
                n_samples=settings.n_samples,
                length_policy=settings.length_policy,
                filter=settings.filter,
            )
        except SignalError as exc:
            failures.append((path, names[path], exc.problem))
            continue
        kept.append(path)
    signals.flush()
    del signals
    if len(kept) < len(ok):  # shrink to the files that passed, in order
        full = np.load(tmp / "signals.npy", mmap_mode="r")
        np.save(tmp / "signals.kept.npy", full[: len(kept)])
        del full
        os.replace(tmp / "signals.kept.npy", tmp / "signals.npy")

    index = pd.DataFrame({"row": np.arange(len(kept)), "ecg_path": kept})
    stats = [hashes[p] for p in kept]
    index["size"] = [s[0] for s in stats]
    index["mtime_ns"] = [s[1] for s in stats]
    index["sha256"] = [s[2] for s in stats]
    index.to_csv(tmp / "index.csv", index=False)
    meta = {
        "version": STORE_VERSION,
        "settings": asdict(settings),
        "fingerprint": fingerprint,
        "shape": [len(kept), len(schema.LEADS), settings.n_samples],
        "failures": failures,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)  # a store is complete or absent, never half-written
    return open_store(folder), pd.DataFrame(failures, columns=["ecg_path", "record", "problem"])


def open_store(folder: str | Path) -> EcgStore:
    folder = Path(folder)
    if _read_meta(folder) is None:
        raise DataError(str(folder), "no ECG store here; run notebooks/00_data.ipynb first")
    signals = np.load(folder / "signals.npy", mmap_mode="r")
    index = pd.read_csv(folder / "index.csv", dtype={"ecg_path": str})
    return EcgStore(folder=folder, signals=signals, index=index)


def _read_meta(folder: Path) -> dict | None:
    meta = folder / "meta.json"
    if not meta.exists():
        return None
    data = json.loads(meta.read_text())
    return data if data.get("version") == STORE_VERSION else None


def _hash_files(
    paths: list[str], names: dict, folder: Path, progress: bool
) -> tuple[dict[str, tuple[int, int, str]], list[tuple[str, str, str]]]:
    """(size, mtime_ns, sha256) per readable file, reusing cached hashes of unchanged files."""
    cached = {}
    if (folder / "index.csv").exists():
        old = pd.read_csv(folder / "index.csv", dtype={"ecg_path": str, "sha256": str})
        cached = {r.ecg_path: (r.size, r.mtime_ns, r.sha256) for r in old.itertuples()}
    hashes, failures = {}, []
    for path in tqdm(
        paths, desc="checking ECG files", unit="file", disable=not progress, leave=False
    ):
        files = _record_files(path)
        try:
            stats = [os.stat(f) for f in files]
        except OSError as exc:
            failures.append(
                (path, names[path], f"ECG file cannot be opened: {exc.strerror} ({exc.filename})")
            )
            continue
        size = sum(s.st_size for s in stats)
        mtime = max(s.st_mtime_ns for s in stats)
        hit = cached.get(path)
        if hit and hit[0] == size and hit[1] == mtime:
            hashes[path] = hit
        else:
            hashes[path] = (size, mtime, _sha256(files))
    return hashes, failures


def _record_files(path: str) -> list[str]:
    """The files whose bytes make up one ECG: the file itself, or a WFDB header and its signal
    files (given as ``rec.hea`` or as the base name ``rec``)."""
    base = path[:-4] if path.endswith(".hea") else path
    if path.endswith(".hea") or (not os.path.exists(path) and os.path.exists(base + ".hea")):
        header = base + ".hea"
        return [header] + sorted(
            str(p) for p in Path(base).parent.glob(Path(base).name + ".*") if p.suffix != ".hea"
        )
    return [path]


def _sha256(files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        with open(name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _fingerprint(settings: StoreSettings, hashes: dict[str, tuple[int, int, str]]) -> str:
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    digest.update(str(STORE_VERSION).encode())
    for path in sorted(hashes):
        digest.update(f"{path}\0{hashes[path][2]}\n".encode())
    return digest.hexdigest()
