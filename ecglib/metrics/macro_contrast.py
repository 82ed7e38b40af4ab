"""The paired difference of two models' macro-AUC (mean over vessels) on the same ECGs,
clustered by patient.

Two models ``a`` and ``b`` score the same ``N`` ECGs for ``K`` vessels, each vessel with its own
labels. Per vessel the paired difference :math:`D_v = \\hat A^a_v - \\hat A^b_v` is
:func:`ecglib.metrics.clustered_roc.clustered_delong_test`'s; the macro difference is their mean,

.. math::

    \\bar D = \\frac1K \\sum_v D_v, \\qquad
    \\widehat{\\mathrm{Var}}(\\bar D) = \\frac1{K^2} \\sum_{v, w} \\widehat{\\mathrm{Cov}}(D_v, D_w),

    \\widehat{\\mathrm{Cov}}(D_v, D_w) = C(A^a_v, A^a_w) - C(A^a_v, A^b_w) - C(A^b_v, A^a_w)
    + C(A^b_v, A^b_w).

The vessels' AUCs are dependent (the same patients, correlated labels and scores), so the
cross-vessel covariances are needed; each :math:`C` is Obuchowski's clustered covariance of two
AUCs computed on row sets that share patients, here the same rows with two vessels' labels
(:func:`ecglib.metrics.clustered_roc.clustered_delong_two_sets`, which with the same labels and
two scores is the paired covariance of
:func:`~ecglib.metrics.clustered_roc.clustered_delong_covariance`). The interval is the normal
interval :math:`\\bar D \\pm z_{1-\\alpha/2} \\mathrm{SE}`, the p-value two-sided. With one
vessel this is exactly the per-vessel paired test (the tests check it).

Reference: Obuchowski NA. Nonparametric analysis of clustered ROC curve data. Biometrics
1997;53:567-578.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ecglib import schema
from ecglib.metrics.clustered_roc import clustered_delong_two_sets

__all__ = ["MACRO_COLUMNS", "clustered_macro_difference"]

#: Keys of :func:`clustered_macro_difference`.
MACRO_COLUMNS: tuple[str, ...] = (
    "vessels",
    "auc_a",
    "auc_b",
    "diff",
    "diff_se",
    "diff_low",
    "diff_high",
    "p_value",
)


def clustered_macro_difference(
    table: pd.DataFrame,
    scores_a: pd.DataFrame,
    scores_b: pd.DataFrame,
    vessels: Sequence[str],
    *,
    cluster_col: str = "patient",
    level: float = 0.95,
) -> dict[str, object]:
    """Macro-AUC of models ``a`` and ``b`` over ``vessels`` and the paired clustered difference
    ``a - b`` (module docstring).

    ``table`` holds ``y_<vessel>`` and ``cluster_col``; ``scores_a`` and ``scores_b`` hold
    ``p_<vessel>``, row-aligned with ``table``. Returns :data:`MACRO_COLUMNS`: the vessels
    averaged over, both macro-AUCs, ``diff`` with its SE, normal interval and two-sided p. The
    caller chooses ``vessels`` (those with a defined difference); a vessel with one class raises
    :class:`~ecglib.metrics.roc.OneClassError`, and a variance that does not exist (positives
    in fewer than two patients) makes the SE and interval NaN.
    """
    vessels = list(vessels)
    if not vessels:
        raise ValueError("no vessel to average over")
    for name, frame in (("a", scores_a), ("b", scores_b)):
        if len(frame) != len(table) or not frame.index.equals(table.index):
            raise ValueError(f"the scores of model {name} are not row-aligned with the table")
    clusters = table[cluster_col].to_numpy()
    y = {v: table[schema.label_col(v)].to_numpy() for v in vessels}
    a = {v: scores_a[schema.prob_col(v)].to_numpy(dtype=float) for v in vessels}
    b = {v: scores_b[schema.prob_col(v)].to_numpy(dtype=float) for v in vessels}
    auc_a, auc_b, total = [], [], 0.0
    for i, v in enumerate(vessels):
        for w in vessels[i:]:
            # set-a column j is paired with set-b column j: (a_v, a_w), (a_v, b_w), (b_v, a_w),
            # (b_v, b_w)
            res = clustered_delong_two_sets(
                np.column_stack([y[v]] * 4),
                np.column_stack([a[v], a[v], b[v], b[v]]),
                clusters,
                np.column_stack([y[w]] * 4),
                np.column_stack([a[w], b[w], a[w], b[w]]),
                clusters,
                names=[f"{v}/{w} a-a", f"{v}/{w} a-b", f"{v}/{w} b-a", f"{v}/{w} b-b"],
                cluster_name=cluster_col,
            )
            c = res.cov
            cov = c[0] - c[1] - c[2] + c[3]
            total += cov if w == v else 2.0 * cov
            if w == v:
                auc_a.append(float(res.auc[0, 0]))
                auc_b.append(float(res.auc[0, 2]))
    k = len(vessels)
    diff = float(np.mean(auc_a) - np.mean(auc_b))
    var = total / k**2
    se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
    z = stats.norm.ppf(0.5 + level / 2.0)
    if se > 0:
        p = float(2.0 * stats.norm.sf(abs(diff / se)))
    elif se == 0:
        p = 1.0 if diff == 0 else 0.0
    else:
        p = float("nan")
    return {
        "vessels": tuple(vessels),
        "auc_a": float(np.mean(auc_a)),
        "auc_b": float(np.mean(auc_b)),
        "diff": diff,
        "diff_se": se,
        "diff_low": diff - z * se,
        "diff_high": diff + z * se,
        "p_value": p,
    }
