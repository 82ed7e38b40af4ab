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

Missing follow-up columns raise :class:`MissingInputError`; rows with a missing time or event
raise a ``ValueError`` naming how many, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test

from ecglib.metrics._inputs import MissingInputError, as_binary, require_columns, same_length

__all__ = [
    "MissingInputError",
    "censor_at",
    "followup_arrays",
    "km_fits",
    "cumulative_incidence",
    "number_at_risk",
    "logrank",
    "incidence_summary",
]

#: Canonical follow-up columns (:mod:`ecglib.schema`).
TIME_COL, EVENT_COL = "followup_days", "followup_event"


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


def cumulative_incidence(
    time, event, group=None, times=None, *, order: Sequence | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """``1 - S(t)`` with its CI per group at ``times`` (default: every event time).

    Long format: ``group, time, cumulative_incidence, ci_lo, ci_hi, at_risk``. Values are
    step-function values at ``t`` (right-continuous: an event at ``t`` is included).
    """
    time, event = _check(time, event)
    order = _default_order(group, order)
    group = _groups(group, len(time))
    fits = km_fits(time, event, group, order=order, alpha=alpha)
    grid = np.unique(time[event == 1]) if times is None else np.asarray(times, dtype=float)
    parts = []
    for g, kmf in fits.items():
        ci = kmf.confidence_interval_cumulative_density_
        # step-function lookup: last estimate at or before t
        idx = np.searchsorted(kmf.timeline, grid, side="right") - 1
        idx = np.clip(idx, 0, None)
        ci_vals = ci.to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "group": g,
                    "time": grid,
                    "cumulative_incidence": 1.0 - kmf.survival_function_at_times(grid).to_numpy(),
                    "ci_lo": np.where(grid < kmf.timeline[0], 0.0, ci_vals[idx, 0]),
                    "ci_hi": np.where(grid < kmf.timeline[0], 0.0, ci_vals[idx, 1]),
                    "at_risk": number_at_risk(time[group == g], grid).to_numpy()[0],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


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
    order: Sequence | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per group at ``horizon`` (after :func:`censor_at`): ``n``, ``events``, ``censored``
    before the horizon, the Kaplan-Meier ``cumulative_incidence`` with CI, and
    ``naive_events_over_n`` (events / n, the authors' estimate, biased low under censoring)."""
    time, event = censor_at(time, event, horizon)
    order = _default_order(group, order)
    group = _groups(group, len(time))
    curve = cumulative_incidence(time, event, group, [horizon], order=order, alpha=alpha)
    rows = []
    for r in curve.itertuples(index=False):
        m = group == r.group
        rows.append(
            {
                "group": r.group,
                "n": int(m.sum()),
                "events": int(event[m].sum()),
                "censored_before_horizon": int(np.sum(m & (event == 0) & (time < horizon))),
                "cumulative_incidence": r.cumulative_incidence,
                "ci_lo": r.ci_lo,
                "ci_hi": r.ci_hi,
                "at_risk_at_horizon": r.at_risk,
                "naive_events_over_n": float(event[m].mean()),
            }
        )
    return pd.DataFrame(rows).set_index("group")


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
