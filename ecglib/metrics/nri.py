"""Categorical net reclassification improvement (NRI) of a new categorisation over an old one.

Pencina, D'Agostino Sr, D'Agostino Jr & Vasan, Stat Med 2008;27:157-172. With categories
ordered from low to high risk, a patient moves *up* when the new category is higher than the
old one, *down* when lower. Among the ``n_e`` events and ``n_ne`` non-events,

    NRI_events    = P(up | event) - P(down | event)
    NRI_nonevents = P(down | non-event) - P(up | non-event)
    NRI           = NRI_events + NRI_nonevents          (range -2 to 2)

Standard errors (the two components are independent, being computed on different patients):

- ``se_null`` (Pencina 2008, the z-test): ``sqrt((p_up,e + p_down,e)/n_e
  + (p_up,ne + p_down,ne)/n_ne)``, the variance under "no improvement" (McNemar-type); the
  reported ``z = NRI / se_null`` and its two-sided ``p_value`` follow Pencina;
- ``se`` (for the CI): the unrestricted multinomial variance of a difference of two
  proportions from the same patients, ``Var(p_up - p_down) = (p_up + p_down - (p_up -
  p_down)^2) / n`` per group, which equals Pencina's under the null and is not too wide away
  from it; the Wald CI is ``NRI +- z_(1-alpha/2) se``.

**Patients with several examinations.** The SEs above treat every row as an independent
patient. When a patient contributes several rows (examinations), the book uses

- :func:`nri_bootstrap` with ``weights``, the run's shared patient resamples
  (:meth:`ecglib.metrics.resamples.PatientResamples.weights`, ``(B, N)``): both components are
  weighted sums, ``NRI_e,b = sum_i w_bi y_i m_i / sum_i w_bi y_i`` and ``NRI_ne,b = -sum_i
  w_bi (1 - y_i) m_i / sum_i w_bi (1 - y_i)`` with ``m_i`` = +1 up, -1 down, 0 unchanged, so all
  resamples are computed at once (:func:`resampled_nri`) and the interval is the percentile
  interval (:func:`ecglib.metrics.resamples.percentile_interval`); a resample without events or
  without non-events has no NRI and is counted and left out. With ``groups`` instead it draws
  its own patient resamples (:func:`ecglib.metrics.resamples.patient_resamples`); with neither,
  events and non-events are resampled separately as rows (stratified);
- :func:`clustered_nri_test`, Pencina's z-test with the null variance summed per patient
  (the cluster-robust, "sandwich" form of the same variance): with ``c_i = y_i / n_e -
  (1 - y_i) / n_ne`` the NRI is ``sum_i c_i m_i`` and, under no improvement (``E m_i = 0``) and
  independent patients ``k``, ``Var(NRI) = sum_k E[(sum_(i in k) c_i m_i)^2]``, estimated by
  ``sum_k (sum_(i in k) c_i m_i)^2``. With one row per patient this is exactly Pencina's
  ``se_null`` (``m_i^2`` is 1 for a moved row, 0 otherwise); a patient with an event and a
  non-event examination is one cluster, so the two components are not assumed independent
  (Liang & Zeger, Biometrika 1986;73:13-22, for the cluster-robust variance).

Written by hand because no library in the environment implements the categorical NRI (the
counts are a cross-tabulation; the formulas are two lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from ecglib.metrics._inputs import as_binary, same_length
from ecglib.metrics.resamples import patient_resamples, percentile_interval, weighted_rate


@dataclass(frozen=True)
class NRIResult:
    n_events: int
    n_nonevents: int
    events_up: int
    events_down: int
    nonevents_up: int
    nonevents_down: int
    nri_events: float
    nri_nonevents: float
    nri: float
    se: float
    se_null: float
    ci_lo: float
    ci_hi: float
    z: float
    p_value: float
    #: Patients left out because the old or new category is missing.
    n_missing: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def category_codes(values, categories: Sequence | None = None) -> np.ndarray:
    """Risk rank of each patient's category as a float array (NaN for missing), low risk first.

    ``categories`` lists the categories in increasing order of risk; without it an ordered
    pandas Categorical's own order is used, or the values themselves if numeric (so old and new
    numeric categories are compared on one scale).
    """
    if categories is not None:
        raw = np.asarray(values, dtype=object)
        cat = pd.Categorical(raw, categories=list(categories), ordered=True)
        unknown = pd.isna(cat) & ~pd.isna(raw)
        if unknown.any():
            raise ValueError(
                f"values not among the categories {list(categories)}: "
                f"{sorted({str(v) for v in raw[unknown]})}"
            )
        codes = np.asarray(cat.codes)
    elif isinstance(values, pd.Categorical) and values.ordered:
        codes = np.asarray(values.codes)
    elif (
        isinstance(values, pd.Series)
        and isinstance(values.dtype, pd.CategoricalDtype)
        and values.cat.ordered
    ):
        codes = np.asarray(values.cat.codes)
    else:
        arr = np.asarray(values)
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(
                "pass `categories` (low risk first) or an ordered Categorical: the "
                "order of string categories cannot be guessed"
            )
        return arr.astype(float).ravel()
    return np.where(codes < 0, np.nan, codes.astype(float))


def reclassification_table(y, old, new, categories: Sequence | None = None) -> pd.DataFrame:
    """Cross-tabulation old x new category, separately for events and non-events."""
    y = as_binary(y)
    o, n = category_codes(old, categories), category_codes(new, categories)
    same_length(y=y, old=o, new=n)
    known = ~np.isnan(o) & ~np.isnan(n)
    levels = (
        np.arange(len(categories), dtype=float)
        if categories is not None
        else np.unique(np.concatenate([o[known], n[known]]))
    )
    frames = []
    for outcome, name in ((1, "event"), (0, "non-event")):
        m = known & (y == outcome)
        tab = pd.crosstab(pd.Series(o[m], name="old"), pd.Series(n[m], name="new"))
        tab = tab.reindex(index=levels, columns=levels, fill_value=0)
        if categories is not None:
            tab.index = pd.Index(list(categories), name="old")
            tab.columns = pd.Index(list(categories), name="new")
        frames.append(pd.concat({name: tab}, names=["outcome"]))
    return pd.concat(frames)


def categorical_nri(
    y, old, new, categories: Sequence | None = None, *, alpha: float = 0.05
) -> NRIResult:
    """Categorical NRI of ``new`` over ``old`` with its components, SEs, Wald CI and p-value.

    Patients whose old or new category is missing are excluded and counted in ``n_missing``.
    """
    y, o, n, known = _known(y, old, new, categories)
    counts = _counts(y[known], o[known], n[known])
    return _result(*counts, alpha=alpha, n_missing=int((~known).sum()))


def resampled_nri(y, old, new, categories: Sequence | None = None, *, weights) -> pd.DataFrame:
    """The NRI and its components in every resample of ``weights`` (module docstring).

    ``weights`` is ``(B, N)``, one column per row of ``y`` (the run's shared patient resamples,
    :meth:`ecglib.metrics.resamples.PatientResamples.weights`). Rows whose old or new category is
    missing are left out, as in :func:`categorical_nri`. Returns a ``(B, 3)`` frame with columns
    ``nri_events``, ``nri_nonevents``, ``nri``; a resample without events or without non-events
    is NaN in all three (the NRI is undefined there: :func:`categorical_nri` raises).
    """
    y, o, n, known = _known(y, old, new, categories)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(y):
        raise ValueError(
            f"weights must have shape (resamples, {len(y)}), one column per row; got {w.shape}"
        )
    w, yk, move = w[:, known], y[known], np.sign(n - o)[known]
    # mean move among the resample's events, minus the mean move among its non-events
    # (+ 0.0 and 0.0 - turn a negative zero, printed "-0.000", into zero)
    events = weighted_rate(w, move, among=yk) + 0.0
    nonevents = 0.0 - weighted_rate(w, move, among=1 - yk)
    undefined = np.isnan(events) | np.isnan(nonevents)
    events[undefined] = np.nan
    nonevents[undefined] = np.nan
    return pd.DataFrame(
        {"nri_events": events, "nri_nonevents": nonevents, "nri": events + nonevents}
    )


def nri_bootstrap(
    y,
    old,
    new,
    categories: Sequence | None = None,
    *,
    weights=None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups=None,
) -> dict[str, float]:
    """Percentile bootstrap CI of the NRI and its components.

    With ``weights`` (``(B, N)``: the run's shared patient resamples,
    :meth:`ecglib.metrics.resamples.PatientResamples.weights` of the rows' patients), the
    resamples are those (``n_boot`` and ``seed`` are not used); with ``groups`` (patient ids),
    ``n_boot`` patient resamples are drawn here (:func:`ecglib.metrics.resamples.patient_resamples`).
    Either way whole patients are resampled and all resamples are computed at once
    (:func:`resampled_nri`); a resample without events or non-events has no NRI, is counted in
    ``n_one_class`` and left out of the interval. With neither, events and non-events are
    resampled separately as rows (stratified), so every resample has both.

    Returns ``nri, nri_lo, nri_hi`` and likewise for ``nri_events`` and ``nri_nonevents``, plus
    ``n_boot`` and ``n_one_class``.
    """
    y, o, n, known = _known(y, old, new, categories)
    yk = y[known]
    if yk.sum() == 0 or yk.sum() == len(yk):
        raise ValueError("the NRI needs both events and non-events")
    if weights is not None and groups is not None:
        raise ValueError(
            "pass the patient resamples (weights) or the patient ids (groups), not both"
        )
    if groups is not None:
        ids = np.asarray(groups, dtype=object).ravel()
        same_length(y=y, groups=ids)
        weights = patient_resamples(ids, n_boot, seed=seed).weights(ids)
    if weights is not None:
        boot = resampled_nri(y, o, n, weights=weights)
    else:
        rng = np.random.default_rng(seed)
        move = np.sign(n - o)[known]
        ev, ne = move[yk == 1], move[yk == 0]
        boot = pd.DataFrame(
            {
                "nri_events": ev[rng.integers(0, len(ev), (n_boot, len(ev)))].mean(axis=1),
                "nri_nonevents": 0.0 - ne[rng.integers(0, len(ne), (n_boot, len(ne)))].mean(axis=1),
            }
        )
        boot["nri"] = boot["nri_events"] + boot["nri_nonevents"]
    point = categorical_nri(y, o, n, alpha=alpha)
    lo, hi = percentile_interval(boot.to_numpy(), 1 - alpha)
    out: dict[str, float] = {
        "n_boot": len(boot),
        "n_one_class": int(boot["nri"].isna().sum()),
    }
    for j, name in enumerate(boot.columns):
        out.update(
            {
                name: float(getattr(point, name)),
                f"{name}_lo": float(lo[j]),
                f"{name}_hi": float(hi[j]),
            }
        )
    return out


def clustered_nri_test(
    y, old, new, categories: Sequence | None = None, *, groups
) -> dict[str, float]:
    """Pencina's z-test of "no improvement" with the null variance summed per patient (module
    docstring): ``se_null = sqrt(sum_k (sum_(i in k) c_i m_i)^2)``, ``z = NRI / se_null`` and
    its two-sided ``p_value``; ``z = 0, p = 1`` when nobody is reclassified. Equals Pencina's
    test (:func:`categorical_nri`) when every patient has one row. ``groups`` holds each row's
    patient; rows with a missing category are left out. Returns ``nri, se_null, z, p_value,
    n_clusters``.
    """
    y, o, n, known = _known(y, old, new, categories)
    ids = np.asarray(groups, dtype=object).ravel()
    same_length(y=y, groups=ids)
    if pd.isna(ids).any():
        i = int(np.flatnonzero(pd.isna(ids))[0])
        raise ValueError(f"row {i} has no patient id ({int(pd.isna(ids).sum())} such rows)")
    yk, ids, move = y[known], ids[known], np.sign(n - o)[known]
    n_e, n_ne = int(yk.sum()), int(len(yk) - yk.sum())
    if n_e == 0 or n_ne == 0:
        raise ValueError(
            f"the NRI needs both events and non-events; got {n_e} events and {n_ne} non-events"
        )
    contribution = np.where(yk == 1, 1.0 / n_e, -1.0 / n_ne) * move
    per_patient = np.bincount(pd.factorize(ids)[0], weights=contribution)
    nri = float(contribution.sum())
    se_null = float(np.sqrt(np.sum(per_patient**2)))
    if se_null > 0:
        z = nri / se_null
        p = float(2 * norm.sf(abs(z)))
    else:  # nobody reclassified: no evidence either way
        z, p = 0.0, 1.0
    return {
        "nri": nri,
        "se_null": se_null,
        "z": float(z),
        "p_value": p,
        "n_clusters": len(per_patient),
    }


def _known(y, old, new, categories):
    """Labels, old and new risk ranks, and the rows where both categories are known."""
    y = as_binary(y)
    o, n = category_codes(old, categories), category_codes(new, categories)
    same_length(y=y, old=o, new=n)
    return y, o, n, ~np.isnan(o) & ~np.isnan(n)


def _counts(y, o, n) -> tuple[int, ...]:
    up, down = n > o, n < o
    return (
        int(np.sum(y == 1)),
        int(np.sum(y == 0)),
        int(np.sum(up & (y == 1))),
        int(np.sum(down & (y == 1))),
        int(np.sum(up & (y == 0))),
        int(np.sum(down & (y == 0))),
    )


def _result(n_e, n_ne, e_up, e_down, ne_up, ne_down, *, alpha: float, n_missing: int) -> NRIResult:
    if n_e == 0 or n_ne == 0:
        raise ValueError(
            f"the NRI needs both events and non-events; got {n_e} events and {n_ne} non-events"
        )
    pue, pde, pun, pdn = e_up / n_e, e_down / n_e, ne_up / n_ne, ne_down / n_ne
    nri_e, nri_ne = pue - pde, pdn - pun
    nri = nri_e + nri_ne
    var_null = (pue + pde) / n_e + (pun + pdn) / n_ne
    var = (pue + pde - nri_e**2) / n_e + (pun + pdn - nri_ne**2) / n_ne
    se, se_null = float(np.sqrt(var)), float(np.sqrt(var_null))
    zc = norm.ppf(1 - alpha / 2)
    if se_null > 0:
        z = nri / se_null
        p = float(2 * norm.sf(abs(z)))
    else:  # nobody reclassified: no evidence either way
        z, p = 0.0, 1.0
    return NRIResult(
        n_events=n_e,
        n_nonevents=n_ne,
        events_up=e_up,
        events_down=e_down,
        nonevents_up=ne_up,
        nonevents_down=ne_down,
        nri_events=nri_e,
        nri_nonevents=nri_ne,
        nri=nri,
        se=se,
        se_null=se_null,
        ci_lo=float(nri - zc * se),
        ci_hi=float(nri + zc * se),
        z=float(z),
        p_value=p,
        n_missing=n_missing,
    )
