"""Cross-fitted baselines: a logistic regression per vessel on the clinical variables, and the
ECG + clinical combiner (:func:`cross_fit_combiner`, its own scheme in its docstring).

**The clinical baseline** answers "does the ECG tell more than age, sex and symptoms?". Per
vessel, a logistic regression

.. math::

    \\operatorname{logit} P(y_v = 1 \\mid x) = \\beta_{0v} + \\beta_v^\\top x

on the design :func:`clinical_design` (age standardised; sex and symptom category one-hot with
the first level as reference; an indicator per variable with missing values, so no row is
dropped), fitted by L2-penalised maximum likelihood (scikit-learn's ``LogisticRegression``,
``C = 1`` on standardised columns: a mild ridge that keeps the fit finite when a category
separates a rare vessel's labels).

**Cross-fitting on the network's folds** (:func:`cross_fit_logistic`). For each outer fold
``k`` of the run, the model is fitted on the internal ECGs of the other folds and predicts the
ECGs of fold ``k``: every internal ECG gets an out-of-fold prediction from a model that never
saw its fold's labels, paired with the network's prediction of the same ECG (which the fold-``k``
network made without seeing fold ``k`` either). External ECGs are scored by the mean of the
fold models' probabilities, as the network's are. The design's scaling and levels are taken
from the internal rows' covariates only (no label), so they do not carry labels across folds;
``tests/test_baselines.py`` flips a held-out fold's labels and checks its predictions do not
move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ecglib import schema
from ecglib.errors import MissingInputError

__all__ = [
    "CLINICAL_COLUMNS",
    "NOT_RECORDED",
    "CrossFitted",
    "clinical_columns",
    "clinical_design",
    "cross_fit_logistic",
    "clinical_baseline",
    "cross_fit_combiner",
]

#: The clinical variables the baseline uses when the cohort has them.
CLINICAL_COLUMNS: tuple[str, ...] = ("age", "sex", "symptom", *schema.RISK_FACTORS)
#: The level of a categorical variable whose value is missing.
NOT_RECORDED = "not recorded"
#: Known levels of the categorical variables (first = reference).
LEVELS: dict[str, tuple[str, ...]] = {"sex": schema.SEXES, "symptom": schema.SYMPTOMS}


def clinical_columns(table: pd.DataFrame, columns: Sequence[str] = CLINICAL_COLUMNS) -> list[str]:
    """The clinical ``columns`` the table has with at least one value; raises
    :class:`MissingInputError` naming them when it has none."""
    present = [c for c in columns if c in table.columns and table[c].notna().any()]
    if not present:
        raise MissingInputError(
            f"the cohort has none of the clinical variables {', '.join(columns)} "
            "(the clinical baseline needs at least one)"
        )
    return present


def clinical_design(
    table: pd.DataFrame, columns: Sequence[str], reference: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The design matrix of the clinical baseline (no intercept), on ``table``'s index.

    ``age`` (any numeric column) is centred and scaled by the mean and SD of ``reference``
    (default ``table``; the chapter passes the internal rows, so external rows are scaled
    alike), missing values set to that mean and flagged in ``<column>: not recorded``.
    ``sex`` and ``symptom`` are one-hot over their canonical levels (:mod:`ecglib.schema`),
    the first level the reference, plus a ``not recorded`` column when a value is missing in
    ``reference`` or ``table``. A value outside the canonical levels raises ``ValueError``
    naming the column, row and value. Columns constant in ``reference`` are dropped.
    """
    reference = table if reference is None else reference
    parts = {}
    for column in columns:
        if column in LEVELS:
            levels = LEVELS[column]
            for frame in (reference, table):
                bad = frame[column].notna() & ~frame[column].isin(levels)
                if bad.any():
                    row = frame.index[np.flatnonzero(bad.to_numpy())[0]]
                    raise ValueError(
                        f"{column} of row {row} is {frame.at[row, column]!r}, not one of "
                        f"{list(levels)} ({int(bad.sum())} such rows)"
                    )
            for level in levels[1:]:
                parts[f"{column}: {level}"] = (table[column] == level).astype(float)
            if reference[column].isna().any() or table[column].isna().any():
                parts[f"{column}: {NOT_RECORDED}"] = table[column].isna().astype(float)
        else:
            values = pd.to_numeric(table[column], errors="raise").astype(float)
            ref = pd.to_numeric(reference[column], errors="raise").astype(float)
            mean, sd = float(ref.mean()), float(ref.std(ddof=0))
            parts[column] = (values.fillna(mean) - mean) / (sd if sd > 0 else 1.0)
            if ref.isna().any() or values.isna().any():
                parts[f"{column}: {NOT_RECORDED}"] = values.isna().astype(float)
    design = pd.DataFrame(parts, index=table.index)
    ref_design = design if reference is table else None
    if ref_design is None:
        ref_design = clinical_design(reference, columns)
    constant = [c for c in design.columns if c not in ref_design or ref_design[c].nunique() < 2]
    return design.drop(columns=constant)


@dataclass(frozen=True)
class CrossFitted:
    """Cross-fitted predictions of a per-vessel model (:func:`cross_fit_logistic`)."""

    #: ``fold`` and ``p_<vessel>`` per internal row, on the internal table's index.
    oof: pd.DataFrame
    #: ``p_<vessel>`` per external row (mean of the fold models); None without external rows.
    external: pd.DataFrame | None
    #: Coefficients per fold, vessel and term (``term``, ``coef``; the intercept included).
    coefficients: pd.DataFrame
    #: The design's columns.
    terms: tuple[str, ...]
    #: Vessels without a model, and why (their ``p_<vessel>`` columns are absent).
    reasons: dict[str, str] = field(default_factory=dict)
    #: Rows each fold's model was fitted on, by fold.
    fit_rows: dict[int, int] = field(default_factory=dict)


def cross_fit_logistic(
    design: pd.DataFrame,
    labels: pd.DataFrame,
    folds,
    vessels: Sequence[str],
    *,
    external: pd.DataFrame | None = None,
    C: float = 1.0,
) -> CrossFitted:
    """Per vessel and outer fold, a logistic regression fitted on the other folds' rows and
    predicting the fold's rows (module docstring); external rows scored by the mean of the
    fold models' probabilities.

    ``design`` (N, d) and ``labels`` (``y_<vessel>`` columns) share the internal rows' index;
    ``folds`` (N,) gives each row's outer fold; ``external`` is the external rows' design with
    the same columns. A training set with one class of a vessel raises ``ValueError`` naming
    the vessel and fold.
    """
    folds = np.asarray(folds)
    if len(folds) != len(design) or len(labels) != len(design):
        raise ValueError(
            f"design ({len(design)} rows), labels ({len(labels)}) and folds ({len(folds)}) "
            "must describe the same rows"
        )
    if external is not None and list(external.columns) != list(design.columns):
        raise ValueError("the external design must have the internal design's columns")
    x = design.to_numpy(dtype=float)
    oof = pd.DataFrame({"fold": folds}, index=design.index)
    ext = None if external is None else pd.DataFrame(index=external.index)
    coefs = []
    fold_ids = sorted(pd.unique(folds))
    for vessel in vessels:
        y = labels[schema.label_col(vessel)].to_numpy()
        p = np.full(len(design), np.nan)
        p_ext = np.zeros(0 if external is None else len(external))
        for k in fold_ids:
            train = folds != k
            if len(np.unique(y[train])) < 2:
                raise ValueError(
                    f"the {vessel} has one class in the training rows of fold {k}: "
                    "no logistic regression can be fitted"
                )
            model = LogisticRegression(C=C, max_iter=5000).fit(x[train], y[train])
            p[~train] = model.predict_proba(x[~train])[:, 1]
            if external is not None:
                p_ext = p_ext + model.predict_proba(external.to_numpy(dtype=float))[:, 1]
            coefs += [
                {"fold": k, "vessel": vessel, "term": t, "coef": float(c)}
                for t, c in zip(
                    ("intercept", *design.columns), (model.intercept_[0], *model.coef_[0])
                )
            ]
        oof[schema.prob_col(vessel)] = p
        if ext is not None:
            ext[schema.prob_col(vessel)] = p_ext / len(fold_ids)
    return CrossFitted(oof, ext, pd.DataFrame(coefs), tuple(design.columns))


def clinical_baseline(
    internal: pd.DataFrame,
    external: pd.DataFrame | None = None,
    vessels: Sequence[str] | None = None,
    *,
    columns: Sequence[str] = CLINICAL_COLUMNS,
    fold_col: str = "fold",
) -> CrossFitted:
    """The cross-fitted clinical baseline (module docstring) of the joined out-of-fold
    predictions ``internal`` (labels, clinical columns and ``fold_col``) and, optionally, the
    external ones. Raises :class:`MissingInputError` when the cohort has no clinical
    variable."""
    vessels = schema.vessels_of(internal, vessels)
    present = clinical_columns(internal, columns)
    design = clinical_design(internal, present)
    ext = None
    if external is not None:
        ext = clinical_design(external, present, reference=internal)
        extra = [c for c in ext.columns if c not in design.columns and ext[c].any()]
        if extra:
            raise ValueError(
                f"the external rows have {', '.join(extra)} but no internal row does: the "
                "internal fit has no coefficient for them"
            )
        ext = ext.reindex(columns=design.columns, fill_value=0.0)
    return cross_fit_logistic(
        design, internal, internal[fold_col].to_numpy(), vessels, external=ext
    )


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(q) - np.log1p(-q)


def cross_fit_combiner(
    design: pd.DataFrame,
    labels: pd.DataFrame,
    folds,
    network: pd.DataFrame,
    inner: Mapping[int, pd.DataFrame],
    vessels: Sequence[str],
    *,
    external_design: pd.DataFrame | None = None,
    external_network: Mapping[int, pd.DataFrame] | None = None,
    C: float = 1.0,
) -> CrossFitted:
    """ECG + clinical: per vessel and outer fold ``k``, a logistic regression on the logit of
    fold ``k``'s network probability and the clinical design, **fitted on fold k's inner
    validation rows** and predicting fold ``k``'s held-out rows.

    The network of fold ``k`` was trained on the other folds' rows except its inner validation
    split, which chose only its epoch; its predictions there are out-of-sample for its weights,
    and their labels belong to the training folds. So no label of fold ``k`` reaches fold
    ``k``'s combined prediction, neither directly nor through a network trained on it (every
    other fold's network was trained on fold ``k``, which is why the pooled out-of-fold
    predictions of the other folds cannot be used to fit it). The epoch choice makes the
    network look slightly better on its inner split than on new ECGs, so the combiner may lean
    a little more on the ECG than it should.

    ``design``, ``labels`` (``y_<vessel>``), ``folds`` and ``network`` (the out-of-fold
    ``p_<vessel>``) describe the internal rows on one index; ``inner[k]`` holds fold ``k``'s
    network probabilities on its inner validation rows, indexed by those rows' labels in
    ``design``. External rows: each fold's combiner applied to that fold's network
    probabilities (``external_network[k]``) and the external design; the mean of the folds'
    probabilities. Raises ``ValueError`` when an inner split holds a row of its own held-out
    fold, and :class:`MissingInputError` when an inner split has one class of a vessel.
    """
    folds = pd.Series(np.asarray(folds), index=design.index)
    oof = pd.DataFrame({"fold": folds}, index=design.index)
    ext = None if external_design is None else pd.DataFrame(index=external_design.index)
    terms = ("ECG logit", *design.columns)
    coefs = []
    fold_ids = sorted(pd.unique(folds))
    for k in fold_ids:
        if k not in inner:
            raise ValueError(f"no inner-validation predictions for fold {k}")
        own = folds.loc[inner[k].index] == k
        if own.any():
            raise ValueError(
                f"the inner validation rows of fold {k} include {int(own.sum())} of its own "
                "held-out rows: they cannot be used to fit its combiner"
            )
    for vessel in vessels:
        p_col, y_col = schema.prob_col(vessel), schema.label_col(vessel)
        p = np.full(len(design), np.nan)
        p_ext = np.zeros(0 if ext is None else len(ext))
        for k in fold_ids:
            rows = inner[k].index
            x_fit = np.column_stack([_logit(inner[k][p_col]), design.loc[rows].to_numpy(float)])
            y_fit = labels.loc[rows, y_col].to_numpy()
            if len(np.unique(y_fit)) < 2:
                raise MissingInputError(
                    f"the {vessel} has one class ({int(y_fit.sum())} positive of {len(y_fit)}) "
                    f"in the inner validation split of fold {k}, on which its combiner is fitted"
                )
            model = LogisticRegression(C=C, max_iter=5000).fit(x_fit, y_fit)
            held = (folds == k).to_numpy()
            x_held = np.column_stack(
                [_logit(network.loc[held, p_col]), design.loc[held].to_numpy(float)]
            )
            p[held] = model.predict_proba(x_held)[:, 1]
            if ext is not None:
                x_ext = np.column_stack(
                    [
                        _logit(external_network[k].loc[ext.index, p_col]),
                        external_design.to_numpy(float),
                    ]
                )
                p_ext = p_ext + model.predict_proba(x_ext)[:, 1]
            coefs += [
                {"fold": k, "vessel": vessel, "term": t, "coef": float(c)}
                for t, c in zip(("intercept", *terms), (model.intercept_[0], *model.coef_[0]))
            ]
        oof[p_col] = p
        if ext is not None:
            ext[p_col] = p_ext / len(fold_ids)
    sizes = {int(k): len(inner[k]) for k in fold_ids}
    return CrossFitted(oof, ext, pd.DataFrame(coefs), terms, fit_rows=sizes)
