"""The canonical cohort table, read from a hospital export through a column and label map.

A map file (``params/maps/*.yaml``) says which export column holds each canonical column
(``columns:``), how free-text values become canonical ones (``labels:``: grades, sex, site,
symptom), which ECG reads count as normal (``normal_ecg:``), and what to assume for columns the
export lacks (``constants:``). :func:`read_export` applies it and then the study's rules:

* an ECG acquired after its CCTA is excluded (the paper keeps only ECGs taken before);
* a vessel without a grade is excluded (a label is never guessed), except a vessel the map
  declares ``not_assessed:`` for the whole cohort, whose labels are then missing in every row
  (:func:`ecglib.schema.assessed_vessels`; training and the book leave it out);
* an exact duplicate row is excluded, a conflicting duplicate is an error;
* a patient seen at two sites is an error (external validation must be patient-disjoint).

Every exclusion is a line of the :class:`ExclusionReport`; every problem the map cannot resolve
(an unknown grade text, an unparseable date, an impossible age, a risk factor that is neither
yes/no nor 1/0) raises a :class:`~ecglib.errors.DataError` naming the record.

One module on purpose: the map, the parsers that apply it (dates, ages, numbers, label
vocabularies) and the rules are one pipeline from an export to the canonical table; the parsers
exist only to apply a map and name the record they fail on.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import load_yaml
from ecglib.errors import ConfigError, DataError

#: Canonical columns the label map translates, and where each one's vocabulary lives.
_LABELLED = ("sex", "site", "symptom")
_MAP_KEYS = {
    "columns",
    "labels",
    "normal_ecg",
    "constants",
    "ccta_date_only",
    "not_assessed",
    "notice",
    "description",
}
#: Adult ages a CCTA cohort can hold; anything else is a data-entry error, not a patient.
AGE_RANGE = (18, 110)


@dataclass(frozen=True)
class ExportMap:
    """How one hospital export maps onto the canonical cohort table."""

    columns: dict[str, str]
    grade_labels: dict[str, int]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    normal_patterns: tuple[str, ...] = ()
    constants: dict[str, object] = field(default_factory=dict)
    #: The CCTA time is a date only: an ECG on the same day counts as before it, and the
    #: ECG-CCTA interval in hours is unknown.
    ccta_date_only: bool = False
    #: Vessels the export has no grade for in any row (e.g. PTB-XL's LM, which no ECG
    #: statement's territory names): no grade column is mapped and their labels stay missing.
    not_assessed: tuple[str, ...] = ()
    #: A sentence every results chapter shows about what the labels are (Markdown), e.g. that
    #: a cohort's labels are proxies rather than CCTA grades.
    notice: str = ""

    @classmethod
    def from_yaml(cls, path: str | Path) -> ExportMap:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"column map {path} not found")
        raw = load_yaml(path.read_text(encoding="utf-8"), where=path.name)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{path.name}: expected a mapping with the keys "
                f"{sorted(_MAP_KEYS)}, got a {type(raw).__name__}"
            )
        unknown = sorted(set(raw) - _MAP_KEYS)
        if unknown:
            raise ConfigError(f"{path.name}: unknown key(s) {unknown}; allowed {sorted(_MAP_KEYS)}")
        columns = raw.get("columns") or {}
        allowed = (
            set(schema.REQUIRED_COLUMNS) | set(schema.OPTIONAL_COLUMNS) | set(schema.grade_cols())
        )
        bad = sorted(set(columns) - allowed)
        if bad:
            raise ConfigError(
                f"{path.name}: columns: {bad} are not canonical columns "
                f"(canonical: {sorted(allowed)})"
            )
        labels = dict(raw.get("labels") or {})
        grades = labels.pop("grade", None)
        if not grades:
            raise ConfigError(f"{path.name}: labels.grade (free text -> 0..4) is required")
        bad_grades = {k: v for k, v in grades.items() if v not in schema.GRADES}
        if bad_grades:
            raise ConfigError(f"{path.name}: labels.grade values must be 0-4, got {bad_grades}")
        unknown_labels = sorted(set(labels) - set(_LABELLED))
        if unknown_labels:
            raise ConfigError(
                f"{path.name}: labels: {unknown_labels} unknown; "
                f"allowed grade, {', '.join(_LABELLED)}"
            )
        not_assessed = _not_assessed(raw.get("not_assessed") or [], columns, path.name)
        normal = raw.get("normal_ecg") or {}
        return cls(
            columns={k: str(v) for k, v in columns.items()},
            grade_labels={str(k).strip(): int(v) for k, v in grades.items()},
            labels={k: {str(a).strip(): b for a, b in v.items()} for k, v in labels.items()},
            normal_patterns=tuple(normal.get("patterns", ())),
            constants=dict(raw.get("constants") or {}),
            ccta_date_only=bool(raw.get("ccta_date_only", False)),
            not_assessed=not_assessed,
            notice=" ".join(str(raw.get("notice") or "").split()),
        )

    @property
    def assessed(self) -> tuple[str, ...]:
        """The vessels the export grades, in :data:`ecglib.schema.VESSELS` order."""
        return tuple(v for v in schema.VESSELS if v not in self.not_assessed)


def _not_assessed(value: object, columns: dict, name: str) -> tuple[str, ...]:
    vessels = [value] if isinstance(value, str) else value
    if not isinstance(vessels, list) or not all(isinstance(v, str) for v in vessels):
        raise ConfigError(f"{name}: not_assessed must be a list of vessels, got {value!r}")
    unknown = [v for v in vessels if v not in schema.VESSELS]
    if unknown:
        raise ConfigError(f"{name}: not_assessed: {unknown} are not vessels {list(schema.VESSELS)}")
    if set(vessels) >= set(schema.VESSELS):
        raise ConfigError(
            f"{name}: not_assessed lists every vessel; a run needs at least one graded vessel"
        )
    mapped = [v for v in vessels if schema.grade_col(v) in columns]
    if mapped:
        raise ConfigError(
            f"{name}: {mapped} are both not_assessed and mapped to a grade column "
            f"({[columns[schema.grade_col(v)] for v in mapped]}); choose one"
        )
    return tuple(v for v in schema.VESSELS if v in vessels)


@dataclass
class ExclusionReport:
    """Rows left out of the cohort, each with its reason, in the order the rules ran."""

    n_start: int = 0
    steps: list[tuple[str, pd.Index]] = field(default_factory=list)

    def add(self, reason: str, rows: pd.Index) -> None:
        self.steps.append((reason, pd.Index(rows)))

    @property
    def excluded(self) -> pd.Index:
        if not self.steps:
            return pd.Index([])
        return self.steps[0][1].append([rows for _, rows in self.steps[1:]])

    def table(self) -> pd.DataFrame:
        """Counts per step: the exclusion flow the book draws (no record identifiers)."""
        rows, remaining = [], self.n_start
        rows.append({"step": "rows in the export", "excluded": 0, "remaining": remaining})
        for reason, idx in self.steps:
            remaining -= len(idx)
            rows.append({"step": reason, "excluded": len(idx), "remaining": remaining})
        return pd.DataFrame(rows)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Excel export as text (values are parsed by the map, not guessed)."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "export table not found")
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xls", ".csv", ".txt"):
        raise DataError(str(path), f"unsupported table format {path.suffix!r} (use .csv or .xlsx)")
    try:
        if suffix in (".xlsx", ".xls"):
            table = pd.read_excel(path, dtype=str)
            first = pd.read_excel(path, header=None, nrows=1)
            header = [str(c) for c in first.iloc[0] if pd.notna(c)] if len(first) else []
        else:
            table = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
            )
            with open(path, encoding="utf-8-sig", newline="") as f:
                header = next(csv.reader(f), [])
    except UnicodeDecodeError as exc:
        raise DataError(
            str(path),
            f"cannot be read as UTF-8 text ({exc}); save the export as UTF-8 CSV or as .xlsx",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - pandas/openpyxl raise many types; all are named
        raise DataError(
            str(path),
            f"cannot be read as a {suffix} table ({type(exc).__name__}: {str(exc).strip()})",
        ) from exc
    repeated = sorted({c for c in header if c.strip() and header.count(c) > 1})
    if repeated:
        # pandas would rename the second one 'X.1' and the map would silently take the first.
        raise DataError(
            str(path),
            f"column name(s) {repeated} appear more than once in the "
            "header; a column is chosen by its name, so names must be unique",
        )
    return table


def read_export(
    table: str | Path, export_map: ExportMap, *, ecg_root: str | Path | None = None
) -> tuple[pd.DataFrame, ExclusionReport]:
    """Canonical cohort table and exclusion report from a hospital export.

    ``ecg_root`` anchors relative ECG paths (default: the table's directory). The result has
    one row per ECG-CCTA pair, the canonical columns of :mod:`ecglib.schema`, ``y_<vessel>``
    labels from :func:`ecglib.schema.binarise_grades`, and ``ecg_ccta_hours``.
    """
    table = Path(table)
    raw = read_table(table)
    if raw.empty:
        raise DataError(table.name, f"the export has no rows (columns: {list(raw.columns)})")
    cohort = apply_map(raw, export_map, source=table.name)
    root = Path(ecg_root) if ecg_root is not None else table.parent
    cohort["ecg_path"] = [str(p if Path(p).is_absolute() else root / p) for p in cohort["ecg_path"]]
    return apply_rules(cohort, export_map)


def apply_map(raw: pd.DataFrame, export_map: ExportMap, source: str = "export") -> pd.DataFrame:
    """Rename, translate and type the export's columns; raise on anything the map cannot read."""
    missing = sorted(c for c in export_map.columns.values() if c not in raw.columns)
    if missing:
        raise DataError(
            source,
            f"column(s) {missing} named in the column map are not in the "
            f"export (it has {list(raw.columns)})",
        )
    out = pd.DataFrame(
        {
            canon: raw[col].str.strip() if raw[col].dtype == object else raw[col]
            for canon, col in export_map.columns.items()
        },
        index=raw.index,
    )
    for canon, value in export_map.constants.items():
        if canon in out:
            raise ConfigError(f"constants.{canon}: the export already maps a column to {canon}")
        out[canon] = value
    absent = [
        c
        for c in schema.REQUIRED_COLUMNS + tuple(schema.grade_cols(export_map.assessed))
        if c not in out and not (c == "ecg_id" and "ecg_path" in out)
    ]
    if absent:
        raise ConfigError(f"the column map gives no {absent}: map an export column or a constant")
    _check_identifiers(out, source)
    if "ecg_id" not in out:
        out["ecg_id"] = [Path(str(p)).stem for p in out["ecg_path"]]
    out["ecg_id"] = out["ecg_id"].astype(str)
    out["patient_id"] = out["patient_id"].astype(str)
    record = out["ecg_id"]
    for col in ("ecg_time", "ccta_time"):
        out[col] = _parse_times(out[col], record, col)
    if "ccta_id" not in out:
        # One CCTA per patient and date: the only key an export without accession numbers has.
        out["ccta_id"] = out["patient_id"] + "@" + out["ccta_time"].dt.strftime("%Y-%m-%d %H:%M")
    for vessel in export_map.not_assessed:
        out[schema.grade_col(vessel)] = np.nan
    for vessel in export_map.assessed:
        col = schema.grade_col(vessel)
        out[col] = _translate(out[col], export_map.grade_labels, record, col, allow_missing=True)
    for col in _LABELLED:
        if col in out and col in export_map.labels:
            out[col] = _translate(
                out[col], export_map.labels[col], record, col, allow_missing=col == "symptom"
            )
    if "age" in out:
        out["age"] = _parse_age(out["age"], record)
    if "ecg_diagnosis" in out and export_map.normal_patterns:
        out["normal_ecg"] = normal_ecg_recode(out["ecg_diagnosis"], export_map.normal_patterns)
    for col in ("followup_days", "followup_event", "followup_competing"):
        if col in out:
            out[col] = _parse_number(out[col], record, col)
    for col in schema.RISK_FACTORS:
        if col in out:
            out[col] = _parse_yes_no(out[col], record, col)
    _check_followup(out, record)
    if "site" not in out:
        out["site"] = "internal"
    return out


def normal_ecg_recode(reads: pd.Series, patterns: tuple[str, ...]) -> pd.Series:
    """1.0 when the clinical read matches a normal pattern (regex, case-insensitive), 0.0 when
    it does not, NaN when there is no read."""
    regex = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    matched = reads.map(lambda r: np.nan if pd.isna(r) or r == "" else float(bool(regex.search(r))))
    return matched.astype(float)


def apply_rules(
    cohort: pd.DataFrame, export_map: ExportMap
) -> tuple[pd.DataFrame, ExclusionReport]:
    """The study's inclusion rules, in order, each exclusion counted with its reason."""
    report = ExclusionReport(n_start=len(cohort))
    _check_sites(cohort)
    cohort = _drop_duplicates(cohort, report)

    if export_map.ccta_date_only:
        after = cohort["ecg_time"].dt.normalize() > cohort["ccta_time"].dt.normalize()
    else:
        after = cohort["ecg_time"] > cohort["ccta_time"]
    report.add("ECG acquired after its CCTA", cohort.index[after])
    cohort = cohort.loc[~after]

    graded = schema.grade_cols(export_map.assessed)
    ungraded = cohort[graded].isna().any(axis=1)
    report.add("a vessel without a CCTA grade", cohort.index[ungraded])
    cohort = cohort.loc[~ungraded].copy()

    cohort[graded] = cohort[graded].astype(int)  # a vessel not assessed stays all-missing
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    hours = (cohort["ccta_time"] - cohort["ecg_time"]).dt.total_seconds() / 3600.0
    cohort["ecg_ccta_hours"] = np.nan if export_map.ccta_date_only else hours
    return cohort.reset_index(drop=True), report


def patients_at_several_sites(sites: pd.Series, patients: pd.Series) -> pd.Index:
    """The patients (sorted) who have ECGs at more than one site: ``sites`` and ``patients``
    give each ECG's site and patient. External validation must be patient-disjoint, so every
    reader of an export refuses a non-empty answer."""
    n_sites = sites.groupby(patients).nunique()
    return n_sites.index[n_sites > 1]


def _check_sites(cohort: pd.DataFrame) -> None:
    both = patients_at_several_sites(cohort["site"], cohort["patient_id"])
    if len(both):
        raise DataError(
            f"patient {both[0]}",
            f"appears at more than one site "
            f"({len(both)} such patients); external validation must be "
            "patient-disjoint: fix the export or the site map",
        )


def _drop_duplicates(cohort: pd.DataFrame, report: ExclusionReport) -> pd.DataFrame:
    key = ["ecg_id", "ccta_id"]
    dup_key = cohort.duplicated(key, keep=False)
    if dup_key.any():
        identical = cohort.astype(str).duplicated(keep="first")
        conflicting = cohort.loc[dup_key].astype(str).drop_duplicates().duplicated(key, keep=False)
        if conflicting.any():
            ecg = cohort.loc[conflicting[conflicting].index[0], "ecg_id"]
            raise DataError(
                f"ECG {ecg}",
                "listed more than once for the same CCTA with different "
                "values; resolve the conflict in the export",
            )
        report.add("duplicate row", cohort.index[identical])
        cohort = cohort.loc[~identical]
    return cohort


def _check_identifiers(out: pd.DataFrame, source: str) -> None:
    """A row without its patient, ECG id or ECG file cannot be grouped or read: an error, never
    a made-up id (``astype(str)`` would turn every missing one into the same patient 'nan')."""
    for col in ("patient_id", "ecg_id", "ecg_path"):
        if col not in out:
            continue
        missing = out[col].isna() | (out[col].astype(str).str.strip() == "")
        if missing.any():
            i = missing[missing].index[0]
            has_id = "ecg_id" in out and col != "ecg_id" and pd.notna(out.at[i, "ecg_id"])
            name = f"ECG {out.at[i, 'ecg_id']}" if has_id else f"{source} data row {i + 1}"
            raise DataError(
                name,
                f"{col} is missing ({missing.sum()} such rows); every row "
                "needs its patient, ECG id and ECG file",
            )


def _check_followup(out: pd.DataFrame, record: pd.Series) -> None:
    if "followup_days" in out:
        bad = out["followup_days"] < 0
        if bad.any():
            i = bad[bad].index[0]
            raise DataError(
                f"ECG {record[i]}",
                f"followup_days {out.at[i, 'followup_days']:g} is negative ({bad.sum()} such rows)",
            )
    for col, what in (("followup_event", "event"), ("followup_competing", "competing event")):
        if col in out:
            bad = out[col].notna() & ~out[col].isin([0.0, 1.0])
            if bad.any():
                i = bad[bad].index[0]
                raise DataError(
                    f"ECG {record[i]}",
                    f"{col} {out.at[i, col]:g} is not 0 (no {what}) or 1 ({what}) "
                    f"({bad.sum()} such rows)",
                )
    if "followup_competing" in out:
        _check_competing(out, record)


def _check_competing(out: pd.DataFrame, record: pd.Series) -> None:
    """The competing-event flag goes with the event flag: known in the same rows, and a
    follow-up ends with one of them, never both."""
    if "followup_event" not in out:
        raise ConfigError(
            "the column map gives followup_competing but no followup_event: a competing event "
            "is only defined beside the outcome event"
        )
    event, competing = out["followup_event"], out["followup_competing"]
    unpaired = event.notna() != competing.notna()
    if unpaired.any():
        i = unpaired[unpaired].index[0]
        given, absent = (
            ("followup_event", "followup_competing")
            if pd.notna(event[i])
            else ("followup_competing", "followup_event")
        )
        raise DataError(
            f"ECG {record[i]}",
            f"has {given} but no {absent} ({unpaired.sum()} such rows); give both (0 or 1) "
            "or neither",
        )
    both = (event == 1) & (competing == 1)
    if both.any():
        i = both[both].index[0]
        raise DataError(
            f"ECG {record[i]}",
            f"followup_event and followup_competing are both 1 ({both.sum()} such rows); a "
            "follow-up ends with the event or with a competing event, not both",
        )


#: A numeric day/month date: 05/03/2024, 5.3.24, 13/03/2024 09:30 ...
_DM_DATE = re.compile(r"^\s*(\d{1,2})[/.](\d{1,2})[/.]\d{2,4}\b")


def _day_first(values: pd.Series, record: pd.Series, col: str) -> bool:
    """Whether a column's numeric d/m/y dates are day-first, read from the column itself.

    pandas reads '05/03/2024' month-first but '13/03/2024' day-first, so one column could mix
    both orders without a word. A value with a first number > 12 settles day-first, one with a
    second number > 12 month-first; a column with both, or with ambiguous values and nothing
    that settles the order, is an error naming the record."""
    fields = values.astype(str).str.extract(_DM_DATE).dropna().astype(int)
    if fields.empty:
        return False
    first, second = fields[0], fields[1]
    day_first, month_first = first > 12, second > 12
    if day_first.any() and month_first.any():
        i, j = day_first[day_first].index[0], month_first[month_first].index[0]
        raise DataError(
            f"ECG {record[j]}",
            f"{col} {values[j]!r} is month-first but "
            f"{values[i]!r} (ECG {record[i]}) is day-first; "
            "use one date format (best YYYY-MM-DD)",
        )
    ambiguous = (first != second) & ~day_first & ~month_first
    if ambiguous.any() and not (day_first.any() or month_first.any()):
        i = ambiguous[ambiguous].index[0]
        raise DataError(
            f"ECG {record[i]}",
            f"{col} {values[i]!r} is ambiguous (day/month "
            "order) and no value in the column settles it; "
            "write dates as YYYY-MM-DD",
        )
    return bool(day_first.any())


def _parse_times(values: pd.Series, record: pd.Series, col: str) -> pd.Series:
    parsed = pd.to_datetime(
        values, errors="coerce", format="mixed", dayfirst=_day_first(values, record, col)
    )
    bad = parsed.isna()
    if bad.any():
        i = bad[bad].index[0]
        raise DataError(
            f"ECG {record[i]}", f"{col} {values[i]!r} is not a date/time ({bad.sum()} such rows)"
        )
    return parsed


def _translate(
    values: pd.Series, vocabulary: dict, record: pd.Series, col: str, allow_missing: bool
) -> pd.Series:
    missing = values.isna() | (values.astype(str).str.strip() == "")
    if not allow_missing and missing.any():
        i = missing[missing].index[0]
        raise DataError(f"ECG {record[i]}", f"{col} is missing ({missing.sum()} such rows)")
    known = values.astype(str).str.strip().isin(vocabulary)
    unknown = ~missing & ~known
    if unknown.any():
        i = unknown[unknown].index[0]
        texts = sorted(set(values[unknown].astype(str)))
        raise DataError(
            f"ECG {record[i]}",
            f"{col} {values[i]!r} is not in the label map "
            f"(unknown values: {texts[:5]}{' ...' if len(texts) > 5 else ''}; "
            f"known: {list(vocabulary)})",
        )
    return values.astype(str).str.strip().map(vocabulary).where(~missing)


def _parse_age(values: pd.Series, record: pd.Series) -> pd.Series:
    age = _parse_number(values, record, "age")
    lo, hi = AGE_RANGE
    bad = age.notna() & ((age < lo) | (age > hi))
    if bad.any():
        i = bad[bad].index[0]
        raise DataError(f"ECG {record[i]}", f"age {values[i]} is outside {lo}-{hi} years")
    return age


#: Spellings of a present (1) or absent (0) risk factor, compared case-insensitively.
_YES_NO = {"1": 1.0, "yes": 1.0, "y": 1.0, "true": 1.0, "0": 0.0, "no": 0.0, "n": 0.0, "false": 0.0}


def _parse_yes_no(values: pd.Series, record: pd.Series, col: str) -> pd.Series:
    """A present/absent column as 1.0/0.0 (``1``/``0``, ``yes``/``no``, ``y``/``n``,
    ``true``/``false``, any case; ``1.0``/``0.0`` as numbers), missing as NaN (not recorded);
    anything else raises naming the record and the column."""
    text = values.astype(str).str.strip()
    missing = values.isna() | (text == "")
    numeric = pd.to_numeric(text, errors="coerce")
    parsed = text.str.lower().map(_YES_NO)
    parsed = parsed.where(parsed.notna(), numeric.where(numeric.isin([0.0, 1.0])))
    bad = ~missing & parsed.isna()
    if bad.any():
        i = bad[bad].index[0]
        raise DataError(
            f"ECG {record[i]}",
            f"{col} {values[i]!r} is not yes/no or 1/0 ({bad.sum()} such rows); leave the cell "
            "empty when it is not recorded",
        )
    return parsed.where(~missing).astype(float)


def _parse_number(values: pd.Series, record: pd.Series, col: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        i = bad[bad].index[0]
        raise DataError(f"ECG {record[i]}", f"{col} {values[i]!r} is not a number")
    return numbers.astype(float)
