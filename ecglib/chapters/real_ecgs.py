"""The real-ECG chapter's orchestration: where the shared records live, how many yield an average
beat, how ST-coded records differ from sinus-rhythm-only records, the PTB angiography records, and
what the run's model says about real ECGs (for which no coronary label exists).

Data
----
The real WFDB records stay outside the repository, in ``../shared/data`` beside it
(``cinc/``: PhysioNet/CinC Challenge 2020/2021 training records, CC BY 4.0; ``ptbdb/``: PTB
Diagnostic ECG Database, ODC-By 1.0; each folder's ``LICENSE.txt`` gives the citations).
:func:`real_data_dir` finds them; the environment variable :data:`REAL_DATA_ENV`
(``ECGLIB_REAL_DATA``) points elsewhere. When the folder is absent the chapter's parts raise
:class:`~ecglib.errors.MissingInputError` and the chapter says it is skipped.

Yield (:func:`real_beats`, :func:`yield_table`)
------------------------------------------------
Every record goes through two stages, and its ``outcome`` is the first one that stops it:

1. **loading** (:func:`ecglib.real.records.load_records`): the header is parsed, the signal read
   and checked exactly as for a run's ECG store (non-finite, flat, saturated leads; length).
   Outcomes ``"loading: header unreadable"``, ``"loading: signal unreadable"``,
   ``"loading: signal check"``.
2. **beats** (:func:`ecglib.signals.beats.average_beats`, the interpretability chapter's defaults: spline
   baseline, PR-segment reference): R-peak detection with its fallback leads, beat extraction and
   averaging. Outcomes ``"beats: <reason>"``, the exclusion reasons of
   :data:`ecglib.signals.beats.REASONS`.

A record that passes both has outcome ``"averaged"``. Rhythm categories
(:data:`RHYTHM_CATEGORIES`, :func:`rhythm_category`) follow
:func:`ecglib.real.snomed.rhythm_of`, with records whose codes state no rhythm at all (and the PTB
records, whose headers carry no diagnosis codes) counted as ``"not stated"`` instead of
``"other"``.

ST comparison (:func:`st_group`, :func:`compare_st`)
------------------------------------------------------
Groups by the SNOMED CT codes of the header (:data:`ST_CODES`):

- ``"ST depression"``: coded 429622005, whatever else is coded, but not also ST elevation;
- ``"ST elevation"``: coded 164931005, whatever else is coded, but not also ST depression;
- ``"sinus rhythm only"`` (the reference): the record's codes are exactly {426783006}, sinus
  rhythm and nothing else (no conduction, ST-T, axis, ectopy or any other code). In the CPSC 2018
  records this is the Challenge's mapping of the label "Normal", i.e. a normal ECG.

A record coded both ST depression and ST elevation belongs to neither group (none does in
``../shared/data``). Each ST group is compared with the reference by
:func:`ecglib.signals.waveforms.compare_waveforms` with its defaults (pointwise Welch t-tests,
Benjamini-Hochberg FDR over all 12 x 450 samples, alpha 0.05: the interpretability chapter's
statistics). The per-lead ST shift (:attr:`StComparison.shift`) summarises the ST segment as one
number per record and lead: the mean of its average beat over the ST segment of the comparison's
delineation (J point to T onset of the grand average beat, in record SD units, referenced to the
PR segment); per lead, the difference of the group means (group - reference) with its Welch 95% CI,
Welch's p, and BH-adjusted q over the 12 leads. ``direction`` is ``"depression"`` (q < alpha,
negative shift), ``"elevation"`` (positive) or ``"no significant shift"``. ``shift_mv`` gives the
same difference in approximate millivolts: each record's ST level times that lead's SD after a
0.67 Hz zero-phase high-pass (the z-score's scale up to the baseline-removal method).

Predictions (:func:`real_predictions`)
--------------------------------------
The run's fold models (``checkpoints/fold{k}_best.pt``, loaded strictly), averaged (mean of the
probabilities), predict every record that passed loading, preprocessed exactly as the run's ECG
store (``signals.length_policy``, ``signals.filter``, lead-wise z-score). **No coronary label
exists for these records**: the predictions are a distribution, never an AUC. Without a trained
fold the part raises :class:`~ecglib.errors.MissingInputError`.

Identifiers: the tables of this module keep the record names (public dataset identifiers) for
joining; the book shows them only for the six PTB records and otherwise uses ``row``, the
record's position in :attr:`RealBeats.records`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ecglib import schema
from ecglib.signals.beats import REASONS, average_beats, beat_window, filter_for_beats
from ecglib.config import PROJECT_ROOT, RunParams, resolve_path
from ecglib.errors import DataError, MissingInputError
from ecglib.paths import RunPaths
from ecglib.real.headers import read_header
from ecglib.real.ptb_angiography import ptb_angiography_table
from ecglib.real.records import load_records, read_ok_signals
from ecglib.real.snomed import split_codes
from ecglib.signals.waveforms import WaveformComparison, compare_waveforms, fdr_adjust

__all__ = [
    "REAL_DATA_ENV", "default_real_data_dir", "real_data_dir", "SOURCES", "sources_table",
    "RHYTHM_CATEGORIES", "rhythm_category", "LOADING_OUTCOMES", "OUTCOMES", "RealBeats",
    "real_beats", "yield_table", "exclusion_table", "ST_CODES", "SINUS_RHYTHM", "REFERENCE",
    "ST_GROUPS", "st_group", "st_groups_table", "StComparison", "compare_st", "st_levels",
    "significant_leads", "st_shift", "st_shift_display", "ptb_table", "ptb_predictions", "OTHER", "PREDICTION_GROUPS",
    "prediction_group", "oof_reference", "own_skip", "training_cohort", "real_model_inputs", "real_predictions",
    "predicted_vessels", "prediction_summary", "real_numbers",
]

#: Environment variable naming another folder of real records (default: ../shared/data).
REAL_DATA_ENV = "ECGLIB_REAL_DATA"


def default_real_data_dir() -> Path:
    """``shared/data`` beside the repository (``PROJECT_ROOT.parent / "shared" / "data"``)."""
    return PROJECT_ROOT.parent / "shared" / "data"


def real_data_dir() -> Path:
    """The folder of real WFDB records: ``$ECGLIB_REAL_DATA`` (relative paths against the project
    root) or :func:`default_real_data_dir`. Raises :class:`MissingInputError` when it is absent
    or holds no WFDB header."""
    value = os.environ.get(REAL_DATA_ENV)
    folder = resolve_path(value) if value else default_real_data_dir()
    where = f"{REAL_DATA_ENV}={value}" if value else "the default location"
    if not folder.is_dir():
        raise MissingInputError(
            f"the real ECG records are not available: {folder} ({where}) does not exist. They live "
            f"in shared/data beside the repository and are never copied into it; set "
            f"{REAL_DATA_ENV} to the folder holding cinc/ and ptbdb/ to use another copy")
    if next(folder.rglob("*.hea"), None) is None:
        raise MissingInputError(f"the real-records folder {folder} ({where}) holds no WFDB "
                                f"header (*.hea)")
    return folder


# ------------------------------------------------------------------------------------------
# sources
# ------------------------------------------------------------------------------------------
#: Source database -> (data folder, name, bibliography keys in book/references.bib).
SOURCES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "cpsc_2018": ("cinc", "China Physiological Signal Challenge 2018",
                  ("liu2018cpsc", "perezalday2020challenge")),
    "cpsc_2018_extra": ("cinc", "China Physiological Signal Challenge 2018, extra",
                        ("liu2018cpsc", "perezalday2020challenge")),
    "georgia": ("cinc", "Georgia 12-lead ECG Challenge database (Emory)",
                ("perezalday2020challenge",)),
    "chapman_shaoxing": ("cinc", "Chapman University - Shaoxing People's Hospital",
                         ("zheng2020chapman", "perezalday2020challenge")),
    "ningbo": ("cinc", "Ningbo First Hospital", ("zheng2020ningbo", "reyna2021challenge")),
    "ptb": ("cinc", "PTB Diagnostic ECG Database (Challenge copy)",
            ("bousseljot1995ptb", "perezalday2020challenge")),
    "ptb-xl": ("cinc", "PTB-XL (Challenge copy)", ("wagner2020ptbxl", "perezalday2020challenge")),
    "ptbdb": ("ptbdb", "PTB Diagnostic ECG Database (with angiography)",
              ("bousseljot1995ptb", "goldberger2000physionet")),
}
_LICENCE = re.compile(r"\((CC BY [0-9.]+|ODC-By [0-9.]+)\)", re.IGNORECASE)


def _licence(data_dir: Path, folder: str) -> str:
    """The licence named in ``<folder>/LICENSE.txt`` (e.g. ``"CC BY 4.0"``), or a note."""
    path = data_dir / folder / "LICENSE.txt"
    if not path.is_file():
        return "no LICENSE.txt"
    match = _LICENCE.search(path.read_text(encoding="utf-8", errors="replace"))
    return match.group(1) if match else "see LICENSE.txt"


def sources_table(real: "RealBeats") -> pd.DataFrame:
    """One row per source database: folder, name, licence (from the folder's LICENSE.txt),
    records and bibliography keys (entries of ``book/references.bib``)."""
    data_dir = real.data_dir
    counts = real.records["source"].value_counts()
    rows = []
    for source in [*SOURCES, *sorted(set(counts.index) - set(SOURCES))]:
        if source not in counts.index:
            continue
        folder, name, keys = SOURCES.get(source, ("?", source, ()))
        rows.append({"source": source, "folder": folder, "database": name,
                     "licence": _licence(data_dir, folder), "records": int(counts[source]),
                     "references": ", ".join(keys)})
    return pd.DataFrame(rows, columns=["source", "folder", "database", "licence", "records",
                                       "references"])


# ------------------------------------------------------------------------------------------
# yield
# ------------------------------------------------------------------------------------------
#: Rhythm categories of the yield table, in reporting order.
RHYTHM_CATEGORIES: tuple[str, ...] = ("sinus", "AF/flutter", "other", "not stated")
#: ``failed_at`` of :func:`~ecglib.real.records.load_records` -> outcome.
LOADING_OUTCOMES: dict[str, str] = {"header": "loading: header unreadable",
                                    "read": "loading: signal unreadable",
                                    "check": "loading: signal check"}
#: Every outcome, in the order of the pipeline: the loading failures, the beat stage's
#: exclusion reasons (:data:`ecglib.signals.beats.REASONS`, as ``"beats: <reason>"``), ``"averaged"``.
OUTCOMES: tuple[str, ...] = (*LOADING_OUTCOMES.values(), *(f"beats: {r}" for r in REASONS),
                             "averaged")


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


def real_beats(data_dir: str | os.PathLike | None = None, *, records: pd.DataFrame | None = None,
               n_jobs: int = 1, progress: bool = False, chunk_size: int = 1000) -> RealBeats:
    """Load every record of ``data_dir`` (default :func:`real_data_dir`) and average the beats of
    those that load (module docstring). ``records`` reuses a :func:`load_records` table. The
    signals are read ``chunk_size`` records at a time; the result does not depend on it."""
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
    average = np.full((len(table), len(schema.LEADS), sum(beat_window(fs))), np.nan,
                      dtype=np.float32)
    lead_sd = np.full((len(table), len(schema.LEADS)), np.nan)
    loaded = np.flatnonzero(ok)
    infos = []
    for start in range(0, len(loaded), chunk_size):  # bounded memory for large folders (PTB-XL)
        idx = loaded[start:start + chunk_size]
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
    counts = pd.crosstab(table[by], table["outcome"]).reindex(index=order, columns=present,
                                                              fill_value=0)
    counts.loc["total"] = counts.sum()
    counts.insert(0, "records", counts.sum(axis=1))
    counts["yield_pct"] = (100.0 * counts["averaged"]
                           / counts["records"].where(counts["records"] > 0)).round(1)
    counts.index.name = by
    return counts.astype({c: int for c in counts.columns if c != "yield_pct"})


def exclusion_table(real: RealBeats) -> pd.DataFrame:
    """One row per record without an average beat: ``row`` (de-identified), ``source``,
    ``rhythm_category``, ``stage``, ``outcome`` and ``detail`` (no record name)."""
    table = real.records
    out = table.loc[table["outcome"] != "averaged",
                    ["row", "source", "rhythm_category", "stage", "outcome", "detail"]]
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# ST groups
# ------------------------------------------------------------------------------------------
#: SNOMED CT codes of the ST groups.
ST_CODES: dict[str, str] = {"ST depression": "429622005", "ST elevation": "164931005"}
#: Sinus rhythm; the reference group's records carry exactly this code.
SINUS_RHYTHM = "426783006"
REFERENCE = "sinus rhythm only"
#: The groups of :func:`st_group`, the ST groups first.
ST_GROUPS: tuple[str, ...] = (*ST_CODES, REFERENCE)


def st_group(codes: object) -> str | None:
    """``"ST depression"``, ``"ST elevation"``, ``"sinus rhythm only"`` or None for a record's
    SNOMED CT codes (comma-separated string or iterable); rules in the module docstring."""
    present = set(split_codes(codes))
    st = [g for g, code in ST_CODES.items() if code in present]
    if len(st) == 1:
        return st[0]
    if not st and present == {SINUS_RHYTHM}:
        return REFERENCE
    return None


def st_groups_table(real: RealBeats) -> pd.DataFrame:
    """Per group: records, averaged records, those coded with the group's code alone, and the
    sources and rhythms they come from."""
    rows = []
    for group in ST_GROUPS:
        members = real.records[real.records["st_group"] == group]
        n_codes = members["dx_codes"].map(lambda c: len(split_codes(c)))
        rows.append({
            "group": group,
            "records": len(members),
            "averaged": int((members["outcome"] == "averaged").sum()),
            "coded with this code only": int((n_codes == 1).sum()),
            "sources": ", ".join(f"{s} {n}" for s, n in members["source"].value_counts().items()),
            "rhythm": ", ".join(f"{s} {n}" for s, n in
                                members["rhythm_category"].value_counts().items()),
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class StComparison:
    """An ST group vs the sinus-rhythm-only reference: the pointwise ``comparison`` and the
    per-lead ``shift`` table (module docstring)."""

    group: str
    comparison: WaveformComparison
    shift: pd.DataFrame

    @property
    def significant(self) -> pd.DataFrame:
        return self.shift[self.shift["significant"]]


def st_levels(average: np.ndarray, comparison: WaveformComparison) -> np.ndarray:
    """(N, 12) mean of each average beat over the comparison's ST segment (J point to T onset)."""
    a, b = comparison.delineation.segments()["ST segment"]
    if b <= a:
        raise ValueError("the delineation's ST segment is empty")
    return np.asarray(average, dtype=np.float64)[:, :, a:b].mean(axis=2)


def compare_st(real: RealBeats, group: str, *, alpha: float = 0.05) -> StComparison:
    """``group`` (``"ST depression"`` or ``"ST elevation"``) vs ``"sinus rhythm only"``; only
    averaged records take part. Raises :class:`MissingInputError` when either group has fewer
    than 2 averaged records."""
    if group not in ST_CODES:
        raise ValueError(f"group must be one of {list(ST_CODES)}, got {group!r}")
    masks = {}
    for name in (group, REFERENCE):
        mask = (real.records["st_group"] == name).to_numpy() & real.averaged
        if mask.sum() < 2:
            raise MissingInputError(f"only {int(mask.sum())} averaged record(s) are coded "
                                    f"{name!r}; the comparison needs at least 2 per group")
        masks[name] = mask
    cmp = compare_waveforms(real.average[masks[group]], real.average[masks[REFERENCE]],
                            names=(group, REFERENCE), alpha=alpha)
    levels = st_levels(real.average, cmp)
    levels_mv = levels * real.lead_sd
    g, r = masks[group], masks[REFERENCE]
    diff = levels[g].mean(axis=0) - levels[r].mean(axis=0)
    va, vb = levels[g].var(axis=0, ddof=1) / g.sum(), levels[r].var(axis=0, ddof=1) / r.sum()
    se = np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (g.sum() - 1) + vb ** 2 / (r.sum() - 1))
    half = stats.t.ppf(0.975, dof) * se
    p = stats.ttest_ind(levels[g], levels[r], axis=0, equal_var=False).pvalue
    q = fdr_adjust(p, "bh")
    a, b = cmp.delineation.segments()["ST segment"]
    share = cmp.significant[:, a:b].mean(axis=1)
    significant = q < alpha
    shift = pd.DataFrame({
        "lead": list(schema.LEADS),
        "n_group": int(g.sum()), "n_reference": int(r.sum()),
        "st_group": levels[g].mean(axis=0), "st_reference": levels[r].mean(axis=0),
        "shift": diff, "ci_low": diff - half, "ci_high": diff + half,
        "shift_mv": levels_mv[g].mean(axis=0) - levels_mv[r].mean(axis=0),
        "p": p, "q": q, "significant": significant,
        "direction": np.where(~significant, "no significant shift",
                              np.where(diff < 0, "depression", "elevation")),
        "st_samples_significant_pct": 100.0 * share,
    })
    return StComparison(group=group, comparison=cmp, shift=shift)


def significant_leads(st: StComparison, direction: str | None = None) -> list[str]:
    """Leads with a significant ST shift (optionally only ``"depression"`` or ``"elevation"``)."""
    rows = st.significant
    if direction is not None:
        rows = rows[rows["direction"] == direction]
    return rows["lead"].tolist()


def st_shift(st: StComparison) -> pd.DataFrame:
    """The per-lead ST shift table of an ST comparison (numbers, for saving)."""
    return st.shift


def st_shift_display(st: StComparison, digits: int = 2) -> pd.DataFrame:
    """The per-lead ST shift for the book: lead, both groups' mean ST level, the shift with its
    95% CI (record SD), the approximate shift in mV, q, direction and the share of the ST
    segment's samples that are significant pointwise."""
    from ecglib.chapters.run_results import format_estimate

    t = st.shift
    return pd.DataFrame({
        "lead": t["lead"],
        f"{st.group} (n={int(t['n_group'].iloc[0])})": t["st_group"].round(digits),
        f"{REFERENCE} (n={int(t['n_reference'].iloc[0])})": t["st_reference"].round(digits),
        "shift [95% CI] (record SD)": [format_estimate(v, lo, hi, digits) for v, lo, hi in
                                       zip(t["shift"], t["ci_low"], t["ci_high"])],
        "shift (≈ mV)": t["shift_mv"].round(3),
        "q": t["q"].map(lambda q: f"{q:.2g}" if q >= 0.001 else "<0.001"),
        "direction": t["direction"],
        "ST samples significant (%)": t["st_samples_significant_pct"].round(0).astype(int),
    })


# ------------------------------------------------------------------------------------------
# PTB records with angiography
# ------------------------------------------------------------------------------------------
def ptb_table(real: RealBeats, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The PTB Diagnostic ECG Database records of ``real`` (folder ``ptbdb``): PTB record and
    patient names (public dataset identifiers), age, sex, acute and former infarct location, the
    angiography text per vessel and its grade (:mod:`ecglib.real.ptb_angiography`; LM has no
    field), whether the record was averaged, and, given ``predictions``
    (:func:`real_predictions`), the model's probability per vessel. Raises
    :class:`MissingInputError` without PTB records."""
    folder = real.data_dir / "ptbdb"
    if not folder.is_dir():
        raise MissingInputError(f"{folder} does not exist (the PTB records with angiography)")
    angio = ptb_angiography_table(folder)
    if angio.empty:
        raise MissingInputError(f"{folder} holds no PTB record with a clinical summary")
    records = real.records.set_index("relpath")
    rows = []
    for item in angio.itertuples(index=False):
        rel = f"ptbdb/{item.record}"
        if rel not in records.index:
            raise DataError(item.record, "is a PTB record of the folder but not in the records "
                                         "table: load the same data folder")
        rec = records.loc[rel]
        header = read_header(rec["path"], record=item.record)
        fields = header.ptb_fields()
        rows.append({
            "row": int(rec["row"]), "record": Path(item.record).name, "patient": item.patient,
            "age": header.age, "sex": header.sex,
            "acute infarct": fields["acute_infarction_localization"],
            "former infarct": fields["former_infarction_localization"],
            "LAD (RIVA) text": item.riva_text, "LCX (RCX) text": item.rcx_text,
            "RCA text": item.rca_text,
            **{schema.grade_col(v): getattr(item, schema.grade_col(v)) for v in schema.VESSELS},
            "averaged": rec["outcome"] == "averaged",
        })
    out = pd.DataFrame(rows)
    for col in schema.grade_cols():
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    if predictions is not None:
        probs = predictions.set_index("row")[schema.prob_cols()]
        out = out.join(probs, on="row")
    return out


def ptb_predictions(real: RealBeats, predictions: pd.DataFrame) -> pd.DataFrame:
    """The PTB records' angiography grades beside the model's probabilities, vessel by vessel
    (an anecdote: four patients, invasive angiography, no CCTA)."""
    table = ptb_table(real, predictions)
    out = table[["record", "patient", "acute infarct"]].copy()
    for vessel in schema.VESSELS:
        out[f"{vessel} grade"] = table[schema.grade_col(vessel)]
        out[f"{vessel} p"] = table[schema.prob_col(vessel)].round(3)
    return out


# ------------------------------------------------------------------------------------------
# predictions
# ------------------------------------------------------------------------------------------
def real_model_inputs(real: RealBeats, params: RunParams, rows: Sequence[int] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, signals)``: the model inputs (n, 12, 5000) float32 of the loaded records (or of
    ``rows`` among them), preprocessed as the run's ECG store (``signals.length_policy``,
    ``signals.filter``, lead-wise z-score)."""
    from ecglib.signals import ecg_preprocess

    loaded = real.records[real.records["status"] == "ok"]
    if rows is not None:
        loaded = loaded[loaded["row"].isin(rows)]
    signals = np.empty((len(loaded), len(schema.LEADS), schema.N_SAMPLES), dtype=np.float32)
    for i, (path, record) in enumerate(zip(loaded["path"], loaded["record"])):
        signals[i] = ecg_preprocess(path, record_id=record, fs=None,
                                    length_policy=params.signals.length_policy,
                                    filter=params.signals.filter)
    return loaded["row"].to_numpy(dtype=np.int64), signals


def _fold_models(params: RunParams) -> list[int]:
    paths = RunPaths.of(params)
    folds = [k for k in range(params.folds.n_folds) if paths.best_checkpoint(k).is_file()]
    if not folds:
        raise MissingInputError(
            f"the run {params.name!r} has no trained fold model ({paths.checkpoints} holds no "
            f"fold*_best.pt): this part needs a trained run (train every fold with "
            f"notebooks/02_train_fold.ipynb or python -m ecglib run first)")
    return folds


def real_predictions(real: RealBeats, params: RunParams, *, device: str = "cpu",
                     write: bool = True, chunk_size: int = 1000) -> pd.DataFrame:
    """The mean of the run's fold models' probabilities for every loaded real record: ``row``,
    ``source``, ``rhythm_category``, ``st_group``, ``n_models``, ``p_<vessel>``; written to
    ``predictions/real_mean.csv`` when ``write``. Raises :class:`MissingInputError` without a
    trained fold. There are no labels: nothing here is an accuracy. A vessel the run's cohort
    does not assess has missing probabilities: its head was never trained
    (:func:`ecglib.train.predict.trained_vessels`)."""
    from ecglib.train.predict import load_fold_model, predict_mean, trained_vessels, write_predictions

    folds = _fold_models(params)
    models = [load_fold_model(params, k, device=device) for k in folds]
    loaded = real.records.loc[real.records["status"] == "ok", "row"].to_numpy(dtype=np.int64)
    parts = []
    for start in range(0, len(loaded), chunk_size):  # bounded memory for large folders
        chunk, signals = real_model_inputs(real, params, loaded[start:start + chunk_size])
        assert np.array_equal(chunk, loaded[start:start + chunk_size])
        parts.append(predict_mean(models, signals, np.arange(len(chunk)), device=device))
    probs = np.concatenate(parts) if parts else np.empty((0, len(schema.VESSELS)))
    meta = real.records.set_index("row").loc[loaded]
    out = pd.DataFrame({"row": loaded, "source": meta["source"].to_numpy(),
                        "rhythm_category": meta["rhythm_category"].to_numpy(),
                        "st_group": meta["st_group"].to_numpy(), "n_models": len(folds)})
    for j, col in enumerate(schema.prob_cols()):
        out[col] = probs[:, j]
    trained = set.intersection(*(set(trained_vessels(params, k)) for k in folds))
    for vessel in schema.VESSELS:
        if vessel not in trained:
            out[schema.prob_col(vessel)] = np.nan
    if write:
        RunPaths.of(params).ensure()
        write_predictions(out, RunPaths.of(params).predictions / "real_mean.csv")
    return out


#: The group of a real record in the prediction summaries: its ST group, else this.
OTHER = "other real records"
PREDICTION_GROUPS: tuple[str, ...] = (REFERENCE, *ST_CODES, OTHER)


def prediction_group(predictions: pd.DataFrame) -> pd.Series:
    """Each record's group of :data:`PREDICTION_GROUPS` (its ST group, else :data:`OTHER`)."""
    return (predictions["st_group"].astype(object)
            .where(predictions["st_group"].notna(), OTHER).rename("group"))


def oof_reference(params: RunParams) -> pd.DataFrame:
    """The run's pooled out-of-fold predictions (``row``, ``fold``, ``p_*``), the distribution
    the real records' predictions are drawn beside. Raises :class:`MissingInputError` unless
    every fold has its out-of-fold file."""
    from ecglib.train.predict import read_oof

    paths = RunPaths.of(params)
    missing = [k for k in range(params.folds.n_folds) if not paths.oof_predictions(k).is_file()]
    if missing:
        raise MissingInputError(f"fold(s) {missing} of the run {params.name!r} have no "
                                f"out-of-fold predictions yet")
    return read_oof(params)


def own_skip(value: object, *upstream: object):
    """The skip message of ``value`` as Markdown when it is a skipped part that is not one of
    ``upstream`` (whose message was shown already); None (nothing displayed) otherwise."""
    from ecglib.chapters.run_results import Skipped, skipped_markdown

    if isinstance(value, Skipped) and not any(value is u for u in upstream):
        return skipped_markdown([value])
    return None


def training_cohort(params: RunParams) -> str:
    """What the run's models were trained on, for the chapter's text."""
    if params.demo is not None:
        return f"the synthetic demo cohort ({params.demo.size} size)"
    return "the run's own cohort"


def predicted_vessels(predictions: pd.DataFrame) -> list[str]:
    """The vessels with a probability in ``predictions`` (a vessel the run does not assess has
    none: :func:`real_predictions`). Real records have no labels, so
    :func:`ecglib.schema.vessels_of` cannot tell."""
    return [v for v in schema.VESSELS if predictions[schema.prob_col(v)].notna().any()]


def prediction_summary(predictions: pd.DataFrame, thresholds: Mapping[str, float],
                       by: str | None = None) -> pd.DataFrame:
    """Per vessel (and per ``by`` column, or ``by="group"`` for :func:`prediction_group`): n,
    median, quartiles and the share of records at or above the run's high-risk threshold. A description of the model's outputs, not a
    performance: these records have no coronary labels."""
    if by == "group":
        labels = prediction_group(predictions)
        groups = [(name, predictions[labels == name]) for name in PREDICTION_GROUPS
                  if (labels == name).any()]
    elif by is None:
        groups = [("all real records", predictions)]
    else:
        groups = [(str(k), g) for k, g in predictions.groupby(by, dropna=False, sort=False)]
    rows = []
    for name, group in groups:
        for vessel in predicted_vessels(predictions):
            p = group[schema.prob_col(vessel)].to_numpy(dtype=float)
            t = float(thresholds[vessel])
            rows.append({"group": name, "vessel": vessel, "n": len(p),
                         "median": round(float(np.median(p)), 3),
                         "q1": round(float(np.quantile(p, 0.25)), 3),
                         "q3": round(float(np.quantile(p, 0.75)), 3), "threshold": t,
                         "at_or_above_pct": round(100.0 * float((p >= t).mean()), 1)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# numbers for the chapter's text
# ------------------------------------------------------------------------------------------
def real_numbers(real: RealBeats | object = None, st: Sequence[StComparison | object] = (),
                 predictions: pd.DataFrame | object | None = None,
                 params: RunParams | None = None) -> dict[str, object]:
    """Glue-ready numbers; every key exists (NaN / "n/a") when a part is skipped, so the text
    always finds them. Pass skipped parts as they are (anything that is not the expected type)."""
    nan = float("nan")
    out: dict[str, object] = {
        "real_training_cohort": training_cohort(params) if params is not None else "n/a",
        "real_n_folds": params.folds.n_folds if params is not None else nan,
        "real_records": nan, "real_loaded": nan, "real_rejected_loading": nan,
        "real_averaged": nan, "real_yield_pct": nan, "real_beat_excluded": nan,
        "real_sources": nan, "real_lead_ii": nan, "real_af_averaged": nan, "real_af": nan,
        "real_predicted": nan, "real_n_models": nan,
    }
    for group in ST_GROUPS:
        key = _key(group)
        out[f"n_{key}"] = nan
        out[f"n_{key}_averaged"] = nan
    for group in ST_CODES:
        key = _key(group)
        out[f"{key}_leads_depressed"] = "n/a"
        out[f"{key}_leads_elevated"] = "n/a"
        out[f"{key}_n_significant_leads"] = nan
        out[f"{key}_max_shift_mv"] = nan
    if isinstance(real, RealBeats):
        r = real.records
        out.update({
            "real_records": len(r), "real_loaded": int((r["status"] == "ok").sum()),
            "real_rejected_loading": int((r["stage"] == "loading").sum()),
            "real_averaged": int(real.averaged.sum()),
            "real_yield_pct": 100.0 * real.averaged.mean(),
            "real_beat_excluded": int((r["stage"] == "beats").sum()),
            "real_sources": int(r["source"].nunique()),
            "real_lead_ii": int((r["lead"] == "II").sum()),
            "real_af": int((r["rhythm_category"] == "AF/flutter").sum()),
            "real_af_averaged": int(((r["rhythm_category"] == "AF/flutter") & real.averaged).sum()),
        })
        for group in ST_GROUPS:
            members = r["st_group"] == group
            out[f"n_{_key(group)}"] = int(members.sum())
            out[f"n_{_key(group)}_averaged"] = int((members & real.averaged).sum())
    for item in st:
        if not isinstance(item, StComparison):
            continue
        key = _key(item.group)
        out[f"{key}_leads_depressed"] = ", ".join(significant_leads(item, "depression")) or "none"
        out[f"{key}_leads_elevated"] = ", ".join(significant_leads(item, "elevation")) or "none"
        out[f"{key}_n_significant_leads"] = len(item.significant)
        sig = item.significant
        out[f"{key}_max_shift_mv"] = (float(sig["shift_mv"].abs().max()) if len(sig) else nan)
    if isinstance(predictions, pd.DataFrame):
        out["real_predicted"] = len(predictions)
        out["real_n_models"] = int(predictions["n_models"].iloc[0]) if len(predictions) else 0
    return out


def _key(group: str) -> str:
    return {"ST depression": "std", "ST elevation": "ste", REFERENCE: "sinus_only"}[group]
