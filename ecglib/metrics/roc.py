"""Area under the ROC curve with DeLong confidence intervals, and DeLong tests.

The empirical AUC is the Mann-Whitney statistic. With ``m`` positives ``X_1..X_m`` and ``n``
negatives ``Y_1..Y_n`` (a higher score meaning "more likely positive"),

.. math::

    \\hat A = \\frac{1}{mn} \\sum_{i=1}^{m} \\sum_{j=1}^{n} \\psi(X_i, Y_j), \\qquad
    \\psi(x, y) = 1 \\text{ if } x > y,\\; \\tfrac12 \\text{ if } x = y,\\; 0 \\text{ otherwise},

which equals the trapezoidal area under the empirical ROC curve (ties counted as half).

**DeLong variance** (DeLong, DeLong & Clarke-Pearson 1988). The *structural components* (or
placement values) are

.. math::

    V_{10}(X_i) = \\frac1n \\sum_j \\psi(X_i, Y_j), \\qquad
    V_{01}(Y_j) = \\frac1m \\sum_i \\psi(X_i, Y_j),

so that :math:`\\hat A` is the mean of either set. For ``k`` scores of the *same* cases,

.. math::

    S_{10}^{rs} = \\frac{1}{m-1} \\sum_i (V_{10}^r(X_i) - \\hat A^r)(V_{10}^s(X_i) - \\hat A^s),
    \\quad S_{01}^{rs} \\text{ likewise over the } n \\text{ negatives},
    \\qquad \\widehat{\\mathrm{Cov}}(\\hat A) = \\frac{S_{10}}{m} + \\frac{S_{01}}{n}.

**Fast algorithm** (Sun & Xu 2014). The components come from three midrank vectors instead of
the ``m x n`` comparison matrix: with ``T_Z`` the midranks of a positive (negative) among all
``m + n`` scores, ``T_X`` its midrank among the positives and ``T_Y`` among the negatives,

.. math::

    V_{10}(X_i) = \\frac{T_Z(X_i) - T_X(X_i)}{n}, \\qquad
    V_{01}(Y_j) = 1 - \\frac{T_Z(Y_j) - T_Y(Y_j)}{m},

because a positive's midrank among all scores minus its midrank among the positives is the
number of negatives below it plus half the negatives tied with it. Cost: three sorts,
``O(N log N)`` for ``N = m + n``, instead of ``O(mn)``. Here the midranks of all vessels are
computed in one call (``scipy.stats.rankdata(..., axis=0)``), each vessel with its own labels.

**Confidence interval.** Two choices (``ci_method``):

* ``"logit"`` (default): a Wald interval on the logit scale, back-transformed (delta method,
  :math:`\\mathrm{SE}(\\mathrm{logit}\\,\\hat A) = \\mathrm{SE}(\\hat A) / (\\hat A(1-\\hat A))`;
  Pepe 2003, sec. 5.2.2; Qin & Hotilovac 2008). It stays inside (0, 1) and is asymmetric near
  1, where the plain interval undercovers; this matters for rare-positive vessels (LM) and small
  subgroups. When :math:`\\hat A` is exactly 0 or 1 the logit is infinite and the plain interval
  is used.
* ``"plain"``: :math:`\\hat A \\pm z_{1-\\alpha/2}\\,\\mathrm{SE}`, clipped to [0, 1]; this is
  pROC's ``ci.auc(method = "delong")`` and what most clinical papers report.

**Tests.** Two correlated AUCs (same cases, two scores): :math:`z = (\\hat A_1 - \\hat A_2) /
\\sqrt{V_1 + V_2 - 2C}` (DeLong et al. 1988). Two independent AUCs (disjoint samples, e.g. two
subgroups): :math:`z = (\\hat A_1 - \\hat A_2) / \\sqrt{V_1 + V_2}` with each variance from
DeLong; pROC's unpaired ``roc.test`` refers the same statistic to a Student t distribution
with a Welch-Satterthwaite-type df, available here as ``distribution="t"``.

**Independence.** DeLong's variance treats the ``N`` predictions as independent. A patient
with several ECGs (or several CCTA exams) contributes correlated rows, so the SE is too small;
the book's AUC intervals are therefore clustered by patient
(:mod:`ecglib.metrics.clustered_roc`, Obuchowski 1997), with the patient bootstrap
(:func:`ecglib.metrics.bootstrap.bootstrap_vessel_table`, ``group_col = "patient"``) as the
check. With very few positives (LM, a handful externally) every asymptotic interval
undercovers, the logit one less than the plain one.

A vessel whose labels hold one class has no ROC curve: :class:`OneClassError` names the vessel
and the counts (the authors' code would have carried on; an AUC of 0.5 would be invented).
With exactly one positive or one negative the AUC exists but the DeLong variance
(``ddof = 1``) does not: the SE and CI are NaN.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach. Biometrics 1988;44:837-45.

Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under correlated
receiver operating characteristic curves. IEEE Signal Process Lett 2014;21:1389-93.

Hanley JA, McNeil BJ. The meaning and use of the area under a receiver operating characteristic
(ROC) curve. Radiology 1982;143:29-36.

Pepe MS. The Statistical Evaluation of Medical Tests for Classification and Prediction. Oxford
University Press 2003.

Qin G, Hotilovac L. Comparison of non-parametric confidence intervals for the area under the ROC
curve of a continuous-scale diagnostic test. Stat Methods Med Res 2008;17:207-21.

Robin X, et al. pROC: an open-source package for R and S+ to analyze and compare ROC curves.
BMC Bioinformatics 2011;12:77.

One module on purpose: the AUC, its DeLong variance, the intervals and the tests share the
midrank components and the one-class rules, and read best side by side with the formulas above;
the clustered (patient-level) variance is its own module, :mod:`ecglib.metrics.clustered_roc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_curve

from ecglib import schema
from ecglib.errors import DataError
from ecglib.metrics._inputs import as_binary

#: Confidence-interval methods of :func:`auc_ci`.
CI_METHODS = ("logit", "plain")


class OneClassError(DataError):
    """Labels hold a single class, so the ROC curve and its AUC do not exist.

    ``record`` names the vessel (or subset); ``positives`` and ``n`` are the counts.
    """

    def __init__(self, record: str, positives: int, n: int):
        self.positives = int(positives)
        self.n = int(n)
        missing = "positives" if positives == 0 else "negatives"
        super().__init__(
            record,
            f"labels hold one class only ({positives} positives among {n} "
            f"predictions, no {missing}): the AUC is undefined, not 0.5",
        )


@dataclass(frozen=True)
class AUCResult:
    """One AUC with its DeLong standard error and confidence interval."""

    auc: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    positives: int
    level: float
    ci_method: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AUCComparison:
    """A test of the difference of two AUCs, ``diff = auc_a - auc_b``.

    ``statistic`` is z (or t for ``distribution="t"``), ``df`` is NaN for the normal
    reference, ``ci_low``/``ci_high`` bound the difference (normal reference).
    """

    auc_a: float
    auc_b: float
    diff: float
    se: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    level: float
    paired: bool
    distribution: str
    df: float = float("nan")

    def as_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------
# the fast DeLong core
# ------------------------------------------------------------------------------------------
def _as_columns(
    y, score, names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``y`` and ``score`` as (N, k) arrays (a 1-D ``y`` is shared by all k score columns).

    Labels must be 0/1 and scores finite; errors name the column (``names``).
    """
    s = np.asarray(score, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError(f"score must be 1-D or 2-D (n, k), got shape {s.shape}")
    names = list(names) if names is not None else [f"column {k}" for k in range(s.shape[1])]
    if len(names) != s.shape[1]:
        raise ValueError(f"{len(names)} names for {s.shape[1]} score columns")
    y_arr = np.asarray(y)
    if y_arr.ndim <= 1:
        yb = as_binary(y_arr, "y")
        if len(yb) != s.shape[0]:
            raise ValueError(f"y has {len(yb)} values but score has {s.shape[0]} rows")
        yb = np.broadcast_to(yb[:, None], s.shape)
    else:
        if y_arr.shape != s.shape:
            raise ValueError(f"y shape {y_arr.shape} differs from score shape {s.shape}")
        yb = np.column_stack(
            [as_binary(y_arr[:, k], f"y of {name}") for k, name in enumerate(names)]
        )
    bad = ~np.isfinite(s)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"score of {names[col]} must be finite; position {row} holds "
            f"{s[row, col]} ({int(bad[:, col].sum())} such values)"
        )
    return yb.astype(bool), s, names


def _check_classes(yb: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    m = yb.sum(axis=0)
    n = yb.shape[0] - m
    for k, name in enumerate(names):
        if m[k] == 0 or n[k] == 0:
            raise OneClassError(name, int(m[k]), int(yb.shape[0]))
    return m, n


def delong_placements(
    y, score, names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong structural components of ``k`` score columns (Sun & Xu midranks).

    Parameters
    ----------
    y : array (N,) or (N, k)
        0/1 labels, shared by all columns or one column per score.
    score : array (N,) or (N, k)
        Finite scores, higher meaning positive.
    names : labels of the k columns for error messages (default ``column 0`` ...).

    Returns
    -------
    auc : (k,) AUCs.
    v10 : (N, k) positives' placements ``V10`` (fraction of negatives below, ties 1/2);
        NaN on negative rows.
    v01 : (N, k) negatives' placements ``V01`` (fraction of positives above, ties 1/2);
        NaN on positive rows.
    counts : (2, k) positives ``m`` and negatives ``n`` per column.
    """
    yb, s, names = _as_columns(y, score, names)
    m, n = _check_classes(yb, names)
    tz = stats.rankdata(s, axis=0)  # midranks among all
    tx = stats.rankdata(np.where(yb, s, np.inf), axis=0)  # among positives (negatives last)
    ty = stats.rankdata(np.where(yb, np.inf, s), axis=0)  # among negatives
    v10 = np.where(yb, (tz - tx) / n, np.nan)
    v01 = np.where(yb, np.nan, 1.0 - (tz - ty) / m)
    auc = np.nansum(v10, axis=0) / m
    return auc, v10, v01, np.vstack([m, n])


def delong_variance(
    y, score, names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUC and DeLong variance of each score column, each column with its own labels.

    Vectorised over columns: ``y`` and ``score`` of shape (N, k) give k AUCs (e.g. the four
    vessels, each with its own labels) from three ``rankdata`` calls. Returns ``(auc, var,
    counts)``; ``var`` is NaN where a column has a single positive or negative.
    """
    auc, v10, v01, counts = delong_placements(y, score, names)
    m, n = counts
    with np.errstate(invalid="ignore", divide="ignore"):
        s10 = np.nansum((v10 - auc) ** 2, axis=0) / (m - 1)
        s01 = np.nansum((v01 - auc) ** 2, axis=0) / (n - 1)
        var = np.where((m > 1) & (n > 1), s10 / m + s01 / n, np.nan)
    return auc, var, counts


def delong_covariance(y, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix for ``k`` scores of the same cases.

    ``y`` is (N,), ``scores`` is (N, k). Returns ``(auc (k,), cov (k, k))`` with
    ``cov = S10 / m + S01 / n`` (module docstring).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError("paired AUCs share one label vector: y must be 1-D")
    auc, v10, v01, counts = delong_placements(y, scores)
    m, n = int(counts[0, 0]), int(counts[1, 0])
    pos = np.asarray(y).astype(bool)
    x = v10[pos] - auc
    z = v01[~pos] - auc
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = x.T @ x / (m - 1) / m + z.T @ z / (n - 1) / n
    if m < 2 or n < 2:
        cov = np.full_like(cov, np.nan)
    return auc, cov


def fast_auc(y, score) -> np.ndarray | float:
    """Empirical (Mann-Whitney, midrank) AUC; equals ``sklearn.metrics.roc_auc_score``.

    ``score`` of shape (N, k) gives k AUCs (``y`` (N,) or (N, k)); a 1-D score a float.
    """
    auc = delong_placements(y, score)[0]
    return float(auc[0]) if np.ndim(score) == 1 else auc


# ------------------------------------------------------------------------------------------
# intervals and tests
# ------------------------------------------------------------------------------------------
def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def auc_ci(auc, var, level: float = 0.95, method: str = "logit") -> tuple[np.ndarray, np.ndarray]:
    """Wald interval of an AUC from its variance, on the logit (default) or plain scale.

    ``logit``: ``expit(logit(A) -+ z SE / (A (1 - A)))``; falls back to the plain interval
    where ``A`` is exactly 0 or 1. ``plain``: ``A -+ z SE`` clipped to [0, 1] (pROC).
    NaN variance gives a NaN interval. Works elementwise on arrays.
    """
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; expected one of {CI_METHODS}")
    z = _z(level)
    a = np.asarray(auc, dtype=float)
    se = np.sqrt(np.asarray(var, dtype=float))
    low = np.clip(a - z * se, 0.0, 1.0)
    high = np.clip(a + z * se, 0.0, 1.0)
    if method == "logit":
        inner = (a > 0.0) & (a < 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = np.log(a) - np.log1p(-a)
            half = z * se / (a * (1.0 - a))
            low = np.where(inner, 1.0 / (1.0 + np.exp(-(centre - half))), low)
            high = np.where(inner, 1.0 / (1.0 + np.exp(-(centre + half))), high)
    nan = np.isnan(se)
    low = np.where(nan, np.nan, low)
    high = np.where(nan, np.nan, high)
    if np.ndim(auc) == 0:
        return float(low), float(high)
    return low, high


def delong_auc(
    y, score, *, level: float = 0.95, ci_method: str = "logit", name: str = "score"
) -> AUCResult:
    """AUC with its DeLong SE and CI for one score.

    Raises :class:`OneClassError` (naming ``name``) when ``y`` holds one class.

    Examples
    --------
    >>> r = delong_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> r.auc
    0.75
    """
    auc, var, counts = delong_variance(y, score, names=[name])
    low, high = auc_ci(auc[0], var[0], level, ci_method)
    return AUCResult(
        auc=float(auc[0]),
        se=float(np.sqrt(var[0])),
        ci_low=low,
        ci_high=high,
        n=int(counts.sum()),
        positives=int(counts[0, 0]),
        level=level,
        ci_method=ci_method,
    )


#: Columns of :func:`vessel_auc_table`.
AUC_TABLE_COLUMNS: tuple[str, ...] = (
    "vessel",
    "n",
    "positives",
    "negatives",
    "auc",
    "se",
    "ci_low",
    "ci_high",
    "reason",
)
#: What :func:`vessel_auc_table` does with a vessel whose AUC or DeLong variance is undefined.
ONE_CLASS_POLICIES = ("nan", "raise")


def vessel_auc_table(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    ci_method: str = "logit",
    one_class: str = "nan",
) -> pd.DataFrame:
    """Per-vessel AUC with DeLong SE and CI, computed for all vessels at once.

    ``predictions`` holds ``p_<vessel>`` and ``y_<vessel>`` (:mod:`ecglib.schema`; default
    vessels: those it has labels for, :func:`ecglib.schema.vessels_of`). One row per vessel
    (:data:`AUC_TABLE_COLUMNS`).

    **One-class policy.** A vessel whose labels hold one class has no AUC; with a single
    positive or negative the AUC exists but its DeLong variance (``ddof = 1``) does not. Small
    folds and subsets (the LM, a subgroup) are often like that, so by default (``one_class =
    "nan"``) such a vessel gets NaN estimates and says why in ``reason``, and the table goes
    on; ``one_class = "raise"`` raises :class:`OneClassError` naming the first vessel without
    both classes instead. A zero variance (complete separation, or every score tied) keeps its
    degenerate interval and is flagged in ``reason``.
    """
    return auc_table_of(
        predictions,
        vessels,
        _delong_estimate,
        level=level,
        ci_method=ci_method,
        one_class=one_class,
    )


def _delong_estimate(y: np.ndarray, p: np.ndarray, names: list[str]):
    auc, var, counts = delong_variance(y, p, names=names)
    reasons = [
        f"a single {'positive' if counts[0, j] == 1 else 'negative'}: DeLong variance undefined"
        if min(counts[0, j], counts[1, j]) == 1
        else ""
        for j in range(len(names))
    ]
    return auc, var, reasons, "DeLong variance"


def auc_table_of(
    predictions: pd.DataFrame,
    vessels: Sequence[str] | None,
    estimate,
    *,
    level: float = 0.95,
    ci_method: str = "logit",
    one_class: str = "nan",
    require: Sequence[str] = (),
    extra: dict | None = None,
) -> pd.DataFrame:
    """The per-vessel AUC table with an estimator of the AUC's variance plugged in.

    The rows, the one-class policy and the interval are the same whatever the variance
    (:func:`vessel_auc_table` for DeLong's, the clustered tables of
    :mod:`ecglib.metrics.clustered_roc`): ``estimate(y, p, names)`` gets the labels and scores
    of the vessels with both classes and returns ``(auc, var, reasons, what)``, where
    ``reasons`` says per vessel why its variance is undefined ("" where it is defined) and
    ``what`` names the variance for the zero-variance flag. ``require`` lists further columns
    the estimator reads; ``extra`` adds constant columns at the end of every row.
    """
    if one_class not in ONE_CLASS_POLICIES:
        raise ValueError(f"one_class must be one of {ONE_CLASS_POLICIES}, got {one_class!r}")
    vessels = schema.vessels_of(predictions, vessels)
    if not vessels:
        raise ValueError("no vessels given")
    _require(predictions, [*schema.prob_cols(vessels), *schema.label_cols(vessels), *require])
    p = predictions[schema.prob_cols(vessels)].to_numpy(dtype=float)
    y = predictions[schema.label_cols(vessels)].to_numpy(dtype=float)
    n = len(predictions)
    pos = y.sum(axis=0).astype(int) if n else np.zeros(len(vessels), dtype=int)
    empty = dict.fromkeys(("auc", "se", "ci_low", "ci_high"), np.nan)
    rows = [
        {
            "vessel": v,
            "n": n,
            "positives": int(pos[k]),
            "negatives": int(n - pos[k]),
            **empty,
            "reason": "",
            **(extra or {}),
        }
        for k, v in enumerate(vessels)
    ]
    for k, row in enumerate(rows):
        if n == 0:
            row["reason"] = "no predictions"
        elif pos[k] in (0, n):
            if one_class == "raise":
                raise OneClassError(vessels[k], int(pos[k]), n)
            row["reason"] = f"one class: no {'positives' if pos[k] == 0 else 'negatives'} among {n}"
    ok = [k for k in range(len(vessels)) if 0 < pos[k] < n]
    if ok:
        auc, var, reasons, what = estimate(y[:, ok], p[:, ok], [vessels[k] for k in ok])
        low, high = auc_ci(auc, var, level, ci_method)
        for j, k in enumerate(ok):
            rows[k].update(
                auc=float(auc[j]),
                se=float(np.sqrt(var[j])),
                ci_low=float(low[j]),
                ci_high=float(high[j]),
                reason=reasons[j],
            )
            if var[j] == 0.0:
                rows[k]["reason"] = (
                    f"{what} 0 (complete separation or all scores tied): the CI is degenerate"
                )
    return pd.DataFrame(rows, columns=[*AUC_TABLE_COLUMNS, *(extra or {})])


def delong_test(y, score_a, score_b, *, level: float = 0.95) -> AUCComparison:
    """DeLong's test of two correlated AUCs: two scores of the same cases.

    ``z = (A_a - A_b) / sqrt(V_a + V_b - 2 C_ab)``, two-sided p from the normal distribution,
    and the normal CI of the difference (as pROC's ``roc.test(..., method = "delong",
    paired = TRUE)``). Identical scores give ``z = 0, p = 1``.
    """
    return paired_comparison(y, score_a, score_b, delong_covariance, level=level)


def paired_comparison(y, score_a, score_b, covariance, *, level: float = 0.95) -> AUCComparison:
    """The paired test of two AUCs on the same cases with a covariance estimator plugged in
    (``covariance(y, scores) -> (auc, cov)``: :func:`delong_covariance`, or the clustered one
    of :mod:`ecglib.metrics.clustered_roc`): ``z = (A_a - A_b) / sqrt(V_a + V_b - 2 C_ab)``,
    two-sided p from the normal distribution, and the normal CI of the difference."""
    a = np.asarray(score_a, dtype=float)
    b = np.asarray(score_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"score_a and score_b must be 1-D of equal length, got {a.shape} and {b.shape}"
        )
    auc, cov = covariance(y, np.column_stack([a, b]))
    diff = float(auc[0] - auc[1])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
    stat, p = _z_test(diff, se)
    return _comparison(
        float(auc[0]), float(auc[1]), diff, se, stat, p, z=_z(level), level=level, paired=True
    )


def compare_independent_aucs(
    auc_a: float,
    var_a: float,
    auc_b: float,
    var_b: float,
    *,
    n_a: int | None = None,
    n_b: int | None = None,
    level: float = 0.95,
    distribution: str = "normal",
) -> AUCComparison:
    """Unpaired comparison of two AUCs from disjoint samples (e.g. two subgroups).

    ``z = (A_a - A_b) / sqrt(V_a + V_b)`` with the two DeLong variances; two-sided p from the
    standard normal (``distribution="normal"``, the default) or, as pROC's unpaired
    ``roc.test``, from Student's t with ``df = (V_a + V_b)^2 / (V_a^2 / (n_a - 1) +
    V_b^2 / (n_b - 1))``, ``n`` the total sample sizes (``distribution="t"``, needs ``n_a``,
    ``n_b``). NaN inputs give NaN results.
    """
    if distribution not in ("normal", "t"):
        raise ValueError(f"distribution must be 'normal' or 't', got {distribution!r}")
    diff = float(auc_a - auc_b)
    total = float(var_a + var_b)
    se = float(np.sqrt(total)) if np.isfinite(total) and total >= 0 else float("nan")
    z = _z(level)
    df = float("nan")
    if distribution == "normal":
        stat, p = _z_test(diff, se)
    else:
        if n_a is None or n_b is None:
            raise ValueError("distribution='t' needs the sample sizes n_a and n_b")
        with np.errstate(divide="ignore", invalid="ignore"):
            df = float(total**2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1)))
            stat = diff / se if se > 0 else (0.0 if diff == 0 else np.sign(diff) * np.inf)
        p = float(2.0 * stats.t.sf(abs(stat), df)) if np.isfinite(df) else float("nan")
        if diff == 0 and se == 0:
            p = 1.0
        stat = float(stat) if np.isfinite(se) else float("nan")
    return _comparison(
        float(auc_a),
        float(auc_b),
        diff,
        se,
        stat,
        p,
        z=z,
        level=level,
        paired=False,
        distribution=distribution,
        df=df,
    )


def delong_unpaired_test(
    y_a, score_a, y_b, score_b, *, level: float = 0.95, distribution: str = "normal"
) -> AUCComparison:
    """Unpaired DeLong comparison of the AUCs of two independent samples."""
    auc_a, var_a, c_a = delong_variance(y_a, score_a, names=["sample a"])
    auc_b, var_b, c_b = delong_variance(y_b, score_b, names=["sample b"])
    return compare_independent_aucs(
        float(auc_a[0]),
        float(var_a[0]),
        float(auc_b[0]),
        float(var_b[0]),
        n_a=int(c_a.sum()),
        n_b=int(c_b.sum()),
        level=level,
        distribution=distribution,
    )


def _comparison(
    auc_a: float,
    auc_b: float,
    diff: float,
    se: float,
    statistic: float,
    p_value: float,
    *,
    z: float,
    level: float,
    paired: bool,
    distribution: str = "normal",
    df: float = float("nan"),
) -> AUCComparison:
    """The result of a test of two AUCs, with the normal CI of the difference ``diff -+ z se``
    (``z`` the normal quantile of ``level``, for the t reference too)."""
    return AUCComparison(
        auc_a=auc_a,
        auc_b=auc_b,
        diff=diff,
        se=se,
        statistic=statistic,
        p_value=p_value,
        ci_low=diff - z * se,
        ci_high=diff + z * se,
        level=level,
        paired=paired,
        distribution=distribution,
        df=df,
    )


def _z_test(diff: float, se: float) -> tuple[float, float]:
    if not np.isfinite(se):
        return float("nan"), float("nan")
    if se == 0.0:
        if diff == 0.0:
            return 0.0, 1.0  # identical curves (pROC's special case)
        return float(np.sign(diff) * np.inf), 0.0
    z = diff / se
    return float(z), float(2.0 * stats.norm.sf(abs(z)))


# ------------------------------------------------------------------------------------------
# curve points for the figures
# ------------------------------------------------------------------------------------------
def roc_points(y, score, name: str = "score") -> pd.DataFrame:
    """Empirical ROC curve: ``fpr, tpr, threshold`` (``sklearn.metrics.roc_curve``).

    Raises :class:`OneClassError` (naming ``name``) when ``y`` holds one class.
    """
    yb, s, _ = _as_columns(y, score, [name])
    _check_classes(yb, [name])
    fpr, tpr, thr = roc_curve(yb[:, 0].astype(int), s[:, 0])
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})


def _require(table: pd.DataFrame, columns: Sequence[str]) -> None:
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise KeyError(
            f"predictions lack column(s) {absent}; expected p_<vessel> and "
            f"y_<vessel> (ecglib.schema)"
        )
