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
guessed), so :func:`ecglib.data.cohort.apply_rules` would exclude every row ("a vessel without a CCTA
grade") rather than train on proxies by accident; :func:`export_ptbxl` makes the proxies the
labels on purpose, under a map that says so (below).

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

Running the book on PTB-XL: an export and its map
-------------------------------------------------
:class:`ecglib.data.cohort.ExportMap` renames columns and translates whole cell values; it cannot
read ``ptbxl_database.csv`` itself (the labels live inside a dict literal per row, several
statements combine into one vessel, there is no CCTA and no grade, and the ages include
children and the 300 code). So :func:`export_ptbxl` reads PTB-XL with :func:`read_ptbxl` and
writes an ordinary export table that ``params/maps/ptbxl_export.yaml`` reads like any hospital
export, and ``params/ptbxl.yaml`` runs the whole book on it::

    python -m ecglib.real.ptbxl export /path/to/ptb-xl --out runs/ptbxl/raw
    PARAMS=params/ptbxl.yaml make book

In ``export.csv`` (one row per ECG; :data:`EXPORT_COLUMNS`):

- ``grade_RCA``, ``grade_LAD``, ``grade_LCX`` are the proxies as text, ``"MI statement"`` or
  ``"no MI statement"``, which the map reads as grade 3 and 0. The labels the book trains and
  evaluates on are therefore these ECG-read infarct territories, and the map's ``notice:``
  says so in every results chapter. A vessel without a proxy (LM) has no grade column; the map
  declares it ``not_assessed`` and the book leaves it out.
- There is no CCTA: every ECG is its own reference examination (``ccta_id`` ``R<ecg_id>``,
  ``ccta_time`` the recording date; the map's ``ccta_date_only`` counts the ECG as before it).
- Identifiers carry a letter (``P<patient_id>``, ``E<ecg_id>``) so that the book's privacy scan
  (:mod:`ecglib.report.privacy`) looks for them rather than for every bare number in the book.
- ``site`` is ``external`` for PTB-XL's recommended test fold (``strat_fold`` 10), ``internal``
  for the others; the folds are patient-disjoint, as external validation must be.
- ECGs of patients under 18 are left out (the cohort's rule is adults,
  :data:`ecglib.data.cohort.AGE_RANGE`, and a child would stop the run) and listed with their reason
  in ``export_left_out.csv``; an unknown age (the 300 code) stays empty.

One module on purpose: it is the one place that knows PTB-XL's layout (its statement table, the
``scp_codes`` literals, folds, age code and file names). The export is :func:`read_ptbxl`'s table
written out for the column map, and the command line runs the export; split apart, the dataset's
quirks would be documented in two places.
"""

from __future__ import annotations

import argparse
import ast
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import PROJECT_ROOT
from ecglib.data.cohort import AGE_RANGE, ExportMap, patients_at_several_sites
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
        if (
            not isinstance(key, str)
            or isinstance(lik, bool)
            or not isinstance(lik, (int, float))
            or not 0 <= lik <= 100
        ):
            raise DataError(
                record,
                f"scp_codes entry {key!r}: {lik!r} is not a statement with a likelihood in 0-100",
            )
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
        age, over_89 = _age(rec.age, rid)
        filename = getattr(rec, file_col)
        if pd.isna(filename) or not str(filename).strip():
            raise DataError(rid, f"{file_col} is empty")
        ecg_path = Path(os.path.abspath(root / str(filename).strip()))
        if check_files and not ecg_path.with_name(ecg_path.name + ".hea").is_file():
            raise DataError(
                rid,
                f"WFDB header {ecg_path}.hea not found ({file_col} "
                f"{filename!r}; is records{fs}/ downloaded?)",
            )
        rows.append(
            {
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
            }
        )
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
        raise DataError(
            str(path),
            f"MI statement(s) {undecided} are neither proxies "
            "(MI_PROXY_VESSELS) nor excluded (EXCLUDED_MI_STATEMENTS); "
            "decide their territory before reading",
        )


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
        raise DataError(
            record,
            f"age {value!r} is outside 0-120 years (and not PTB-XL's "
            f"{AGE_OVER_89} for ages above 89)",
        )
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


# ------------------------------------------------------------------------------------------
# export: PTB-XL as an export table for params/maps/ptbxl_export.yaml
# ------------------------------------------------------------------------------------------
#: The column map :func:`export_ptbxl` writes its table for.
EXPORT_MAP = PROJECT_ROOT / "params" / "maps" / "ptbxl_export.yaml"
#: File names :func:`export_ptbxl` writes in its output folder.
EXPORT_TABLE = "export.csv"
LEFT_OUT_TABLE = "export_left_out.csv"
#: Proxy value -> the grade text the map translates (``MI statement`` -> 3, ``no ...`` -> 0).
GRADE_TEXT: dict[int, str] = {1: "MI statement", 0: "no MI statement"}
#: PTB-XL's recommended test fold (Wagner et al. 2020): the default external site.
EXTERNAL_FOLD = 10
#: Columns of ``export.csv`` (a graded vessel's ``grade_<vessel>`` follows ``ecg_diagnosis``).
EXPORT_COLUMNS = (
    "patient_id",
    "ecg_id",
    "ccta_id",
    "ecg_path",
    "ecg_time",
    "ccta_time",
    "site",
    "age",
    "sex",
    "ecg_diagnosis",
)
#: Columns after the grades, for the user's reference (the map does not read them).
REFERENCE_COLUMNS = ("mi_statements", "strat_fold")


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_ptbxl` wrote, and the counts the command line prints."""

    table: Path
    left_out_table: Path
    #: ECGs in ptbxl_database.csv.
    n_read: int
    #: ECGs of patients under 18 (left out: the cohort's age rule is adults).
    n_children_left_out: int
    #: ECGs left out for any reason (children, a missing sex); each is a row of left_out_table.
    n_left_out: int
    n_exported: int
    #: Exported ECGs at the external site (``strat_fold == external_fold``).
    n_external: int
    #: Graded vessel -> exported ECGs with an MI statement for its territory (proxy 1).
    positives: dict[str, int]

    def summary(self) -> str:
        """The lines the command line prints."""
        children = f"{self.n_children_left_out:,} of patients under 18"
        positives = ", ".join(f"{v} {n:,}" for v, n in self.positives.items())
        return "\n".join(
            [
                f"read {self.n_read:,} PTB-XL ECGs",
                (
                    f"wrote {self.table}: {self.n_exported:,} ECGs ({self.n_external:,} external, "
                    f"{self.n_exported - self.n_external:,} internal)"
                ),
                (
                    f"left out {self.n_left_out:,} ECGs ({children}), each with its reason in "
                    f"{self.left_out_table}"
                ),
                f"MI-statement proxies (label 1) among the exported ECGs: {positives}",
            ]
        )


def export_ptbxl(
    folder: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    resolution: str = "hr",
    external_fold: int | None = EXTERNAL_FOLD,
    min_likelihood: float = 0.0,
    vessels: dict[str, tuple[str, ...]] | None = None,
    export_map: str | os.PathLike | None = EXPORT_MAP,
) -> ExportResult:
    """Write PTB-XL as an export table (``out_dir/export.csv``) that a run reads through
    ``params/maps/ptbxl_export.yaml`` (module docstring, "Running the book on PTB-XL").

    The labels are MI-territory proxies, not stenosis grades. ECGs that the run's rules would
    stop on are left out here, never passed through, and listed with their reason in
    ``out_dir/export_left_out.csv`` (columns ``ecg_id``, ``reason``): patients under 18 (the
    cohort's age rule is adults) and an ECG without its sex (the map requires it).

    Parameters
    ----------
    folder, resolution, min_likelihood, vessels
        As for :func:`read_ptbxl`.
    external_fold
        The ``strat_fold`` that becomes the external site (default 10, PTB-XL's recommended test
        fold); ``None``: every ECG is internal.
    export_map
        The map the table is written for (default the shipped one). Its graded vessels must be
        the ones with a proxy: a ``vessels`` table that gives LM a proxy writes ``grade_LM``,
        which the shipped map (``not_assessed: [LM]``) would not read, so that raises unless
        you pass your own map with ``grade_LM`` under ``columns:`` (or ``None``, no check).

    Raises
    ------
    DataError
        As :func:`read_ptbxl`, and for a patient with ECGs at both sites (``patient_id N``) or
        an age above the cohort's range (``ecg_id N``).
    ValueError
        An ``external_fold`` no ECG is in, or graded vessels that ``export_map`` does not read.
    TypeError
        An ``external_fold`` that is not a fold number or ``None``.
    """
    table = read_ptbxl(
        folder, resolution=resolution, vessels=vessels, min_likelihood=min_likelihood
    )
    graded = tuple(v for v in schema.VESSELS if table[proxy_col(v)].notna().any())
    if export_map is not None:
        _check_map_vessels(ExportMap.from_yaml(export_map), graded, Path(export_map))
    sites = _sites(table, external_fold)
    reasons = _left_out_reasons(table)
    kept = reasons.isna()

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    export = _export_rows(table.loc[kept], sites.loc[kept], graded)
    export.to_csv(out / EXPORT_TABLE, index=False, encoding="utf-8")
    left_out = pd.DataFrame(
        {"ecg_id": "E" + _ecg_number(table.loc[~kept, "ecg_id"]), "reason": reasons.loc[~kept]}
    )
    left_out.to_csv(out / LEFT_OUT_TABLE, index=False, encoding="utf-8")
    return ExportResult(
        table=out / EXPORT_TABLE,
        left_out_table=out / LEFT_OUT_TABLE,
        n_read=len(table),
        n_children_left_out=int((reasons == _CHILD).sum()),
        n_left_out=int((~kept).sum()),
        n_exported=len(export),
        n_external=int((export["site"] == "external").sum()),
        positives={v: int(table.loc[kept, proxy_col(v)].sum()) for v in graded},
    )


_CHILD = (
    f"age under {AGE_RANGE[0]} years: the cohort's rule is adults "
    f"({AGE_RANGE[0]}-{AGE_RANGE[1]} years)"
)
_NO_SEX = "sex missing: the column map requires every ECG's sex"


def _left_out_reasons(table: pd.DataFrame) -> pd.Series:
    """Per ECG, why it is left out of the export (a child's reason is its age), or NaN to
    keep it.

    An age above the cohort's range cannot be a PTB-XL age (ages above 89 are coded 300 and
    read as unknown), so it raises instead of being left out."""
    too_old = table["age"] > AGE_RANGE[1]
    if too_old.any():
        i = too_old[too_old].index[0]
        raise DataError(
            f"ecg_id {table.at[i, 'ecg_id']}",
            f"age {table.at[i, 'age']:g} is above "
            f"{AGE_RANGE[1]} years and not PTB-XL's {AGE_OVER_89} code",
        )
    reasons = pd.Series(np.nan, index=table.index, dtype=object)
    reasons[table["sex"].isna()] = _NO_SEX
    reasons[table["age"] < AGE_RANGE[0]] = _CHILD  # NaN ages compare False: unknown is kept
    return reasons


def _sites(table: pd.DataFrame, external_fold: int | None) -> pd.Series:
    """``external`` for the ECGs of ``external_fold``, ``internal`` for the others.

    PTB-XL's folds are patient-disjoint; a patient in both would put the same person in the
    training and the external set, so that is an error naming the patient."""
    if external_fold is None:
        return pd.Series("internal", index=table.index)
    if isinstance(external_fold, bool) or not isinstance(external_fold, (int, np.integer)):
        raise TypeError(f"external_fold must be a strat_fold number or None, got {external_fold!r}")
    folds = table["strat_fold"]
    if not (folds == external_fold).any():
        raise ValueError(
            f"no ECG is in strat_fold {external_fold} (folds present: "
            f"{sorted(folds.unique())}); choose another external_fold or None"
        )
    sites = pd.Series(np.where(folds == external_fold, "external", "internal"), index=table.index)
    both = patients_at_several_sites(sites, table["patient_id"])
    if len(both):
        raise DataError(
            f"patient_id {both[0]}",
            f"has ECGs in strat_fold {external_fold} and in "
            f"other folds ({len(both)} such patients); PTB-XL's folds should be "
            "patient-disjoint, and an external site must be",
        )
    return sites


def _ecg_number(ids: pd.Series) -> pd.Series:
    """PTB-XL's ecg_id as five digits, as in its file names (the export prefixes a letter)."""
    return ids.astype(int).map("{:05d}".format)


def _export_rows(table: pd.DataFrame, sites: pd.Series, graded: tuple[str, ...]) -> pd.DataFrame:
    """The export's columns (:data:`EXPORT_COLUMNS`, the grades, :data:`REFERENCE_COLUMNS`)."""
    number = _ecg_number(table["ecg_id"])
    out = pd.DataFrame(
        {
            "patient_id": "P" + table["patient_id"].astype(str),
            "ecg_id": "E" + number,
            "ccta_id": "R" + number,  # no CCTA: every ECG is its own reference examination
            "ecg_path": table["ecg_path"],
            "ecg_time": table["ecg_time"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "ccta_time": table["ecg_time"].dt.strftime("%Y-%m-%d"),  # a date: ccta_date_only
            "site": sites,
            "age": table["age"].map(lambda a: "" if pd.isna(a) else f"{a:g}"),
            "sex": table["sex"],
            "ecg_diagnosis": table["ecg_diagnosis"],
        },
        index=table.index,
    )
    for vessel in graded:
        out[schema.grade_col(vessel)] = table[proxy_col(vessel)].astype(int).map(GRADE_TEXT)
    for col in REFERENCE_COLUMNS:
        out[col] = table[col]
    return out.reset_index(drop=True)


def _check_map_vessels(export_map: ExportMap, graded: tuple[str, ...], path: Path) -> None:
    """The export's graded vessels must be the map's: a grade column the map does not read
    would be dropped without a word, and one it reads but the export lacks stops the run."""
    if tuple(export_map.assessed) != graded:
        raise ValueError(
            f"the proxies grade {list(graded)} but the column map {path.name} reads "
            f"{list(export_map.assessed)}; write a map whose columns: list "
            f"{schema.grade_cols(graded)} and whose not_assessed: lists the others, and pass "
            "it as export_map"
        )


def _external_fold(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fold number or 'none'") from None


def main(argv: list[str] | None = None) -> ExportResult:
    """``python -m ecglib.real.ptbxl export FOLDER --out DIR``: write the export, print counts."""
    parser = argparse.ArgumentParser(
        prog="python -m ecglib.real.ptbxl",
        description="PTB-XL as an export table for params/maps/ptbxl_export.yaml "
        "(labels: MI-territory proxies, not stenosis grades).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write DIR/export.csv and DIR/export_left_out.csv")
    export.add_argument("folder", help="the PTB-XL folder (ptbxl_database.csv, records500/)")
    export.add_argument(
        "--out",
        required=True,
        help="output folder; params/ptbxl.yaml reads runs/ptbxl/raw/export.csv",
    )
    export.add_argument(
        "--resolution",
        choices=sorted(RESOLUTIONS),
        default="hr",
        help="hr: 500 Hz, the model's rate (default); lr: 100 Hz",
    )
    export.add_argument(
        "--external-fold",
        type=_external_fold,
        default=EXTERNAL_FOLD,
        metavar="N|none",
        help="strat_fold of the external site (default "
        f"{EXTERNAL_FOLD}, PTB-XL's test fold); none: every ECG is internal",
    )
    export.add_argument(
        "--min-likelihood",
        type=float,
        default=0.0,
        metavar="X",
        help="a statement counts at this likelihood or above (default 0: all)",
    )
    args = parser.parse_args(argv)
    result = export_ptbxl(
        args.folder,
        args.out,
        resolution=args.resolution,
        external_fold=args.external_fold,
        min_likelihood=args.min_likelihood,
    )
    print(result.summary())
    return result


if __name__ == "__main__":
    main()
