"""Calibration: Brier score, grouped and LOWESS calibration curves, bootstrap bands, slope.

- **Brier score** (Brier, Mon Weather Rev 1950;78:1): ``B = mean((p_i - y_i)^2)``, from
  :func:`sklearn.metrics.brier_score_loss`. For a perfectly calibrated model
  ``E[B] = E[p (1 - p)]``; a model that predicts the prevalence ``pi`` for everyone scores
  ``pi (1 - pi)`` (``brier_null``), and the scaled Brier is ``1 - B / brier_null``.
- **Grouped curve**: patients binned by predicted probability (quantile bins = equal-size groups
  such as deciles, or uniform bins), mean prediction against the observed event rate per bin
  (:func:`sklearn.calibration.calibration_curve`), the observed rate with a Wilson CI or, given
  patient-resample weights, a patient-bootstrap percentile interval.
- **LOWESS curve**: a locally weighted regression of ``y`` on ``p``
  (:func:`statsmodels.nonparametric.smoothers_lowess.lowess`, no robustness iterations, as for
  binary outcomes in Austin & Steyerberg, Stat Med 2014;33:517), evaluated on a grid inside the
  range of ``p``; its bootstrap band resamples patients (seeded).
- **Calibration intercept and slope** (Cox, Biometrika 1958;45:562; Van Calster et al., BMC Med
  2019;17:230): logistic regression of ``y`` on ``logit(p)``; the slope is its coefficient (1 is
  ideal, < 1 means too extreme predictions), the intercept ("calibration-in-the-large") is fitted
  with ``logit(p)`` as an offset (0 is ideal).

**Patient-bootstrap intervals** (:func:`calibration_bootstrap`, :func:`calibration_table` with
``weights``): the Brier score, slope and intercept of every resample of the run's shared patient
resamples (:mod:`ecglib.metrics.resamples`), all resamples at once from the ``(B, N)`` row
weights, and their percentile intervals. The Brier score of a resample is a weighted mean; the
two logistic fits take the weights as frequency weights (a row drawn twice counts twice in the
log-likelihood), which is exactly the fit on the materialised resample, by batched
Newton-Raphson (:func:`batched_logistic`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss
from statsmodels.nonparametric.smoothers_lowess import lowess

from ecglib import schema
from ecglib.metrics._inputs import as_binary, as_probability, same_length
from ecglib.metrics.resamples import (
    percentile_interval,
    resample_rows,
    weighted_mean,
    weighted_rate,
)
from ecglib.metrics.thresholds import proportion_ci

#: Predictions are clipped to [EPS, 1 - EPS] before the logit of the calibration slope.
_LOGIT_EPS = 1e-6

#: Resamples per block of :func:`batched_logistic`.
_BLOCK = 50


def brier_score(y, p) -> float:
    """Brier score ``mean((p - y)^2)`` (:func:`sklearn.metrics.brier_score_loss`)."""
    y, p = _check(y, p)
    return float(brier_score_loss(y, p))


def calibration_bins(
    y,
    p,
    *,
    n_bins: int = 10,
    strategy: str = "quantile",
    alpha: float = 0.05,
    weights=None,
) -> pd.DataFrame:
    """Grouped calibration curve: per non-empty bin ``n``, ``mean_predicted``, ``observed``
    (event rate) and its ``1 - alpha`` interval ``observed_lo``/``observed_hi``: Wilson's, or
    with ``weights`` (``(B, N)`` patient-resample counts of the rows) the percentile interval of
    the bin's event rate over the resamples (the bins fixed at the full data's edges; a resample
    without a row in the bin is left out).

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
    if weights is None:
        _, lo, hi = proportion_ci(events[keep], total[keep], method="wilson", alpha=alpha)
    else:
        member = ids[:, None] == np.flatnonzero(keep)[None, :]
        rates = weighted_rate(
            _check_weights(weights, len(y)), np.repeat(y[:, None], member.shape[1], 1), member
        )
        lo, hi = percentile_interval(rates, 1 - alpha)
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
    y, p, grid=None, *, weights, frac: float = 2 / 3, level: float = 0.95
) -> pd.DataFrame:
    """LOWESS curve with the percentile band of its curves over patient resamples.

    ``weights`` is ``(B, N)``: the count of row ``i`` in resample ``b``, from the run's shared
    patient resamples (:meth:`ecglib.metrics.resamples.PatientResamples.weights`), so whole
    patients are drawn with all their ECGs: the cluster bootstrap. LOWESS takes no weights
    (statsmodels' ``lowess`` has none, and a frequency-weighted LOWESS would need its own
    neighbourhood rule), so this is a loop over the resamples: each resample's rows are
    materialised (:func:`ecglib.metrics.resamples.resample_rows`) and smoothed. The draws are the
    shared ones; only the smoothing is per resample.

    Returns ``predicted, observed, lower, upper, n_boot_used`` per grid point: the band at a
    grid point uses the resamples whose range of ``p`` covers it (``n_boot_used``), so nothing
    is extrapolated and no resample is silently dropped.
    """
    y, p = _check(y, p)
    w = _check_weights(weights, len(y))
    grid = lowess_grid(p) if grid is None else np.asarray(grid, dtype=float)
    curves = np.empty((len(w), len(grid)))
    for b, row in enumerate(w):
        idx = resample_rows(row)
        curves[b] = _lowess(y[idx], p[idx], grid, frac)
    lower, upper = percentile_interval(curves, level)
    return pd.DataFrame(
        {
            "predicted": grid,
            "observed": _lowess(y, p, grid, frac),
            "lower": lower,
            "upper": upper,
            "n_boot_used": np.sum(np.isfinite(curves), axis=0),
        }
    )


def calibration_slope_intercept(y, p) -> dict[str, float]:
    """Calibration slope (coefficient of ``logit(p)``) and intercept (with ``logit(p)`` offset).

    Both are NaN when ``y`` holds a single class (e.g. no LM event in a small external set):
    the logistic fit has no finite solution then. The slope is NaN when every prediction is the
    same (``logit(p)`` is collinear with the intercept) or when ``logit(p)`` separates the
    classes (every event at or above every non-event, or at or below: the maximum-likelihood
    slope is infinite); the intercept still exists.
    """
    y, p = _check(y, p)
    if y.min() == y.max():
        return {"slope": np.nan, "intercept": np.nan}
    lp = _logit(p)
    citl_fit = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit()
    return {"slope": float(_slope_fit(y, lp)[1]), "intercept": float(citl_fit.params[0])}


def calibration_bootstrap(y, p, weights, *, tol: float = 1e-10) -> pd.DataFrame:
    """Brier score, calibration slope and intercept in every resample, all at once.

    ``weights`` is ``(B, N)``, the count of row ``i`` in resample ``b`` (the run's shared
    patient resamples, :meth:`ecglib.metrics.resamples.PatientResamples.weights`). Per
    resample: the Brier score ``sum_i w_bi (p_i - y_i)^2 / sum_i w_bi``; the slope and the
    intercept are the two logistic fits of :func:`calibration_slope_intercept` with ``w_b`` as
    frequency weights (:func:`batched_logistic`, started from the full-data estimates), which is
    the fit on the materialised resample.

    Returns a ``(B, 3)`` table ``brier, slope, intercept``, NaN where the statistic does not
    exist on that resample, by the rules of :func:`calibration_slope_intercept` applied to the
    drawn rows: both fits when a single class is drawn, the slope also when the drawn
    ``logit(p)`` is constant or separates the drawn classes.
    """
    y, p = _check(y, p)
    w = _check_weights(weights, len(y)).astype(float)
    yf, lp = y.astype(float), _logit(p)
    drawn = w > 0
    both = (w @ yf > 0) & (w @ (1 - yf) > 0)
    slope_ok = both & ~_separated(yf == 1, lp, drawn)
    slope_ok &= np.where(drawn, lp, np.inf).min(axis=1) < np.where(drawn, lp, -np.inf).max(axis=1)
    # Start from the full-data estimates (the resample fits lie near them): a few steps each.
    start_slope, start_citl = np.array([0.0, 1.0]), np.zeros(1)
    if y.min() != y.max():
        full = _slope_fit(y, lp)
        start_slope = full if np.isfinite(full).all() else start_slope
        start_citl[0] = calibration_slope_intercept(y, p)["intercept"]
    design = np.column_stack([np.ones(len(y)), lp])
    slope = batched_logistic(yf, design, w, start=start_slope, fit=slope_ok, tol=tol)[:, 1]
    ones = design[:, :1]
    citl = batched_logistic(yf, ones, w, offset=lp, start=start_citl, fit=both, tol=tol)[:, 0]
    return pd.DataFrame(
        {"brier": weighted_mean(w, (p - yf) ** 2), "slope": slope, "intercept": citl}
    )


def batched_logistic(
    y,
    design,
    weights,
    *,
    offset=None,
    start=None,
    fit=None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    """Maximum-likelihood logistic regressions of ``y`` on ``design`` (plus ``offset``), one per
    row of ``weights`` (frequency weights), all at once.

    Row ``b`` maximises ``l_b(beta) = sum_i w_bi [y_i eta_i - log(1 + exp(eta_i))]`` with
    ``eta = design @ beta + offset`` by Newton-Raphson,
    ``beta <- beta + I_b^{-1} U_b`` with the score ``U_b = X' diag(w_b) (y - mu)`` and the
    information ``I_b = X' diag(w_b mu (1 - mu)) X`` (for the logit link this is the IRLS step
    of a GLM fit; McCullagh & Nelder, Generalized Linear Models, 2nd ed. 1989, sec. 4.4).
    A step that lowers ``l_b`` is halved (``l_b`` is concave, so the iteration converges from
    any start when the maximum exists). A row stops when its step is below ``tol``.

    Returns ``(B, k)`` coefficients; NaN for a row not in ``fit`` (a boolean ``(B,)`` mask, for
    resamples where the maximum does not exist: check that before, a separated row would run to
    ``max_iter``), with a singular information matrix, or not converged in ``max_iter`` steps.
    """
    # Written by hand: statsmodels and scikit-learn fit one model per call, and a loop of
    # 1,000 resamples x vessels x populations through them takes minutes. The resample fits
    # share y and the design and differ only in the weights, so one Newton step of all of
    # them is a few (B, N) array operations and two matrix products; no library fits 1,000
    # weighted logistic models at once.
    y = np.asarray(y, dtype=float)
    x = np.asarray(design, dtype=float).reshape(len(y), -1)
    w = np.asarray(weights, dtype=float)
    off = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=float)
    start = np.zeros(x.shape[1]) if start is None else np.asarray(start, dtype=float)
    fit = np.ones(len(w), bool) if fit is None else np.asarray(fit, bool)
    # Blocks of resamples: the (block, N) temporaries stay in the processor's cache (twice as
    # fast as one (1000, N) block on 4,800 rows).
    return np.vstack(
        [
            _newton(y, x, w[i : i + _BLOCK], off, start, fit[i : i + _BLOCK], tol, max_iter)
            for i in range(0, len(w), _BLOCK)
        ]
        or [np.empty((0, x.shape[1]))]
    )


def _newton(y, x, w, off, start, fit, tol, max_iter) -> np.ndarray:
    """:func:`batched_logistic` on one block of resamples."""
    k = x.shape[1]
    coef = np.full((len(w), k), np.nan)
    rows = np.flatnonzero(fit)
    beta = np.tile(start, (len(rows), 1))
    outer = (x[:, :, None] * x[:, None, :]).reshape(len(y), k * k)

    def loglik(r, eta):
        return np.sum(w[r] * (y * eta - np.logaddexp(0.0, eta)), axis=1)

    eta = beta @ x.T + off
    ll = np.full(len(rows), np.nan)  # computed when a step needs checking
    for _ in range(max_iter):
        if len(rows) == 0:
            break
        mu = expit(eta)
        score = (w[rows] * (y - mu)) @ x
        info = ((w[rows] * mu * (1 - mu)) @ outer).reshape(-1, k, k)
        diag = np.prod(np.diagonal(info, axis1=1, axis2=2), axis=1)
        regular = np.linalg.det(info) > 1e-12 * diag  # collinear design on the drawn rows
        rows, beta, ll, eta = rows[regular], beta[regular], ll[regular], eta[regular]
        step = np.linalg.solve(info[regular], score[regular][..., None])[..., 0]
        new = beta + step
        new_eta = new @ x.T + off
        new_ll = np.full(len(rows), np.nan)
        # Only a step outside the maximum's close neighbourhood can overshoot; below 1e-3 the
        # log-likelihood is quadratic to rounding and the check (half the work) is skipped.
        check = np.flatnonzero(np.max(np.abs(step), axis=1) > 1e-3)
        if len(check):
            stale = check[np.isnan(ll[check])]
            ll[stale] = loglik(rows[stale], eta[stale])
            new_ll[check] = loglik(rows[check], new_eta[check])
            scale = np.ones(len(rows))
            for _ in range(50):
                worse = check[new_ll[check] < ll[check] - 1e-12 * (1 + np.abs(ll[check]))]
                if len(worse) == 0:
                    break
                scale[worse] /= 2
                new[worse] = beta[worse] + scale[worse, None] * step[worse]
                new_eta[worse] = new[worse] @ x.T + off
                new_ll[worse] = loglik(rows[worse], new_eta[worse])
        done = np.max(np.abs(new - beta), axis=1) < tol
        coef[rows[done]] = new[done]
        rows, beta, ll, eta = rows[~done], new[~done], new_ll[~done], new_eta[~done]
    return coef


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


def calibration_table(
    table: pd.DataFrame,
    vessels: Iterable[str] | None = None,
    *,
    weights=None,
    level: float = 0.95,
) -> pd.DataFrame:
    """:func:`calibration_summary` per vessel from the ``y_<vessel>``/``p_<vessel>`` columns
    (default: the vessels the table has labels for, :func:`ecglib.schema.vessels_of`).

    With ``weights`` (``(B, N)`` patient-resample weights of the table's rows): the percentile
    intervals of :func:`calibration_bootstrap` as ``brier_lo``, ``brier_hi``, ``slope_lo``, ...,
    and per statistic the resamples where it does not exist (``slope_undefined``, ...; the
    interval leaves them out), and ``n_boot``.
    """
    vessels = schema.vessels_of(table, vessels)
    rows = {}
    for v in vessels:
        y, p = table[schema.label_col(v)], table[schema.prob_col(v)]
        rows[v] = calibration_summary(y, p)
        if weights is not None:
            boot = calibration_bootstrap(y, p, weights)
            lo, hi = percentile_interval(boot.to_numpy(), level)
            for j, name in enumerate(boot.columns):
                rows[v][f"{name}_lo"], rows[v][f"{name}_hi"] = lo[j], hi[j]
                rows[v][f"{name}_undefined"] = int(boot[name].isna().sum())
            rows[v]["n_boot"] = len(boot)
    return pd.DataFrame(rows).T.rename_axis("vessel")


def _slope_fit(y: np.ndarray, lp: np.ndarray) -> np.ndarray:
    """Intercept and slope of the logistic regression of ``y`` on ``lp`` (statsmodels GLM);
    the slope is NaN when it does not exist (:func:`calibration_slope_intercept`)."""
    if np.ptp(lp) == 0 or _separated(y == 1, lp, np.ones((1, len(y)), bool))[0]:
        return np.array([np.nan, np.nan])
    # has_constant="add": never let statsmodels skip the intercept column
    design = sm.add_constant(lp, has_constant="add")
    return np.asarray(sm.GLM(y, design, family=sm.families.Binomial()).fit().params, float)


def _separated(event: np.ndarray, lp: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Per row of ``drawn`` (``(B, N)``), whether ``lp`` separates the drawn events from the
    drawn non-events (quasi-completely: every event at or above every non-event, or at or
    below), so the logistic slope's maximum likelihood is infinite (Albert & Anderson,
    Biometrika 1984;71:1). A resample without both classes counts as separated."""
    ev, non = drawn & event, drawn & ~event
    ev_min = np.where(ev, lp, np.inf).min(axis=1)
    ev_max = np.where(ev, lp, -np.inf).max(axis=1)
    non_min = np.where(non, lp, np.inf).min(axis=1)
    non_max = np.where(non, lp, -np.inf).max(axis=1)
    return (ev_min >= non_max) | (ev_max <= non_min)


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS))


def _check_weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights)
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"weights must be (n_boot, {n}) resample counts, got shape {w.shape}")
    if (w < 0).any():
        raise ValueError("weights must be non-negative resample counts")
    return w


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
