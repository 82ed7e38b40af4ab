"""AUC per pre-specified subgroup (age, sex, ECG-CCTA interval), clustered by patient, and the
test of each subgroup against its variable's reference.

The paper reports discrimination in subgroups: age < 65 vs >= 65 years, sex, and an ECG-CCTA
interval <= 3 h vs > 3 h; the run's params pre-specify them
(:class:`ecglib.config.EvaluationParams`, ``subgroup_*``). :func:`define_subgroups` derives the
labels from the cohort table, one per ECG. :func:`subgroup_auc_table` computes, for every
subgroup and vessel, the AUC over the subgroup's ECGs with the clustered DeLong interval, the
patient as the cluster (:func:`ecglib.metrics.clustered_roc.clustered_auc_table`, Obuchowski
1997), and compares each subgroup with the variable's reference subgroup (its first level) by

.. math::

    z = \\frac{\\hat A_g - \\hat A_{\\text{ref}}}
    {\\sqrt{\\hat V_g + \\hat V_{\\text{ref}} - 2 \\widehat{\\mathrm{Cov}}(\\hat A_g,
    \\hat A_{\\text{ref}})}},

with the clustered variances and the clustered covariance of the two AUCs
(:func:`ecglib.metrics.clustered_roc.clustered_delong_two_set_test`). **Shared patients.** The
subgroups hold disjoint ECGs, but the labels are per ECG, so a patient can have ECGs in both
(an ECG at 64 and one at 66 years; ECG-CCTA intervals on both sides of the cut; never for sex).
Those patients make the two AUCs dependent; the covariance term sums, over the patients with
ECGs in both subgroups, the products of their structural components in each, so each patient
remains one independent unit. With no shared patient it is 0 and the test is the
independent-samples test with clustered variances. ``shared_patients`` counts them.

**Multiplicity.** ``p_holm`` is Holm's step-down adjustment
(:func:`statsmodels.stats.multitest.multipletests`, ``method="holm"``; Holm 1979) over every
comparison of the table (all variables and vessels with a test): the family is the table.

Each subgroup's AUCs are :func:`~ecglib.metrics.clustered_roc.clustered_auc_table` of its rows
(one-class policy ``"nan"``): a subgroup in which a vessel has one class (common for LM) gets
NaN with the reason in the ``reason`` column; it is never an error and never an AUC of 0.5.

References
----------
Obuchowski NA. Nonparametric analysis of clustered ROC curve data. Biometrics 1997;53:567-78.

Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat 1979;6:65-70.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from ecglib import schema
from ecglib.config import EvaluationParams
from ecglib.metrics._inputs import MissingInputError, as_binary
from ecglib.metrics.clustered_roc import (
    cluster_codes,
    clustered_auc_table,
    clustered_delong_two_set_test,
)
from ecglib.metrics.roc import _require
from ecglib.metrics.small_counts import WITHHELD, withhold

#: The params' defaults (the paper's subgroups): one source for the cuts.
_DEFAULTS = EvaluationParams()

#: Human-readable names of the subgroup variables of :func:`define_subgroups`.
VARIABLE_LABELS = {"age": "Age", "sex": "Sex", "interval": "ECG-CCTA interval"}

#: Columns of :func:`subgroup_auc_table`.
COLUMNS = (
    "variable",
    "subgroup",
    "vessel",
    "n",
    "patients",
    "positives",
    "positive_patients",
    "auc",
    "se",
    "ci_low",
    "ci_high",
    "reason",
    "reference",
    "shared_patients",
    "auc_diff",
    "se_diff",
    "z",
    "p_value",
    "p_holm",
    "withheld",
)


def define_subgroups(
    cohort: pd.DataFrame,
    *,
    variables: Sequence[str] = _DEFAULTS.subgroup_variables,
    age_cut: float = _DEFAULTS.subgroup_age_cut_years,
    interval_cut_hours: float = _DEFAULTS.subgroup_interval_cut_hours,
) -> pd.DataFrame:
    """The pre-specified subgroup labels, one column per variable (in ``variables``' order), on
    the cohort's index; defaults: :class:`ecglib.config.EvaluationParams`'.

    * ``age``: ``"< 65"`` / ``"≥ 65"`` from ``age`` (years at the ECG) and ``age_cut``;
    * ``sex``: ``"male"`` / ``"female"`` from ``sex``;
    * ``interval``: ``"≤ 3 h"`` / ``"> 3 h"`` from ``ecg_ccta_hours`` and
      ``interval_cut_hours``, missing where the interval is unknown (exports with CCTA dates
      only). When no row has a known interval the column is left out, with a warning.

    Each column is an ordered categorical whose first category is the reference of
    :func:`subgroup_auc_table`; rows with a missing value are left out of that variable. A
    cohort without the ``age`` or ``sex`` column a variable needs, or with no variable left,
    raises :class:`~ecglib.metrics._inputs.MissingInputError`; unknown or repeated variables
    and cuts that are not positive numbers raise ``ValueError``.
    """
    variables = list(variables)
    unknown = [v for v in variables if v not in VARIABLE_LABELS]
    if unknown or not variables or len(set(variables)) < len(variables):
        raise ValueError(
            f"subgroup variables must be distinct names among {list(VARIABLE_LABELS)}, "
            f"at least one; got {variables}"
        )
    for name, value, unit in (
        ("age_cut", age_cut, "years"),
        ("interval_cut_hours", interval_cut_hours, "hours"),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} = {value!r}: must be a positive number of {unit}")
        if not math.isfinite(value):
            raise ValueError(f"{name} = {value!r}: must be a finite number of {unit}")
    for column in [c for c in ("age", "sex") if c in variables]:
        if column not in cohort.columns:
            raise MissingInputError(
                f"the cohort has no {column} column (the subgroup analysis needs it)"
            )
    out = pd.DataFrame(index=cohort.index)
    for variable in variables:
        if variable == "age":
            young, old = f"< {age_cut:g}", f"≥ {age_cut:g}"
            age = pd.to_numeric(cohort["age"], errors="raise")
            out["age"] = pd.Categorical(
                np.where(age.isna(), None, np.where(age < age_cut, young, old)),
                categories=[young, old],
                ordered=True,
            )
        elif variable == "sex":
            sex = cohort["sex"].astype("string")
            bad = sorted(set(sex.dropna()) - set(schema.SEXES))
            if bad:
                raise ValueError(
                    f"sex values {bad} are not canonical {schema.SEXES}; map them "
                    "with the params label map first"
                )
            out["sex"] = pd.Categorical(
                sex.to_numpy(dtype=object, na_value=None),
                categories=list(schema.SEXES),
                ordered=True,
            )
        else:
            labels = _interval_labels(cohort, interval_cut_hours)
            if labels is not None:
                out["interval"] = labels
    if out.columns.empty:
        raise MissingInputError("no pre-specified subgroup variable can be derived")
    return out


def _interval_labels(cohort: pd.DataFrame, cut: float) -> pd.Categorical | None:
    hours = cohort["ecg_ccta_hours"] if "ecg_ccta_hours" in cohort.columns else None
    if hours is None or hours.isna().all():
        warnings.warn(
            "no ECG-CCTA interval is known (no ecg_ccta_hours values): the interval "
            "subgroups are left out",
            UserWarning,
            stacklevel=3,
        )
        return None
    short, long_ = f"≤ {cut:g} h", f"> {cut:g} h"
    hours = pd.to_numeric(hours, errors="raise")
    labels = np.where(hours.isna(), None, np.where(hours <= cut, short, long_))
    return pd.Categorical(labels, categories=[short, long_], ordered=True)


def subgroup_auc_table(
    predictions: pd.DataFrame,
    subgroups: pd.DataFrame | pd.Series | str,
    vessels: Sequence[str] | None = None,
    *,
    cluster_col: str = "patient",
    level: float = 0.95,
    ci_method: str = "logit",
    min_events: int | None = None,
) -> pd.DataFrame:
    """Tidy table of clustered AUCs per subgroup and vessel, with the test against the
    reference subgroup and Holm-adjusted p-values (module docstring).

    Parameters
    ----------
    predictions : table with ``p_<vessel>``, ``y_<vessel>`` and the cluster id ``cluster_col``.
    subgroups : a DataFrame of subgroup columns on the same index (e.g.
        :func:`define_subgroups`), a Series, or the name of a column of ``predictions``.
        Categorical columns keep their category order (the first is the reference; a category
        nobody falls in gets a row with ``n = 0``); other columns are sorted. Rows with a
        missing label are left out of that variable.
    vessels : vessels to evaluate (default: those ``predictions`` has labels for).
    cluster_col : the patient (cluster) id column (default ``patient``).
    level, ci_method : confidence level and CI scale (:func:`ecglib.metrics.roc.auc_ci`).
    min_events : the small-count policy (:mod:`ecglib.metrics.small_counts`): a subgroup's AUC
        on fewer positive (or negative) ECGs is withheld (NaN, its reason in ``withheld``),
        and neither it nor a subgroup compared with it is tested, so Holm's adjustment counts
        only the tests made. None: nothing is withheld.

    Returns
    -------
    DataFrame with columns :data:`COLUMNS`: one row per (variable, subgroup, vessel). ``n`` are
    the subgroup's ECGs, ``patients`` its patients, ``positives`` its positive ECGs and
    ``positive_patients`` the patients they come from; ``se`` and the CI are clustered by
    patient;
    ``reason`` says why an AUC or CI is NaN (empty when all is well). ``reference`` names the
    variable's reference subgroup. On the non-reference rows: ``shared_patients`` (patients
    with ECGs in this subgroup and in the reference), ``auc_diff = auc - auc(reference)``, its
    clustered ``se_diff``, ``z``, the two-sided ``p_value`` and ``p_holm``; NaN where either
    AUC or its variance is undefined, and all NaN on the reference row.
    """
    vessels = schema.vessels_of(predictions, vessels)
    _require(predictions, schema.prob_cols(vessels) + schema.label_cols(vessels))
    if cluster_col not in predictions.columns:
        raise KeyError(
            f"predictions have no cluster column {cluster_col!r} (the patient of each ECG, "
            "which the clustered intervals and tests need)"
        )
    cluster_codes(predictions[cluster_col].to_numpy(), len(predictions), cluster_col)
    groups = _as_frame(predictions, subgroups)
    p_all = predictions[schema.prob_cols(vessels)].to_numpy(dtype=float)
    y_all = np.column_stack(
        [as_binary(predictions[schema.label_col(v)], f"y of {v}") for v in vessels]
    )
    if not np.isfinite(p_all).all():
        col = int(np.flatnonzero(~np.isfinite(p_all).all(axis=0))[0])
        raise ValueError(f"p_{vessels[col]} holds missing or infinite values")
    patients = predictions[cluster_col].to_numpy()
    rows: list[dict] = []
    for variable in groups.columns:
        labels = groups[variable]
        levels = _levels(labels)
        if labels.isna().all() or not levels:
            raise ValueError(f"subgroup variable {variable!r} has no non-missing value")
        masks = {name: (labels == name).to_numpy(dtype=bool) for name in levels}
        per_level = {
            name: _auc_rows(predictions[mask], vessels, cluster_col, level, ci_method, min_events)
            for name, mask in masks.items()
        }
        reference = levels[0]
        ref_mask = masks[reference]
        for level_name in levels:
            mask = masks[level_name]
            is_ref = level_name == reference
            shared = len(set(patients[mask]) & set(patients[ref_mask]))
            for k, vessel in enumerate(vessels):
                row = {
                    "variable": variable,
                    "subgroup": str(level_name),
                    "vessel": vessel,
                    **per_level[level_name][k],
                    "reference": str(reference),
                    "shared_patients": np.nan if is_ref else shared,
                    **dict.fromkeys(("auc_diff", "se_diff", "z", "p_value", "p_holm"), np.nan),
                }
                ref = per_level[reference][k]
                if not is_ref and np.isfinite([row["se"], ref["se"]]).all():
                    test = clustered_delong_two_set_test(
                        y_all[mask, k],
                        p_all[mask, k],
                        patients[mask],
                        y_all[ref_mask, k],
                        p_all[ref_mask, k],
                        patients[ref_mask],
                        level=level,
                        cluster_name=cluster_col,
                    )
                    row.update(
                        auc_diff=test.diff, se_diff=test.se, z=test.statistic, p_value=test.p_value
                    )
                rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    tested = table["p_value"].notna().to_numpy()
    if tested.any():
        table.loc[tested, "p_holm"] = multipletests(
            table.loc[tested, "p_value"].to_numpy(), method="holm"
        )[1]
    return table


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
    rows: pd.DataFrame,
    vessels: list[str],
    cluster_col: str,
    level: float,
    ci_method: str,
    min_events: int | None = None,
) -> list[dict]:
    """One subgroup's row of :func:`~ecglib.metrics.clustered_roc.clustered_auc_table` per
    vessel (NaN with a reason where a vessel has one class, its positives or negatives in one
    patient, or no rows at all)."""
    table = clustered_auc_table(
        rows, vessels, cluster_col=cluster_col, level=level, ci_method=ci_method, one_class="nan"
    ).rename(columns={"clusters": "patients"})
    if len(rows) == 0:
        # a category nobody falls in: say so in the subgroup's words (the saved table's text)
        table["reason"] = "no predictions in this subgroup"
        table[WITHHELD] = ""
    elif min_events is not None:
        table = withhold(table, min_events)
    else:
        table[WITHHELD] = ""
    # the variance's positive (class) term rests on these patients: few of them, a fragile SE
    table["positive_patients"] = [
        int(rows.loc[rows[schema.label_col(v)] == 1, cluster_col].nunique()) for v in vessels
    ]
    columns = ["n", "patients", "positives", "positive_patients"]
    columns += ["auc", "se", "ci_low", "ci_high", "reason", WITHHELD]
    return table[columns].to_dict("records")
