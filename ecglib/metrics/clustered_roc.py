"""Clustered AUC: DeLong's variance with the structural components summed per patient.

A patient with several ECGs (or several CCTA exams) contributes correlated predictions, and
DeLong's variance (:mod:`ecglib.metrics.roc`), which treats the ``N`` predictions as
independent, is then too small. Obuchowski (1997) keeps DeLong's AUC and structural components
and sums the components per *cluster* (here: per patient) before taking their variance, so that
the unit of inference is the patient.

**Notation.** Clusters ``i = 1..I``; cluster ``i`` holds ``m_i`` positive ECGs ``X_ij`` and
``n_i`` negative ECGs ``Y_ik`` (either may be 0; a cluster may hold both when a patient's exams
differ); ``M = sum m_i``, ``N = sum n_i``. The AUC is the ordinary ECG-level Mann-Whitney
statistic over all ``M N`` positive-negative pairs, within and between clusters,

.. math::

    \\hat A = \\frac{1}{MN} \\sum_{i, j} \\sum_{i', k} \\psi(X_{ij}, Y_{i'k}),

with DeLong's structural components :math:`V_{10}(X_{ij}) = \\frac1N \\sum_{i',k}
\\psi(X_{ij}, Y_{i'k})` and :math:`V_{01}(Y_{ik}) = \\frac1M \\sum_{i',j} \\psi(X_{i'j},
Y_{ik})` (:func:`ecglib.metrics.roc.delong_placements`, Sun & Xu midranks, ``O(N log N)``).

**Obuchowski's estimator.** With the per-cluster sums :math:`V_{10}(X_{i\\cdot}) = \\sum_j
V_{10}(X_{ij})` and :math:`V_{01}(Y_{i\\cdot}) = \\sum_k V_{01}(Y_{ik})` (0 for a cluster
without that class),

.. math::

    S_{10} = \\frac{I_{10}}{(I_{10} - 1) M} \\sum_{i} (V_{10}(X_{i\\cdot}) - m_i \\hat A)^2,
    \\qquad
    S_{01} = \\frac{I_{01}}{(I_{01} - 1) N} \\sum_{i} (V_{01}(Y_{i\\cdot}) - n_i \\hat A)^2,

.. math::

    S_{11} = \\frac{I}{I - 1} \\sum_{i} (V_{10}(X_{i\\cdot}) - m_i \\hat A)
    (V_{01}(Y_{i\\cdot}) - n_i \\hat A),
    \\qquad
    \\widehat{\\mathrm{Var}}(\\hat A) = \\frac{S_{10}}{M} + \\frac{S_{01}}{N}
    + \\frac{2 S_{11}}{MN},

where :math:`I_{10}` is the number of clusters that hold at least one positive ECG,
:math:`I_{01}` the number that hold at least one negative, and ``I`` all clusters. For two (or
``k``) scores of the same ECGs the covariance has the same form, with the products of the two
scores' centred cluster sums and both cross terms, :math:`\\widehat{\\mathrm{Cov}}(\\hat A^r,
\\hat A^s) = S_{10}^{rs}/M + S_{01}^{rs}/N + (S_{11}^{rs} + S_{11}^{sr})/(MN)`.

**Why per-class cluster counts.** The sums run over the clusters that contribute to them (a
cluster without positives adds 0 to :math:`S_{10}`), and each is a sample variance over those
clusters of deviations that sum to exactly 0 (:math:`\\sum_i V_{10}(X_{i\\cdot}) = M \\hat A`):
the small-sample factor ``c/(c-1)`` counts the ``c`` clusters in the sum. With this form the
estimator **reduces exactly to DeLong's when every patient has one ECG**: then
:math:`I_{10} = M`, :math:`I_{01} = N`, every product in :math:`S_{11}` has a zero factor, and
:math:`S_{10} = \\frac{1}{M-1} \\sum (V_{10} - \\hat A)^2`, DeLong's (likewise
:math:`S_{01}`). A factor ``I/(I-1)`` counting all ``I`` clusters in every term does not: with
one ECG per patient (``I = M + N``) it gives ``I (M-1) / ((I-1) M)`` times DeLong's
:math:`S_{10}`. The tests check the reduction to ``1e-12``, for the variance and for the paired
covariance. The per-class form is also what the public implementations of Obuchowski's
estimator compute (the Cleveland Clinic's ``funcs_clusteredROC.R``, adapted as
``doAUCcluster`` in the FDA's iMRMC tools). Because ``I >= I_10, I_01``, the cross term's
factor never exceeds the class terms' factors, so the quadratic form is positive semi-definite:
every variance, covariance matrix and variance of a paired difference is non-negative (values
below 0 by rounding are set to 0 in the variances).

A second check, exact as well: copying every ECG of a one-ECG-per-patient set ``c`` times
leaves the clustered variance equal to the patient-level DeLong variance (the ECG-level DeLong
variance shrinks about ``c``-fold instead).

**Vectorised.** The placements of ``k`` score columns come from three ``rankdata`` calls
(:func:`~ecglib.metrics.roc.delong_placements`), the per-cluster sums from one sort of the
cluster codes and ``numpy.add.reduceat``: ``O(N log N)`` for all columns at once, as the plain
DeLong.

**Intervals and tests** are those of :mod:`ecglib.metrics.roc` with the clustered variance:
the logit-scale Wald interval by default (:func:`~ecglib.metrics.roc.auc_ci`), and for two
scores of the same ECGs :math:`z = (\\hat A_a - \\hat A_b) / \\sqrt{V_a + V_b - 2 C_{ab}}`.
The patient bootstrap (:func:`ecglib.metrics.bootstrap.bootstrap_vessel_table` with
``group_col``) estimates the same thing by resampling and stays as the cross-check.

**Undefined variances.** With one class there is no AUC
(:class:`~ecglib.metrics.roc.OneClassError`). When all positive (or all negative) ECGs lie in
one cluster (:math:`I_{10} < 2` or :math:`I_{01} < 2`, which includes a single positive ECG
and a single-cluster data set) the AUC exists but the variance does not: it is NaN.

References
----------
Obuchowski NA. Nonparametric analysis of clustered ROC curve data. Biometrics 1997;53:567-78.

DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach. Biometrics 1988;44:837-45.

Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under correlated
receiver operating characteristic curves. IEEE Signal Process Lett 2014;21:1389-93.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.metrics.roc import (
    AUC_TABLE_COLUMNS,
    AUCComparison,
    _comparison,
    _z,
    _z_test,
    auc_table_of,
    delong_placements,
    paired_comparison,
)

#: Columns of :func:`clustered_auc_table`: those of
#: :func:`ecglib.metrics.roc.vessel_auc_table` and the number of clusters (patients).
CLUSTERED_AUC_TABLE_COLUMNS: tuple[str, ...] = (*AUC_TABLE_COLUMNS, "clusters")


class ClusteredAUC(NamedTuple):
    """AUCs and Obuchowski variances of ``k`` score columns (:func:`clustered_delong`)."""

    #: (k,) AUCs (the ECG-level Mann-Whitney statistic, as :mod:`ecglib.metrics.roc`).
    auc: np.ndarray
    #: (k,) clustered variances; NaN where positives or negatives lie in fewer than 2 clusters.
    var: np.ndarray
    #: (2, k) positive ECGs ``M`` and negative ECGs ``N`` per column.
    counts: np.ndarray
    #: (2, k) clusters holding a positive (``I_10``) and a negative (``I_01``) per column.
    clusters: np.ndarray
    #: All clusters ``I``.
    n_clusters: int


# ------------------------------------------------------------------------------------------
# the core
# ------------------------------------------------------------------------------------------
def cluster_codes(clusters, n: int, name: str = "clusters") -> tuple[np.ndarray, int]:
    """Integer codes ``0..I-1`` of the cluster ids (any hashable values) and ``I``.

    Raises ``ValueError`` naming ``name`` when the length differs from ``n`` or an id is
    missing (a row without a patient cannot be placed in a cluster).
    """
    ids = np.asarray(clusters)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one cluster id per row), got shape {ids.shape}")
    if len(ids) != n:
        raise ValueError(f"{name} has {len(ids)} values for {n} rows")
    missing = pd.isna(ids)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"{name} must name a cluster for every row; position {i} holds {ids[i]!r} "
            f"({int(missing.sum())} such rows)"
        )
    codes, uniques = pd.factorize(ids)
    return codes.astype(np.intp), len(uniques)


def _cluster_sums(codes: np.ndarray, n_clusters: int, *arrays: np.ndarray) -> list[np.ndarray]:
    """Per-cluster column sums ``(I, k)`` of each ``(N, k)`` array (one sort for all)."""
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n_clusters))
    return [np.add.reduceat(a[order], starts, axis=0) for a in arrays]


def _components(y, score, clusters, names, cluster_name):
    """AUCs, centred per-cluster sums ``X`` (positives) and ``Z`` (negatives), counts."""
    auc, v10, v01, counts = delong_placements(y, score, names)
    codes, n_clusters = cluster_codes(clusters, v10.shape[0], cluster_name)
    pos = ~np.isnan(v10)
    pos_f = pos.astype(float)
    sums10, sums01, m_i = _cluster_sums(
        codes,
        n_clusters,
        np.where(pos, v10, 0.0),
        np.where(pos, 0.0, v01),
        pos_f,
    )
    n_i = np.bincount(codes, minlength=n_clusters)[:, None] - m_i
    x = sums10 - m_i * auc
    z = sums01 - n_i * auc
    per_class = np.vstack([(m_i > 0).sum(axis=0), (n_i > 0).sum(axis=0)])
    return auc, x, z, counts, per_class, n_clusters


def _factors(per_class: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``I10/(I10-1)``, ``I01/(I01-1)`` (NaN below 2 clusters) and ``I/(I-1)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        c10, c01 = (np.where(c > 1, c / (c - 1.0), np.nan) for c in per_class)
    c11 = n_clusters / (n_clusters - 1.0) if n_clusters > 1 else np.nan
    return c10, c01, c11


def clustered_delong(
    y, score, clusters, names: Sequence[str] | None = None, *, cluster_name: str = "clusters"
) -> ClusteredAUC:
    """AUC and clustered-DeLong (Obuchowski 1997) variance of each score column.

    Vectorised over columns like :func:`ecglib.metrics.roc.delong_variance`: ``y`` and
    ``score`` of shape (N, k) give k AUCs, each column with its own labels (e.g. the four
    vessels), all sharing the one cluster id per row.

    Parameters
    ----------
    y : array (N,) or (N, k)
        0/1 labels, shared by all columns or one column per score.
    score : array (N,) or (N, k)
        Finite scores, higher meaning positive.
    clusters : array (N,)
        Cluster (patient) id of each row; any hashable values, none missing.
    names : labels of the k columns for error messages (default ``column 0`` ...).
    cluster_name : what error messages call ``clusters`` (e.g. the table's column).

    Returns
    -------
    :class:`ClusteredAUC` ``(auc, var, counts, clusters, n_clusters)``: ``var`` is
    :math:`S_{10}/M + S_{01}/N + 2 S_{11}/(MN)` with the per-class cluster counts of the module
    docstring (exactly DeLong's variance when every cluster holds one row), NaN where the
    positives or the negatives of a column lie in fewer than two clusters. Raises
    :class:`~ecglib.metrics.roc.OneClassError` naming a column with one class.
    """
    auc, x, z, counts, per_class, n_clusters = _components(y, score, clusters, names, cluster_name)
    m, n = counts.astype(float)
    c10, c01, c11 = _factors(per_class, n_clusters)
    cross = (x * z).sum(axis=0)
    with np.errstate(invalid="ignore"):
        var = (
            c10 * (x**2).sum(axis=0) / m**2
            + c01 * (z**2).sum(axis=0) / n**2
            + 2.0 * c11 * cross / (m * n)
        )
        var = np.where(np.isnan(var), np.nan, np.maximum(var, 0.0))
    return ClusteredAUC(auc, var, counts, per_class, n_clusters)


def clustered_delong_covariance(
    y, scores, clusters, *, cluster_name: str = "clusters"
) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their clustered (Obuchowski) covariance matrix for ``k`` scores of the same ECGs.

    ``y`` is (N,) (one label vector shared by the scores), ``scores`` is (N, k), ``clusters``
    (N,). Returns ``(auc (k,), cov (k, k))`` with

    ``cov = c10 X'X / M^2 + c01 Z'Z / N^2 + c11 (X'Z + Z'X) / (M N)``,

    ``X`` and ``Z`` the (I, k) centred per-cluster sums of the positives' and negatives'
    structural components and ``c10 = I10/(I10-1)``, ``c01 = I01/(I01-1)``, ``c11 = I/(I-1)``
    (module docstring); the diagonal is :func:`clustered_delong`'s variance. All NaN when the
    positives or negatives lie in fewer than two clusters; with one row per cluster it equals
    :func:`ecglib.metrics.roc.delong_covariance`.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError("paired AUCs share one label vector: y must be 1-D")
    auc, x, z, counts, per_class, n_clusters = _components(y, scores, clusters, None, cluster_name)
    m, n = float(counts[0, 0]), float(counts[1, 0])
    c10, c01, c11 = _factors(per_class[:, :1], n_clusters)
    xz = x.T @ z
    cov = c10[0] * (x.T @ x) / m**2 + c01[0] * (z.T @ z) / n**2 + c11 * (xz + xz.T) / (m * n)
    return auc, cov


def clustered_delong_test(
    y,
    score_a,
    score_b,
    clusters,
    *,
    level: float = 0.95,
    cluster_name: str = "clusters",
) -> AUCComparison:
    """Paired test of two AUCs on the same ECGs, clustered by patient (Obuchowski 1997).

    ``z = (A_a - A_b) / sqrt(V_a + V_b - 2 C_ab)`` with the clustered variances and covariance
    (:func:`clustered_delong_covariance`), two-sided p from the normal distribution and the
    normal CI of the difference: :func:`ecglib.metrics.roc.delong_test` with the patient as the
    unit, and the same :class:`~ecglib.metrics.roc.AUCComparison`. Identical scores give
    ``z = 0, p = 1``; an undefined variance gives NaN statistics.
    """
    return paired_comparison(
        y,
        score_a,
        score_b,
        lambda y, scores: clustered_delong_covariance(
            y, scores, clusters, cluster_name=cluster_name
        ),
        level=level,
    )


# ------------------------------------------------------------------------------------------
# the per-vessel table
# ------------------------------------------------------------------------------------------
def clustered_auc_table(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    *,
    cluster_col: str = "patient",
    level: float = 0.95,
    ci_method: str = "logit",
    one_class: str = "nan",
) -> pd.DataFrame:
    """Per-vessel AUC with clustered-DeLong SE and CI, all vessels at once.

    The drop-in for :func:`ecglib.metrics.roc.vessel_auc_table` with the patient as the unit:
    ``predictions`` holds ``p_<vessel>``, ``y_<vessel>`` (:mod:`ecglib.schema`) and the cluster
    id column ``cluster_col`` (default ``patient``, the pseudonymous key of the evaluation
    chapters). One row per vessel with the same columns plus ``clusters``, the number of
    clusters among the rows (:data:`CLUSTERED_AUC_TABLE_COLUMNS`); the AUC is the same, the SE
    is Obuchowski's (module docstring) and the CI is :func:`~ecglib.metrics.roc.auc_ci`'s
    (``ci_method`` ``"logit"`` or ``"plain"``).

    **One-class policy**, as :func:`~ecglib.metrics.roc.vessel_auc_table`: a vessel with one
    class gets NaN estimates and a ``reason`` (``one_class = "nan"``, the default) or raises
    :class:`~ecglib.metrics.roc.OneClassError` (``"raise"``). The variance is undefined, and
    NaN with a reason, when the vessel's positives (or negatives) lie in fewer than two clusters,
    e.g. a single positive ECG or all positive ECGs from one patient. A zero variance (complete
    separation, or every score tied) keeps its degenerate interval and is flagged in ``reason``.
    A missing cluster id raises ``ValueError`` naming ``cluster_col``.
    """
    needed = [*schema.prob_cols(schema.vessels_of(predictions, vessels)), cluster_col]
    absent = [c for c in needed if c not in predictions.columns]
    if cluster_col in absent:
        raise KeyError(
            f"predictions lack column(s) {absent}; expected p_<vessel> and y_<vessel> "
            f"(ecglib.schema) and the cluster id column {cluster_col!r}"
        )
    codes, n_clusters = cluster_codes(
        predictions[cluster_col].to_numpy(), len(predictions), cluster_col
    )

    def estimate(y: np.ndarray, p: np.ndarray, names: list[str]):
        res = clustered_delong(y, p, codes, names=names, cluster_name=cluster_col)
        reasons = []
        for j in range(len(names)):
            reason = ""
            for c, which in enumerate(("positive", "negative")):
                if res.clusters[c, j] < 2:
                    count = int(res.counts[c, j])
                    reason = (
                        f"a single {which}: clustered DeLong variance undefined"
                        if count == 1
                        else f"all {count} {which}s in one {cluster_col}: "
                        "clustered DeLong variance undefined"
                    )
                    break
            reasons.append(reason)
        return res.auc, res.var, reasons, "clustered DeLong variance"

    return auc_table_of(
        predictions,
        vessels,
        estimate,
        level=level,
        ci_method=ci_method,
        one_class=one_class,
        require=[cluster_col],
        extra={"clusters": n_clusters},
    )


# ------------------------------------------------------------------------------------------
# two AUCs on different rows that share patients (e.g. two subgroups)
# ------------------------------------------------------------------------------------------
class TwoSetAUCs(NamedTuple):
    """AUCs of ``k`` score columns on two row sets, their clustered variances and covariance
    (:func:`clustered_delong_two_sets`)."""

    #: (2, k) AUCs of set a (row 0) and set b (row 1).
    auc: np.ndarray
    #: (2, k) clustered variances (:func:`clustered_delong` of each set).
    var: np.ndarray
    #: (k,) clustered covariance of the two AUCs; exactly 0 when no cluster is shared.
    cov: np.ndarray
    #: Clusters with rows in both sets.
    shared: int
    #: (2,) clusters of set a and of set b.
    clusters: np.ndarray


def _factor(count: np.ndarray) -> np.ndarray:
    """``c / (c - 1)``, NaN below 2 clusters."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 1, count / (count - 1.0), np.nan)


def _set_components(y, score, codes: np.ndarray, n_clusters: int, names):
    """AUCs, centred per-cluster sums ``X``, ``Z`` (``(I, k)`` on the shared cluster codes),
    which clusters hold a positive / a negative (``(I, k)`` booleans), and ``(M, N)``."""
    auc, v10, v01, counts = delong_placements(y, score, names)
    pos = ~np.isnan(v10)

    def sums(a: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [np.bincount(codes, weights=a[:, j], minlength=n_clusters) for j in range(a.shape[1])]
        )

    m_i, n_i = sums(pos.astype(float)), sums((~pos).astype(float))
    x = sums(np.where(pos, v10, 0.0)) - m_i * auc
    z = sums(np.where(pos, 0.0, v01)) - n_i * auc
    return auc, x, z, m_i > 0, n_i > 0, counts.astype(float)


def clustered_delong_two_sets(
    y_a,
    score_a,
    clusters_a,
    y_b,
    score_b,
    clusters_b,
    names: Sequence[str] | None = None,
    *,
    cluster_name: str = "clusters",
) -> TwoSetAUCs:
    """Clustered covariance of two AUCs computed on different rows that may share clusters.

    Two subgroups of ECGs are disjoint, but a patient's ECGs can fall in both (an ECG at 64 and
    one at 66 years; ECG-CCTA intervals on both sides of a cut): the two AUCs are then
    dependent, and the unpaired test, which adds their variances, is wrong. This is
    Obuchowski's estimator (module docstring) for the pair. Each set's AUC linearises as a sum
    over the clusters of its centred per-cluster sums, :math:`\\hat A^a - A^a \\approx \\sum_i
    (X^a_i / M_a + Z^a_i / N_a)` (:math:`X^a_i = V^a_{10}(X_{i\\cdot}) - m^a_i \\hat A^a`,
    :math:`Z^a_i = V^a_{01}(Y_{i\\cdot}) - n^a_i \\hat A^a`, the components computed within set
    ``a``, 0 for a cluster without rows of that class in ``a``); clusters are independent, so
    only clusters with rows in both sets contribute to

    .. math::

        \\widehat{\\mathrm{Cov}}(\\hat A^a, \\hat A^b) =
        c(P_a \\cup P_b) \\sum_i \\frac{X^a_i X^b_i}{M_a M_b}
        + c(N_a \\cup N_b) \\sum_i \\frac{Z^a_i Z^b_i}{N_a N_b}
        + c(P_a \\cup N_b) \\sum_i \\frac{X^a_i Z^b_i}{M_a N_b}
        + c(N_a \\cup P_b) \\sum_i \\frac{Z^a_i X^b_i}{N_a M_b},

    :math:`P_a` (:math:`N_a`) the clusters holding a positive (negative) row of set ``a``,
    :math:`c(S) = |S| / (|S| - 1)`. The factor is the one of the module docstring: each sum is
    over the clusters that can contribute to it. With ``b = a`` this is
    :func:`clustered_delong`'s variance (:math:`P_a \\cup N_a` is all of ``a``'s clusters), and
    with the same rows and labels and two scores it is
    :func:`clustered_delong_covariance`'s off-diagonal. With no shared cluster every product is
    0, so the test of the difference, :math:`z = (\\hat A^a - \\hat A^b) / \\sqrt{V_a + V_b -
    2 C_{ab}}` (:func:`clustered_delong_two_set_test`), is the independent-samples test with
    clustered variances. The 2 x 2 covariance matrix is positive semi-definite: the factors are
    :math:`c(S \\cup T) = 1 + \\int_0^1 t^{|S \\cup T| - 2} dt` over the four class-cluster sets,
    and :math:`t^{|S \\cup T|} = t^{|S|} t^{|T|} \\prod_{i \\in S \\cap T} t^{-1}` is a positive
    semi-definite kernel, so by Schur's product theorem the factor-weighted sums of products
    of the per-cluster vectors are too; :math:`V_a + V_b - 2 C_{ab} \\ge 0`.

    Parameters
    ----------
    y_a, score_a, clusters_a : labels (N_a,) or (N_a, k), scores of the same shape, and the
        cluster id of each row of set a (:func:`clustered_delong`).
    y_b, score_b, clusters_b : the same for set b; the cluster ids are matched across the sets
        (the same patient code is the same patient).
    names : labels of the k columns for error messages.

    Returns
    -------
    :class:`TwoSetAUCs` ``(auc (2, k), var (2, k), cov (k,), shared, clusters)``; NaN variances
    and covariance where a set's positives or negatives lie in fewer than two clusters. Raises
    :class:`~ecglib.metrics.roc.OneClassError` naming a column with one class in either set.
    """
    n_a, n_b = np.shape(score_a)[0], np.shape(score_b)[0]
    ids_a = np.asarray(clusters_a)
    ids_b = np.asarray(clusters_b)
    cluster_codes(ids_a, n_a, f"{cluster_name} (set a)")  # validates length and missing ids
    cluster_codes(ids_b, n_b, f"{cluster_name} (set b)")
    codes, uniques = pd.factorize(np.concatenate([ids_a.astype(object), ids_b.astype(object)]))
    n_clusters = len(uniques)
    codes_a, codes_b = codes[:n_a], codes[n_a:]
    names_a = [f"{n} (set a)" for n in names] if names is not None else None
    names_b = [f"{n} (set b)" for n in names] if names is not None else None
    auc_a, xa, za, pa, na, (m_a, nn_a) = _set_components(y_a, score_a, codes_a, n_clusters, names_a)
    auc_b, xb, zb, pb, nb, (m_b, nn_b) = _set_components(y_b, score_b, codes_b, n_clusters, names_b)
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"set a has {xa.shape[1]} score columns, set b {xb.shape[1]}")

    def quadratic(x1, z1, p1, n1, m1, nn1, x2, z2, p2, n2, m2, nn2) -> np.ndarray:
        def c(s, t):  # c(|S u T|) per column
            return _factor((s | t).sum(axis=0).astype(float))

        with np.errstate(invalid="ignore"):
            return (
                c(p1, p2) * (x1 * x2).sum(axis=0) / (m1 * m2)
                + c(n1, n2) * (z1 * z2).sum(axis=0) / (nn1 * nn2)
                + c(p1, n2) * (x1 * z2).sum(axis=0) / (m1 * nn2)
                + c(n1, p2) * (z1 * x2).sum(axis=0) / (nn1 * m2)
            )

    set_a = (xa, za, pa, na, m_a, nn_a)
    set_b = (xb, zb, pb, nb, m_b, nn_b)
    var = np.vstack([quadratic(*set_a, *set_a), quadratic(*set_b, *set_b)])
    var = np.where(np.isnan(var), np.nan, np.maximum(var, 0.0))
    cov = quadratic(*set_a, *set_b)
    cov = np.where(np.isnan(var).any(axis=0), np.nan, cov)
    in_a = np.bincount(codes_a, minlength=n_clusters) > 0
    in_b = np.bincount(codes_b, minlength=n_clusters) > 0
    return TwoSetAUCs(
        auc=np.vstack([auc_a, auc_b]),
        var=var,
        cov=cov,
        shared=int((in_a & in_b).sum()),
        clusters=np.array([in_a.sum(), in_b.sum()]),
    )


def clustered_delong_two_set_test(
    y_a,
    score_a,
    clusters_a,
    y_b,
    score_b,
    clusters_b,
    *,
    level: float = 0.95,
    cluster_name: str = "clusters",
) -> AUCComparison:
    """Test of the difference of two AUCs on different rows whose clusters may overlap.

    ``z = (A_a - A_b) / sqrt(V_a + V_b - 2 C_ab)`` with the clustered variances and the
    covariance over shared clusters (:func:`clustered_delong_two_sets`, formula there),
    two-sided p from the normal distribution and the normal CI of the difference. With no
    shared cluster ``C_ab = 0`` and the result is exactly
    :func:`ecglib.metrics.roc.compare_independent_aucs` of the two clustered variances
    (``paired = False``); with shared clusters ``paired`` is True. One score column per set.
    """
    for name, score in (("score_a", score_a), ("score_b", score_b)):
        if np.ndim(score) != 1:
            raise ValueError(f"{name} must be 1-D (one score per row), got {np.shape(score)}")
    res = clustered_delong_two_sets(
        y_a, score_a, clusters_a, y_b, score_b, clusters_b, cluster_name=cluster_name
    )
    diff = float(res.auc[0, 0] - res.auc[1, 0])
    var = float(res.var[0, 0] + res.var[1, 0] - 2.0 * res.cov[0])
    # >= 0 in exact arithmetic (the matrix is positive semi-definite): clip rounding only
    se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
    stat, p = _z_test(diff, se)
    return _comparison(
        float(res.auc[0, 0]),
        float(res.auc[1, 0]),
        diff,
        se,
        stat,
        p,
        z=_z(level),
        level=level,
        paired=res.shared > 0,
    )
