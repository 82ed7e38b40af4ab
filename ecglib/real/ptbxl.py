"""PTB-XL, as downloaded from PhysioNet, as a canonical cohort table with MI-territory proxy labels.

PTB-XL (Wagner et al., Sci Data 2020;7:154; physionet.org/content/ptb-xl) is 21,799 ten-second
12-lead ECGs of 18,869 patients with cardiologists' SCP-ECG statements, but **no coronary
angiography**. Its download holds::

    ptbxl_database.csv   one row per ECG: ecg_id, patient_id, age, sex (0 male, 1 female),
                         recording_date, scp_codes (a dict literal "{'IMI': 100.0, 'SR': 0.0}":
                         statement -> likelihood), strat_fold (1-10), filename_lr, filename_hr, ...
    scp_statements.csv   the 71 statements (first column the code): description, diagnostic,
                         form, rhythm, diagnostic_class (NORM, MI, STTC, CD, HYP),
                         diagnostic_subclass
    records500/00000/00001_hr.{hea,dat}   500 Hz WFDB records (records100/..._lr at 100 Hz)

:func:`read_ptbxl` turns that into the project's canonical cohort table, one row per ECG.

Proxy labels, not stenosis grades
---------------------------------
The only coronary information is the ECG read itself: the myocardial-infarction statements name
the infarcted wall, and a wall has a usual culprit artery. :data:`MI_PROXY_VESSELS` maps each MI
statement to the vessel whose territory it names, and ``mi_proxy_<vessel>`` is 1 when the ECG
carries such a statement, else 0. These are **proxies** for "this vessel's territory shows an
infarct on the ECG", not angiographic stenosis: a different quantity, read from the same ECG the
model sees, so a model's AUC against them says nothing about its CCTA performance. The
``grade_<vessel>`` columns exist and are **all missing** (no angiography; a label is never
guessed), so :func:`ecglib.cohort.apply_rules` would exclude every row ("a vessel without a CCTA
grade") rather than train on proxies by accident.

==============  ======================  =======  ==================================
statement       wall                    vessel   PTB-XL diagnostic_subclass
==============  ======================  =======  ==================================
AMI             anterior                LAD      AMI
ASMI            anteroseptal            LAD      AMI
ALMI            anterolateral           LAD      AMI
IMI             inferior                RCA      IMI
ILMI            inferolateral           RCA      IMI
IPMI            inferoposterior         RCA      IMI
IPLMI           inferoposterolateral    RCA      IMI
LMI             lateral                 LCX      LMI
PMI             posterior               LCX      PMI
==============  ======================  =======  ==================================

Choices, and why:

- The vessel follows PTB-XL's own ``diagnostic_subclass`` grouping (AMI -> LAD, IMI -> RCA,
  LMI and PMI -> LCX), so the table is PTB-XL's, not ours. Anterior and anteroseptal walls are
  the LAD's; an inferior infarct's culprit is the RCA in most (right-dominant) patients and the
  LCX in left-dominant ones; the lateral wall is the LCX's (or a diagonal of the LAD), the
  posterior wall the LCX's or the RCA's posterolateral branches. The combined walls (ILMI,
  IPMI, IPLMI) are counted for their inferior component only, as PTB-XL groups them; pass
  ``vessels=`` to :func:`read_ptbxl` with e.g. ``{"ILMI": ("RCA", "LCX"), ...}`` to count both.
- **LM has no proxy**: no ECG wall belongs to the left main alone (its occlusion is a global
  picture, diffuse ST depression with ST elevation in aVR). ``mi_proxy_LM`` is missing.
- The five subendocardial-injury statements that PTB-XL files under class MI (INJAS, INJAL,
  INJIN, INJIL, INJLA; :data:`EXCLUDED_MI_STATEMENTS`) are **not** counted: they are ST-T
  changes ("ischemic ST-T changes compatible with subendocardial injury" in PTB-XL's statement
  category), not an infarct, and subendocardial ST depression does not localise its artery.
- Every statement present counts, whatever its likelihood (0-100 in ``scp_codes``), as in the
  PTB-XL benchmark (Strodthoff et al., IEEE JBHI 2021;25:1519); ``min_likelihood`` raises the bar.
- If ``scp_statements.csv`` lists an MI-class statement that is in neither table, reading stops
  with an error instead of silently not counting it.

Other columns: ``age`` is missing for PTB-XL's 300 (all ages above 89 are recorded as 300 for
HIPAA; ``age_over_89`` flags them); ``sex`` from 0/1; ``ecg_diagnosis`` the statements'
descriptions and ``normal_ecg`` 1 when NORM is among them; ``site`` ``"ptb-xl"``; ``ccta_id`` and
``ccta_time`` missing; ``strat_fold`` PTB-XL's recommended folds (patient-disjoint; 9 and 10 are
the suggested validation and test folds); ``fs`` 500 or 100 by ``resolution``.

Why a reader and not a params map
---------------------------------
:class:`ecglib.cohort.ExportMap` renames columns and translates whole cell values. PTB-XL needs
what a map cannot say: the labels live inside a dict literal per row, several statements combine
into one vessel, the export has no CCTA time and no grades (both required by the map), and its
ages include children and the 300 code (the map's age rule is 18-110). So PTB-XL is read by
this function, and no ``params/maps/ptbxl.yaml`` exists. Running the pipeline on PTB-XL needs a
``data.format`` switch in the run params that calls :func:`read_ptbxl` instead of
:func:`ecglib.cohort.read_export`, with the proxies as targets: a design decision for the
training chapters, not made here.
"""
from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.errors import DataError

#: MI statement -> the vessel(s) whose territory it names (table in the module docstring).
MI_PROXY_VESSELS: dict[str, tuple[str, ...]] = {
    "AMI": ("LAD",),
    "ASMI": ("LAD",),
    "ALMI": ("LAD",),
    "IMI": ("RCA",),
    "ILMI": ("RCA",),
    "IPMI": ("RCA",),
    "IPLMI": ("RCA",),
    "LMI": ("LCX",),
    "PMI": ("LCX",),
}
#: PTB-XL statements of diagnostic class MI deliberately not counted (subendocardial injury).
EXCLUDED_MI_STATEMENTS: frozenset[str] = frozenset({"INJAS", "INJAL", "INJIN", "INJIL", "INJLA"})
#: PTB-XL's code for ages above 89.
AGE_OVER_89 = 300
#: Columns :func:`read_ptbxl` needs in ptbxl_database.csv.
REQUIRED = ("ecg_id", "patient_id", "age", "sex", "recording_date", "scp_codes", "strat_fold")
#: ``resolution`` -> (filename column, sampling rate).
RESOLUTIONS: dict[str, tuple[str, int]] = {"hr": ("filename_hr", 500), "lr": ("filename_lr", 100)}
SITE = "ptb-xl"


def proxy_col(vessel: str) -> str:
    """Column of a vessel's MI-territory proxy label: ``mi_proxy_<vessel>``."""
    schema.grade_col(vessel)  # validates the vessel name
    return f"mi_proxy_{vessel}"


def proxy_cols() -> list[str]:
    return [proxy_col(v) for v in schema.VESSELS]


def read_scp_statements(path: str | os.PathLike) -> pd.DataFrame:
    """PTB-XL's ``scp_statements.csv``, indexed by statement code."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "scp_statements.csv not found (PTB-XL download incomplete?)")
    table = pd.read_csv(path, index_col=0, dtype=str, keep_default_na=False)
    table.index = table.index.astype(str).str.strip()
    missing = [c for c in ("description", "diagnostic_class") if c not in table.columns]
    if missing:
        raise DataError(str(path), f"column(s) {missing} missing (has {list(table.columns)})")
    return table


def parse_scp_codes(text: object, record: str = "<unnamed>") -> dict[str, float]:
    """A ``scp_codes`` cell (``"{'NORM': 100.0, 'SR': 0.0}"``) as a dict statement -> likelihood.

    Parsed with :func:`ast.literal_eval` (a literal, never executed); anything but a dict of
    string keys and numbers in 0-100 raises :class:`~ecglib.errors.DataError` naming the record.
    """
    try:
        value = ast.literal_eval(str(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise DataError(record, f"scp_codes {text!r} is not a dict literal") from None
    if not isinstance(value, dict):
        raise DataError(record, f"scp_codes {text!r} is not a dict")
    out = {}
    for key, lik in value.items():
        if not isinstance(key, str) or isinstance(lik, bool) or not isinstance(lik, (int, float)) \
                or not 0 <= lik <= 100:
            raise DataError(record, f"scp_codes entry {key!r}: {lik!r} is not a statement with a "
                                    "likelihood in 0-100")
        out[key.strip()] = float(lik)
    return out


def read_ptbxl(
    folder: str | os.PathLike,
    *,
    resolution: str = "hr",
    vessels: dict[str, tuple[str, ...]] | None = None,
    min_likelihood: float = 0.0,
    check_files: bool = True,
) -> pd.DataFrame:
    """The canonical cohort table of a PTB-XL download (module docstring: columns and proxies).

    Parameters
    ----------
    folder
        The folder holding ``ptbxl_database.csv``, ``scp_statements.csv`` and ``records500/``.
    resolution
        ``"hr"`` (500 Hz, the model's rate; default) or ``"lr"`` (100 Hz).
    vessels
        MI statement -> vessels; default :data:`MI_PROXY_VESSELS`.
    min_likelihood
        A statement counts when its likelihood is at least this (default 0: every statement).
    check_files
        Require every ECG's WFDB header to exist (a missing one raises, naming the ECG).

    Raises
    ------
    DataError
        Naming the file or the ECG (``ecg_id N``) and what is wrong: a missing file or column,
        a duplicated ``ecg_id``, an unreadable ``scp_codes``, a statement not in
        ``scp_statements.csv``, an MI statement without a proxy decision, an impossible age or
        sex, an unparseable date, a missing record file.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {list(RESOLUTIONS)}, got {resolution!r}")
    table_vessels = dict(MI_PROXY_VESSELS if vessels is None else vessels)
    for statement, vs in table_vessels.items():
        bad = [v for v in vs if v not in schema.VESSELS]
        if bad:
            raise ValueError(f"vessels[{statement!r}] names unknown vessel(s) {bad}")
    root = Path(folder)
    db_path = root / "ptbxl_database.csv"
    if not db_path.is_file():
        raise DataError(str(db_path), "ptbxl_database.csv not found: point at the PTB-XL folder")
    statements = read_scp_statements(root / "scp_statements.csv")
    _check_mi_vocabulary(statements, table_vessels, root / "scp_statements.csv")

    db = pd.read_csv(db_path, dtype=str, keep_default_na=False, na_values=[""])
    file_col, fs = RESOLUTIONS[resolution]
    missing = [c for c in (*REQUIRED, file_col) if c not in db.columns]
    if missing:
        raise DataError(str(db_path), f"column(s) {missing} missing (has {list(db.columns)})")
    ids = db["ecg_id"].map(lambda v: _integer(v, f"ecg_id {v}", "ecg_id"))
    dup = ids.duplicated()
    if dup.any():
        raise DataError(f"ecg_id {ids[dup].iloc[0]}", f"listed more than once in {db_path.name}")

    rows = []
    for i, rec in enumerate(db.itertuples(index=False)):
        ecg_id = ids.iloc[i]
        rid = f"ecg_id {ecg_id}"
        codes = parse_scp_codes(rec.scp_codes, rid)
        unknown = sorted(set(codes) - set(statements.index))
        if unknown:
            raise DataError(rid, f"statement(s) {unknown} are not in scp_statements.csv")
        counted = [c for c, lik in codes.items() if lik >= min_likelihood]
        mi = [c for c in counted if c in table_vessels]
        proxy = {v: int(any(v in table_vessels[c] for c in mi)) for v in schema.VESSELS}
        age, over_89 = _age(getattr(rec, "age"), rid)
        filename = getattr(rec, file_col)
        if pd.isna(filename) or not str(filename).strip():
            raise DataError(rid, f"{file_col} is empty")
        ecg_path = Path(os.path.abspath(root / str(filename).strip()))
        if check_files and not ecg_path.with_name(ecg_path.name + ".hea").is_file():
            raise DataError(rid, f"WFDB header {ecg_path}.hea not found ({file_col} "
                                 f"{filename!r}; is records{fs}/ downloaded?)")
        rows.append({
            "patient_id": str(_integer(rec.patient_id, rid, "patient_id")),
            "ecg_id": str(ecg_id),
            "ecg_path": str(ecg_path),
            "ecg_time": _time(rec.recording_date, rid),
            "ccta_id": None,
            "ccta_time": pd.NaT,
            "site": SITE,
            "age": age,
            "age_over_89": over_89,
            "sex": _sex(rec.sex, rid),
            "ecg_diagnosis": "; ".join(statements.loc[c, "description"] for c in codes),
            "normal_ecg": float("NORM" in counted),
            **{schema.grade_col(v): np.nan for v in schema.VESSELS},
            **{proxy_col(v): proxy[v] for v in schema.VESSELS},
            "mi_statements": ", ".join(mi),
            "scp_codes": str(rec.scp_codes),
            "strat_fold": _integer(rec.strat_fold, rid, "strat_fold"),
            "fs": fs,
        })
    out = pd.DataFrame(rows)
    if out.empty:
        raise DataError(str(db_path), "no ECGs listed")
    out["ecg_time"] = pd.to_datetime(out["ecg_time"])
    out["ccta_time"] = pd.to_datetime(out["ccta_time"])
    out["age"] = out["age"].astype(float)
    for v in schema.VESSELS:
        col = proxy_col(v)
        if any(v in vs for vs in table_vessels.values()):
            out[col] = out[col].astype("Int64")
        else:  # no statement names this vessel's territory (LM by default): unknown, not 0
            out[col] = pd.array([pd.NA] * len(out), dtype="Int64")
    return out


def _check_mi_vocabulary(statements: pd.DataFrame, vessels: dict, path: Path) -> None:
    mi = set(statements.index[statements["diagnostic_class"].str.strip() == "MI"])
    undecided = sorted(mi - set(vessels) - EXCLUDED_MI_STATEMENTS)
    if undecided:
        raise DataError(str(path), f"MI statement(s) {undecided} are neither proxies "
                                   "(MI_PROXY_VESSELS) nor excluded (EXCLUDED_MI_STATEMENTS); "
                                   "decide their territory before reading")


def _integer(value: object, record: str, col: str) -> int:
    try:
        number = float(str(value).strip())
    except ValueError:
        number = float("nan")
    if not np.isfinite(number) or number != int(number):
        raise DataError(record, f"{col} {value!r} is not an integer")
    return int(number)


def _age(value: object, record: str) -> tuple[float, bool]:
    if pd.isna(value) or not str(value).strip():
        return float("nan"), False
    try:
        age = float(str(value).strip())
    except ValueError:
        raise DataError(record, f"age {value!r} is not a number") from None
    if age == AGE_OVER_89:
        return float("nan"), True
    if not 0 <= age <= 120:
        raise DataError(record, f"age {value!r} is outside 0-120 years (and not PTB-XL's "
                                f"{AGE_OVER_89} for ages above 89)")
    return age, False


def _sex(value: object, record: str) -> str | None:
    if pd.isna(value) or not str(value).strip():
        return None
    text = str(value).strip()
    if text in ("0", "0.0"):
        return "male"
    if text in ("1", "1.0"):
        return "female"
    raise DataError(record, f"sex {value!r} is not PTB-XL's 0 (male) or 1 (female)")


def _time(value: object, record: str) -> pd.Timestamp:
    stamp = pd.to_datetime(value, errors="coerce")
    if pd.isna(stamp):
        raise DataError(record, f"recording_date {value!r} is not a date/time")
    return stamp
