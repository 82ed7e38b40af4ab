"""Which real records yield an average beat, and why the others do not.

Every record of a data folder goes through two stages (:func:`real_beats`), and its ``outcome``
is the first one that stops it:

1. **loading** (:func:`ecglib.real.records.load_records`): the header is parsed, the signal read
   and checked exactly as for a run's ECG store (non-finite, flat, saturated leads; length).
   Outcomes ``"loading: header unreadable"``, ``"loading: signal unreadable"``,
   ``"loading: signal check"``.
2. **beats** (:func:`ecglib.signals.beats.average_beats`, the interpretability chapter's defaults:
   spline baseline, PR-segment reference): R-peak detection with its fallback leads, beat
   extraction and averaging. Outcomes ``"beats: <reason>"``, the exclusion reasons of
   :data:`ecglib.signals.beats.REASONS`.

A record that passes both has outcome ``"averaged"``. Rhythm categories
(:data:`RHYTHM_CATEGORIES`, :func:`rhythm_category`) follow :func:`ecglib.real.snomed.rhythm_of`,
with records whose codes state no rhythm at all (and the PTB records, whose headers carry no
diagnosis codes) counted as ``"not stated"`` instead of ``"other"``. :func:`yield_table` counts
the outcomes per source database or rhythm; :func:`exclusion_table` lists the records without an
average beat by their ``row``, never their name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.errors import MissingInputError
from ecglib.real.collection import SOURCES, real_data_dir
from ecglib.real.records import load_records, read_ok_signals
from ecglib.real.st_groups import st_group
from ecglib.signals.beats import REASONS, average_beats, beat_window, filter_for_beats

__all__ = [
    "RHYTHM_CATEGORIES",
    "LOADING_OUTCOMES",
    "OUTCOMES",
    "rhythm_category",
    "RealBeats",
    "real_beats",
    "yield_table",
    "exclusion_table",
]

#: Rhythm categories of the yield table, in reporting order.
RHYTHM_CATEGORIES: tuple[str, ...] = ("sinus", "AF/flutter", "other", "not stated")
#: ``failed_at`` of :func:`~ecglib.real.records.load_records` -> outcome.
LOADING_OUTCOMES: dict[str, str] = {
    "header": "loading: header unreadable",
    "read": "loading: signal unreadable",
    "check": "loading: signal check",
}
#: Every outcome, in the order of the pipeline: the loading failures, the beat stage's
#: exclusion reasons (:data:`ecglib.signals.beats.REASONS`, as ``"beats: <reason>"``),
#: ``"averaged"``.
OUTCOMES: tuple[str, ...] = (
    *LOADING_OUTCOMES.values(),
    *(f"beats: {r}" for r in REASONS),
    "averaged",
)


def rhythm_category(records: pd.DataFrame) -> pd.Series:
    """:data:`RHYTHM_CATEGORIES` per record: the ``rhythm`` column, with ``"not stated"`` for
    records without diagnosis codes (PTB headers) and for ``"other"`` records whose codes state
    no rhythm (``rhythm_stated`` False)."""
    rhythm = records["rhythm"].astype(object)
    stated = records["rhythm_stated"].astype(object)
    unstated = rhythm.isna() | ((rhythm == "other") & (stated != True))  # noqa: E712
    return rhythm.where(~unstated, "not stated").rename("rhythm_category")


@dataclass(frozen=True, eq=False)
class RealBeats:
    """The real records, their outcome and their average beats.

    ``records``: one row per record (the columns of :func:`~ecglib.real.records.load_records`,
    plus ``row`` (position; the de-identified key), ``rhythm_category``, ``st_group``, ``stage``
    (``loading``/``beats``/empty), ``outcome`` (:data:`OUTCOMES`), ``detail``, and for averaged
    records the detection ``lead``, ``hr``, ``n_beats``). ``average``: (N, 12, 450) float32, NaN
    rows for records without an average beat. ``lead_sd``: (N, 12) SD in mV of each lead after a
    0.67 Hz high-pass (NaN for records not loaded), for the approximate millivolt scale.
    """

    records: pd.DataFrame
    average: np.ndarray
    lead_sd: np.ndarray
    data_dir: Path

    @property
    def averaged(self) -> np.ndarray:
        return (self.records["outcome"] == "averaged").to_numpy()


def real_beats(
    data_dir: str | os.PathLike | None = None,
    *,
    records: pd.DataFrame | None = None,
    n_jobs: int = 1,
    progress: bool = False,
    chunk_size: int = 1000,
) -> RealBeats:
    """Load every record of ``data_dir`` (default :func:`~ecglib.real.collection.real_data_dir`)
    and average the beats of those that load (module docstring). ``records`` reuses a
    :func:`load_records` table. The signals are read ``chunk_size`` records at a time; the
    result does not depend on it."""
    data_dir = real_data_dir() if data_dir is None else Path(data_dir)
    table = load_records(data_dir, progress=progress) if records is None else records.copy()
    if table.empty:
        raise MissingInputError(f"the real-records folder {data_dir} holds no record")
    table = table.reset_index(drop=True)
    table.insert(0, "row", np.arange(len(table)))
    table["rhythm_category"] = rhythm_category(table)
    table["st_group"] = table["dx_codes"].map(st_group)
    ok = (table["status"] == "ok").to_numpy()
    table["stage"] = np.where(ok, "", "loading")
    table["outcome"] = table["failed_at"].map(LOADING_OUTCOMES).where(~ok, "averaged")
    table["detail"] = table["reason"].where(~ok, "")
    for col, value in (("lead", None), ("hr", np.nan), ("n_beats", 0)):
        table[col] = value

    fs = float(table.loc[ok, "fs"].iloc[0]) if ok.any() else float(schema.FS)
    average = np.full(
        (len(table), len(schema.LEADS), sum(beat_window(fs))), np.nan, dtype=np.float32
    )
    lead_sd = np.full((len(table), len(schema.LEADS)), np.nan)
    loaded = np.flatnonzero(ok)
    infos = []
    for start in range(0, len(loaded), chunk_size):  # bounded memory for large folders (PTB-XL)
        idx = loaded[start : start + chunk_size]
        signals = read_ok_signals(table.iloc[idx])
        result = average_beats(signals, fs, progress=progress, n_jobs=n_jobs)
        average[idx] = result.average
        lead_sd[idx] = filter_for_beats(signals, fs, "highpass").std(axis=-1)
        infos.append(result.records.set_index(idx))
    if infos:
        info = pd.concat(infos)
        excluded = ~info["included"].astype(bool)
        table.loc[info.index[excluded], "stage"] = "beats"
        table.loc[info.index[excluded], "outcome"] = "beats: " + info.loc[excluded, "reason"]
        table.loc[info.index[excluded], "detail"] = info.loc[excluded, "detail"]
        kept = info.index[~excluded]
        table.loc[kept, "lead"] = info.loc[kept, "lead"]
        table.loc[kept, "hr"] = info.loc[kept, "hr"].astype(float)
        table.loc[kept, "n_beats"] = info.loc[kept, "n_beats"].astype(int)
    return RealBeats(records=table, average=average, lead_sd=lead_sd, data_dir=data_dir)


def yield_table(real: RealBeats, by: str = "source") -> pd.DataFrame:
    """Records per group (``source`` or ``rhythm_category``) and outcome, with a total row:
    ``records``, one column per outcome of :data:`OUTCOMES` that occurs (loading failures first,
    then the beat exclusions), ``averaged`` and ``yield_pct`` (averaged / records, %). Every
    record is in exactly one outcome column."""
    table = real.records
    if by == "rhythm_category":
        order = list(RHYTHM_CATEGORIES)
    else:
        order = [s for s in SOURCES if s in set(table[by])] + sorted(set(table[by]) - set(SOURCES))
    present = [o for o in OUTCOMES if o in set(table["outcome"]) or o == "averaged"]
    counts = pd.crosstab(table[by], table["outcome"]).reindex(
        index=order, columns=present, fill_value=0
    )
    counts.loc["total"] = counts.sum()
    counts.insert(0, "records", counts.sum(axis=1))
    counts["yield_pct"] = (
        100.0 * counts["averaged"] / counts["records"].where(counts["records"] > 0)
    ).round(1)
    counts.index.name = by
    return counts.astype({c: int for c in counts.columns if c != "yield_pct"})


def exclusion_table(real: RealBeats) -> pd.DataFrame:
    """One row per record without an average beat: ``row`` (de-identified), ``source``,
    ``rhythm_category``, ``stage``, ``outcome`` and ``detail`` (no record name)."""
    table = real.records
    out = table.loc[
        table["outcome"] != "averaged",
        ["row", "source", "rhythm_category", "stage", "outcome", "detail"],
    ]
    return out.reset_index(drop=True)
