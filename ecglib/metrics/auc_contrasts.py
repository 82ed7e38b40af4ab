"""Several scores of the same ECGs: their AUCs and paired differences, clustered by patient.

For ``k`` scores of the same ``N`` ECGs with one label vector (the network's head, a clinical
baseline, another vessel's head, ...), :func:`clustered_auc_contrasts` computes every AUC and its
clustered (Obuchowski 1997) variance, and the difference of each score's AUC from a reference
score's with its paired clustered variance, from ONE clustered covariance matrix
(:func:`ecglib.metrics.clustered_roc.clustered_delong_covariance`):

.. math::

    \\hat\\Delta_j = \\hat A_{\\mathrm{ref}} - \\hat A_j, \\qquad
    \\widehat{\\mathrm{Var}}(\\hat\\Delta_j) = V_{\\mathrm{ref}} + V_j - 2 C_{\\mathrm{ref},j},
    \\qquad z = \\hat\\Delta_j / \\mathrm{SE}, \\qquad p = 2 (1 - \\Phi(|z|)),

the normal interval :math:`\\hat\\Delta_j \\pm z_{1-\\alpha/2} \\mathrm{SE}`: for each pair
exactly :func:`ecglib.metrics.clustered_roc.clustered_delong_test` (the tests check it), all
pairs at once. Each AUC's own interval is :func:`ecglib.metrics.roc.auc_ci`'s (logit-scale
Wald by default).

The sign is *reference minus score*: a positive difference says the reference separates the
classes better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ecglib import schema
from ecglib.metrics.clustered_roc import cluster_codes, clustered_delong_covariance
from ecglib.metrics.roc import OneClassError, auc_ci

__all__ = [
    "CONTRAST_COLUMNS",
    "MODEL_COMPARISON_COLUMNS",
    "clustered_auc_contrasts",
    "model_comparison_table",
]

#: Columns of :func:`clustered_auc_contrasts`.
CONTRAST_COLUMNS: tuple[str, ...] = (
    "score",
    "n",
    "positives",
    "clusters",
    "auc",
    "se",
    "ci_low",
    "ci_high",
    "diff",
    "diff_se",
    "diff_low",
    "diff_high",
    "p_value",
)


def clustered_auc_contrasts(
    y,
    scores,
    clusters,
    names: Sequence[str],
    *,
    reference: str,
    level: float = 0.95,
    ci_method: str = "logit",
    cluster_name: str = "patient",
) -> pd.DataFrame:
    """AUC of each score column and its paired clustered difference from ``reference``.

    Parameters
    ----------
    y : array (N,)
        0/1 labels shared by the scores.
    scores : array (N, k)
        Finite scores, higher meaning positive, one column per name.
    clusters : array (N,)
        Patient (cluster) id of each row.
    names : the k scores' names; ``reference`` must be one of them.

    Returns one row per score (:data:`CONTRAST_COLUMNS`): ``auc`` with its clustered ``se`` and
    interval, ``diff = auc(reference) - auc(score)`` with ``diff_se``, its normal interval and
    two-sided ``p_value`` (NaN on the reference's own row), ``clusters`` the number of patients.
    Raises :class:`~ecglib.metrics.roc.OneClassError` when ``y`` has one class; variances that
    do not exist (positives or negatives in fewer than two patients) are NaN.
    """
    names = list(names)
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not one of the scores {names}")
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape[1] != len(names):
        raise ValueError(f"scores must be (N, {len(names)}) for the names {names}, got {s.shape}")
    y = np.asarray(y)
    codes, n_clusters = cluster_codes(clusters, len(y), cluster_name)
    auc, cov = clustered_delong_covariance(y, s, codes, cluster_name=cluster_name)
    var = np.maximum(np.diag(cov), 0.0)
    low, high = auc_ci(auc, var, level=level, method=ci_method)
    r = names.index(reference)
    diff = auc[r] - auc
    diff_var = cov[r, r] + np.diag(cov) - 2.0 * cov[r, :]
    diff_se = np.sqrt(np.maximum(diff_var, 0.0))
    z = stats.norm.ppf(0.5 + level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(diff_se > 0, diff / diff_se, np.where(diff == 0, 0.0, np.nan))
    p = 2.0 * stats.norm.sf(np.abs(statistic))
    p[r] = np.nan
    diff[r] = np.nan
    diff_se[r] = np.nan
    positives = int(np.sum(y == 1))
    return pd.DataFrame(
        {
            "score": names,
            "n": len(y),
            "positives": positives,
            "clusters": n_clusters,
            "auc": auc,
            "se": np.sqrt(var),
            "ci_low": low,
            "ci_high": high,
            "diff": diff,
            "diff_se": diff_se,
            "diff_low": diff - z * diff_se,
            "diff_high": diff + z * diff_se,
            "p_value": p,
        },
        columns=list(CONTRAST_COLUMNS),
    )


#: Columns of :func:`model_comparison_table`.
MODEL_COMPARISON_COLUMNS: tuple[str, ...] = ("vessel", "model", *CONTRAST_COLUMNS[1:], "reason")


def model_comparison_table(
    table: pd.DataFrame,
    scores: Mapping[str, pd.DataFrame],
    vessels: Sequence[str],
    *,
    reference: str,
    cluster_col: str = "patient",
    level: float = 0.95,
) -> pd.DataFrame:
    """Per vessel, the AUC of each model's ``p_<vessel>`` and its paired clustered difference
    from the ``reference`` model's, on the same ECGs (:func:`clustered_auc_contrasts`).

    ``table`` holds ``y_<vessel>`` and ``cluster_col``; ``scores`` maps a model's name to a
    table of its ``p_<vessel>`` columns, row-aligned with ``table`` (same length and index).
    One row per vessel and model (:data:`MODEL_COMPARISON_COLUMNS`), ``diff`` = AUC(reference)
    - AUC(model); a vessel with one class has NaN estimates and a ``reason``.
    """
    names = list(scores)
    for name, frame in scores.items():
        if len(frame) != len(table) or not frame.index.equals(table.index):
            raise ValueError(f"the {name} scores are not row-aligned with the labelled table")
    rows = []
    for vessel in vessels:
        y = table[schema.label_col(vessel)].to_numpy()
        s = np.column_stack(
            [scores[n][schema.prob_col(vessel)].to_numpy(dtype=float) for n in names]
        )
        try:
            out = clustered_auc_contrasts(
                y,
                s,
                table[cluster_col].to_numpy(),
                names,
                reference=reference,
                level=level,
                cluster_name=cluster_col,
            )
        except OneClassError:
            positives = int(np.sum(y == 1))
            reason = f"one class ({positives} positive of {len(y)} ECGs)"
            rows += [
                {
                    "vessel": vessel,
                    "model": n,
                    "n": len(y),
                    "positives": positives,
                    "reason": reason,
                }
                for n in names
            ]
            continue
        out = out.rename(columns={"score": "model"}).assign(vessel=vessel, reason="")
        rows += out.to_dict("records")
    frame = pd.DataFrame(rows, columns=list(MODEL_COMPARISON_COLUMNS))
    frame["reason"] = frame["reason"].fillna("")
    return frame
