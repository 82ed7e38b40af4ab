"""From a params file to a validated cohort table and its ECG store, the first step of a run.

:func:`prepare_data` writes the cohort table and the exclusion flow into the run folder;
:func:`exclusion_flow` gives that flow with a stable ``kind`` per step, so that a reader picks a
step by what it is (``"ecg_after_ccta"``) and not by the sentence the book shows for it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecglib import schema
from ecglib.config import RunParams
from ecglib.data.cohort import ExclusionReport, ExportMap, read_export
from ecglib.data.store import EcgStore, StoreSettings, build_store
from ecglib.errors import DataError
from ecglib.paths import RunPaths

__all__ = [
    "PreparedData",
    "prepare_data",
    "problem_kind",
    "exclusion_flow",
    "step_kind",
    "STEP_KINDS",
    "BAD_ECG_STEP",
    "BAD_ECG_KIND",
    "read_cohort",
    "ensure_demo_export",
]

#: Columns of the cohort table that hold times (parsed back when the table is read).
_TIME_COLUMNS = ("ecg_time", "ccta_time")

#: The exclusion flow's steps (their text in :meth:`ExclusionReport.table`) by stable kind:
#: the first row, and the rules of :func:`ecglib.data.cohort.apply_rules`.
STEP_KINDS: dict[str, str] = {
    "rows in the export": "export",
    "duplicate row": "duplicate_row",
    "ECG acquired after its CCTA": "ecg_after_ccta",
    "a vessel without a CCTA grade": "ungraded_vessel",
}
#: How :func:`prepare_data` names the step of the ECG files that failed with one kind of
#: problem (:func:`problem_kind`), and that step's kind in :func:`exclusion_flow`.
BAD_ECG_STEP = "ECG file failed: {}"
BAD_ECG_KIND = "bad_ecg_file"


@dataclass
class PreparedData:
    """The validated cohort table, its exclusions and its ECG store (:func:`prepare_data`)."""

    cohort: pd.DataFrame
    report: ExclusionReport
    store: EcgStore

    @property
    def flow(self) -> pd.DataFrame:
        """The exclusion flow with each step's ``kind`` (:func:`exclusion_flow`)."""
        return exclusion_flow(self.report)


def prepare_data(params: RunParams, *, progress: bool = True) -> PreparedData:
    """Generate the demo export if the run asks for one, read the export through its map,
    apply the inclusion rules, preprocess every ECG into the store, and write the cohort table
    and the exclusion flow into the run folder."""
    paths = RunPaths.of(params).ensure()
    if params.demo is not None:
        ensure_demo_export(params, progress=progress)
    cohort, report = read_export(
        params.path(params.data.table),
        ExportMap.from_yaml(params.path(params.data.map)),
        ecg_root=params.path(params.data.ecg_root) if params.data.ecg_root else None,
    )

    settings = StoreSettings(
        npy_fs=params.signals.npy_fs,
        length_policy=params.signals.length_policy,
        filter=params.signals.filter,
    )
    store, failures = build_store(
        cohort["ecg_path"], paths.store, settings, records=cohort["ecg_id"], progress=progress
    )
    if len(failures):
        if params.data.on_bad_ecg == "raise":
            listing = "\n".join(
                f"  {r.record}: {r.problem}" for r in failures.head(20).itertuples()
            )
            more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
            raise DataError(
                f"{len(failures)} ECG file(s)",
                f"failed to load or check (set data.on_bad_ecg: exclude to leave them "
                f"out with a line in the exclusion report):\n{listing}{more}",
            )
        kinds = failures["problem"].map(problem_kind)
        for kind, group in failures.groupby(kinds, sort=False):
            bad = cohort.index[cohort["ecg_path"].isin(group["ecg_path"])]
            report.add(BAD_ECG_STEP.format(kind), bad)
            cohort = cohort.drop(index=bad)
        cohort = cohort.reset_index(drop=True)

    cohort.to_csv(paths.cohort, index=False)
    report.table().to_csv(paths.exclusions, index=False)
    return PreparedData(cohort=cohort, report=report, store=store)


def problem_kind(problem: str) -> str:
    """The kind of a signal problem, for the exclusion flow: the message up to its first detail
    (``"flat lead(s) V2 (peak-to-peak ...)"`` -> ``"flat lead"``), so that records with the
    same problem share a step and no file path reaches the book."""
    kind = re.split(r"[:(;]", problem, maxsplit=1)[0]
    kind = re.sub(r"\s*\S*[/\\]\S*", "", kind).strip()  # drop file paths
    return kind or "unreadable ECG file"


def exclusion_flow(report: ExclusionReport) -> pd.DataFrame:
    """The exclusion flow (:meth:`ExclusionReport.table`: ``step``, ``excluded``,
    ``remaining``) with a ``kind`` column first: the step's stable key (:data:`STEP_KINDS`,
    :data:`BAD_ECG_KIND`), for selecting a step without matching the text the book shows.

    A step of unknown kind raises ``ValueError``: a renamed or new rule must be given its kind
    here, rather than a selection by kind silently finding nothing.
    """
    flow = report.table()
    flow.insert(0, "kind", [step_kind(step) for step in flow["step"]])
    return flow


def step_kind(step: str) -> str:
    """The stable kind of an exclusion step's text (:func:`exclusion_flow`)."""
    if step in STEP_KINDS:
        return STEP_KINDS[step]
    prefix = BAD_ECG_STEP.format("")
    if step.startswith(prefix):
        return BAD_ECG_KIND
    raise ValueError(
        f"exclusion step {step!r} has no kind: add it to ecglib.data.prepare.STEP_KINDS"
    )


def read_cohort(path: str | Path) -> pd.DataFrame:
    """A cohort table written by :func:`prepare_data`, with its types restored."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "no cohort table; run notebooks/00_data.ipynb first")
    cohort = pd.read_csv(
        path,
        dtype={"patient_id": str, "ecg_id": str, "ccta_id": str, "ecg_path": str},
        parse_dates=list(_TIME_COLUMNS),
    )
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
    table = demo.write_demo_export(
        out_dir, size=params.demo.size, seed=params.seed, progress=progress
    )
    stamp.write_text(json.dumps(wanted))
    return table
