"""The signals layer: read, check and preprocess one 12-lead ECG (neurokit2-style ``ecg_*`` names).

- :mod:`ecglib.signals.io`: :func:`ecg_read` (``.npy`` or WFDB) -> :class:`Ecg`, float64 (12, T) in mV.
- :mod:`ecglib.signals.checks`: :func:`ecg_quality` measures, :func:`ecg_check` refuses with reasons.
- :mod:`ecglib.signals.preprocess`: :func:`ecg_resample`, :func:`ecg_fix_length`, :func:`ecg_zscore`,
  :func:`ecg_founder_filter`, and the composer :func:`ecg_preprocess` -> float32 (12, 5000).
- :mod:`ecglib.signals.rpeaks`: :func:`~ecglib.signals.rpeaks.detect_r_peaks`, R peaks confirmed
  by an independent 12-lead detector.
- :mod:`ecglib.signals.beats`: :func:`~ecglib.signals.beats.ecg_beats` and
  :func:`~ecglib.signals.beats.average_beats`, the beats and average beat of each record, with
  the reason for every record that has none.

The last two build on the first three and are imported from their own modules.
Every function works alone on plain arrays; every data problem raises
:class:`~ecglib.errors.SignalError` naming the record.
"""

from ecglib.signals.checks import FLAT_PTP_MV, SATURATION_FRACTION, ecg_check, ecg_quality
from ecglib.signals.io import Ecg, ecg_read
from ecglib.signals.preprocess import (
    FILTERS,
    LENGTH_POLICIES,
    SHORT_TOLERANCE,
    ecg_fix_length,
    ecg_founder_filter,
    ecg_preprocess,
    ecg_resample,
    ecg_zscore,
)

__all__ = [
    "Ecg",
    "ecg_read",
    "ecg_quality",
    "ecg_check",
    "ecg_resample",
    "ecg_fix_length",
    "ecg_zscore",
    "ecg_founder_filter",
    "ecg_preprocess",
    "FLAT_PTP_MV",
    "SATURATION_FRACTION",
    "SHORT_TOLERANCE",
    "LENGTH_POLICIES",
    "FILTERS",
]
