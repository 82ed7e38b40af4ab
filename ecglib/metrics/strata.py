"""Low / intermediate / high risk strata from two thresholds per vessel (the revision's strata).

Per vessel, two cut-offs are *chosen on one set* and *applied unchanged to another*:

- the **lower** threshold is the largest ``t`` whose sensitivity ``P(p >= t | y = 1)`` reaches
  the sensitivity target (e.g. 0.90): below it a patient is *low risk*, and at most
  ``1 - target`` of the fitting set's diseased patients fall there (rule-out);
- the **upper** threshold is the smallest ``t`` whose specificity ``P(p < t | y = 0)`` reaches
  the specificity target (the authors' code: 0.95, 0.87 for LM): at or above it a patient is
  *high risk* (rule-in).

Strata: ``low`` if ``p < lower``, ``intermediate`` if ``lower <= p < upper``, ``high`` if
``p >= upper`` (a probability exactly at a cut-off goes to the higher stratum, as in
:func:`ecglib.metrics.thresholds.high_risk`).

The API separates the two steps, because the authors' code chose an operating point on the
data it then reported (which overstates sensitivity and specificity):
:func:`fit_strata_thresholds` sees labels and returns thresholds; :func:`assign_strata` sees only
probabilities and thresholds. Choose on the training folds (or an inner validation split) and
apply to the held-out fold, or on the internal out-of-fold predictions and apply to the external
cohort; :func:`crossfit_strata` does the former for out-of-fold predictions, fold by fold.

The thresholds are read off :func:`sklearn.metrics.roc_curve` (every distinct score is a
candidate cut-off, ``p >= t`` positive).

The per-vessel functions (:func:`crossfit_vessel_strata`, :func:`fit_vessel_strata_where_possible`,
:func:`vessel_strata_summary`, :func:`strata_performance`) work on tables with the
``y_<vessel>``/``p_<vessel>`` columns of :mod:`ecglib.schema`; a vessel whose cut-offs cannot be
chosen (one class among the fitting labels) is left out with the reason, not an error, because
a small cohort can lack the positives of a rare vessel in some fold.

**Intervals on patients.** The event rate of a stratum and the sensitivity, specificity, NPV
and PPV of the strata are proportions over ECGs, and a patient's ECGs share the label and most
of the signal, so a binomial (Wilson) interval over ECGs is too narrow. Given the run's shared
patient resamples (:mod:`ecglib.metrics.resamples`), :func:`strata_summary`,
:func:`vessel_strata_summary` and :func:`strata_performance` give the percentile interval of
the cluster bootstrap instead, every proportion of every resample from weighted sums at once.
The cut-offs, and so each ECG's stratum, stay as they are in every resample: the interval is
conditional on the cut-offs (it leaves out the variability of choosing them, which the
cross-fitting exposes instead).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from ecglib import schema
from ecglib.metrics._inputs import as_binary, as_probability, same_length
from ecglib.metrics.resamples import PatientResamples, percentile_interval, weighted_rate

#: Stratum labels, in order of risk.
STRATA: tuple[str, ...] = ("low", "intermediate", "high")

#: The targets of the authors' code: sensitivity 0.90 for the lower threshold, specificity 0.95
#: (0.87 for LM) for the upper one. A params-style mapping: pass the run's own to the functions.
PAPER_STRATA_TARGETS: dict[str, dict[str, float]] = {
    "RCA": {"sensitivity": 0.90, "specificity": 0.95},
    "LM": {"sensitivity": 0.90, "specificity": 0.87},
    "LAD": {"sensitivity": 0.90, "specificity": 0.95},
    "LCX": {"sensitivity": 0.90, "specificity": 0.95},
}

# Proportions compared with a target are ratios of counts; allow for their rounding.
_EPS = 1e-12


@dataclass(frozen=True)
class StrataThresholds:
    """Two cut-offs chosen on a fitting set, with what they achieved there."""

    lower: float
    upper: float
    sensitivity_target: float
    specificity_target: float
    #: Sensitivity ``P(p >= lower | y=1)`` and specificity ``P(p < upper | y=0)`` achieved on
    #: the fitting set.
    fit_sensitivity: float
    fit_specificity: float
    n_fit: int
    n_fit_pos: int
    #: True when the sensitivity-based cut-off lay above the specificity-based one (a model
    #: that meets both targets at one cut-off); ``lower`` was then set to ``upper`` (see
    #: :func:`fit_strata_thresholds`).
    collapsed: bool = False

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def threshold_for_sensitivity(y, p, target: float) -> float:
    """Largest cut-off ``t`` with ``P(p >= t | y = 1) >= target`` (from ``roc_curve``)."""
    y, p = _check(y, p)
    _check_target(target, "sensitivity")
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    # thresholds decrease, tpr increases: the first index reaching the target is the largest t
    i = int(np.argmax(tpr >= target - _EPS))
    return float(min(thr[i], 1.0))


def threshold_for_specificity(y, p, target: float) -> float:
    """Smallest cut-off ``t`` with ``P(p < t | y = 0) >= target`` (from ``roc_curve``).

    When even the highest score leaves too many negatives at or above it, the cut-off is
    just above the highest score (nobody is high risk), returned as ``nextafter(max p, inf)``.
    """
    y, p = _check(y, p)
    _check_target(target, "specificity")
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    ok = np.flatnonzero(1.0 - fpr >= target - _EPS)  # fpr increases as thr decreases
    t = thr[ok[-1]]  # ok[0] is roc_curve's +inf: never empty
    return float(np.nextafter(p.max(), np.inf)) if np.isinf(t) else float(t)


def fit_strata_thresholds(
    y, p, *, sensitivity: float = 0.90, specificity: float = 0.95
) -> StrataThresholds:
    """Choose the lower (sensitivity-based) and upper (specificity-based) cut-offs on ``(y, p)``.

    If the lower cut-off exceeds the upper one (the model meets both targets at one cut-off),
    the intermediate stratum is empty: ``lower`` is set to ``upper``, which keeps both targets
    met on the fitting set (a lower cut-off only raises sensitivity), ``collapsed`` is True and
    a warning says so.
    """
    y, p = _check(y, p)
    lower = threshold_for_sensitivity(y, p, sensitivity)
    upper = threshold_for_specificity(y, p, specificity)
    collapsed = lower > upper
    if collapsed:
        warnings.warn(
            f"the sensitivity-based cut-off {lower:.4g} lies above the specificity-based "
            f"one {upper:.4g}; the intermediate stratum is empty (lower set to upper)",
            stacklevel=2,
        )
        lower = upper
    pos, neg = p[y == 1], p[y == 0]
    return StrataThresholds(
        lower=lower,
        upper=upper,
        sensitivity_target=sensitivity,
        specificity_target=specificity,
        fit_sensitivity=float(np.mean(pos >= lower)),
        fit_specificity=float(np.mean(neg < upper)),
        n_fit=len(y),
        n_fit_pos=int(y.sum()),
        collapsed=collapsed,
    )


def assign_strata(p, thresholds: StrataThresholds | Mapping[str, float]) -> pd.Categorical:
    """Stratum of each probability under thresholds chosen elsewhere (no labels involved).

    ``thresholds`` is a :class:`StrataThresholds` or a mapping with ``lower`` and ``upper``.
    Returns an ordered Categorical over :data:`STRATA`.
    """
    lower, upper = _bounds(thresholds)
    p = as_probability(p)
    codes = np.where(p < lower, 0, np.where(p < upper, 1, 2))
    return pd.Categorical.from_codes(codes, categories=list(STRATA), ordered=True)


def fit_vessel_strata(
    table: pd.DataFrame, targets: Mapping[str, Mapping[str, float]]
) -> dict[str, StrataThresholds]:
    """:func:`fit_strata_thresholds` per vessel from the ``y_<vessel>``/``p_<vessel>`` columns.

    ``targets`` maps vessel -> ``{"sensitivity": ..., "specificity": ...}``, e.g.
    :data:`PAPER_STRATA_TARGETS` or the run's params. A vessel the table has no labels for
    (not assessed) is left out.
    """
    return {
        v: fit_strata_thresholds(
            table[schema.label_col(v)],
            table[schema.prob_col(v)],
            sensitivity=t["sensitivity"],
            specificity=t["specificity"],
        )
        for v, t in schema.assessed_entries(table, targets).items()
    }


def assign_vessel_strata(
    table: pd.DataFrame, thresholds: Mapping[str, StrataThresholds]
) -> pd.DataFrame:
    """One stratum column per vessel (named like the vessel) from the ``p_<vessel>`` columns."""
    return pd.DataFrame(
        {v: assign_strata(table[schema.prob_col(v)], t) for v, t in thresholds.items()},
        index=table.index,
    )


def crossfit_strata(
    y, p, groups, *, sensitivity: float = 0.90, specificity: float = 0.95
) -> tuple[pd.Categorical, pd.DataFrame]:
    """Strata of out-of-fold predictions, each fold's cut-offs chosen on the *other* folds.

    For every value ``g`` of ``groups`` (the fold), thresholds are fitted on the rows with
    ``groups != g`` and applied to the rows with ``groups == g``; no row's own label enters the
    cut-offs that stratify it. Returns the strata and one row of thresholds per fold.
    """
    y, p = _check(y, p)
    groups = np.asarray(groups).ravel()
    same_length(y=y, groups=groups)
    codes = np.full(len(y), -1)
    rows = []
    for g in pd.unique(groups):
        test = groups == g
        fitted = fit_strata_thresholds(
            y[~test], p[~test], sensitivity=sensitivity, specificity=specificity
        )
        codes[test] = assign_strata(p[test], fitted).codes
        rows.append({"fold": g, **fitted.as_dict()})
    return (
        pd.Categorical.from_codes(codes, categories=list(STRATA), ordered=True),
        pd.DataFrame(rows).set_index("fold"),
    )


def strata_summary(y, strata, weights=None, *, level: float = 0.95) -> pd.DataFrame:
    """Per stratum: rows, share, events and the event rate (observed PPV) with its interval.

    The ``low`` row's ``1 - event_rate`` is the rule-out NPV; the ``high`` row's event rate is
    the rule-in PPV. ``weights`` is the ``(B, N)`` patient-resample weights of the rows
    (:meth:`~ecglib.metrics.resamples.PatientResamples.weights`): ``event_rate_lo/hi`` is the
    ``level`` percentile interval of the event rate over the resamples (all at once,
    :func:`~ecglib.metrics.resamples.weighted_rate`), ``n_boot_undefined`` counts the resamples
    without a row in the stratum (left out of the interval). The strata stay as given: the
    interval is conditional on the cut-offs that made them. Without ``weights`` the interval
    columns are NaN.
    """
    y = as_binary(y)
    strata = pd.Categorical(strata, categories=list(STRATA), ordered=True)
    same_length(y=y, strata=strata)
    members = np.column_stack([np.asarray(strata == s) for s in STRATA])  # (N, strata)
    lo, hi, undefined = _bootstrap(weights, np.repeat(y[:, None], len(STRATA), 1), members, level)
    rows = []
    for k, s in enumerate(STRATA):
        mask = members[:, k]
        n, events = int(mask.sum()), int(y[mask].sum())
        rows.append(
            {
                "stratum": s,
                "n": n,
                "share": n / len(y) if len(y) else np.nan,
                "events": events,
                "event_rate": events / n if n else np.nan,
                "event_rate_lo": lo[k],
                "event_rate_hi": hi[k],
                "n_boot_undefined": undefined[k],
                "share_of_events": events / y.sum() if y.sum() else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("stratum")


def crossfit_vessel_strata(
    table: pd.DataFrame, targets: Mapping[str, Mapping[str, float]], *, fold_col: str = "fold"
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Held-out strata of out-of-fold predictions for every vessel of ``targets`` the table
    assesses (:func:`crossfit_strata`): each fold's cut-offs are chosen on the other folds'
    predictions and applied to its own.

    Returns ``(strata, cutoffs, not_fitted)``: one stratum column per vessel (on ``table``'s
    index), one row of cut-offs per vessel and fold (vessels in the paper's order), and the
    vessels whose cut-offs cannot be chosen (some fold's complement holds one class) with the
    reason; those vessels have no column. A warning of :func:`fit_strata_thresholds` is re-issued
    with the vessel's name.
    """
    columns, parts, not_fitted = {}, [], {}
    folds = table[fold_col].to_numpy()
    for vessel, target in schema.assessed_entries(table, targets).items():
        y = table[schema.label_col(vessel)].to_numpy()
        reason = _crossfit_problem(y, folds)
        if reason:
            not_fitted[vessel] = reason
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cats, cutoffs = crossfit_strata(
                y,
                table[schema.prob_col(vessel)],
                folds,
                sensitivity=target["sensitivity"],
                specificity=target["specificity"],
            )
        _rewarn(caught, vessel)
        columns[vessel] = pd.Series(cats, index=table.index)
        parts.append(cutoffs.reset_index().assign(vessel=vessel))
    cutoffs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(cutoffs):
        first = ["vessel", "fold", "lower", "upper"]
        cutoffs = cutoffs[first + [c for c in cutoffs.columns if c not in first]]
        cutoffs = cutoffs.sort_values(["vessel", "fold"], key=_vessel_order, ignore_index=True)
    return pd.DataFrame(columns, index=table.index), cutoffs, not_fitted


def fit_vessel_strata_where_possible(
    table: pd.DataFrame, targets: Mapping[str, Mapping[str, float]]
) -> tuple[dict[str, StrataThresholds], dict[str, str]]:
    """:func:`fit_vessel_strata` on the whole table (e.g. all internal out-of-fold predictions,
    whose cut-offs then stratify an external cohort), leaving out with the reason the vessels
    whose labels hold one class instead of raising."""
    fitted, not_fitted = {}, {}
    for vessel, target in schema.assessed_entries(table, targets).items():
        y = table[schema.label_col(vessel)].to_numpy()
        if y.min(initial=1) == y.max(initial=0):
            not_fitted[vessel] = (
                f"the fitting set holds one class ({int(y.sum())} positives among {len(y)})"
            )
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted[vessel] = fit_strata_thresholds(
                y,
                table[schema.prob_col(vessel)],
                sensitivity=target["sensitivity"],
                specificity=target["specificity"],
            )
        _rewarn(caught, vessel)
    return fitted, not_fitted


def vessel_strata_summary(
    table: pd.DataFrame,
    vessel_strata: pd.DataFrame,
    resamples: PatientResamples | None = None,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """:func:`strata_summary` of every vessel column of ``vessel_strata`` (per-row strata on
    ``table``'s index), stacked with a ``vessel`` column first: per vessel and stratum the
    rows (ECGs), the distinct ``patients`` among them, their share, the events and the event
    rate with its patient-bootstrap interval over ``resamples`` (the rows weighted by their
    ``patient`` codes; conditional on the strata's cut-offs, which stay fixed)."""
    weights = _weights(table, resamples)
    codes = table["patient"].to_numpy() if "patient" in table.columns else None
    parts = []
    for vessel in vessel_strata.columns:
        summary = strata_summary(
            table[schema.label_col(vessel)], vessel_strata[vessel], weights, level=level
        )
        s = vessel_strata[vessel].to_numpy()
        summary.insert(
            1,
            "patients",
            [len(pd.unique(codes[s == k])) if codes is not None else np.nan for k in STRATA],
        )
        parts.append(summary.reset_index().assign(vessel=vessel))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["vessel", *[c for c in out.columns if c != "vessel"]]]


#: The proportions of :func:`strata_performance`, in its column order.
PERFORMANCE: tuple[str, ...] = ("sensitivity", "specificity", "npv_low", "ppv_high")


def strata_performance(
    table: pd.DataFrame,
    vessel_strata: pd.DataFrame,
    targets: Mapping[str, Mapping[str, float]] | None = None,
    *,
    resamples: PatientResamples | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """What the strata achieve on the rows they stratify, per vessel:

    * ``sensitivity``: diseased rows *not* in the low stratum / diseased (the lower cut-off's
      target), and ``specificity``: non-diseased rows *not* in the high stratum / non-diseased
      (the upper cut-off's target);
    * ``npv_low``: non-diseased / rows in the low stratum (rule-out), ``ppv_high``: diseased /
      rows in the high stratum (rule-in); NaN when the stratum is empty.

    With ``resamples`` (:class:`~ecglib.metrics.resamples.PatientResamples` of the table's
    ``patient`` codes), each has the ``level`` percentile interval of the patient bootstrap
    (``<name>_lo``, ``<name>_hi``; all four and all resamples from one set of weighted sums,
    :func:`~ecglib.metrics.resamples.weighted_rate`) and ``<name>_undefined`` counts the
    resamples where it has no denominator (left out of the interval). The strata stay fixed
    across resamples: the interval is conditional on the cut-offs. Without ``resamples`` the
    interval columns are NaN. Also ``n`` (ECGs), ``patients`` and ``positives``; with
    ``targets``, the ``sensitivity_target`` and ``specificity_target`` columns.
    """
    weights = _weights(table, resamples)
    patients = table["patient"].nunique() if "patient" in table.columns else np.nan
    rows = []
    for vessel in vessel_strata.columns:
        y = as_binary(table[schema.label_col(vessel)], schema.label_col(vessel)).astype(bool)
        s = pd.Categorical(vessel_strata[vessel], categories=list(STRATA))
        low, high = np.asarray(s == "low"), np.asarray(s == "high")
        # columns in the order of PERFORMANCE: the event, and among which rows it is counted
        events = np.column_stack([~low, ~high, ~y, y])
        among = np.column_stack([y, ~y, low, high])
        num, den = (events & among).sum(axis=0), among.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            est = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        lo, hi, undefined = _bootstrap(weights, events, among, level)
        row = {"vessel": vessel, "n": len(y), "patients": patients, "positives": int(y.sum())}
        for k, name in enumerate(PERFORMANCE):
            row.update(
                {
                    name: float(est[k]),
                    f"{name}_lo": lo[k],
                    f"{name}_hi": hi[k],
                    f"{name}_undefined": undefined[k],
                }
            )
        if targets is not None:
            row["sensitivity_target"] = targets[vessel]["sensitivity"]
            row["specificity_target"] = targets[vessel]["specificity"]
        rows.append(row)
    return pd.DataFrame(rows)


def _weights(table: pd.DataFrame, resamples: PatientResamples | None):
    """The ``(B, N)`` resample weights of ``table``'s rows (None without resamples)."""
    return None if resamples is None else resamples.table_weights(table)


def _bootstrap(weights, events: np.ndarray, among: np.ndarray, level: float):
    """Percentile interval of ``m`` proportions (``(N, m)`` events among rows) over the
    resamples, and per proportion the resamples where it is undefined; NaN without weights."""
    m = events.shape[1]
    if weights is None:
        return np.full(m, np.nan), np.full(m, np.nan), np.zeros(m, dtype=int)
    rates = weighted_rate(weights, events, among=among)  # (B, m)
    lo, hi = percentile_interval(rates, level)
    return np.asarray(lo, float), np.asarray(hi, float), np.isnan(rates).sum(axis=0)


def _crossfit_problem(y: np.ndarray, folds: np.ndarray) -> str:
    """Why cross-fitted cut-offs cannot be chosen for labels ``y`` (empty when they can)."""
    for g in pd.unique(folds):
        rest = y[folds != g]
        if rest.min(initial=1) == rest.max(initial=0):
            return (
                f"the folds other than fold {g} hold one class ({int(rest.sum())} positives "
                f"among {len(rest)}): no cut-off can be chosen for fold {g}"
            )
    return ""


def _vessel_order(column: pd.Series) -> pd.Series:
    """Sort key: vessels in the paper's order, other columns as they are."""
    if column.name == "vessel":
        return column.map({v: i for i, v in enumerate(schema.VESSELS)})
    return column


def _rewarn(caught, vessel: str) -> None:
    # the caller's warning names the vessel: several vessels are fitted in one call
    for w in caught:
        warnings.warn(f"{vessel}: {w.message}", w.category, stacklevel=3)


def _bounds(thresholds) -> tuple[float, float]:
    if isinstance(thresholds, StrataThresholds):
        lower, upper = thresholds.lower, thresholds.upper
    else:
        lower, upper = float(thresholds["lower"]), float(thresholds["upper"])
    if lower > upper:
        raise ValueError(f"lower threshold {lower} lies above upper threshold {upper}")
    return lower, upper


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    y, p = as_binary(y), as_probability(p)
    same_length(y=y, p=p)
    if y.min(initial=1) == 1 or y.max(initial=0) == 0:
        raise ValueError(
            "fitting thresholds needs both diseased and non-diseased patients; "
            f"got {int(y.sum())} of {len(y)} positive"
        )
    return y, p


def _check_target(target: float, name: str) -> None:
    if not 0.0 < target <= 1.0:
        raise ValueError(f"{name} target must be in (0, 1], got {target!r}")
