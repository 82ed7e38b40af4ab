"""Calibration: Brier score, grouped and LOWESS calibration curves, bootstrap bands, slope.

- **Brier score** (Brier, Mon Weather Rev 1950;78:1): ``B = mean((p_i - y_i)^2)``, from
  :func:`sklearn.metrics.brier_score_loss`. For a perfectly calibrated model
  ``E[B] = E[p (1 - p)]``; a model that predicts the prevalence ``pi`` for everyone scores
  ``pi (1 - pi)`` (``brier_null``), and the scaled Brier is ``1 - B / brier_null``.
- **Grouped curve**: patients binned by predicted probability (quantile bins = equal-size groups
  such as deciles, or uniform bins), mean prediction against the observed event rate per bin
  (:func:`sklearn.calibration.calibration_curve`), the observed rate with a Wilson CI.
- **LOWESS curve**: a locally weighted regression of ``y`` on ``p``
  (:func:`statsmodels.nonparametric.smoothers_lowess.lowess`, no robustness iterations, as for
  binary outcomes in Austin & Steyerberg, Stat Med 2014;33:517), evaluated on a grid inside the
  range of ``p``; its bootstrap band resamples patients (seeded).
- **Calibration intercept and slope** (Cox, Biometrika 1958;45:562; Van Calster et al., BMC Med
  2019;17:230): logistic regression of ``y`` on ``logit(p)``; the slope is its coefficient (1 is
  ideal, < 1 means too extreme predictions), the intercept ("calibration-in-the-large") is fitted
  with ``logit(p)`` as an offset (0 is ideal).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import logit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss
from statsmodels.nonparametric.smoothers_lowess import lowess

from ecglib import schema
from ecglib.metrics._inputs import (
    as_binary,
    as_probability,
    cluster_members,
    cluster_resample,
    same_length,
)
from ecglib.metrics.thresholds import proportion_ci

#: Predictions are clipped to [EPS, 1 - EPS] before the logit of the calibration slope.
_LOGIT_EPS = 1e-6


def brier_score(y, p) -> float:
    """Brier score ``mean((p - y)^2)`` (:func:`sklearn.metrics.brier_score_loss`)."""
    y, p = _check(y, p)
    return float(brier_score_loss(y, p))


def calibration_bins(
    y, p, *, n_bins: int = 10, strategy: str = "quantile", alpha: float = 0.05
) -> pd.DataFrame:
    """Grouped calibration curve: per non-empty bin ``n``, ``mean_predicted``, ``observed``
    (event rate) and its Wilson CI ``observed_lo``/``observed_hi``.

    The points are :func:`sklearn.calibration.calibration_curve`'s; the bin counts (which it
    does not return) come from the same bin edges and assignment rule (``strategy="quantile"``:
    edges at the quantiles of ``p``, so deciles with ``n_bins=10``; ``"uniform"``: equal widths).
    """
    y, p = _check(y, p)
    observed, mean_predicted = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], p)  # sklearn's rule, so the bins coincide
    total = np.bincount(ids, minlength=n_bins)
    events = np.bincount(ids, weights=y, minlength=n_bins)
    keep = total > 0
    _, lo, hi = proportion_ci(events[keep], total[keep], method="wilson", alpha=alpha)
    return pd.DataFrame(
        {
            "bin": np.flatnonzero(keep),
            "n": total[keep],
            "events": events[keep].astype(int),
            "mean_predicted": mean_predicted,
            "observed": observed,
            "observed_lo": lo,
            "observed_hi": hi,
        }
    )


def lowess_grid(p, n: int = 100, *, quantiles: tuple[float, float] = (0.01, 0.99)) -> np.ndarray:
    """Evaluation grid for LOWESS curves: ``n`` points between two quantiles of ``p`` (the
    curve is not extrapolated into the sparse tails)."""
    p = as_probability(p)
    lo, hi = np.quantile(p, quantiles)
    return np.linspace(lo, hi, n)


def calibration_lowess(y, p, grid=None, *, frac: float = 2 / 3) -> pd.DataFrame:
    """LOWESS calibration curve of ``y`` on ``p``: ``predicted`` (grid) and ``observed``.

    Grid points outside the range of ``p`` are NaN (no extrapolation); values are clipped to
    [0, 1].
    """
    y, p = _check(y, p)
    grid = lowess_grid(p) if grid is None else np.asarray(grid, dtype=float)
    return pd.DataFrame({"predicted": grid, "observed": _lowess(y, p, grid, frac)})


def calibration_band(
    y,
    p,
    grid=None,
    *,
    n_boot: int = 200,
    seed: int = 0,
    frac: float = 2 / 3,
    level: float = 0.95,
    groups=None,
) -> pd.DataFrame:
    """LOWESS curve with a percentile bootstrap band (rows resampled with replacement; with
    ``groups``, e.g. patient ids, whole patients with all their ECGs: the cluster bootstrap).

    Returns ``predicted, observed, lower, upper, n_boot_used`` per grid point: the band at a
    grid point uses the resamples whose range of ``p`` covers it (``n_boot_used``), so nothing
    is extrapolated and no resample is silently dropped.
    """
    y, p = _check(y, p)
    grid = lowess_grid(p) if grid is None else np.asarray(grid, dtype=float)
    rng = np.random.default_rng(seed)
    members = None if groups is None else cluster_members(groups, len(y))
    curves = np.empty((n_boot, len(grid)))
    for b in range(n_boot):
        idx = rng.integers(0, len(y), len(y)) if members is None else cluster_resample(rng, members)
        curves[b] = _lowess(y[idx], p[idx], grid, frac)
    tail = 100 * (1 - level) / 2
    used = np.sum(np.isfinite(curves), axis=0)
    with warnings.catch_warnings():
        # a grid point no resample covers is NaN, and n_boot_used says so
        warnings.simplefilter("ignore", RuntimeWarning)
        lower, upper = np.nanpercentile(curves, [tail, 100 - tail], axis=0)
    return pd.DataFrame(
        {
            "predicted": grid,
            "observed": _lowess(y, p, grid, frac),
            "lower": lower,
            "upper": upper,
            "n_boot_used": used,
        }
    )


def calibration_slope_intercept(y, p) -> dict[str, float]:
    """Calibration slope (coefficient of ``logit(p)``) and intercept (with ``logit(p)`` offset).

    Both are NaN when ``y`` holds a single class (e.g. no LM event in a small external set):
    the logistic fit has no finite solution then. The slope is NaN when every prediction is the
    same (``logit(p)`` is collinear with the intercept); the intercept still exists.
    """
    y, p = _check(y, p)
    if y.min() == y.max():
        return {"slope": np.nan, "intercept": np.nan}
    lp = logit(np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS))
    slope = np.nan
    if np.ptp(lp) > 0:
        # has_constant="add": never let statsmodels skip the intercept column
        design = sm.add_constant(lp, has_constant="add")
        slope = float(sm.GLM(y, design, family=sm.families.Binomial()).fit().params[1])
    citl_fit = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit()
    return {"slope": slope, "intercept": float(citl_fit.params[0])}


def calibration_summary(y, p) -> dict[str, float]:
    """Brier score, its null reference and scaled version, mean prediction vs event rate
    (O/E ratio), calibration intercept and slope."""
    y, p = _check(y, p)
    prevalence = float(y.mean())
    brier = brier_score(y, p)
    null = prevalence * (1 - prevalence)
    return {
        "n": len(y),
        "events": int(y.sum()),
        "brier": brier,
        "brier_null": null,
        "scaled_brier": 1 - brier / null if null > 0 else np.nan,
        "mean_predicted": float(p.mean()),
        "observed_rate": prevalence,
        "oe_ratio": prevalence / p.mean() if p.mean() > 0 else np.nan,
        **calibration_slope_intercept(y, p),
    }


def calibration_table(table: pd.DataFrame, vessels: Iterable[str] | None = None) -> pd.DataFrame:
    """:func:`calibration_summary` per vessel from the ``y_<vessel>``/``p_<vessel>`` columns
    (default: the vessels the table has labels for, :func:`ecglib.schema.vessels_of`)."""
    vessels = schema.vessels_of(table, vessels)
    return pd.DataFrame(
        {
            v: calibration_summary(table[schema.label_col(v)], table[schema.prob_col(v)])
            for v in vessels
        }
    ).T.rename_axis("vessel")


def _lowess(y: np.ndarray, p: np.ndarray, grid: np.ndarray, frac: float) -> np.ndarray:
    fitted = lowess(y.astype(float), p, frac=frac, it=0, xvals=grid)
    fitted = np.clip(fitted, 0.0, 1.0)
    fitted[(grid < p.min()) | (grid > p.max())] = np.nan
    return fitted


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    y, p = as_binary(y), as_probability(p)
    same_length(y=y, p=p)
    if len(y) == 0:
        raise ValueError("no patients to evaluate")
    return y, p
