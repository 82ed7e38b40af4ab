"""The classic ECG measurements of chapter 12's third baseline, from each ECG's average beat.

The question a cardiologist asks of any ECG network is whether it beats what the ECG machine
already measures. Each ECG's average beat (:func:`ecglib.signals.beats.average_beats`, the
interpretability chapter's beats, same defaults) is delineated
(:func:`ecglib.signals.waveforms.delineate_beat`) and measured (:func:`beat_measurements`):

* **ST level per lead** (12 values, mV): the mean over 50-70 ms after the J point minus the
  mean of the isoelectric segment (:func:`ecglib.signals.beats.isoelectric_segment`), the
  usual "ST at J+60" of ST-deviation criteria;
* **QRS duration** (ms, QRS onset to J point) and **QT interval** (ms, QRS onset to T end);
* **heart rate** (beats per minute, from the record's R peaks).

An ECG without an average beat (too noisy, too few beats) or whose beat cannot be delineated
has NaN measurements; the baseline's design codes them as missing
(:func:`ecglib.metrics.baselines.clinical_design`), so no ECG is dropped. The logistic
regression on these measurements is cross-fitted exactly like the clinical baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.schema import FS

__all__ = ["MEASUREMENTS", "ST_WINDOW_S", "beat_measurements", "ecg_measurements"]

#: Seconds after the J point over which the ST level is averaged.
ST_WINDOW_S: tuple[float, float] = (0.05, 0.07)
#: The measurement columns, in order.
MEASUREMENTS: tuple[str, ...] = (
    *(f"ST {lead}" for lead in schema.LEADS),
    "QRS duration",
    "QT interval",
    "heart rate",
)


def beat_measurements(average: np.ndarray, heart_rate=None, fs: float = FS) -> pd.DataFrame:
    """:data:`MEASUREMENTS` of every average beat of ``average`` (N, 12, L); NaN rows stay NaN,
    as does a beat that cannot be delineated. ``heart_rate`` (N,) is copied (NaN if None)."""
    from ecglib.signals.beats import isoelectric_segment
    from ecglib.signals.waveforms import delineate_beat

    average = np.asarray(average, dtype=float)
    out = np.full((len(average), len(MEASUREMENTS)), np.nan)
    lo, hi = (int(round(s * fs)) for s in ST_WINDOW_S)
    for i, beat in enumerate(average):
        if not np.isfinite(beat).all():
            continue
        try:
            d = delineate_beat(beat, fs)
        except ValueError:  # no detectable QRS: the ECG has no measurement
            continue
        start, stop = isoelectric_segment(beat, fs)
        base = beat[:, start:stop].mean(axis=1)
        a, b = d.j_point + lo, min(d.j_point + hi + 1, beat.shape[1])
        if b <= a:  # a J point at the window's end: no ST segment to measure
            continue
        out[i, :12] = beat[:, a:b].mean(axis=1) - base
        out[i, 12] = 1000.0 * (d.j_point - d.qrs_onset) / fs
        out[i, 13] = 1000.0 * (d.t_end - d.qrs_onset) / fs
    table = pd.DataFrame(out, columns=list(MEASUREMENTS))
    if heart_rate is not None:
        table["heart rate"] = np.asarray(heart_rate, dtype=float)
    return table


def ecg_measurements(run, results) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """:func:`beat_measurements` of the internal out-of-fold ECGs and of the external ones, each
    row-aligned with ``results.oof`` / ``results.external`` (positions), from the run's store."""
    from ecglib.chapters.interpretability_vessel import RowView
    from ecglib.data.prepare import read_cohort
    from ecglib.data.store import open_store
    from ecglib.paths import RunPaths
    from ecglib.signals.beats import average_beats

    paths = RunPaths.of(run)
    cohort = read_cohort(paths.cohort)
    store = open_store(paths.store)

    def measure(table: pd.DataFrame) -> pd.DataFrame:
        rows = table["row"].to_numpy()
        signals = RowView(store.signals, store.rows_for(cohort.loc[rows, "ecg_path"]))
        beats = average_beats(signals, progress=False, record_ids=[f"cohort row {r}" for r in rows])
        hr = beats.records["hr"].to_numpy(dtype=float)
        return beat_measurements(beats.average, np.where(beats.included, hr, np.nan))

    external = None if results.external is None else measure(results.external)
    return measure(results.oof), external
