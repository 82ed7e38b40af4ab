"""Tests for ecglib.data.folds: patient-grouped, multilabel-stratified cross-validation folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecglib.data.folds import (
    ALL,
    assign_folds,
    fold_prevalence_table,
    inner_split,
    patient_strata,
    split_roles,
)
from ecglib.errors import DataError
from ecglib.schema import VESSELS, label_col, label_cols

LABELS = label_cols()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------
# cohort generators
# ------------------------------------------------------------------------------------------
def make_cohort(
    n_patients: int,
    prevalences,
    seed: int,
    max_rows: int = 6,
    p_more_rows: float = 0.5,
    p_relabel: float = 0.05,
    string_ids: bool = False,
    shuffle: bool = True,
) -> pd.DataFrame:
    """A cohort table: one row per ECG, correlated vessel labels mostly constant per patient.

    Patients have 1..max_rows ECGs (truncated geometric); a share ``p_relabel`` of rows get fresh
    labels (a second CCTA), so a patient's rows can disagree. Rows are shuffled and the index is
    not a range, to catch positional/label alignment mistakes.
    """
    rng = np.random.default_rng(seed)
    prev = np.asarray(prevalences, dtype=float)
    n_rows = np.minimum(rng.geometric(1 - p_more_rows, n_patients), max_rows)
    # correlated latent disease: a shared factor plus vessel noise, thresholded at the prevalence
    latent = 0.6 * rng.normal(size=(n_patients, 1)) + 0.8 * rng.normal(size=(n_patients, 4))
    cut = np.quantile(0.6 * rng.normal(size=50_000) + 0.8 * rng.normal(size=50_000), prev)
    y_patient = (latent < cut).astype(int)
    y_patient[:, prev <= 0] = 0
    y_patient[:, prev >= 1] = 1
    owner = np.repeat(np.arange(n_patients), n_rows)
    y = y_patient[owner]
    relabel = rng.random(len(owner)) < p_relabel
    y[relabel] = (rng.random((int(relabel.sum()), 4)) < prev).astype(int)
    ids = rng.choice(10 * n_patients + 10, size=n_patients, replace=False)
    pid = np.array([f"P{i:06d}" for i in ids], dtype=object) if string_ids else ids
    cohort = pd.DataFrame(y, columns=LABELS)
    cohort.insert(0, "patient_id", pid[owner])
    cohort.insert(1, "ecg_id", [f"E{i}" for i in range(len(owner))])
    cohort.index = pd.Index(1000 + 7 * np.arange(len(owner)), name="row")
    if shuffle:
        cohort = cohort.iloc[rng.permutation(len(cohort))]
    return cohort


#: Realistic prevalences (patient level): RCA, LM (rare, about 2%), LAD, LCX.
REALISTIC_PREV = (0.18, 0.02, 0.25, 0.12)


@pytest.fixture(scope="module")
def realistic() -> pd.DataFrame:
    return make_cohort(2000, REALISTIC_PREV, seed=20240601, max_rows=8, p_relabel=0.03)


@st.composite
def cohorts(draw, min_patients: int = 5, max_patients: int = 60):
    n_patients = draw(st.integers(min_patients, max_patients))
    prev_value = st.one_of(st.sampled_from([0.0, 0.02, 0.5, 1.0]), st.floats(0.0, 1.0))
    prevalences = [draw(prev_value) for _ in VESSELS]
    return make_cohort(
        n_patients,
        prevalences,
        seed=draw(st.integers(0, 2**32 - 1)),
        max_rows=draw(st.integers(1, 6)),
        p_more_rows=draw(st.sampled_from([0.0, 0.3, 0.6])),
        p_relabel=draw(st.sampled_from([0.0, 0.1])),
        string_ids=draw(st.booleans()),
    )


def patients_per_fold(cohort: pd.DataFrame, folds: pd.Series) -> pd.Series:
    return folds.groupby(cohort["patient_id"]).nunique()


# ------------------------------------------------------------------------------------------
# properties on random cohorts
# ------------------------------------------------------------------------------------------
@SETTINGS
@given(cohort=cohorts(), n_folds=st.integers(2, 5), seed=st.integers(0, 2**32 - 1))
def test_folds_are_patient_grouped_complete_and_non_empty(cohort, n_folds, seed):
    folds = assign_folds(cohort, n_folds=n_folds, seed=seed)
    # every row assigned exactly once, aligned to the cohort
    assert folds.index.equals(cohort.index)
    assert folds.notna().all() and folds.dtype == np.int64
    assert set(folds.unique()) == set(range(n_folds))  # all folds non-empty, no other values
    # no patient in two folds
    assert (patients_per_fold(cohort, folds) == 1).all()
    # patients are spread as evenly as stratification allows
    n_pat = cohort.groupby(folds)["patient_id"].nunique()
    assert n_pat.sum() == cohort["patient_id"].nunique()


@SETTINGS
@given(cohort=cohorts(), seed=st.integers(0, 2**32 - 1), perm_seed=st.integers(0, 1000))
def test_folds_are_deterministic_and_independent_of_row_order(cohort, seed, perm_seed):
    folds = assign_folds(cohort, seed=seed)
    pd.testing.assert_series_equal(folds, assign_folds(cohort, seed=seed))
    shuffled = cohort.sample(frac=1.0, random_state=perm_seed)
    pd.testing.assert_series_equal(assign_folds(shuffled, seed=seed).loc[cohort.index], folds)


@SETTINGS
@given(
    cohort=cohorts(min_patients=2),
    val_fraction=st.sampled_from([0.1, 0.15, 0.2, 0.3, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_inner_split_is_patient_disjoint_and_two_sided(cohort, val_fraction, seed):
    val = inner_split(cohort, val_fraction=val_fraction, seed=seed)
    assert val.index.equals(cohort.index) and val.dtype == bool
    assert val.any() and (~val).any()
    val_patients = set(cohort.loc[val, "patient_id"])
    train_patients = set(cohort.loc[~val, "patient_id"])
    assert not val_patients & train_patients
    n_patients = cohort["patient_id"].nunique()
    expected = min(max(round(val_fraction * n_patients), 1), n_patients - 1)
    # On tiny multilabel cohorts the iterative stratification trades a few patients of size
    # for label balance (hypothesis found 8 instead of 5 of 23 patients); at realistic sizes the
    # fraction is pinned within 0.01 by test_inner_split_fraction_and_balance_on_a_realistic_cohort.
    assert abs(len(val_patients) - expected) <= max(3, 0.1 * n_patients)
    pd.testing.assert_series_equal(val, inner_split(cohort, val_fraction=val_fraction, seed=seed))


@SETTINGS
@given(cohort=cohorts(min_patients=10), fold=st.integers(0, 4), seed=st.integers(0, 2**32 - 1))
def test_split_roles_keep_the_held_out_fold_out_of_selection(cohort, fold, seed):
    folds = assign_folds(cohort, seed=seed)
    roles = split_roles(cohort, folds, fold, seed=seed)
    assert roles.index.equals(cohort.index)
    assert ((roles == "test") == (folds == fold)).all()
    assert (roles == "val").any() and (roles == "train").any()
    by_patient = roles.groupby(cohort["patient_id"]).nunique()
    assert (by_patient == 1).all()


@SETTINGS
@given(cohort=cohorts(), seed=st.integers(0, 2**32 - 1))
def test_prevalence_table_adds_up(cohort, seed):
    folds = assign_folds(cohort, n_folds=3, seed=seed)
    table = fold_prevalence_table(cohort, folds)
    assert list(table.index) == [0, 1, 2, ALL]
    per_fold = table.drop(index=ALL)
    overall = table.loc[ALL]
    assert per_fold["n_ecgs"].sum() == overall["n_ecgs"] == len(cohort)
    assert per_fold["n_patients"].sum() == overall["n_patients"] == cohort["patient_id"].nunique()
    for v in VESSELS:
        assert (
            per_fold[f"{v}_positives"].sum()
            == overall[f"{v}_positives"]
            == cohort[label_col(v)].sum()
        )
        assert per_fold[f"{v}_patients_positive"].sum() == overall[f"{v}_patients_positive"]
        np.testing.assert_allclose(
            table[f"{v}_prevalence"], table[f"{v}_positives"] / table["n_ecgs"]
        )


# ------------------------------------------------------------------------------------------
# balance on a realistic cohort (2,000 patients, about 4,000 ECGs, LM about 2%)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_folds_balance_prevalence_and_size_on_a_realistic_cohort(realistic, seed):
    folds = assign_folds(realistic, n_folds=5, seed=seed)
    table = fold_prevalence_table(realistic, folds)
    per_fold, overall = table.drop(index=ALL), table.loc[ALL]
    for v in VESSELS:
        # ECG-level prevalence per fold close to overall
        diff = (per_fold[f"{v}_prevalence"] - overall[f"{v}_prevalence"]).abs().max()
        assert diff < 0.03, (v, diff)
        # patient-level prevalence per fold: essentially exact
        pat_prev = per_fold[f"{v}_patients_positive"] / per_fold["n_patients"]
        pat_overall = overall[f"{v}_patients_positive"] / overall["n_patients"]
        assert (pat_prev - pat_overall).abs().max() < 0.01, v
    # the rare vessel's positive patients spread over all folds, evenly
    lm = per_fold["LM_patients_positive"]
    assert overall["LM_patients_positive"] >= 25
    assert lm.min() >= 1 and lm.max() - lm.min() <= 1
    # folds balanced in patients and in ECGs
    assert per_fold["n_patients"].max() - per_fold["n_patients"].min() <= 2
    assert (per_fold["n_ecgs"].max() - per_fold["n_ecgs"].min()) / per_fold["n_ecgs"].mean() < 0.05


def test_ecg_count_stratification_beats_labels_alone(realistic):
    """The documented choice: stratifying on ECG counts too balances ECG-level prevalence and size."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    ours_diff, plain_diff, ours_spread, plain_spread = [], [], [], []
    per_patient = realistic.groupby("patient_id")[LABELS].max()
    for seed in range(3):
        folds = assign_folds(realistic, seed=seed)
        plain = np.empty(len(per_patient), dtype=int)
        split = MultilabelStratifiedKFold(5, shuffle=True, random_state=seed)
        for k, (_, test) in enumerate(
            split.split(np.zeros(len(per_patient)), per_patient.to_numpy())
        ):
            plain[test] = k
        plain_rows = realistic["patient_id"].map(pd.Series(plain, index=per_patient.index))
        for f, diffs, spreads in (
            (folds, ours_diff, ours_spread),
            (plain_rows, plain_diff, plain_spread),
        ):
            prev = realistic[LABELS].groupby(f).mean()
            diffs.append((prev - realistic[LABELS].mean()).abs().to_numpy().max())
            sizes = f.value_counts()
            spreads.append((sizes.max() - sizes.min()) / sizes.mean())
    assert np.mean(ours_diff) < np.mean(plain_diff)
    assert np.mean(ours_spread) < np.mean(plain_spread)


def test_inner_split_fraction_and_balance_on_a_realistic_cohort(realistic):
    folds = assign_folds(realistic, seed=0)
    train = realistic[folds != 0]
    for fraction in (0.15, 0.2):
        val = inner_split(train, val_fraction=fraction, seed=0)
        n_val = train.loc[val, "patient_id"].nunique()
        assert abs(n_val / train["patient_id"].nunique() - fraction) < 0.01
        assert abs(val.mean() - fraction) < 0.02  # share of ECGs
        assert train.loc[val, "y_LM"].sum() > 0  # the rare vessel reaches the inner validation set
        for c in LABELS:
            assert abs(train.loc[val, c].mean() - train[c].mean()) < 0.03, c
        assert not set(train.loc[val, "patient_id"]) & set(train.loc[~val, "patient_id"])


def test_seed_changes_the_folds(realistic):
    a = assign_folds(realistic, seed=0)
    b = assign_folds(realistic, seed=1)
    assert (a != b).any()
    pd.testing.assert_series_equal(a, assign_folds(realistic.copy(), seed=0))


# ------------------------------------------------------------------------------------------
# small and edge cases
# ------------------------------------------------------------------------------------------
def tiny(n_patients=5, rows=1, labels=0):
    pid = np.repeat(np.arange(n_patients), rows)
    df = pd.DataFrame({"patient_id": pid})
    for c in LABELS:
        df[c] = labels
    return df


def test_exactly_as_many_patients_as_folds():
    for labels in (0, 1):
        folds = assign_folds(tiny(5, rows=2, labels=labels), n_folds=5, seed=3)
        assert sorted(folds.groupby(tiny(5, rows=2)["patient_id"]).first()) == [0, 1, 2, 3, 4]


def test_inner_split_with_two_patients():
    val = inner_split(tiny(2, rows=3), val_fraction=0.2, seed=0)
    assert val.sum() == 3


def test_bool_and_float_labels_are_accepted():
    df = make_cohort(30, (0.3, 0.1, 0.3, 0.2), seed=1, shuffle=False)
    as_bool = df.astype({c: bool for c in LABELS})
    as_float = df.astype({c: float for c in LABELS})
    expected = assign_folds(df, seed=4)
    pd.testing.assert_series_equal(assign_folds(as_bool, seed=4), expected)
    pd.testing.assert_series_equal(assign_folds(as_float, seed=4), expected)


def test_patient_strata_columns():
    patients = pd.DataFrame({"n_rows": [1, 3, 8]})
    for v in VESSELS:
        patients[f"pos_{v}"] = [0, 2, 5]
    strata = patient_strata(patients)
    assert strata.shape == (3, 4 * 4 + 4)
    assert strata[0].sum() == 0
    assert strata[2].sum() == strata.shape[1]


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------
def test_missing_label_column_is_named():
    df = tiny(10).drop(columns=["y_LM"])
    with pytest.raises(DataError, match="y_LM"):
        assign_folds(df)
    with pytest.raises(DataError, match="y_LM"):
        inner_split(df)


def test_missing_group_column_is_named():
    df = tiny(10).drop(columns=["patient_id"])
    with pytest.raises(DataError, match="patient_id"):
        assign_folds(df)
    with pytest.raises(DataError, match="subject"):
        assign_folds(tiny(10), group_col="subject")


def test_nan_label_is_an_error_naming_column_and_row():
    df = tiny(10).astype({"y_LAD": float})
    df.loc[7, "y_LAD"] = np.nan
    with pytest.raises(DataError, match=r"y_LAD.*1 missing label.*\[7\]"):
        assign_folds(df)


def test_non_binary_label_is_an_error():
    df = tiny(10)
    df.loc[3, "y_RCA"] = 3  # a grade, not a label
    with pytest.raises(DataError, match="y_RCA.*not 0/1"):
        assign_folds(df)


def test_missing_patient_id_is_an_error():
    df = tiny(10).astype({"patient_id": object})
    df.loc[2, "patient_id"] = None
    with pytest.raises(DataError, match="no patient id"):
        assign_folds(df)


def test_fewer_patients_than_folds():
    with pytest.raises(DataError, match="4 patient.*5 folds"):
        assign_folds(tiny(4, rows=3), n_folds=5)
    with pytest.raises(DataError, match="at least 2 patients"):
        inner_split(tiny(1, rows=4))


@pytest.mark.parametrize("n_folds", [1, 0, 2.5, True])
def test_bad_n_folds(n_folds):
    with pytest.raises(ValueError, match="n_folds"):
        assign_folds(tiny(10), n_folds=n_folds)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, "0.2"])
def test_bad_val_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        inner_split(tiny(10), val_fraction=fraction)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, None])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        assign_folds(tiny(10), seed=seed)


def test_prevalence_table_rejects_folds_that_split_a_patient():
    df = tiny(10, rows=2)
    folds = pd.Series(np.arange(20) % 2, index=df.index)
    with pytest.raises(DataError, match="more than one fold"):
        fold_prevalence_table(df, folds)


def test_prevalence_table_rejects_misaligned_folds():
    df = tiny(10, rows=2)
    with pytest.raises(ValueError, match="aligned"):
        fold_prevalence_table(df, pd.Series(0, index=range(100, 120)))
    with pytest.raises(ValueError, match="one entry per cohort row"):
        fold_prevalence_table(df, np.zeros(5))


def test_split_roles_rejects_unknown_fold():
    df = tiny(10)
    folds = assign_folds(df, seed=0)
    with pytest.raises(ValueError, match="fold 7"):
        split_roles(df, folds, 7)


def test_inner_split_repairs_an_empty_side():
    """Iterative stratification can leave the validation side empty on tiny cohorts; it is refilled."""
    labels = [[0, 1, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
    df = pd.DataFrame(labels, columns=LABELS)
    df.insert(0, "patient_id", [0, 1, 2])
    for seed in range(60):
        val = inner_split(df, seed=seed)
        assert val.sum() == 1
