"""Signal checks: refuse an ECG that cannot be a usable 12-lead recording, and say why.

:func:`ecg_quality` measures; :func:`ecg_check` applies the documented rules to those measures and
raises one :class:`~ecglib.errors.SignalError` listing every problem found, naming the record and the
leads. The rules, in mV on a (12, T) signal in :data:`~ecglib.schema.LEADS` order:

- **shape**: a 2-D array with 12 rows (leads) and at least one sample; anything else is refused
  before the other rules run (a (T, 12) array must be transposed first; :func:`ecg_read` does that).
- **non-finite**: any NaN or +-inf sample (WFDB stores missing samples as NaN in physical units).
- **flat**: a lead whose peak-to-peak amplitude is below :data:`FLAT_PTP_MV` = 0.01 mV (10 uV). A real
  lead's QRS alone is some 0.1-3 mV; 10 uV is at the level of amplifier noise, so a lead below it is
  disconnected or zero-filled (some CinC 2020 records have V1-V6 exactly 0).
- **saturated**: a lead with at least :data:`SATURATION_FRACTION` = 5% of its samples (0.5 s of a
  10 s recording) exactly at its own minimum or at its own maximum value. Clipping by the amplifier or
  ADC holds the signal on a rail; a genuine extremum is hit by one or a few samples (a record that
  ends with a short stretch held constant, as PTB-XL's do, stays well below the threshold). Flat
  leads are reported as flat, not saturated.
"""

from __future__ import annotations

import numpy as np

from ecglib.errors import SignalError
from ecglib.schema import FS, LEADS

#: A lead whose peak-to-peak amplitude is below this (mV) is flat.
FLAT_PTP_MV = 0.01
#: A lead with at least this fraction of its samples on its min or max value is saturated.
SATURATION_FRACTION = 0.05


def ecg_quality(signal: np.ndarray, fs: float = FS) -> dict[str, np.ndarray | float | int]:
    """Per-lead measurements of a (n_leads, T) signal, NaN-aware.

    Returns a dict with ``n_nonfinite`` (int array, NaN/inf samples per lead), ``ptp_mv``
    (max - min of the finite samples; NaN for a lead with none), ``rail_fraction`` (the larger of
    the fractions of samples equal to the lead's min and to its max), ``n_samples`` and
    ``duration_s`` (T / fs).
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"signal must be 2-D (leads, samples), got shape {x.shape}")
    finite = np.isfinite(x)
    n_nonfinite = (~finite).sum(axis=1)
    # Masked copies: min/max over finite samples only; all-non-finite leads give NaN.
    lo = np.where(finite, x, np.inf).min(axis=1, initial=np.inf)
    hi = np.where(finite, x, -np.inf).max(axis=1, initial=-np.inf)
    has = finite.any(axis=1)
    ptp = np.where(has, hi - lo, np.nan)
    n = x.shape[1]
    at_lo = (x == lo[:, None]).sum(axis=1)
    at_hi = (x == hi[:, None]).sum(axis=1)
    rail = np.where(has & (n > 0), np.maximum(at_lo, at_hi) / max(n, 1), np.nan)
    return {
        "n_nonfinite": n_nonfinite,
        "ptp_mv": ptp,
        "rail_fraction": rail,
        "n_samples": int(n),
        "duration_s": float(n / fs),
    }


def ecg_check(
    signal: np.ndarray,
    fs: float = FS,
    record_id: str = "<unnamed>",
    *,
    flat_ptp_mv: float = FLAT_PTP_MV,
    saturation_fraction: float = SATURATION_FRACTION,
) -> dict[str, np.ndarray | float | int]:
    """Check a (12, T) ECG in mV; raise :class:`SignalError` listing every problem, else return
    its :func:`ecg_quality` measures.

    The rules and thresholds are in the module docstring. The error names ``record_id``, the
    offending leads and the measured values, e.g.
    ``"A0001: non-finite samples in II (3 NaN/inf); flat leads (peak-to-peak < 0.01 mV): V1 (0 mV)"``.
    """
    x = np.asarray(signal)
    if x.dtype.kind not in "iuf":
        raise SignalError(record_id, f"wrong dtype {x.dtype}: ECG samples must be real numbers")
    if x.ndim != 2 or x.shape[0] != len(LEADS):
        hint = (
            " (looks like (T, 12): transpose to (12, T))"
            if x.ndim == 2 and x.shape[1] == len(LEADS)
            else ""
        )
        raise SignalError(
            record_id,
            f"wrong lead count: expected a ({len(LEADS)}, T) array in the order "
            f"{', '.join(LEADS)}, got shape {x.shape}{hint}",
        )
    if x.shape[1] == 0:
        raise SignalError(record_id, "empty signal (0 samples)")
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be a positive number, got {fs!r}")

    q = ecg_quality(x, fs)
    problems: list[str] = []

    bad = np.flatnonzero(q["n_nonfinite"])
    if bad.size:
        problems.append(
            "non-finite samples in "
            + ", ".join(f"{LEADS[i]} ({q['n_nonfinite'][i]} NaN/inf of {x.shape[1]})" for i in bad)
        )

    ptp = q["ptp_mv"]
    flat = np.flatnonzero(np.isfinite(ptp) & (ptp < flat_ptp_mv))
    if flat.size:
        problems.append(
            f"flat leads (peak-to-peak < {flat_ptp_mv:g} mV): "
            + ", ".join(f"{LEADS[i]} ({ptp[i]:.3g} mV)" for i in flat)
        )

    rail = q["rail_fraction"]
    sat = np.flatnonzero((rail >= saturation_fraction) & (ptp >= flat_ptp_mv))
    if sat.size:
        problems.append(
            f"saturated leads (>= {saturation_fraction:.0%} of samples on the lead's min or max): "
            + ", ".join(f"{LEADS[i]} ({rail[i]:.1%})" for i in sat)
        )

    if problems:
        raise SignalError(record_id, "; ".join(problems))
    return q
