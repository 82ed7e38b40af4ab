"""Cumulative incidence of events by risk group: 1 - Kaplan-Meier, numbers at risk, log-rank.

The authors' code divided the events seen by a time by the number of patients, which treats a
patient censored (lost to follow-up) before that time as event-free and underestimates the
incidence. Here the cumulative incidence is ``F(t) = 1 - S(t)`` with the Kaplan-Meier estimator
(Kaplan & Meier, JASA 1958;53:457),

    S(t) = prod over event times t_i <= t of (1 - d_i / n_i),

``d_i`` events at ``t_i`` and ``n_i`` patients at risk just before ``t_i`` (follow-up time
``>= t_i``), fitted with :class:`lifelines.KaplanMeierFitter` (its ``cumulative_density_`` is
``1 - S``; the CI is lifelines' exponential Greenwood interval). Groups are compared with the
log-rank test (Mantel 1966; :func:`lifelines.statistics.logrank_test` for two groups,
:func:`~lifelines.statistics.multivariate_logrank_test` for more). Only events within the
horizon count: follow-up is administratively censored at ``horizon`` (one year by default) by
:func:`censor_at`, so the curves and the test describe the same window.

Number at risk at time ``t`` (:func:`number_at_risk`): patients whose follow-up time is
``>= t`` (still under observation at ``t``, an event or censoring at ``t`` itself included), the
``n_i`` of the estimator and the ``at_risk`` column of lifelines' ``event_table``. (lifelines'
``add_at_risk_counts`` counts after removing those at ``t``, so the figure draws its own table
from this function.)

**Competing risks.** When a patient's follow-up can end with a competing event (e.g. death
without the outcome, :data:`COMPETING_COL`), 1 - KM counts that patient as censored, as if still
at risk of the outcome: it estimates the incidence in a world without the competing event and
overestimates the actual one. The cumulative incidence of the outcome is then the Aalen-Johansen
estimator (Aalen & Johansen, Scand J Stat 1978;5:141; Putter, Fiocco & Geskus, Stat Med
2007;26:2389),

    F_1(t) = sum over event times t_i <= t of S(t_i-) d_1i / n_i,

``S`` the Kaplan-Meier estimate of being free of *either* event, ``d_1i`` the outcome events at
``t_i``; without competing events it is exactly ``1 - S`` (:func:`aalen_johansen`, lifelines'
:class:`~lifelines.AalenJohansenFitter` with its log(-log) interval on Collett's variance).
The tests then compare cause-specific hazards (competing events censor): the log-rank test and
the Cox trend test below, which is how a competing event enters them.

**Trend across ordered groups** (:func:`cox_trend`): the Cox model ``h(t | x) = h_0(t) exp(b x)``
with ``x`` the group's rank (0, 1, 2 for low, intermediate, high), Efron's ties
(lifelines' :class:`~lifelines.CoxPHFitter`), gives the hazard ratio per step ``exp(b)`` with
the Wald interval ``exp(b +- z SE)`` and p. With a cluster (the patient), ``SE`` is the robust
sandwich variance summed over clusters (Lin & Wei, JASA 1989;84:1074; lifelines ``cluster_col``,
equal to statsmodels' ``PHReg.fit(groups=...)``), valid when a patient contributes several rows;
with one row per patient it is the robust (sandwich) variance of independent patients.

Missing follow-up columns raise :class:`MissingInputError`; rows with a missing time or event
raise a ``ValueError`` naming how many, never silently dropped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceWarning
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy.stats import norm

from ecglib.metrics._inputs import MissingInputError, as_binary, require_columns, same_length

__all__ = [
    "MissingInputError",
    "censor_at",
    "competing_flags",
    "followup_arrays",
    "km_fits",
    "aalen_johansen",
    "cumulative_incidence",
    "number_at_risk",
    "logrank",
    "incidence_summary",
    "cox_trend",
]

#: Canonical follow-up columns (:mod:`ecglib.schema`); the competing-event flag is optional.
TIME_COL, EVENT_COL, COMPETING_COL = "followup_days", "followup_event", "followup_competing"


def followup_arrays(
    cohort: pd.DataFrame, *, time_col: str = TIME_COL, event_col: str = EVENT_COL
) -> tuple[np.ndarray, np.ndarray]:
    """Follow-up times and event indicators of a cohort table, validated.

    Raises :class:`MissingInputError` when the columns are absent or empty (no follow-up: the
    chapter is skipped), ``ValueError`` when some rows lack a time or event, or hold a negative
    time or a non-0/1 event.
    """
    require_columns(cohort, (time_col, event_col), "the cumulative-incidence analysis")
    missing = cohort[time_col].isna() | cohort[event_col].isna()
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} of {len(cohort)} rows lack {time_col} or "
            f"{event_col}; select the follow-up cohort explicitly"
        )
    return _check(cohort[time_col], cohort[event_col])


def censor_at(time, event, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Administrative censoring at ``horizon``: ``time' = min(time, horizon)``, and an event
    counts only if it happened at or before ``horizon``."""
    time, event = _check(time, event)
    if horizon <= 0:
        raise ValueError(f"horizon must be positive, got {horizon!r}")
    return np.minimum(time, horizon), np.where(time <= horizon, event, 0)


def competing_flags(competing, event) -> np.ndarray:
    """The competing-event flags (0/1) of the patients whose ``event`` flags are given,
    validated: no missing or other value, and no patient with both an event and a competing
    event (a follow-up ends with one of them)."""
    e = as_binary(event, "event")
    c = as_binary(competing, "competing event")
    same_length(event=e, competing=c)
    both = (e == 1) & (c == 1)
    if both.any():
        i = int(np.flatnonzero(both)[0])
        raise ValueError(
            f"position {i} holds both an event and a competing event ({int(both.sum())} such "
            "patients); a follow-up ends with one of them"
        )
    return c


def km_fits(
    time, event, group, *, order: Sequence | None = None, alpha: float = 0.05
) -> dict[str, KaplanMeierFitter]:
    """A fitted :class:`lifelines.KaplanMeierFitter` per group, in ``order`` (default: the
    categories of a Categorical, e.g. low/intermediate/high strata, else sorted). Groups
    without patients are skipped."""
    time, event = _check(time, event)
    order = _default_order(group, order)
    group = _groups(group, len(time))
    fits = {}
    for g in _order(group, order):
        m = group == g
        if m.any():
            fits[str(g)] = KaplanMeierFitter(alpha=alpha).fit(time[m], event[m], label=str(g))
    return fits


def aalen_johansen(time, event, competing, times, *, alpha: float = 0.05) -> pd.DataFrame:
    """The Aalen-Johansen cumulative incidence of the outcome (``event``) with ``competing``
    events at ``times`` (module docstring): ``time, cumulative_incidence, ci_lo, ci_hi``.

    lifelines' fitter jitters tied times of different event types at random (reseeding NumPy's
    global generator) and sets its estimate at the first time of the table to 0 (an event at
    time 0 would be lost). The records are therefore shifted deterministically before fitting,
    by less than the smallest gap ``g`` between distinct times: every time by ``g``, a competing
    event by ``g / 4`` more and a censoring by ``g / 2`` more. At a shared time the outcome
    events come first, then the competing events, then the censorings, which gives exactly the
    tied estimator (all of them at risk at that time), and lifelines sees no tie to jitter. The
    estimate at ``t`` is read at ``t + g``. Where the variance is undefined (every patient still
    at risk has an event) the bounds are NaN.
    """
    time, event = _check(time, event)
    competing = competing_flags(competing, event)
    grid = np.asarray(times, dtype=float).ravel()
    distinct = np.unique(time)
    gap = float(np.diff(distinct).min()) if len(distinct) > 1 else 1.0
    status = np.where(event == 1, 1, np.where(competing == 1, 2, 0))
    shifted = time + gap + gap / 4 * (status == 2) + gap / 2 * (status == 0)
    fit = AalenJohansenFitter(alpha=alpha).fit(shifted, status, event_of_interest=1)
    curve = fit.cumulative_density_.iloc[:, 0]
    estimate, at = curve.to_numpy(), curve.index.to_numpy(dtype=float)
    bounds = fit.confidence_interval_.to_numpy()  # lifelines' "upper" column is the lower bound
    idx = np.clip(np.searchsorted(at, grid + gap, side="right") - 1, 0, None)
    value = estimate[idx]
    zero = value == 0  # log(-log F) is undefined at 0: the interval is the point
    return pd.DataFrame(
        {
            "time": grid,
            "cumulative_incidence": value,
            "ci_lo": np.where(zero, 0.0, np.fmin(bounds[idx, 0], bounds[idx, 1])),
            "ci_hi": np.where(zero, 0.0, np.fmax(bounds[idx, 0], bounds[idx, 1])),
        }
    )


def cumulative_incidence(
    time,
    event,
    group=None,
    times=None,
    *,
    competing=None,
    order: Sequence | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """``1 - S(t)`` with its CI per group at ``times`` (default: every event time); with
    ``competing`` flags the Aalen-Johansen estimate (:func:`aalen_johansen`) instead.

    Long format: ``group, time, cumulative_incidence, ci_lo, ci_hi, at_risk``. Values are
    step-function values at ``t`` (right-continuous: an event at ``t`` is included).
    """
    time, event = _check(time, event)
    if competing is not None:
        competing = competing_flags(competing, event)
    order = _default_order(group, order)
    group = _groups(group, len(time))
    grid = np.unique(time[event == 1]) if times is None else np.asarray(times, dtype=float)
    parts = []
    for g in _order(group, order):
        m = group == g
        if competing is not None:
            curve = aalen_johansen(time[m], event[m], competing[m], grid, alpha=alpha)
            values = curve[["cumulative_incidence", "ci_lo", "ci_hi"]].to_numpy().T
        else:
            values = _km_values(time[m], event[m], grid, alpha)
        parts.append(
            pd.DataFrame(
                {
                    "group": g,
                    "time": grid,
                    "cumulative_incidence": values[0],
                    "ci_lo": values[1],
                    "ci_hi": values[2],
                    "at_risk": number_at_risk(time[m], grid).to_numpy()[0],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _km_values(time, event, grid, alpha) -> np.ndarray:
    """``1 - S`` and lifelines' exponential Greenwood bounds at ``grid`` (rows)."""
    kmf = KaplanMeierFitter(alpha=alpha).fit(time, event)
    ci = kmf.confidence_interval_cumulative_density_.to_numpy()
    # step-function lookup: last estimate at or before t
    idx = np.clip(np.searchsorted(kmf.timeline, grid, side="right") - 1, 0, None)
    before = grid < kmf.timeline[0]
    return np.vstack(
        [
            1.0 - kmf.survival_function_at_times(grid).to_numpy(),
            np.where(before, 0.0, ci[idx, 0]),
            np.where(before, 0.0, ci[idx, 1]),
        ]
    )


def number_at_risk(time, times, group=None, *, order: Sequence | None = None) -> pd.DataFrame:
    """Patients with follow-up ``>= t`` at each ``t`` of ``times``: one row per group (or a
    single row ``all``), one column per time."""
    time = np.asarray(time, dtype=float).ravel()
    times = np.asarray(times, dtype=float).ravel()
    if group is None:
        return pd.DataFrame(
            [(time[:, None] >= times[None, :]).sum(axis=0)],
            index=pd.Index(["all"], name="group"),
            columns=times,
        )
    order = _default_order(group, order)
    group = _groups(group, len(time))
    rows = {
        str(g): (time[group == g][:, None] >= times[None, :]).sum(axis=0)
        for g in _order(group, order)
    }
    return pd.DataFrame(rows, index=times).T.rename_axis("group")


def logrank(time, event, group) -> dict[str, float]:
    """Log-rank test of equal hazards across groups: ``test_statistic``, ``df``, ``p_value``,
    ``n_groups`` (lifelines; the two-group test for two groups, the multivariate one for more)."""
    time, event = _check(time, event)
    group = _groups(group, len(time))
    present = list(pd.unique(group))
    if len(present) < 2:
        raise ValueError(f"the log-rank test needs at least two groups, got {present}")
    if len(present) == 2:
        a, b = (group == present[0]), (group == present[1])
        res = logrank_test(time[a], time[b], event_observed_A=event[a], event_observed_B=event[b])
    else:
        res = multivariate_logrank_test(time, group, event)
    return {
        "test_statistic": float(res.test_statistic),
        "df": int(res.degrees_of_freedom),
        "p_value": float(res.p_value),
        "n_groups": len(present),
    }


def incidence_summary(
    time,
    event,
    group,
    *,
    horizon: float = 365.0,
    competing=None,
    order: Sequence | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per group at ``horizon`` (after :func:`censor_at`): ``n``, ``events``, ``censored``
    before the horizon, the ``cumulative_incidence`` with CI, and ``naive_events_over_n``
    (events / n, the authors' estimate, biased low under censoring).

    Without ``competing`` the cumulative incidence is 1 - Kaplan-Meier. With it (0/1 flags,
    counted within the horizon like the events) it is the Aalen-Johansen estimate, and two
    columns are added: ``competing_events`` and ``one_minus_km`` (1 - KM with the competing
    events censored, what ignoring them would report); a competing event is not a censoring.
    """
    raw_time = time
    time, event = censor_at(raw_time, event, horizon)
    if competing is not None:
        competing = competing_flags(censor_at(raw_time, competing, horizon)[1], event)
    order = _default_order(group, order)
    group = _groups(group, len(time))
    curve = cumulative_incidence(
        time, event, group, [horizon], competing=competing, order=order, alpha=alpha
    )
    if competing is not None:
        km = cumulative_incidence(time, event, group, [horizon], order=order, alpha=alpha)
        km = km.set_index("group")["cumulative_incidence"]
    ended = event if competing is None else event + competing
    rows = []
    for r in curve.itertuples(index=False):
        m = group == r.group
        row = {"group": r.group, "n": int(m.sum()), "events": int(event[m].sum())}
        if competing is not None:
            row["competing_events"] = int(competing[m].sum())
        row |= {
            "censored_before_horizon": int(np.sum(m & (ended == 0) & (time < horizon))),
            "cumulative_incidence": r.cumulative_incidence,
            "ci_lo": r.ci_lo,
            "ci_hi": r.ci_hi,
        }
        if competing is not None:
            row["one_minus_km"] = float(km[r.group])
        row |= {
            "at_risk_at_horizon": r.at_risk,
            "naive_events_over_n": float(event[m].mean()),
        }
        rows.append(row)
    return pd.DataFrame(rows).set_index("group")


def cox_trend(time, event, score, cluster=None, *, alpha: float = 0.05) -> dict[str, float]:
    """Cox trend test: the hazard ratio per unit of an ordinal ``score`` (module docstring).

    Returns ``hr``, ``ci_lo``, ``ci_hi`` (``exp(b +- z SE)``), ``coef`` (``b``), ``se``, ``z``,
    ``p_value`` (Wald), ``n``, ``events``, ``n_clusters`` and ``robust`` (1.0 with a
    ``cluster``: the clustered sandwich variance; 0.0: the model-based variance). Raises
    ``ValueError`` when the ratio is not estimable: fewer than two distinct scores, no event, or
    a monotone likelihood (every event had the highest, or every one the lowest, score of those
    still at risk, so that ``b`` runs to infinity; Bryson & Johnson 1981), which lifelines would
    report as a huge ratio with a tiny p.
    """
    time, event = _check(time, event)
    x = np.asarray(score, dtype=float).ravel()
    same_length(time=time, score=x)
    if not np.isfinite(x).all():
        raise ValueError(f"{int((~np.isfinite(x)).sum())} patients have no score (group)")
    if len(np.unique(x)) < 2:
        raise ValueError("the trend test needs at least two groups with patients")
    if event.sum() == 0:
        raise ValueError("no events")
    side = _monotone_side(time, event, x)
    if side:
        raise ValueError(
            f"every event had the {side} group of the patients still at risk (monotone "
            "likelihood: the hazard ratio runs to infinity)"
        )
    frame = pd.DataFrame({"time": time, "event": event, "score": x})
    if cluster is not None:
        codes = np.asarray(cluster, dtype=object).ravel()
        same_length(time=time, cluster=codes)
        if pd.isna(codes).any():
            raise ValueError(f"{int(pd.isna(codes).sum())} rows have no cluster (patient)")
        frame["cluster"] = pd.factorize(codes)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = CoxPHFitter(alpha=alpha).fit(
            frame, "time", "event", cluster_col="cluster" if cluster is not None else None
        )
    for w in caught:
        if issubclass(w.category, ConvergenceWarning) and "norm(delta)" in str(w.message):
            raise ValueError(f"the Cox model did not converge: {str(w.message).strip()}")
        if not issubclass(w.category, ConvergenceWarning):  # lifelines' low-variance notes
            warnings.warn(w.message, w.category, stacklevel=2)  # are covered by the check
    coef = float(fit.params_["score"])
    se = float(fit.standard_errors_["score"])
    z = norm.ppf(1 - alpha / 2)
    return {
        "hr": math.exp(coef),
        "ci_lo": math.exp(coef - z * se),
        "ci_hi": math.exp(coef + z * se),
        "coef": coef,
        "se": se,
        "z": coef / se,
        "p_value": float(fit.summary.loc["score", "p"]),
        "n": len(time),
        "events": int(event.sum()),
        "n_clusters": int(frame["cluster"].nunique()) if cluster is not None else len(time),
        "robust": float(cluster is not None),
    }


def _monotone_side(time: np.ndarray, event: np.ndarray, x: np.ndarray) -> str:
    """``"highest"`` / ``"lowest"`` when every event's score is the maximum / minimum of its
    risk set (patients with follow-up ``>=`` the event's time), else ``""``."""
    order = np.argsort(time, kind="stable")
    t, xs = time[order], x[order]
    high = np.maximum.accumulate(xs[::-1])[::-1]  # max over the risk set starting at i
    low = np.minimum.accumulate(xs[::-1])[::-1]
    first = np.searchsorted(t, time[event == 1], side="left")
    xe = x[event == 1]
    if np.all(xe >= high[first]):
        return "highest"
    if np.all(xe <= low[first]):
        return "lowest"
    return ""


def _check(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).ravel()
    e = as_binary(event, "event")
    same_length(time=t, event=e)
    if len(t) == 0:
        raise ValueError("no follow-up to analyse")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"follow-up times must be finite and >= 0; position {i} holds {t[i]!r} "
            f"({int(bad.sum())} such values)"
        )
    return t, e


def _groups(group, n: int) -> np.ndarray:
    if group is None:
        return np.full(n, "all", dtype=object)
    g = np.asarray(group, dtype=object).ravel()
    if len(g) != n:
        raise ValueError(f"group has {len(g)} entries for {n} patients")
    if pd.isna(g).any():
        raise ValueError(f"{int(pd.isna(g).sum())} patients have no risk group")
    return np.array([str(x) for x in g], dtype=object)


def _default_order(group, order: Sequence | None) -> Sequence | None:
    """An explicit order, else a Categorical's categories, else None (sorted later)."""
    if order is not None or group is None:
        return order
    if isinstance(group, pd.Categorical):
        return [str(c) for c in group.categories]
    if isinstance(group, pd.Series) and isinstance(group.dtype, pd.CategoricalDtype):
        return [str(c) for c in group.cat.categories]
    return None


def _order(group: np.ndarray, order: Sequence | None) -> list:
    present = set(group)
    if order is None:
        return sorted(present)
    order = [str(o) for o in order]
    unknown = present - set(order)
    if unknown:
        raise ValueError(f"groups {sorted(unknown)} are not in the given order {order}")
    return [o for o in order if o in present]
