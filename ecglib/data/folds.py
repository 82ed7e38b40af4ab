"""Cross-validation folds: patient-grouped, multilabel-stratified over the four vessel labels.

The paper uses 5-fold cross-validation, "stratified, grouped by patient, balancing the multilabel
distribution". No library splitter does all three at once: ``iterative-stratification``'s
``MultilabelStratifiedKFold`` accepts a ``groups`` argument and ignores it, and scikit-learn's
``StratifiedGroupKFold`` rejects multilabel targets. So the split is made at patient level and
mapped back to the rows (ECGs):

1. Aggregate the cohort to one record per patient (``group_col``). Rows with a missing group or a
   missing / non-binary label raise :class:`~ecglib.errors.DataError`; nothing is dropped silently.
2. Describe each patient by a binary *stratification matrix* (:func:`patient_strata`):

   * per vessel, thermometer indicators of the patient's number of positive ECGs
     (``>= 1``, ``>= 2``, ``>= 3``, ``>= 5``). The ``>= 1`` column is the patient-level label
     (a patient is positive for a vessel if any of their rows is), so patient-level prevalence is
     balanced exactly as with plain multilabel stratification; the higher columns stop patients
     with many positive ECGs piling up in one fold, which is what keeps the *ECG-level* prevalence
     (what the model is trained and evaluated on) balanced too;
   * thermometer indicators of the patient's number of ECGs (``>= 2``, ``>= 3``, ``>= 5``,
     ``>= 8``), so the folds hold similar numbers of ECGs, not only of patients (a patient's ECG
     count is 1 plus roughly the sum of these indicators, so balancing each balances the total).

   Iterative stratification (Sechidis et al. 2011) serves the rarest column first, so the rare
   vessel (LM) is still spread first and evenly; the count columns are common and only steer the
   remaining ties. ``tests/test_folds.py`` checks on a simulated cohort with several ECGs per
   patient (some with disagreeing CCTAs) that every fold keeps the ECG-level and patient-level
   prevalences and the ECG counts close to the overall ones, closer than stratifying on the
   patient labels alone.
3. Split the patients with ``MultilabelStratifiedKFold(shuffle=True, random_state=seed)`` and map
   the patient's fold to each of their rows.

Patients are ordered by their id before splitting, so the folds depend on the cohort's content and
the seed, not on the order of its rows.

Model selection (the epoch) happens on an inner, patient-grouped validation split of the training
folds (:func:`inner_split`, :func:`split_roles`); the held-out fold is touched once, for its
out-of-fold predictions. The authors' code chose the epoch on the very fold it then reported.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
)

from ecglib.errors import DataError
from ecglib.schema import VESSELS, assessed_vessels, label_cols

#: Thresholds on a patient's number of positive ECGs per vessel; ``>= 1`` is the patient label.
POSITIVE_COUNT_THRESHOLDS: tuple[int, ...] = (1, 2, 3, 5)
#: Thresholds on a patient's number of ECGs (rows), to balance ECG counts across folds.
ROW_COUNT_THRESHOLDS: tuple[int, ...] = (2, 3, 5, 8)

#: Default fraction of the training folds' patients held out for model selection. 0.2 rather than
#: 0.15: the rare LM label leaves only a handful of positive patients in the inner split, and the
#: epoch choice by macro-AUC is noisy enough already.
DEFAULT_VAL_FRACTION = 0.2

#: Fold-table index label of the whole-cohort row.
ALL = "all"


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def assign_folds(
    cohort: pd.DataFrame, n_folds: int = 5, seed: int = 0, group_col: str = "patient_id"
) -> pd.Series:
    """Fold number (0 .. n_folds-1) of every row, aligned to ``cohort.index``.

    Patient-grouped (all rows of a patient share a fold) and multilabel-stratified over the vessel
    labels ``y_RCA, y_LM, y_LAD, y_LCX`` and the patients' ECG counts (see the module docstring).
    Deterministic for a ``seed`` and independent of the row order. Every fold is non-empty.

    Raises :class:`~ecglib.errors.DataError` for missing label or group columns, missing group
    ids, missing or non-binary labels, or fewer patients than folds; ``ValueError`` for a bad
    ``n_folds`` or ``seed``.
    """
    n_folds = _check_int(n_folds, "n_folds", minimum=2)
    seed = _check_seed(seed)
    patients, row_patient = _patients(cohort, group_col)
    n_patients = len(patients)
    if n_patients < n_folds:
        raise DataError(
            "cohort",
            f"{n_patients} patient(s) in column {group_col!r} but {n_folds} folds requested; "
            "a patient-grouped split needs at least one patient per fold",
        )
    strata = patient_strata(patients)
    splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    patient_fold = np.full(n_patients, -1, dtype=np.int64)
    for fold, (_, test) in enumerate(splitter.split(np.zeros((n_patients, 1)), strata)):
        patient_fold[test] = fold
    patient_fold = _fill_empty_parts(patient_fold, n_folds, patients["n_rows"].to_numpy())
    return pd.Series(patient_fold[row_patient], index=cohort.index, name="fold", dtype=np.int64)


def inner_split(
    cohort_train: pd.DataFrame,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    seed: int = 0,
    group_col: str = "patient_id",
) -> pd.Series:
    """Inner validation mask for model selection: True for rows of the inner validation patients.

    ``cohort_train`` is the training part of one outer fold (never include the held-out fold).
    About ``val_fraction`` of its patients (and, through the same stratification as
    :func:`assign_folds`, about that fraction of its ECGs and of each vessel's positives) go to
    the inner validation set; a patient is never on both sides. Both sides are non-empty.
    Deterministic for a ``seed`` and independent of the row order.
    """
    seed = _check_seed(seed)
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, numbers.Real)
        or not (0.0 < float(val_fraction) < 1.0)
    ):
        raise ValueError(
            f"val_fraction must be a number strictly between 0 and 1, got {val_fraction!r}"
        )
    patients, row_patient = _patients(cohort_train, group_col)
    n_patients = len(patients)
    if n_patients < 2:
        raise DataError(
            "cohort_train",
            f"{n_patients} patient(s) in column {group_col!r}; an inner validation split needs "
            "at least 2 patients",
        )
    n_val = min(max(int(round(val_fraction * n_patients)), 1), n_patients - 1)
    strata = patient_strata(patients)
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    _, val = next(splitter.split(np.zeros((n_patients, 1)), strata))
    part = np.zeros(n_patients, dtype=np.int64)
    part[val] = 1
    part = _fill_empty_parts(part, 2, patients["n_rows"].to_numpy())
    return pd.Series(part[row_patient] == 1, index=cohort_train.index, name="inner_val")


def split_roles(
    cohort: pd.DataFrame,
    folds: pd.Series,
    fold: int,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    seed: int = 0,
    group_col: str = "patient_id",
) -> pd.Series:
    """Role of every row when training outer fold ``fold``: ``"train"``, ``"val"`` or ``"test"``.

    ``"test"`` is the held-out fold (used once, for out-of-fold predictions); ``"val"`` is the
    inner split of the remaining folds (:func:`inner_split`), used for epoch selection;
    ``"train"`` is the rest. Aligned to ``cohort.index``.
    """
    fold_values = _check_folds(cohort, folds, group_col)
    fold = _check_int(fold, "fold", minimum=0)
    if fold not in set(fold_values.tolist()):
        raise ValueError(
            f"fold {fold} is not among the assigned folds {sorted(set(fold_values.tolist()))}"
        )
    test = fold_values == fold
    roles = np.full(len(cohort), "train", dtype=object)
    roles[test] = "test"
    val = inner_split(
        cohort.iloc[np.flatnonzero(~test)],
        val_fraction=val_fraction,
        seed=seed,
        group_col=group_col,
    )
    roles[np.flatnonzero(~test)[val.to_numpy()]] = "val"
    return pd.Series(roles, index=cohort.index, name="role")


def fold_prevalence_table(
    cohort: pd.DataFrame, folds: pd.Series, group_col: str = "patient_id"
) -> pd.DataFrame:
    """Per fold and overall (index ``"all"``): patients, ECGs, and per vessel positives/prevalence.

    Columns: ``n_patients``, ``n_ecgs``, then for each vessel ``<V>_positives`` (positive ECGs),
    ``<V>_prevalence`` (positive ECGs / ECGs) and ``<V>_patients_positive`` (patients with at
    least one positive ECG). ``folds`` must be aligned to ``cohort`` (same index, or same length
    as an array) and must not split a patient across folds. A vessel the cohort does not assess
    (:func:`~ecglib.schema.assessed_vessels`) has no columns.
    """
    fold_values = _check_folds(cohort, folds, group_col)
    labels = _labels(cohort)
    groups = _groups(cohort, group_col)
    frame = pd.DataFrame(labels, columns=list(VESSELS))
    frame["_fold"] = fold_values
    frame["_group"] = groups.to_numpy()
    assessed = assessed_vessels(cohort)

    def summarise(part: pd.DataFrame) -> dict[str, float]:
        row: dict[str, float] = {"n_patients": part["_group"].nunique(), "n_ecgs": len(part)}
        per_patient = part.groupby("_group", sort=False)[list(VESSELS)].max()
        for v in assessed:
            pos = int(part[v].sum())
            row[f"{v}_positives"] = pos
            row[f"{v}_prevalence"] = pos / len(part) if len(part) else float("nan")
            row[f"{v}_patients_positive"] = int(per_patient[v].sum())
        return row

    rows = {int(f): summarise(part) for f, part in frame.groupby("_fold", sort=True)}
    rows[ALL] = summarise(frame)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "fold"
    int_cols = [c for c in table.columns if not c.endswith("_prevalence")]
    return table.astype({c: np.int64 for c in int_cols})


def patient_strata(patients: pd.DataFrame) -> np.ndarray:
    """Binary stratification matrix (patients x columns) from per-patient counts.

    ``patients`` has ``n_rows`` and, per vessel, ``pos_<V>`` (number of positive ECGs). Columns:
    for each vessel and each t in :data:`POSITIVE_COUNT_THRESHOLDS`, ``pos_<V> >= t``; then for
    each t in :data:`ROW_COUNT_THRESHOLDS`, ``n_rows >= t``.
    """
    cols = [
        patients[f"pos_{v}"].to_numpy() >= t for v in VESSELS for t in POSITIVE_COUNT_THRESHOLDS
    ]
    cols += [patients["n_rows"].to_numpy() >= t for t in ROW_COUNT_THRESHOLDS]
    return np.column_stack(cols).astype(np.int8)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _patients(cohort: pd.DataFrame, group_col: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-patient counts (sorted by patient id) and each row's position in that table."""
    if not isinstance(cohort, pd.DataFrame):
        raise TypeError(f"cohort must be a pandas DataFrame, got {type(cohort).__name__}")
    groups = _groups(cohort, group_col)
    labels = _labels(cohort)
    try:
        codes, uniques = pd.factorize(groups, sort=True)
    except TypeError as exc:  # unorderable mix of id types
        raise DataError(
            f"cohort column {group_col!r}",
            f"patient ids cannot be ordered ({exc}); use one type (all strings or all integers)",
        ) from exc
    n = len(uniques)
    patients = pd.DataFrame({"n_rows": np.bincount(codes, minlength=n)})
    for j, v in enumerate(VESSELS):
        patients[f"pos_{v}"] = np.bincount(codes, weights=labels[:, j], minlength=n).astype(
            np.int64
        )
    return patients, codes


def _groups(cohort: pd.DataFrame, group_col: str) -> pd.Series:
    if group_col not in cohort.columns:
        raise DataError(
            "cohort", f"group column {group_col!r} is missing (columns: {list(cohort.columns)})"
        )
    groups = cohort[group_col]
    missing = groups.isna().to_numpy()
    if missing.any():
        raise _rows_error(
            group_col,
            cohort.index,
            missing,
            "row(s) have no patient id",
            "every ECG needs its patient for a grouped split",
        )
    return groups


def _labels(cohort: pd.DataFrame) -> np.ndarray:
    """The vessel labels as an (n, 4) int array; missing columns, NaN and non-0/1 values raise.

    A vessel the cohort does not assess at all (labels missing in every row,
    :func:`~ecglib.schema.assessed_vessels`) is a column of zeros: a constant column has no
    positives to balance, so the stratification ignores it."""
    cols = label_cols()
    absent = [c for c in cols if c not in cohort.columns]
    if absent:
        raise DataError(
            "cohort",
            f"label column(s) {absent} missing; derive them from the grades with "
            "ecglib.schema.binarise_grades before splitting",
        )
    assessed = assessed_vessels(cohort)
    out = np.zeros((len(cohort), len(cols)), dtype=np.int64)
    for j, c in enumerate(cols):
        if VESSELS[j] not in assessed:
            continue
        col = cohort[c]
        missing = col.isna().to_numpy()
        if missing.any():
            raise _rows_error(
                c, cohort.index, missing, "missing label(s)", "labels are never guessed"
            )
        try:
            values = col.to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"cohort column {c!r}", f"labels are not numeric 0/1 ({exc})") from exc
        bad = ~np.isin(values, (0.0, 1.0))
        if bad.any():
            raise _rows_error(
                c,
                cohort.index,
                bad,
                f"label(s) not 0/1, e.g. {values[bad][0]!r}",
                "binarise grades with ecglib.schema.binarise_grades",
            )
        out[:, j] = values.astype(np.int64)
    return out


def _check_folds(cohort: pd.DataFrame, folds, group_col: str) -> np.ndarray:
    """Fold numbers as an int array in cohort row order; checks alignment and grouping."""
    if isinstance(folds, pd.Series):
        if len(folds) != len(cohort) or not folds.index.equals(cohort.index):
            if (
                folds.index.is_unique
                and cohort.index.is_unique
                and set(folds.index) == set(cohort.index)
            ):
                folds = folds.reindex(cohort.index)
            else:
                raise ValueError(
                    "folds must be aligned to the cohort: same index labels as cohort.index"
                )
        values = folds.to_numpy()
    else:
        values = np.asarray(folds)
        if values.shape != (len(cohort),):
            raise ValueError(
                f"folds must have one entry per cohort row ({len(cohort)}), got shape {values.shape}"
            )
    if pd.isna(values).any():
        raise ValueError(f"{int(pd.isna(values).sum())} row(s) have no fold")
    values = values.astype(float)
    if not np.all(values == np.round(values)) or (values < 0).any():
        raise ValueError("fold numbers must be non-negative integers")
    values = values.astype(np.int64)
    groups = _groups(cohort, group_col)
    per_patient = pd.Series(values).groupby(groups.to_numpy(), sort=False).nunique()
    crossing = int((per_patient > 1).sum())
    if crossing:
        raise DataError(
            f"cohort column {group_col!r}",
            f"{crossing} patient(s) have rows in more than one fold; folds must be patient-grouped",
        )
    return values


def _fill_empty_parts(assign: np.ndarray, n_parts: int, n_rows: np.ndarray) -> np.ndarray:
    """Make every part non-empty by moving patients out of the largest parts (deterministically).

    Iterative stratification does not promise non-empty parts on tiny cohorts; on realistic ones
    this never triggers. The moved patient is the one with the fewest rows in the largest part.
    """
    assign = assign.copy()
    for part in range(n_parts):
        if (assign == part).any():
            continue
        sizes = np.bincount(assign, minlength=n_parts)
        donor = int(np.argmax(sizes))  # has >= 2 patients because n_patients >= n_parts
        members = np.flatnonzero(assign == donor)
        assign[members[np.argmin(n_rows[members])]] = part
    return assign


def _first_labels(index: pd.Index, mask: np.ndarray, k: int = 5) -> list:
    return index[np.flatnonzero(mask)[:k]].tolist()


def _rows_error(
    column: str, index: pd.Index, mask: np.ndarray, what: str, advice: str
) -> DataError:
    """The error for the rows of cohort ``column`` that ``mask`` flags: how many are ``what``,
    the first ones' row labels (to find them in the export), then ``advice``."""
    return DataError(
        f"cohort column {column!r}",
        f"{int(mask.sum())} {what} (first row labels: {_first_labels(index, mask)}); {advice}",
    )


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)
