"""From a params file to a validated cohort table and its ECG store, the first step of a run."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecglib import schema
from ecglib.data.cohort import ExclusionReport, ExportMap, read_export
from ecglib.config import RunParams
from ecglib.errors import DataError
from ecglib.paths import RunPaths
from ecglib.data.store import EcgStore, StoreSettings, build_store

#: Columns of the cohort table that hold times (parsed back when the table is read).
_TIME_COLUMNS = ("ecg_time", "ccta_time")


@dataclass
class PreparedData:
    cohort: pd.DataFrame
    report: ExclusionReport
    store: EcgStore


def prepare_data(params: RunParams, *, progress: bool = True) -> PreparedData:
    """Generate the demo export if the run asks for one, read the export through its map,
    apply the inclusion rules, preprocess every ECG into the store, and write the cohort table
    and the exclusion flow into the run folder."""
    paths = RunPaths.of(params).ensure()
    if params.demo is not None:
        ensure_demo_export(params, progress=progress)
    cohort, report = read_export(
        params.path(params.data.table), ExportMap.from_yaml(params.path(params.data.map)),
        ecg_root=params.path(params.data.ecg_root) if params.data.ecg_root else None)

    settings = StoreSettings(npy_fs=params.signals.npy_fs,
                             length_policy=params.signals.length_policy,
                             filter=params.signals.filter)
    store, failures = build_store(cohort["ecg_path"], paths.store, settings,
                                  records=cohort["ecg_id"], progress=progress)
    if len(failures):
        if params.data.on_bad_ecg == "raise":
            listing = "\n".join(f"  {r.record}: {r.problem}" for r in failures.head(20).itertuples())
            more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
            raise DataError(f"{len(failures)} ECG file(s)",
                            f"failed to load or check (set data.on_bad_ecg: exclude to leave them "
                            f"out with a line in the exclusion report):\n{listing}{more}")
        kinds = failures["problem"].map(problem_kind)
        for kind, group in failures.groupby(kinds, sort=False):
            bad = cohort.index[cohort["ecg_path"].isin(group["ecg_path"])]
            report.add(f"ECG file failed: {kind}", bad)
            cohort = cohort.drop(index=bad)
        cohort = cohort.reset_index(drop=True)

    cohort.to_csv(paths.cohort, index=False)
    report.table().to_csv(paths.exclusions, index=False)
    return PreparedData(cohort=cohort, report=report, store=store)


def problem_kind(problem: str) -> str:
    """The kind of a signal problem, for the exclusion flow: the message up to its first detail
    (``"flat lead(s) V2 (peak-to-peak ...)"`` -> ``"flat lead(s) V2"``), so that records with the
    same problem share a step and no file path reaches the book."""
    kind = re.split(r"[:(;]", problem, maxsplit=1)[0]
    kind = re.sub(r"\s*\S*[/\\]\S*", "", kind).strip()  # drop file paths
    return kind or "unreadable ECG file"


def read_cohort(path: str | Path) -> pd.DataFrame:
    """A cohort table written by :func:`prepare_data`, with its types restored."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "no cohort table; run notebooks/00_data.ipynb first")
    cohort = pd.read_csv(path, dtype={"patient_id": str, "ecg_id": str, "ccta_id": str,
                                      "ecg_path": str}, parse_dates=list(_TIME_COLUMNS))
    graded = schema.grade_cols(schema.assessed_vessels(cohort))
    cohort[graded] = cohort[graded].astype(int)  # a vessel not assessed stays all-missing
    return cohort


def ensure_demo_export(params: RunParams, *, progress: bool = True) -> Path:
    """Write the synthetic demo export unless an identical one (size, seed) is already there."""
    from ecglib import demo

    out_dir = params.path(params.demo.out_dir)
    stamp = out_dir.with_name(out_dir.name + ".demo.json")  # beside the export, not inside it
    # Any change to the generator's code makes a new export: the sources are its version.
    sources = sorted(Path(demo.__file__).parent.glob("*.py"))
    generator = hashlib.sha256(b"".join(f.read_bytes() for f in sources)).hexdigest()
    wanted = {"size": params.demo.size, "seed": params.seed, "generator": generator}
    table = out_dir / "export.csv"
    if stamp.exists() and table.exists() and json.loads(stamp.read_text()) == wanted:
        return table
    table = demo.write_demo_export(out_dir, size=params.demo.size, seed=params.seed, progress=progress)
    stamp.write_text(json.dumps(wanted))
    return table
