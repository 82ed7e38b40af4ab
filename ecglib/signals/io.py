"""Reading one ECG file into a checked-shape, canonically ordered 12-lead array.

:func:`ecg_read` is the only place that knows file formats. It returns an :class:`Ecg`: the
signal as float64 of shape (12, T) in :data:`ecglib.schema.LEADS` order, in millivolts.

Formats
-------
``.npy``
    A 2-D numeric array of shape (12, T) or (T, 12); the axis of length 12 is the lead axis, in
    :data:`~ecglib.schema.LEADS` order (a .npy file has no lead names, so the order is the
    writer's promise). A (12, 12) array is ambiguous and is refused, as is any other shape.
    The file carries no sampling rate and no units: ``fs`` comes from the caller (default
    :data:`~ecglib.schema.FS`) and ``units`` (default ``"mV"``) says what the numbers are.
WFDB
    A record given as the path to its ``.hea`` header or as its base name (``.../s0010_re``),
    read with ``wfdb.rdrecord`` in physical units. Each channel's units are converted to mV
    (uV / V / nV; a header without units means mV, as the WFDB format specifies). Channel
    names are matched case-insensitively to the 12 standard leads and reordered; other channels
    (the Frank leads vx, vy, vz of the original PTB records, respiration, ...) are dropped.
    The sampling rate is always the header's (the file's own statement); a caller's ``fs`` is
    for ``.npy`` files only, so one setting (``params.signals.npy_fs``) serves mixed folders.

Every failure (missing file, unreadable, corrupt or truncated file, non-numeric data, wrong shape,
missing or duplicated leads, unknown units) raises :class:`~ecglib.errors.SignalError` naming the
record (``record_id`` if given, else the path) and the problem. Nothing is ever replaced by zeros:
the authors' code turned unreadable ECGs into all-zero signals with negative labels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecglib.errors import SignalError
from ecglib.schema import FS, LEADS

#: Factors that convert a unit (lower-cased, stripped) into millivolts.
UNIT_TO_MV: dict[str, float] = {
    "mv": 1.0,
    "uv": 1e-3,
    "\u00b5v": 1e-3,  # micro sign
    "\u03bcv": 1e-3,  # Greek mu
    "nv": 1e-6,
    "v": 1e3,
}


@dataclass(frozen=True)
class Ecg:
    """One 12-lead ECG as read from disk.

    ``signal`` is float64 of shape (len(leads), T), read-only (so the frozen dataclass is
    frozen all the way down; copy it to modify). ``leads`` is always :data:`~ecglib.schema.LEADS`
    after :func:`ecg_read`; ``units`` is always ``"mV"``; ``record`` is the name used in errors.
    """

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...] = LEADS
    units: str = "mV"
    record: str = field(default="<unnamed>")

    def __post_init__(self) -> None:
        sig = np.array(self.signal, dtype=np.float64)  # own copy: the caller's array stays theirs
        if sig.ndim != 2 or sig.shape[0] != len(self.leads):
            raise SignalError(
                self.record, f"signal shape {sig.shape} does not match {len(self.leads)} leads"
            )
        try:
            fs = float(self.fs)
        except (TypeError, ValueError):
            fs = float("nan")
        if not (np.isfinite(fs) and fs > 0):
            raise SignalError(
                self.record, f"sampling rate must be a positive number, got {self.fs!r}"
            )
        sig.flags.writeable = False
        object.__setattr__(self, "signal", sig)
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "leads", tuple(self.leads))

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


def ecg_read(
    path: str | os.PathLike,
    *,
    record_id: str | None = None,
    fs: float | None = None,
    units: str = "mV",
) -> Ecg:
    """Read a 12-lead ECG file (``.npy`` or WFDB) into an :class:`Ecg` (float64, (12, T), mV).

    Parameters
    ----------
    path
        A ``.npy`` file, a WFDB header ``.hea``, or a WFDB record's base name.
    record_id
        Name used in error messages (e.g. the cohort's ``ecg_id``); defaults to the path.
    fs
        Sampling rate in Hz of a ``.npy`` file (default :data:`~ecglib.schema.FS`). Not used for
        WFDB records, whose header states their rate.
    units
        Units of a ``.npy`` file's numbers (``"mV"``, ``"uV"``, ``"V"``); ignored for WFDB,
        whose header states its units.

    Raises
    ------
    SignalError
        Naming the record and what is wrong (see the module docstring).
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else str(path)
    name = p.name.lower()
    if name.endswith(".npy"):
        if not p.is_file():
            raise SignalError(rid, f"file not found: {p}")
        return _read_npy(p, rid, fs=FS if fs is None else fs, units=units)
    if name.endswith(".hea"):
        base = p.with_name(p.name[: -len(".hea")])
    elif p.with_name(p.name + ".hea").is_file():
        base = p
    elif p.exists():
        raise SignalError(
            rid,
            f"unsupported file type {p.suffix or '(none)'!r} for {p}: expected .npy or a WFDB "
            "record (its .hea header or base name)",
        )
    else:
        raise SignalError(rid, f"file not found: {p} (nor a WFDB header {p}.hea)")
    header = base.with_name(base.name + ".hea")
    if not header.is_file():
        raise SignalError(rid, f"file not found: WFDB header {header}")
    return _read_wfdb(base, rid)


def _read_npy(p: Path, rid: str, *, fs: float, units: str) -> Ecg:
    try:
        # allow_pickle=False: an object array is not an ECG, and unpickling runs arbitrary code.
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any failure to parse is re-raised, named, below
        raise SignalError(rid, f"cannot read {p} as .npy ({type(exc).__name__}: {exc})") from exc
    if not isinstance(arr, np.ndarray):
        raise SignalError(rid, f"{p} does not hold a single array")
    _check_dtype(arr, rid)
    n = len(LEADS)
    if arr.ndim != 2 or n not in arr.shape or arr.shape == (n, n):
        why = "ambiguous orientation" if arr.shape == (n, n) else "wrong shape"
        raise SignalError(
            rid, f"{why}: array of shape {arr.shape}; expected ({n}, T) or (T, {n}) with T != {n}"
        )
    # The lead axis is the one of length 12, whichever it is.
    sig = arr if arr.shape[0] == n else arr.T
    if sig.shape[1] == 0:
        raise SignalError(rid, "empty signal (0 samples)")
    factor = _unit_factor(units)
    if factor is None:
        raise SignalError(rid, f"unknown units {units!r}; expected one of mV, uV, V")
    return Ecg(sig.astype(np.float64) * factor, fs=fs, record=rid)


def _check_dtype(arr: np.ndarray, rid: str) -> None:
    # Integers and floats are samples; bool, complex, strings, objects and records are not.
    if arr.dtype.kind not in "iuf":
        raise SignalError(
            rid, f"wrong dtype {arr.dtype} ({arr.dtype.kind!r}): ECG samples must be real numbers"
        )


def _unit_factor(units: str | None) -> float | None:
    if units is None or not str(units).strip():
        return 1.0  # WFDB: absent units mean mV
    return UNIT_TO_MV.get(str(units).strip().lower())


def _read_wfdb(base: Path, rid: str) -> Ecg:
    import wfdb  # imported here so that .npy-only users do not pay for it

    try:
        rec = wfdb.rdrecord(str(base), physical=True)
    except Exception as exc:  # noqa: BLE001 - wfdb raises many types; all are re-raised, named
        raise SignalError(
            rid, f"cannot read WFDB record {base} ({type(exc).__name__}: {exc})"
        ) from exc
    sig = rec.p_signal
    if sig is None or sig.ndim != 2 or sig.shape[1] != rec.n_sig:
        raise SignalError(rid, f"WFDB record {base} has no readable physical signal")
    _check_dtype(sig, rid)
    if rec.sig_len is not None and sig.shape[0] != rec.sig_len:
        # wfdb raises on short .dat files itself; this guards other readers' behaviour.
        raise SignalError(rid, f"truncated: {sig.shape[0]} samples read, header says {rec.sig_len}")
    if sig.shape[0] == 0:
        raise SignalError(rid, "empty signal (0 samples)")
    if not (rec.fs and np.isfinite(rec.fs) and rec.fs > 0):
        raise SignalError(rid, f"WFDB header {base}.hea has no valid sampling rate ({rec.fs!r})")

    index = _lead_index(list(rec.sig_name or []), rid)
    units = list(rec.units or [None] * rec.n_sig)
    factors = []
    for lead, i in zip(LEADS, index):
        f = _unit_factor(units[i])
        if f is None:
            raise SignalError(
                rid, f"lead {lead} has unknown units {units[i]!r}; expected mV, uV or V"
            )
        factors.append(f)
    out = sig[:, index].T.astype(np.float64) * np.asarray(factors)[:, None]
    return Ecg(out, fs=float(rec.fs), record=rid)


def _lead_index(names: list[str], rid: str) -> list[int]:
    """Column of each standard lead in ``names``, matched case-insensitively; others ignored."""
    wanted = {lead.lower(): lead for lead in LEADS}
    found: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        key = str(name).strip().lower()
        if key in wanted:
            found.setdefault(wanted[key], []).append(i)
    duplicated = [
        f"{lead} ({', '.join(names[i] for i in found[lead])})"
        for lead in LEADS
        if len(found.get(lead, [])) > 1
    ]
    missing = [lead for lead in LEADS if lead not in found]
    problems = []
    if missing:
        problems.append(f"missing standard lead(s) {', '.join(missing)}")
    if duplicated:
        problems.append(f"duplicated lead(s) {'; '.join(duplicated)}")
    if problems:
        raise SignalError(rid, " and ".join(problems) + f"; channels in the file: {names}")
    return [found[lead][0] for lead in LEADS]
