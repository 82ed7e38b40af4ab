"""AUC per subgroup (age, sex, ECG-CCTA interval) and the test of the subgroup difference.

The paper reports discrimination in subgroups: age < 65 vs >= 65 years, sex, and an ECG-CCTA
interval <= 3 h vs > 3 h. :func:`define_subgroups` derives these labels from the cohort table,
:func:`subgroup_auc_table` computes, for every subgroup and vessel, the AUC with its DeLong CI,
and compares each subgroup with the variable's reference subgroup (its first level) by the
unpaired DeLong z-test

.. math::

    z = \\frac{\\hat A_g - \\hat A_{\\text{ref}}}{\\sqrt{\\hat V_g + \\hat V_{\\text{ref}}}},

(:func:`ecglib.metrics.roc.compare_independent_aucs`). The test treats the two subgroups as
independent samples; they are disjoint sets of ECGs, but a patient with several ECGs can fall
in both interval subgroups (and, across birthdays, both age groups), which the test ignores.

Each subgroup's AUCs are :func:`ecglib.metrics.roc.vessel_auc_table` of its rows (one-class
policy ``"nan"``): a subgroup in which a vessel has one class (common for LM) gets NaN with the
reason in the ``reason`` column; it is never an error and never an AUC of 0.5.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics._inputs import MissingInputError, as_binary
from ecglib.metrics.roc import _require, compare_independent_aucs, vessel_auc_table

#: The paper's age cut (years): < 65 vs >= 65.
AGE_CUT_YEARS = 65.0

#: Human-readable names of the subgroup variables of :func:`define_subgroups`.
VARIABLE_LABELS = {"age": "Age", "sex": "Sex", "interval": "ECG-CCTA interval"}

#: Columns of :func:`subgroup_auc_table`.
COLUMNS = (
    "variable",
    "subgroup",
    "vessel",
    "n",
    "positives",
    "auc",
    "se",
    "ci_low",
    "ci_high",
    "reason",
    "reference",
    "auc_diff",
    "z",
    "p_value",
)


def define_subgroups(
    cohort: pd.DataFrame,
    *,
    age_cut: float = AGE_CUT_YEARS,
    interval_cut_hours: float = schema.INTERVAL_CUT_HOURS,
) -> pd.DataFrame:
    """The paper's subgroup labels, one column per variable, on the cohort's index.

    * ``age``: ``"< 65"`` / ``"≥ 65"`` from ``age`` (years at the ECG);
    * ``sex``: ``"male"`` / ``"female"`` from ``sex``;
    * ``interval``: ``"≤ 3 h"`` / ``"> 3 h"`` from ``ecg_ccta_hours``, missing where the
      interval is unknown (exports with CCTA dates only). When no row has a known interval the
      column is left out, with a warning.

    Each column is an ordered categorical whose first category is the reference of
    :func:`subgroup_auc_table`; rows with a missing value are left out of that variable.
    """
    for column in ("age", "sex"):
        if column not in cohort.columns:
            raise MissingInputError(
                f"the cohort has no {column} column (the subgroup analysis needs it)"
            )
    out = pd.DataFrame(index=cohort.index)
    young, old = f"< {age_cut:g}", f"≥ {age_cut:g}"
    age = pd.to_numeric(cohort["age"], errors="raise")
    out["age"] = pd.Categorical(
        np.where(age.isna(), None, np.where(age < age_cut, young, old)),
        categories=[young, old],
        ordered=True,
    )
    sex = cohort["sex"].astype("string")
    unknown = sorted(set(sex.dropna()) - set(schema.SEXES))
    if unknown:
        raise ValueError(
            f"sex values {unknown} are not canonical {schema.SEXES}; map them "
            "with the params label map first"
        )
    out["sex"] = pd.Categorical(
        sex.to_numpy(dtype=object, na_value=None), categories=list(schema.SEXES), ordered=True
    )
    hours = cohort["ecg_ccta_hours"] if "ecg_ccta_hours" in cohort.columns else None
    if hours is None or hours.isna().all():
        warnings.warn(
            "no ECG-CCTA interval is known (no ecg_ccta_hours values): the interval "
            "subgroups are left out",
            UserWarning,
            stacklevel=2,
        )
    else:
        short, long_ = f"≤ {interval_cut_hours:g} h", f"> {interval_cut_hours:g} h"
        hours = pd.to_numeric(hours, errors="raise")
        labels = np.where(hours.isna(), None, np.where(hours <= interval_cut_hours, short, long_))
        out["interval"] = pd.Categorical(labels, categories=[short, long_], ordered=True)
    return out


def subgroup_auc_table(
    predictions: pd.DataFrame,
    subgroups: pd.DataFrame | pd.Series | str,
    vessels: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    ci_method: str = "logit",
    distribution: str = "normal",
) -> pd.DataFrame:
    """Tidy table of AUCs per subgroup and vessel, with the test against the reference subgroup.

    Parameters
    ----------
    predictions : table with ``p_<vessel>`` and ``y_<vessel>`` columns.
    subgroups : a DataFrame of subgroup columns on the same index (e.g.
        :func:`define_subgroups`), a Series, or the name of a column of ``predictions``.
        Categorical columns keep their category order (the first is the reference; a category
        nobody falls in gets a row with ``n = 0``); other columns are sorted. Rows with a
        missing label are left out of that variable.
    vessels : vessels to evaluate (default: those ``predictions`` has labels for).
    level, ci_method : confidence level and CI scale (:func:`ecglib.metrics.roc.auc_ci`).
    distribution : reference distribution of the unpaired test (``normal`` or pROC's ``t``).

    Returns
    -------
    DataFrame with columns :data:`COLUMNS`: one row per (variable, subgroup, vessel).
    ``reason`` says why an AUC or CI is NaN (empty, when all is well). ``reference`` names the
    variable's reference subgroup; ``auc_diff = auc - auc(reference)``, ``z`` and ``p_value``
    (two-sided) are filled on the non-reference rows and NaN on the reference row.
    """
    vessels = schema.vessels_of(predictions, vessels)
    _require(predictions, schema.prob_cols(vessels) + schema.label_cols(vessels))
    groups = _as_frame(predictions, subgroups)
    p_all = predictions[schema.prob_cols(vessels)].to_numpy(dtype=float)
    y_all = np.column_stack(
        [as_binary(predictions[schema.label_col(v)], f"y of {v}") for v in vessels]
    )
    if not np.isfinite(p_all).all():
        col = int(np.flatnonzero(~np.isfinite(p_all).all(axis=0))[0])
        raise ValueError(f"p_{vessels[col]} holds missing or infinite values")
    rows: list[dict] = []
    for variable in groups.columns:
        labels = groups[variable]
        levels = _levels(labels)
        if labels.isna().all() or not levels:
            raise ValueError(f"subgroup variable {variable!r} has no non-missing value")
        per_level = {}
        for level_name in levels:
            mask = (labels == level_name).to_numpy(dtype=bool)
            per_level[level_name] = _auc_rows(y_all[mask], p_all[mask], vessels, level, ci_method)
        reference = levels[0]
        for level_name in levels:
            for k, vessel in enumerate(vessels):
                row = {
                    "variable": variable,
                    "subgroup": str(level_name),
                    "vessel": vessel,
                    **per_level[level_name][k],
                    "reference": str(reference),
                    "auc_diff": np.nan,
                    "z": np.nan,
                    "p_value": np.nan,
                }
                if level_name != reference:
                    ref = per_level[reference][k]
                    test = compare_independent_aucs(
                        row["auc"],
                        row["se"] ** 2,
                        ref["auc"],
                        ref["se"] ** 2,
                        n_a=row["n"],
                        n_b=ref["n"],
                        level=level,
                        distribution=distribution,
                    )
                    row.update(auc_diff=test.diff, z=test.statistic, p_value=test.p_value)
                rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _as_frame(predictions: pd.DataFrame, subgroups) -> pd.DataFrame:
    if isinstance(subgroups, str):
        if subgroups not in predictions.columns:
            raise KeyError(f"predictions have no subgroup column {subgroups!r}")
        return predictions[[subgroups]]
    if isinstance(subgroups, pd.Series):
        subgroups = subgroups.to_frame(name=subgroups.name or "subgroup")
    if not isinstance(subgroups, pd.DataFrame):
        raise TypeError("subgroups must be a DataFrame, a Series or a column name")
    if not subgroups.index.equals(predictions.index):
        if len(subgroups) != len(predictions) or not subgroups.index.isin(predictions.index).all():
            raise ValueError(
                "subgroups must be indexed like the predictions (one label per prediction row)"
            )
        subgroups = subgroups.reindex(predictions.index)
    return subgroups


def _levels(labels: pd.Series) -> list:
    """A categorical's categories (all of them, in order: an empty one is reported as such);
    otherwise the sorted values present."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return list(labels.cat.categories)
    return sorted(set(labels.dropna()), key=str)


def _auc_rows(
    y: np.ndarray, p: np.ndarray, vessels: list[str], level: float, ci_method: str
) -> list[dict]:
    """One subgroup's row of :func:`ecglib.metrics.roc.vessel_auc_table` per vessel (NaN with a
    reason where a vessel has one class, a single positive or negative, or no rows at all)."""
    frame = pd.DataFrame(
        {
            **{schema.prob_col(v): p[:, k] for k, v in enumerate(vessels)},
            **{schema.label_col(v): y[:, k] for k, v in enumerate(vessels)},
        }
    )
    table = vessel_auc_table(frame, vessels, level=level, ci_method=ci_method, one_class="nan")
    if len(frame) == 0:
        # a category nobody falls in: say so in the subgroup's words (the saved table's text)
        table["reason"] = "no predictions in this subgroup"
    return table[["n", "positives", "auc", "se", "ci_low", "ci_high", "reason"]].to_dict("records")
