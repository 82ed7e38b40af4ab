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

:func:`nri_bootstrap` gives a percentile bootstrap CI instead, resampling events and non-events
separately (stratified), so no resample lacks a class and none is dropped; or, with patient ids
as ``groups``, whole patients (the cluster bootstrap, for patients with several ECGs), counting
any resample that lacks a class. The asymptotic SEs assume independent patients.

Written by hand because no library in the environment implements the categorical NRI (the
counts are a cross-tabulation; the formulas are two lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from ecglib.metrics._inputs import as_binary, cluster_members, cluster_resample, same_length


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
    y = as_binary(y)
    o, n = category_codes(old, categories), category_codes(new, categories)
    same_length(y=y, old=o, new=n)
    known = ~np.isnan(o) & ~np.isnan(n)
    counts = _counts(y[known], o[known], n[known])
    return _result(*counts, alpha=alpha, n_missing=int((~known).sum()))


def nri_bootstrap(
    y,
    old,
    new,
    categories: Sequence | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups=None,
) -> dict[str, float]:
    """Percentile bootstrap CI of the NRI and its components.

    Without ``groups``, events and non-events are resampled separately (stratified), so every
    resample has both. With ``groups`` (patient ids: a patient with several ECGs), whole patients
    are resampled (cluster bootstrap); a resample without events or non-events has no NRI and
    is counted in ``n_one_class``, and the interval uses the others. Returns ``nri, nri_lo,
    nri_hi`` and likewise for ``nri_events`` and ``nri_nonevents``, plus ``n_boot`` and
    ``n_one_class``.
    """
    y = as_binary(y)
    o, n = category_codes(old, categories), category_codes(new, categories)
    same_length(y=y, old=o, new=n)
    known = ~np.isnan(o) & ~np.isnan(n)
    y, o, n = y[known], o[known], n[known]
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("the NRI needs both events and non-events")
    rng = np.random.default_rng(seed)
    # per patient: +1 up, -1 down, 0 unchanged; NRI_e = mean over events, NRI_ne = -mean over
    # non-events
    move = np.sign(n - o)
    if groups is None:
        ev, ne = move[y == 1], move[y == 0]
        ev_b = ev[rng.integers(0, len(ev), (n_boot, len(ev)))].mean(axis=1)
        ne_b = -ne[rng.integers(0, len(ne), (n_boot, len(ne)))].mean(axis=1)
    else:
        members = cluster_members(np.asarray(groups, dtype=object).ravel()[known], len(y))
        ev_b, ne_b = np.full(n_boot, np.nan), np.full(n_boot, np.nan)
        for b in range(n_boot):
            idx = cluster_resample(rng, members)
            yb, mb = y[idx], move[idx]
            if 0 < yb.sum() < len(yb):
                ev_b[b], ne_b[b] = mb[yb == 1].mean(), -mb[yb == 0].mean()
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    ok = ~np.isnan(ev_b)
    out = {"n_boot": n_boot, "n_one_class": int((~ok).sum())}
    point_e, point_ne = move[y == 1].mean(), -move[y == 0].mean()
    for name, point, boot in (
        ("nri_events", point_e, ev_b),
        ("nri_nonevents", point_ne, ne_b),
        ("nri", point_e + point_ne, ev_b + ne_b),
    ):
        lo, hi = np.percentile(boot[ok], q)
        out.update({name: float(point), f"{name}_lo": float(lo), f"{name}_hi": float(hi)})
    return out


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
