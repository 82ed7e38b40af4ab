"""What does not fit the story: each chapter's text checks its own results and says so.

Every function here is a pure check on numbers a chapter has already computed. It returns a
sentence computed from them when the results show something the reader must not miss, and None
when they do not; a chapter glues the sentences it has (:func:`join_sentences` gives the page
one text, or a fixed "nothing to flag" line, never an empty glue). The checks:

- :func:`withheld_sentence`: estimates withheld under the small-count policy
  (:mod:`ecglib.metrics.small_counts`, ``report.min_events``);
- :func:`auc_below_half_sentence`: an AUC below 0.5, the model ranking worse than chance;
- :func:`ensemble_sentence`: external AUCs from the mean of the fold models set beside
  internal ones from single models, which are not the same estimand;
- :func:`non_monotone_strata_sentence`: risk strata whose event rates do not rise from low to
  high;
- :func:`decision_curve_sentence`: a decision curve below treating all or treating none;
- :func:`nri_rule_out_sentence`: a reclassification gain that comes with a worse rule-out
  (lower NPV of the low category, or more missed events);
- :func:`nri_unmoved_sentence`: an NRI of 0 because nobody changed category, in place of an
  uninformative "0.000 [0.000-0.000], p = 1.000".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ecglib.metrics.small_counts import WITHHELD
from ecglib.metrics.strata import STRATA

__all__ = [
    "withheld_sentence",
    "auc_below_half_sentence",
    "ensemble_sentence",
    "non_monotone_strata_sentence",
    "decision_curve_sentence",
    "nri_rule_out_sentence",
    "nri_unmoved_sentence",
    "join_sentences",
    "moved_counts",
    "NOTHING_TO_FLAG",
]

#: What a page's caveat glue says when no check fires (a glue is never empty).
NOTHING_TO_FLAG = "None of this page's checks flags a result (see the list above)."


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def join_sentences(sentences: Iterable[str | None], empty: str = NOTHING_TO_FLAG) -> str:
    """The sentences that fired, in order, as one text; ``empty`` when none did."""
    kept = [s for s in sentences if s]
    return " ".join(kept) if kept else empty


# ------------------------------------------------------------------------------------------
# AUCs
# ------------------------------------------------------------------------------------------
def withheld_sentence(
    table: pd.DataFrame, label: Callable | str, min_events: int, what: str = "AUC"
) -> str | None:
    """Which ``what`` estimates of a :func:`ecglib.metrics.small_counts.withhold` table are
    withheld, and why: ``label`` names a row (a column, or a function of the row), e.g.
    "The AUC of the LM on the external set (too few events (2)) ... is not reported: ...".
    None when nothing is withheld."""
    if WITHHELD not in table.columns:
        return None
    rows = table[table[WITHHELD].astype(str) != ""]
    if rows.empty:
        return None
    name = label if callable(label) else (lambda r: str(r[label]))
    items = [f"{name(r)}: {r[WITHHELD]}" for _, r in rows.iterrows()]
    return (
        f"The run reports no {what}, interval or test on fewer than {min_events} positive (or "
        f"negative) ECGs (report.min_events in the params), where one or two patients decide the "
        f"estimate; not reported here: {'; '.join(items)}."
    )


#: Why a model's ranking can be reversed in a set of ECGs, for a trained model's held-out sets.
REVERSED_WHY = "a subgroup it does not transfer to, or a fold that is not like the others"


def auc_below_half_sentence(
    table: pd.DataFrame, label: Callable | str, *, auc: str = "auc", why: str = REVERSED_WHY
) -> str | None:
    """A sentence for every AUC below 0.5 in ``table`` (rows named by ``label``, a column or a
    function of the row), saying whether its interval (``ci_low``, ``ci_high`` when present)
    still includes 0.5, and ``why`` a ranking can be reversed there; None when no AUC is below
    0.5. Withheld and missing AUCs (NaN) are not flagged."""
    values = pd.to_numeric(table[auc], errors="coerce")
    rows = table[values < 0.5]
    if rows.empty:
        return None
    name = label if callable(label) else (lambda r: str(r[label]))
    items = []
    for _, r in rows.iterrows():
        text = f"{name(r)} ({r[auc]:.3f}"
        low, high = r.get("ci_low", math.nan), r.get("ci_high", math.nan)
        if pd.notna(low) and pd.notna(high):
            text += f", 95% CI {low:.3f}-{high:.3f}"
            text += ", which includes 0.5" if low <= 0.5 <= high else ", wholly below 0.5"
        items.append(text + ")")
    plural = len(items) > 1
    return (
        f"{'These AUCs are' if plural else 'One AUC is'} below 0.5: {_join(items)}. Below 0.5 "
        "the model ranks the ECGs with the lesion lower than those without it, worse than "
        "chance; where the interval includes 0.5 the data do not distinguish it from no "
        f"discrimination, and where it does not, the model's ranking is reversed in that set "
        f"({why})."
    )


def ensemble_sentence(
    n_models: int,
    has_external: bool,
    what: str = "AUCs",
    effect: str = "usually smooths their errors and can raise the AUC on its own, so a higher "
    "external than internal AUC is not evidence that the model transfers better than it fits",
) -> str | None:
    """When the external ``what`` come from the mean of ``n_models`` > 1 fold models and the
    internal ones from single models (each ECG predicted by the one model that held it out),
    a sentence saying the two are not comparable and what averaging does (``effect``); None
    without an external set or with one model."""
    if not has_external or n_models <= 1:
        return None
    return (
        f"The internal and external {what} are not directly comparable: each internal ECG is "
        f"predicted by a single model (the fold model that held it out), each external ECG by "
        f"the mean of {n_models} fold models. Averaging {n_models} models {effect}; the same "
        "ensemble cannot be evaluated internally without predicting ECGs with models that "
        "trained on them."
    )


# ------------------------------------------------------------------------------------------
# risk strata and decision curves
# ------------------------------------------------------------------------------------------
def non_monotone_strata_sentence(
    summary: pd.DataFrame, where: str = "", *, rate: str = "event_rate"
) -> str | None:
    """A sentence for every vessel whose event rate does not rise across the strata low <
    intermediate < high (:data:`ecglib.metrics.strata.STRATA`) in a
    :func:`~ecglib.metrics.strata.vessel_strata_summary` table (``vessel``, ``stratum``,
    ``events``, ``n``, ``rate``); strata without ECGs are ignored. ``where`` names the set
    (e.g. "external"). None when every vessel's rates rise (or tie)."""
    if summary is None or not isinstance(summary, pd.DataFrame) or summary.empty:
        return None
    items = []
    for vessel, group in summary.groupby("vessel", sort=False):
        rows = group.set_index("stratum")
        present = [
            s for s in STRATA if s in rows.index and pd.notna(rows.at[s, rate]) and rows.at[s, "n"]
        ]
        pairs = []
        # adjacent strata suffice: rates rising step by step rise from low to high
        for lower, higher in zip(present, present[1:]):
            if rows.at[lower, rate] > rows.at[higher, rate]:
                pairs.append(
                    f"{_pct(rows.at[lower, rate])} in the {lower} stratum "
                    f"({int(rows.at[lower, 'events'])} of {int(rows.at[lower, 'n'])} ECGs) "
                    f"against {_pct(rows.at[higher, rate])} in the {higher} one "
                    f"({int(rows.at[higher, 'events'])} of {int(rows.at[higher, 'n'])})"
                )
        if pairs:
            items.append(f"for the {vessel}, {' and '.join(pairs)}")
    if not items:
        return None
    set_name = f" ({where})" if where else ""
    return (
        f"The event rates do not rise from the low to the high stratum{set_name}: "
        f"{'; '.join(items)}. "
        "Strata whose rates are out of order do not rank risk there: the cut-offs were chosen "
        "for a sensitivity and a specificity, not for ordered rates, and with few events per "
        "stratum the rates are imprecise (see their intervals); a low stratum with the higher "
        "rate is no rule-out."
    )


def _threshold(pt: float) -> str:
    """A threshold of the grid to two significant digits, "0.3%", "1.1%", "48%": the grid's
    own values (0.302%) are finer than any reader's threshold."""
    return f"{float(f'{100 * pt:.2g}'):g}%"


def _ranges(thresholds: np.ndarray, mask: np.ndarray) -> list[str]:
    """Contiguous runs of ``mask`` over the threshold grid, as "1%-4%" (or "3%")."""
    out, start = [], None
    for i, flag in enumerate([*mask, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            lo, hi = thresholds[start], thresholds[i - 1]
            out.append(_threshold(lo) if start == i - 1 else f"{_threshold(lo)}-{_threshold(hi)}")
            start = None
    return out


def decision_curve_sentence(
    curves: pd.DataFrame, where: str = "", *, tolerance: float = 1e-12
) -> str | None:
    """Where the model's decision curve (``model``) lies below treating all (``treat_all``,
    where treating all is itself above treating none) or below treating none (net benefit 0),
    per vessel of a :func:`~ecglib.metrics.decision.decision_curves` table, as threshold
    ranges of its grid; ``where`` names the set. None when the model's curve is at or above
    both defaults over every threshold (within ``tolerance``)."""
    if curves is None or not isinstance(curves, pd.DataFrame) or curves.empty:
        return None
    items = []
    for vessel, group in curves.groupby("vessel", sort=False):
        group = group.sort_values("threshold")
        pt = group["threshold"].to_numpy(float)
        model = group["model"].to_numpy(float)
        treat_all = group["treat_all"].to_numpy(float)
        below_all = (model < treat_all - tolerance) & (treat_all > 0)
        below_none = model < -tolerance
        parts = []
        if below_all.any():
            gap = float(np.max((treat_all - model)[below_all]))
            parts.append(
                f"below treating all at thresholds {_join(_ranges(pt, below_all))} "
                f"(by up to {gap:.4f})"
            )
        if below_none.any():
            parts.append(
                f"below treating none, a negative net benefit, at "
                f"{_join(_ranges(pt, below_none))} (down to {float(model[below_none].min()):.4f})"
            )
        if parts:
            items.append(f"the {vessel}'s curve lies {' and '.join(parts)}")
    if not items:
        return None
    set_name = f" ({where})" if where else ""
    return (
        f"Where the curves{set_name} fall short: {_join(items)}. At those thresholds acting "
        "on the model would do less good than a default strategy (treating everyone, or "
        "no one), and the model should not be used there."
    )


# ------------------------------------------------------------------------------------------
# reclassification (chapter 08)
# ------------------------------------------------------------------------------------------
def nri_rule_out_sentence(
    nri: float,
    npv_before: float,
    npv_after: float,
    missed_before: int,
    missed_after: int,
    where: str = "",
) -> str | None:
    """When the NRI is positive but the combined categories rule out worse than PTP alone (a
    lower NPV of the low category, or more events in it), a sentence with both; None when the
    NRI is not positive or the rule-out is as good or better."""
    if not (np.isfinite(nri) and nri > 0):
        return None
    worse_npv = np.isfinite(npv_before) and np.isfinite(npv_after) and npv_after < npv_before
    more_missed = missed_after > missed_before
    if not (worse_npv or more_missed):
        return None
    set_name = f" {where}" if where else ""
    parts = []
    if worse_npv:
        parts.append(f"the NPV of the low category falls from {npv_before:.3f} to {npv_after:.3f}")
    parts.append(
        f"the events left in the low category (missed) go from {missed_before} to {missed_after}"
    )
    return (
        f"The{set_name} NRI of {nri:.3f} is a gain in reclassification, not in rule-out: "
        f"{' and '.join(parts)}. The NRI weighs every move up or down equally, while a rule-out "
        "is judged by the events it misses; adding the AI stratum here makes the low category "
        "less safe."
    )


def nri_unmoved_sentence(
    events_up: int,
    events_down: int,
    nonevents_up: int,
    nonevents_down: int,
    n: int,
    where: str = "",
) -> str | None:
    """When no examination changed category (every move count 0), the sentence that replaces
    the NRI's "0.000 [0.000-0.000], p = 1.000"; None when any moved."""
    if any(int(x) for x in (events_up, events_down, nonevents_up, nonevents_down)):
        return None
    set_name = f"{where} " if where else ""
    return (
        f"The AI stratum moved none of the {int(n)} {set_name}examinations out of their PTP "
        "category: the combined categories are the PTP categories, so the NRI is 0 by "
        "construction and its interval and test say nothing (they are not reported as numbers)."
    )


def moved_counts(result) -> Mapping[str, int]:
    """The move counts of an :class:`ecglib.metrics.nri.NRIResult` as keyword arguments of
    :func:`nri_unmoved_sentence`."""
    return {
        "events_up": result.events_up,
        "events_down": result.events_down,
        "nonevents_up": result.nonevents_up,
        "nonevents_down": result.nonevents_down,
        "n": result.n_events + result.n_nonevents,
    }
