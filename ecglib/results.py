"""What the evaluation chapters read and print: the run's predictions joined to the cohort, the
paper's published numbers, the notices and skip messages, and the saved metric tables.

**Predictions.** :func:`load_results` reads the run's prediction tables
(:mod:`ecglib.train.predict`) and joins them, by cohort-table row, to the labels, grades and
covariates of the cohort (:func:`join_results`):

* ``oof``: the internal cohort's pooled out-of-fold predictions (every internal row predicted
  once, by the model of the fold that held it out), with its ``fold``;
* ``external``: the external cohort's predictions, the mean of the fold models' probabilities
  (:func:`ecglib.train.predict.mean_external`), or ``None`` when the cohort has no external site
  (the reason is in ``skipped``);
* :meth:`RunResults.fold` (one fold's held-out predictions) and :meth:`RunResults.normal_ecg`
  (the out-of-fold predictions of ECGs read as normal).

The joined tables hold **no identifier and no date**. Patients and CCTA examinations are
represented by pseudonymous integer codes (``patient``, ``exam``: the order of first appearance
in the cohort table) that the clustered bootstraps and the patient-level analyses group by, and
two ranks replace the times: ``exam_order`` (1 = the patient's first CCTA) and ``ecg_order``
(1 = the examination's latest ECG before the CCTA, the *index ECG*).

**Published numbers.** :data:`PUBLISHED` holds the AUCs and Brier scores of both versions of the
paper (Xiao et al., arXiv:2512.05136, first version and revision) as data with their source, and
:func:`paper_layout` sets a run's numbers beside them. They describe the authors' private cohort:
context, never targets.

**Missing inputs.** A chapter part whose input the cohort lacks (no external site, no follow-up,
no symptoms) raises :class:`ecglib.errors.MissingInputError`; :func:`run_part` turns exactly that
error into a :class:`Skipped` value that displays "... is skipped because <reason>" and that later
:func:`run_part` calls pass along. Every other error propagates.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import schema
from .config import RunParams
from .errors import DataError, MissingInputError
from .paths import RunPaths
from .prepare import read_cohort
from .train.predict import join_cohort, mean_external, read_oof
from .train.split import EXTERNAL, internal_mask

__all__ = [
    "IDENTIFYING_COLUMNS", "COVARIATES", "RunResults", "cohort_keys", "join_results",
    "load_results", "PAPER_VERSIONS", "PUBLISHED", "PUBLISHED_COHORT", "published_table",
    "paper_layout", "format_estimate", "random_init_notice", "notice_markdown", "Skipped",
    "skip_message", "run_part", "unless_skipped", "skipped_parts", "shown", "skipped_markdown",
    "check_deidentified",
    "save_table", "save_json", "save", "glue_numbers",
]

#: Columns that identify a patient, an ECG or an examination, or hold a date: never in a table
#: the book shows or a run saves as a metric.
IDENTIFYING_COLUMNS: tuple[str, ...] = (
    "patient_id", "ecg_id", "ecg_path", "ccta_id", "ecg_time", "ccta_time", "ecg_diagnosis",
)
#: Cohort columns joined to the predictions when the cohort has them.
COVARIATES: tuple[str, ...] = (
    "site", "age", "sex", "symptom", "normal_ecg", "ecg_ccta_hours", "followup_days",
    "followup_event",
)


# ------------------------------------------------------------------------------------------
# predictions joined to the cohort
# ------------------------------------------------------------------------------------------
def cohort_keys(cohort: pd.DataFrame) -> pd.DataFrame:
    """Pseudonymous keys of every cohort row, on the cohort's index.

    ``patient`` and ``exam``: integer codes of ``patient_id`` and ``ccta_id`` in order of first
    appearance; ``exam_order``: 1 for the patient's earliest CCTA (by CCTA time), 2 for the next;
    ``ecg_order``: 1 for the examination's latest ECG (by ECG time; every ECG precedes its CCTA,
    so this is the ECG closest before it), 2 for the one before. Ties keep the table order.
    """
    for column in ("patient_id", "ccta_id", "ecg_time", "ccta_time"):
        if column not in cohort.columns:
            raise KeyError(f"the cohort table has no {column} column (read it with "
                           "ecglib.prepare.read_cohort)")
    patient = pd.factorize(cohort["patient_id"])[0]
    exam = pd.factorize(cohort["ccta_id"])[0]
    exams = pd.DataFrame({"patient": patient, "exam": exam, "t": cohort["ccta_time"].to_numpy()}
                         ).drop_duplicates("exam")
    exams["exam_order"] = (exams.sort_values("t", kind="stable").groupby("patient").cumcount()
                           .reindex(exams.index) + 1)
    order = pd.Series(cohort["ecg_time"].to_numpy()).groupby(exam).rank(method="first",
                                                                        ascending=False)
    out = pd.DataFrame({"patient": patient, "exam": exam}, index=cohort.index)
    out["exam_order"] = out["exam"].map(exams.set_index("exam")["exam_order"]).astype(int)
    out["ecg_order"] = order.to_numpy().astype(int)
    return out


def join_results(predictions: pd.DataFrame, cohort: pd.DataFrame,
                 keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predictions (``row``, ``p_*``, maybe ``fold``) with the cohort's grades, labels, the
    :data:`COVARIATES` it has, and the pseudonymous keys of :func:`cohort_keys`. No identifier
    or date is carried over; a prediction row that is not in the cohort raises."""
    rows = predictions["row"].to_numpy()
    unknown = ~np.isin(rows, cohort.index.to_numpy())
    if unknown.any():
        raise DataError(f"row {int(rows[unknown][0])}", "has predictions but is not in the cohort "
                        "table: the predictions are from another cohort; retrain the folds")
    keys = cohort_keys(cohort) if keys is None else keys
    present = [c for c in COVARIATES if c in cohort.columns]
    joined = join_cohort(predictions, cohort)
    if present:
        joined = pd.concat([joined, join_cohort(predictions[["row"]], cohort, present)
                            .drop(columns="row")], axis=1)
    return pd.concat([joined, keys.loc[rows].reset_index(drop=True)], axis=1)


@dataclass
class RunResults:
    """A run's predictions for the evaluation chapters (module docstring)."""

    params: RunParams
    #: Internal pooled out-of-fold predictions, joined (one row per internal ECG).
    oof: pd.DataFrame
    #: External predictions (mean of the fold models), joined; None when there is none.
    external: pd.DataFrame | None
    #: Parts that cannot be computed, and why (``"external"`` when there is no external site).
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def folds(self) -> list[int]:
        return sorted(int(f) for f in pd.unique(self.oof["fold"]))

    @property
    def n_fold_models(self) -> int:
        """Models averaged for the external predictions (0 without an external site)."""
        if self.external is None:
            return 0
        return int(self.external["n_models"].iloc[0])

    def fold(self, k: int) -> pd.DataFrame:
        """The held-out predictions of fold ``k`` (its own model's, predicted once)."""
        if int(k) not in self.folds:
            raise KeyError(f"no fold {k}; the run has folds {self.folds}")
        return self.oof[self.oof["fold"] == int(k)].reset_index(drop=True)

    def normal_ecg(self) -> pd.DataFrame:
        """Out-of-fold predictions of the internal ECGs read as normal (``normal_ecg == 1``).

        Raises :class:`MissingInputError` when the cohort has no normal/abnormal recoding of the
        ECG read, or no internal ECG was read as normal.
        """
        if "normal_ecg" not in self.oof.columns or self.oof["normal_ecg"].isna().all():
            raise MissingInputError("the cohort has no clinical ECG read recoded as normal or "
                                    "abnormal (the normal_ecg column; see the map's "
                                    "normal_ecg patterns)")
        subset = self.oof[self.oof["normal_ecg"] == 1].reset_index(drop=True)
        if subset.empty:
            raise MissingInputError("no internal ECG was read as normal")
        return subset

    def require_external(self) -> pd.DataFrame:
        """The external predictions, or :class:`MissingInputError` with the reason."""
        if self.external is None:
            raise MissingInputError(self.skipped.get("external", "there is no external cohort"))
        return self.external


def load_results(params: RunParams) -> RunResults:
    """The run's predictions joined to its cohort (module docstring).

    Every internal row must have exactly one out-of-fold prediction (a missing fold file or a
    stale prediction raises :class:`DataError` naming it). Without external rows in the cohort
    ``external`` is None and ``skipped["external"]`` says why; with them, every fold's external
    file must exist.
    """
    paths = RunPaths.of(params)
    cohort = read_cohort(paths.cohort)
    keys = cohort_keys(cohort)
    oof = read_oof(params)
    internal_rows = cohort.index[internal_mask(cohort)]
    missing = internal_rows.difference(pd.Index(oof["row"]))
    extra = pd.Index(oof["row"]).difference(internal_rows)
    if len(missing) or len(extra):
        raise DataError(str(paths.predictions),
                        f"the out-of-fold predictions do not match the cohort's internal rows "
                        f"({len(missing)} internal rows unpredicted, {len(extra)} predicted rows "
                        "not internal): the cohort changed after training; retrain the folds")
    skipped: dict[str, str] = {}
    external = None
    if internal_mask(cohort).all():
        skipped["external"] = (f"the cohort has no external site (no row with site "
                               f"'{EXTERNAL}')")
    else:
        mean = mean_external(params, write=False)
        external_rows = cohort.index[~internal_mask(cohort)]
        if not pd.Index(mean["row"]).sort_values().equals(external_rows.sort_values()):
            raise DataError(str(paths.predictions),
                            "the external predictions do not cover the cohort's external rows: "
                            "the cohort changed after training; retrain the folds")
        external = join_results(mean, cohort, keys)
    return RunResults(params=params, oof=join_results(oof, cohort, keys), external=external,
                      skipped=skipped)


# ------------------------------------------------------------------------------------------
# the published numbers
# ------------------------------------------------------------------------------------------
#: The two versions of the paper, with the source their numbers come from.
PAPER_VERSIONS: dict[str, str] = {
    "first version": "Xiao et al., Fine-tuning an ECG Foundation Model to Predict Coronary CT "
                     "Angiography Outcomes, arXiv:2512.05136 (first version)",
    "revision": "Xiao et al., arXiv:2512.05136 (later revision)",
}

_PUBLISHED_VALUES = {
    # (version, set, metric): RCA, LM, LAD, LCX
    ("first version", "internal", "auc"): (0.794, 0.818, 0.744, 0.755),
    ("first version", "external", "auc"): (0.749, 0.971, 0.667, 0.727),
    ("first version", "normal ECG", "auc"): (0.793, 0.896, 0.707, 0.765),
    ("first version", "internal", "brier"): (0.112, 0.030, 0.166, 0.106),
    ("revision", "internal", "auc"): (0.744, 0.706, 0.716, 0.736),
    ("revision", "external", "auc"): (0.714, 0.713, 0.700, 0.673),
    ("revision", "normal ECG", "auc"): (0.693, 0.659, 0.673, 0.716),
}

#: The published numbers in long form: ``version, set, metric, vessel, value, source``. The
#: internal AUCs are the paper's own internal evaluation (reported from its best fold, whose
#: epoch was also chosen on it); they describe the authors' private cohort.
PUBLISHED: pd.DataFrame = pd.DataFrame(
    [{"version": version, "set": subset, "metric": metric, "vessel": vessel, "value": value,
      "source": PAPER_VERSIONS[version]}
     for (version, subset, metric), values in _PUBLISHED_VALUES.items()
     for vessel, value in zip(schema.VESSELS, values)]
)

#: The published cohorts (both versions): patients, CCTA exams, ECGs, age and sex per site.
PUBLISHED_COHORT: pd.DataFrame = pd.DataFrame({
    "internal": {"patients": 2323, "ccta": 2595, "ecgs": 4620, "age_mean": 63.7, "age_sd": 10.1,
                 "male_pct": 55.0},
    "external": {"patients": 135, "ccta": 135, "ecgs": 228, "age_mean": 62.6, "age_sd": 14.2,
                 "male_pct": 61.1},
})


def published_table(metric: str = "auc") -> pd.DataFrame:
    """Published values of ``metric`` (``auc`` or ``brier``): one row per (version, set), one
    column per vessel."""
    rows = PUBLISHED[PUBLISHED["metric"] == metric]
    if rows.empty:
        raise KeyError(f"no published {metric!r}; have {sorted(set(PUBLISHED['metric']))}")
    table = rows.pivot_table(index=["version", "set"], columns="vessel", values="value",
                             sort=False)
    return table[list(schema.VESSELS)]


def format_estimate(value: float, low: float = math.nan, high: float = math.nan,
                    digits: int = 3) -> str:
    """``"0.794 [0.771-0.816]"``, ``"0.794"`` without bounds, ``"n/a"`` for a missing value.

    Bounds are printed when both are finite; one missing bound prints ``[CI n/a]``.
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    has_low = low is not None and np.isfinite(low)
    has_high = high is not None and np.isfinite(high)
    if has_low and has_high:
        dash = " to " if min(low, high) < 0 else "-"      # "-0.05--0.01" would be unreadable
        return f"{text} [{low:.{digits}f}{dash}{high:.{digits}f}]"
    if has_low or has_high:
        return f"{text} [CI n/a]"
    return text


def paper_layout(ours: Mapping[str, pd.DataFrame] | pd.DataFrame, metric: str = "auc", *,
                 value: str | None = None, ci: tuple[str, str] | None = ("ci_low", "ci_high"),
                 published_sets: Mapping[str, str] | None = None, digits: int = 3
                 ) -> pd.DataFrame:
    """This run's numbers beside the published ones, in the paper's layout.

    ``ours`` maps a row label (e.g. ``"internal, pooled out-of-fold"``) to a per-vessel table
    (``vessel`` column or index, the ``value`` column, default ``metric``, and optionally the
    ``ci`` columns). ``published_sets`` picks and renames the published sets shown (default:
    all of them). One row per set, indexed by ``source`` (``this run`` or ``published,
    <version> (context, not a target)``) and ``set``, one column per vessel as text (``0.712
    [0.650-0.768]``).
    """
    value = metric if value is None else value
    if isinstance(ours, pd.DataFrame):
        ours = {name: part for name, part in ours.groupby("set", sort=False)}
    rows = []
    for label, table in ours.items():
        t = table.set_index("vessel") if "vessel" in table.columns else table
        cells = {}
        for v in schema.VESSELS:
            if v not in t.index:
                cells[v] = "n/a"
                continue
            low, high = ((t.at[v, ci[0]], t.at[v, ci[1]]) if ci and ci[0] in t.columns
                         else (math.nan, math.nan))
            cells[v] = format_estimate(float(t.at[v, value]), float(low), float(high), digits)
        rows.append({"source": "this run", "set": label, **cells})
    published = published_table(metric)
    for (version, subset), values in published.iterrows():
        if published_sets is not None and subset not in published_sets:
            continue
        label = subset if published_sets is None else published_sets[subset]
        rows.append({"source": f"published, {version} (context, not a target)", "set": label,
                     **{v: format_estimate(float(values[v]), digits=digits)
                        for v in schema.VESSELS}})
    return pd.DataFrame(rows, columns=["source", "set", *schema.VESSELS]).set_index(
        ["source", "set"])


# ------------------------------------------------------------------------------------------
# notices and skipped parts
# ------------------------------------------------------------------------------------------
def random_init_notice(params: RunParams) -> str | None:
    """The notice every results chapter shows when the model was not initialised from the
    pretrained ECGFounder weights (``model.pretrained: null``); None when it was."""
    if params.model.pretrained is not None:
        return None
    return ("**Random initialisation.** This run trained the network from random weights "
            "(`model.pretrained: null`), not by fine-tuning the pretrained ECGFounder "
            "checkpoint as the study does. Its numbers describe a model trained from scratch on "
            "this run's cohort; they do not show what fine-tuning ECGFounder achieves. Set "
            "`model.pretrained` to the checkpoint's path to run the study's method.")


def label_notices(params: RunParams) -> list[str]:
    """What every results chapter must say about the run's labels, from its column map: the
    map's own ``notice:`` (e.g. that PTB-XL's labels are ECG-read infarct territories, not CCTA
    grades) and the vessels it does not assess (``not_assessed:``)."""
    from .cohort import ExportMap

    export_map = ExportMap.from_yaml(params.path(params.data.map))
    out = [export_map.notice] if export_map.notice else []
    if export_map.not_assessed:
        names = " and ".join(export_map.not_assessed)
        out.append(f"**Not assessed: {names}.** This cohort has no label for the {names} "
                   "(`not_assessed` in its column map). The model was trained and is evaluated "
                   f"on the other vessels only; every number of the {names} in this book is "
                   "nan, and its tables and figures have no row or panel for it.")
    return out


def notice_markdown(params: RunParams, *, model: bool = True):
    """:func:`random_init_notice` (unless ``model=False``, for the chapters before training)
    and :func:`label_notices` as displayable Markdown; None, which displays nothing, when there
    is nothing to say."""
    from IPython.display import Markdown

    texts = [t for t in (random_init_notice(params) if model else None, *label_notices(params))
             if t]
    return Markdown("\n\n".join(f"> {t}" for t in texts)) if texts else None


@dataclass(frozen=True)
class Skipped:
    """A chapter part that cannot be computed, and why; falsy, and displays its message."""

    part: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.part} is skipped because {self.reason}."

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return f"> **Skipped.** {self.message}"


def skip_message(error: MissingInputError, part: str = "This chapter") -> str:
    """``"<part> is skipped because <reason>."`` for a :class:`MissingInputError`."""
    return Skipped(part, error.reason).message


def run_part(part: str, func: Callable[..., Any], *args, **kwargs) -> Any:
    """``func(*args, **kwargs)``, or a :class:`Skipped` for ``part`` when its input is missing.

    Only :class:`MissingInputError` becomes a skip; any other error propagates. When an argument
    is already :class:`Skipped` (an earlier part it depends on), ``func`` is not called and that
    skip is returned, so a chain of dependent parts reports the first missing input once.
    """
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, Skipped):
            return arg
    try:
        return func(*args, **kwargs)
    except MissingInputError as error:
        return Skipped(part, error.reason)


def unless_skipped(func: Callable[..., Any], *args, **kwargs) -> Any:
    """``func(*args, **kwargs)``, unless an argument is :class:`Skipped` (a part this one
    depends on could not be computed): then that skip is returned and ``func`` is not called.
    Errors propagate (use :func:`run_part` where this part's own input may be missing)."""
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, Skipped):
            return arg
    return func(*args, **kwargs)


def skipped_parts(reasons: Mapping[str, str], template: str = "{}") -> list[Skipped]:
    """A :class:`Skipped` per entry of a mapping name -> reason, the part named by ``template``
    (e.g. ``"The {} strata"``)."""
    return [Skipped(template.format(name), reason) for name, reason in reasons.items()]


def shown(value: Any) -> Any:
    """``value`` for display, or None (nothing displayed) for a :class:`Skipped` part, whose
    message an earlier cell showed once."""
    return None if isinstance(value, Skipped) else value


def skipped_markdown(parts: RunResults | Mapping[str, str] | Iterable[Any],
                     names: Mapping[str, str] | None = None):
    """Skipped parts as one Markdown block (None, displaying nothing, when nothing is skipped).

    ``parts`` is a :class:`RunResults` (its ``skipped`` reasons), a mapping part -> reason, or
    values of which the :class:`Skipped` ones are listed (others are ignored). ``names``
    renames parts, e.g. ``{"external": "External validation"}``.
    """
    from IPython.display import Markdown

    names = names or {}
    if isinstance(parts, RunResults):
        parts = parts.skipped
    if isinstance(parts, Mapping):
        items = [Skipped(names.get(k, k), reason) for k, reason in parts.items()]
    else:
        items = [s for s in parts if isinstance(s, Skipped)]
    if not items:
        return None
    return Markdown("\n\n".join(f"> **Skipped.** {s.message}" for s in items))


# ------------------------------------------------------------------------------------------
# saving and gluing
# ------------------------------------------------------------------------------------------
def check_deidentified(table: pd.DataFrame, what: str = "table") -> pd.DataFrame:
    """``table`` unchanged, or ``ValueError`` when a column or index level identifies a patient,
    an ECG or an exam, or holds a date (:data:`IDENTIFYING_COLUMNS`)."""
    names = [*map(str, table.columns), *[str(n) for n in table.index.names if n is not None]]
    bad = sorted(set(names) & set(IDENTIFYING_COLUMNS))
    dated = [str(c) for c in table.columns
             if pd.api.types.is_datetime64_any_dtype(table[c])]
    if bad or dated:
        raise ValueError(f"{what} holds identifying or date column(s) {bad + dated}; the book "
                         "and the run's metrics never do")
    return table


def save_table(table: pd.DataFrame, folder: str | os.PathLike, name: str, *,
               index: bool = False) -> Path:
    """Write a metric table as ``<folder>/<name>.csv`` (after :func:`check_deidentified`)."""
    check_deidentified(table, name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    table.to_csv(path, index=index)
    return path


def save_json(numbers: Mapping[str, Any], folder: str | os.PathLike, name: str) -> Path:
    """Write plain numbers as ``<folder>/<name>.json`` (NaN and infinities as null)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({k: _plain(v) for k, v in numbers.items()}, indent=1,
                               sort_keys=True), encoding="utf-8")
    return path


def save(value: Any, paths: RunPaths, name: str) -> None:
    """Save a chapter output where the run keeps it: a matplotlib Figure as PNG and PDF under
    ``paths.figures`` (:func:`ecglib.figures.save_figure`), a DataFrame as CSV and a mapping as
    JSON under ``paths.metrics``; a :class:`Skipped` part saves nothing. Returns None, so a
    cell ending with it displays nothing more."""
    from matplotlib.figure import Figure

    from .figures import save_figure

    if isinstance(value, Skipped):
        return None
    if isinstance(value, Figure):
        save_figure(value, paths.figures, name)
    elif isinstance(value, pd.DataFrame):
        named_index = any(n is not None for n in value.index.names)
        save_table(value, paths.metrics, name, index=named_index)
    elif isinstance(value, Mapping):
        save_json(value, paths.metrics, name)
    else:
        raise TypeError(f"cannot save a {type(value).__name__} ({name}); expected a Figure, a "
                        "DataFrame or a mapping")
    return None


def glue_numbers(numbers: Mapping[str, Any]) -> None:
    """``myst_nb.glue`` every entry (not displayed), for ``{glue:text}`` in the chapter's text."""
    from myst_nb import glue

    for key, value in numbers.items():
        glue(key, _plain(value, nan=math.nan), display=False)


def _plain(value: Any, nan: Any = None) -> Any:
    """A JSON-friendly scalar: numpy scalars to Python, non-finite floats to ``nan``."""
    if isinstance(value, (np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else nan
    return value
