"""Chapter 12's rule-out and rule-in protocol: a threshold for a 95% NPV and one for the run's
PPV target (``evaluation.rule_in_ppv``), each cross-fitted internally, then applied unchanged
to the external site.

On the index ECG of each examination (its latest ECG before the CCTA,
:func:`ecglib.chapters.risk_strata.index_ecgs`; a rule-out is a decision per examination), per
vessel (the network's probability against severe disease in the vessel) and for any vessel (the
noisy-OR of the four probabilities, :func:`ecglib.metrics.outcomes.any_vessel_score`, against
severe disease in any assessed vessel):

* **internal**: each fold's examinations are ruled out at the threshold chosen on the other
  folds' examinations (:func:`ecglib.metrics.rule_out.crossfit_rule_out`, the largest score
  whose ruled-out group reaches the NPV target), as the risk-strata chapter cross-fits its
  cut-offs;
* **external**: one threshold chosen on all internal examinations
  (:func:`ecglib.metrics.rule_out.npv_threshold`), applied unchanged.

The rule-in (:func:`rule_in_protocol`, :class:`RuleIn`) is the mirror image: an examination is
ruled in when its score is at or above the smallest threshold whose ruled-in group reaches the
PPV target (:func:`ecglib.metrics.rule_out.ppv_threshold`), cross-fitted and applied the same
way; reported: the share ruled in, the prevalence among the ruled in (the PPV) and among the
others, and the share of positives ruled in.

Reported (:func:`ecglib.metrics.rule_out.rule_out_performance`): the share ruled out, the
positives among them (missed), the prevalence among the ruled out (1 - NPV) and the ruled in,
the share of positives missed; intervals are 95% percentile intervals of the run's shared
patient resamples of each population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.added_value_text import POPULATIONS
from ecglib.chapters.risk_strata import index_ecgs
from ecglib.metrics.outcomes import ANY_VESSEL, any_vessel_score
from ecglib.metrics.rule_out import (
    PERFORMANCE,
    RULE_IN_PERFORMANCE,
    crossfit_rule_in,
    crossfit_rule_out,
    npv_threshold,
    ppv_threshold,
    rule_in_performance,
    rule_out_performance,
    ruled_in,
    ruled_out,
)
from ecglib.metrics.small_counts import withheld_reason, withhold
from ecglib.report.present import format_bounds, format_estimate

__all__ = [
    "RULE_OUT_NPV",
    "RuleOut",
    "RuleIn",
    "rule_out_protocol",
    "rule_in_protocol",
    "withhold_protocol",
    "labelled_scores",
]

#: The NPV the rule-out threshold must reach (Sun et al. 2025).
RULE_OUT_NPV = 0.95


def labelled_scores(index: pd.DataFrame, vessel: str, vessels: Sequence[str]):
    """Labels (severe disease) and network scores of ``vessel`` on ``index`` (any vessel: any
    assessed vessel's label, noisy-OR of the probabilities)."""
    if vessel == ANY_VESSEL:
        y = index[schema.label_cols(vessels)].to_numpy(dtype=float)
        if np.isnan(y).any():
            raise ValueError("a label of an assessed vessel is missing")
        return y.max(axis=1), any_vessel_score(index[schema.prob_cols(vessels)].to_numpy())
    return index[schema.label_col(vessel)].to_numpy(), index[schema.prob_col(vessel)].to_numpy()


def rule_out_protocol(results, vessels: Sequence[str], target: float = RULE_OUT_NPV):
    """The protocol's table (module docstring): one row per population and vessel (any vessel
    last) with ``threshold`` (internal: the folds' thresholds as text; external: the one
    threshold), ``patients`` and the keys of
    :func:`~ecglib.metrics.rule_out.rule_out_performance`."""
    return _protocol_table(
        results,
        vessels,
        crossfit=lambda y, p, folds: crossfit_rule_out(y, p, folds, target),
        choose=lambda y, p: npv_threshold(y, p, target),
        apply=ruled_out,
        performance=rule_out_performance,
    )


def _protocol_table(results, vessels: Sequence[str], *, crossfit, choose, apply, performance):
    """One row per population and vessel (any vessel last) of a threshold protocol: internally
    each fold's examinations at the threshold ``crossfit`` chose on the other folds, externally
    at the one threshold ``choose`` picks on all internal examinations, applied by ``apply``;
    ``performance(y, selected, weights)`` gives the row's measures (the rule-out and the
    rule-in share this, and differ only in those four functions)."""
    index = index_ecgs(results.oof.reset_index(drop=True), "exam")
    weights = results.resamples("oof").weights(index["patient"].to_numpy())
    external = None
    if results.external is not None:
        external = index_ecgs(results.external.reset_index(drop=True), "exam")
        ext_weights = results.resamples("external").weights(external["patient"].to_numpy())
    rows = []
    for vessel in (*vessels, ANY_VESSEL):
        y, p = labelled_scores(index, vessel, vessels)
        selected, per_fold = crossfit(y, p, index["fold"].to_numpy())
        rows.append(
            {
                "population": POPULATIONS["internal"],
                "vessel": vessel,
                "threshold": "; ".join(f"fold {k}: {_t(t)}" for k, t in per_fold.items()),
                "threshold_value": math.nan,
                "patients": int(index["patient"].nunique()),
                **performance(y, selected, weights),
            }
        )
        if external is not None:
            t = choose(y, p)
            ye, pe = labelled_scores(external, vessel, vessels)
            rows.append(
                {
                    "population": POPULATIONS["external"],
                    "vessel": vessel,
                    "threshold": f"{_t(t)} (all internal examinations)",
                    "threshold_value": t,
                    "patients": int(external["patient"].nunique()),
                    **performance(ye, apply(pe, t), ext_weights),
                }
            )
    return pd.DataFrame(rows)


def withhold_protocol(table: pd.DataFrame, min_events: int, proportions) -> pd.DataFrame:
    """The small-count policy on a protocol's table: a row (population and vessel) with fewer
    positive (or negative) examinations than ``min_events`` keeps its counts and threshold but
    loses every proportion of ``proportions`` and its interval; its ``withheld`` column says why
    (:func:`ecglib.metrics.small_counts.withhold`)."""
    columns = [f"{name}{end}" for name in proportions for end in ("", "_lo", "_hi")]
    return withhold(table, min_events, columns, total="n")


def _t(t: float) -> str:
    return "none reaches the target" if not np.isfinite(t) else f"{t:.3f}"


def _pct(r, name: str) -> str:
    return withheld_reason(r) or format_estimate(
        100 * r[name], 100 * r[f"{name}_lo"], 100 * r[f"{name}_hi"], 1
    )


def _share(r, name: str, paren: bool = True) -> str:
    """``"33.2% (95% CI 27.2 to 38.5)"`` of a proportion and its interval (``paren=False``:
    ``"33.2%, 95% CI 27.2 to 38.5"``; ``"0.0% (zero-width 95% CI)"`` when every resample
    gives the same share)."""
    text = f"{100 * r[name]:.1f}%"
    if np.isfinite(r[f"{name}_lo"]) and np.isfinite(r[f"{name}_hi"]):
        ci = format_bounds(100 * r[f"{name}_lo"], 100 * r[f"{name}_hi"], 1)
        text += f" ({ci})" if paren else f", {ci}"
    return text


def _key(vessel: str) -> str:
    return "any" if vessel == ANY_VESSEL else vessel


@dataclass(frozen=True)
class RuleOut:
    """The rule-out protocol of chapter 12 (:func:`rule_out_protocol`)."""

    target: float
    table: pd.DataFrame
    n_boot: int

    def display(self) -> pd.DataFrame:
        """The protocol for reading: per population and vessel the threshold, examinations
        (positive), patients, ruled out, missed, the prevalences and the share of positives
        missed in percent with their intervals, and the interval's method."""
        rows = []
        for r in self.table.to_dict("records"):
            rows.append(
                {
                    "population": r["population"],
                    "vessel": r["vessel"],
                    "threshold (rule out at or below)": r["threshold"],
                    "examinations (positive)": f"{r['n']:,} ({r['positives']:,})",
                    "patients": f"{r['patients']:,}",
                    "ruled out, n": f"{r['n_ruled_out']:,}",
                    "ruled out, % [95% CI]": _pct(r, "share_ruled_out"),
                    "missed positives": f"{r['missed']:,}",
                    "prevalence ruled out, % [95% CI]": _pct(r, "prevalence_ruled_out"),
                    "prevalence ruled in, % [95% CI]": _pct(r, "prevalence_ruled_in"),
                    "positives missed, % [95% CI]": _pct(r, "missed_of_positives"),
                    "95% CI": f"percentile, patient bootstrap ({self.n_boot:,} resamples; "
                    "undefined resamples left out)",
                }
            )
        order = {p: k for k, p in enumerate(POPULATIONS.values())}
        out = pd.DataFrame(rows)
        out = out.iloc[np.argsort(out["population"].map(order).to_numpy(), kind="stable")]
        return out.set_index(["population", "vessel"])

    def numbers(self) -> dict[str, float | str]:
        """``ro_target`` (percent); per population key and vessel key ``k`` (``any``):
        ``ro_<k>_<name>`` (+ ``_lo``, ``_hi``) for each proportion of
        :data:`~ecglib.metrics.rule_out.PERFORMANCE`, ``ro_<k>_n``, ``_positives``,
        ``_ruled_out``, ``_missed``; and ``ro_sentence_<pop>``."""
        out: dict[str, float | str] = {"ro_target": 100 * self.target}
        for key, population in POPULATIONS.items():
            rows = self.table[self.table["population"] == population].set_index("vessel")
            for vessel in (*schema.VESSELS, ANY_VESSEL):
                k = f"ro_{key}_{_key(vessel)}"
                have = vessel in rows.index
                for name in PERFORMANCE:
                    for suffix in ("", "_lo", "_hi"):
                        value = rows.at[vessel, f"{name}{suffix}"] if have else math.nan
                        out[f"{k}_{name}{suffix}"] = float(value)
                for name, column in (
                    ("n", "n"),
                    ("positives", "positives"),
                    ("ruled_out", "n_ruled_out"),
                    ("missed", "missed"),
                ):
                    out[f"{k}_{name}"] = int(rows.at[vessel, column]) if have else math.nan
            out[f"ro_sentence_{key}"] = (
                self.sentence(rows.reset_index())
                if len(rows)
                else f"There is no {population} population in this run."
            )
        return out

    def sentence(self, rows: pd.DataFrame) -> str:
        """Per vessel: ruled out, missed, the prevalence among the ruled out against the
        target's 1 - NPV (claimed above or below only when its interval excludes it), and
        among the ruled in."""
        allowed = 1 - self.target
        parts = []
        for r in rows.to_dict("records"):
            if withheld_reason(r):
                parts.append(f"{r['vessel']}: not reported ({withheld_reason(r)})")
                continue
            if r["n_ruled_out"] == 0:
                parts.append(
                    f"{r['vessel']}: nobody is ruled out ({r['positives']:,} of {r['n']:,} "
                    "examinations positive)"
                )
                continue
            ruled_in = (
                f"against {_share(r, 'prevalence_ruled_in')} among the ruled in"
                if r["n_ruled_in"]
                else "nobody is ruled in"
            )
            text = (
                f"{r['vessel']}: {r['n_ruled_out']:,} of {r['n']:,} examinations ruled out "
                f"({_share(r, 'share_ruled_out', paren=False)}), {r['missed']:,} of them "
                f"positive: prevalence {_share(r, 'prevalence_ruled_out')} among the ruled out, "
                f"{ruled_in}"
            )
            prevalence = r["positives"] / r["n"] if r["n"] else math.nan
            if prevalence <= allowed:
                # the target says nothing about the model here: everybody would pass it
                text += (
                    f" (the prevalence, {100 * prevalence:.1f}%, is itself within the "
                    f"{100 * allowed:.0f}% the target allows: ruling out every examination "
                    "would meet it, so meeting it says nothing about the model)"
                )
            elif r["prevalence_ruled_out_hi"] < allowed:
                text += f", below the {100 * allowed:.0f}% the target allows"
            elif r["prevalence_ruled_out_lo"] > allowed:
                text += f", above the {100 * allowed:.0f}% the target allows: the NPV is missed"
            else:
                text += (
                    f"; the interval includes {100 * allowed:.0f}%, so the data neither show "
                    "the target reached nor missed"
                )
            parts.append(text)
        return "; ".join(parts) + "."


# ----------------------------------------------------------------------------------------------
# Rule-in: a threshold for the run's PPV target, cross-fitted the same way
# ----------------------------------------------------------------------------------------------
def rule_in_protocol(results, vessels: Sequence[str], target: float) -> pd.DataFrame:
    """The rule-in protocol's table, as :func:`rule_out_protocol` for a PPV ``target`` (the
    run's ``evaluation.rule_in_ppv``): internally each fold's examinations ruled in at the
    threshold chosen on the other folds' (:func:`~ecglib.metrics.rule_out.crossfit_rule_in`),
    externally at one threshold chosen on all internal examinations
    (:func:`~ecglib.metrics.rule_out.ppv_threshold`); the keys of
    :func:`~ecglib.metrics.rule_out.rule_in_performance` per row."""
    return _protocol_table(
        results,
        vessels,
        crossfit=lambda y, p, folds: crossfit_rule_in(y, p, folds, target),
        choose=lambda y, p: ppv_threshold(y, p, target),
        apply=ruled_in,
        performance=rule_in_performance,
    )


@dataclass(frozen=True)
class RuleIn:
    """The rule-in protocol of chapter 12 (:func:`rule_in_protocol`)."""

    target: float
    table: pd.DataFrame
    n_boot: int

    def display(self) -> pd.DataFrame:
        """Per population and vessel: the threshold, examinations (positive), patients, ruled
        in, the prevalence among the ruled in (PPV) and among the others, the share of
        positives ruled in, in percent with their intervals."""
        rows = []
        for r in self.table.to_dict("records"):
            rows.append(
                {
                    "population": r["population"],
                    "vessel": r["vessel"],
                    "threshold (rule in at or above)": r["threshold"],
                    "examinations (positive)": f"{r['n']:,} ({r['positives']:,})",
                    "patients": f"{r['patients']:,}",
                    "ruled in, n": f"{r['n_ruled_in']:,}",
                    "ruled in, % [95% CI]": _pct(r, "share_ruled_in"),
                    "prevalence ruled in (PPV), % [95% CI]": _pct(r, "prevalence_ruled_in"),
                    "prevalence not ruled in, % [95% CI]": _pct(r, "prevalence_not_ruled_in"),
                    "positives ruled in, % [95% CI]": _pct(r, "positives_ruled_in"),
                    "95% CI": f"percentile, patient bootstrap ({self.n_boot:,} resamples; "
                    "undefined resamples left out)",
                }
            )
        order = {p: k for k, p in enumerate(POPULATIONS.values())}
        out = pd.DataFrame(rows)
        out = out.iloc[np.argsort(out["population"].map(order).to_numpy(), kind="stable")]
        return out.set_index(["population", "vessel"])

    def numbers(self) -> dict[str, float | str]:
        """``ri_target`` (percent); per population key and vessel key ``k``:
        ``ri_<pop>_<k>_<name>`` (+ ``_lo``, ``_hi``) for each proportion of
        :data:`~ecglib.metrics.rule_out.RULE_IN_PERFORMANCE`, ``_n``, ``_positives``,
        ``_ruled_in``; and ``ri_sentence_<pop>``."""
        out: dict[str, float | str] = {"ri_target": 100 * self.target}
        for key, population in POPULATIONS.items():
            rows = self.table[self.table["population"] == population].set_index("vessel")
            for vessel in (*schema.VESSELS, ANY_VESSEL):
                k = f"ri_{key}_{_key(vessel)}"
                have = vessel in rows.index
                for name in RULE_IN_PERFORMANCE:
                    for suffix in ("", "_lo", "_hi"):
                        value = rows.at[vessel, f"{name}{suffix}"] if have else math.nan
                        out[f"{k}_{name}{suffix}"] = float(value)
                for name, column in (
                    ("n", "n"),
                    ("positives", "positives"),
                    ("ruled_in", "n_ruled_in"),
                ):
                    out[f"{k}_{name}"] = int(rows.at[vessel, column]) if have else math.nan
            out[f"ri_sentence_{key}"] = (
                self.sentence(rows.reset_index())
                if len(rows)
                else f"There is no {population} population in this run."
            )
        return out

    def sentence(self, rows: pd.DataFrame) -> str:
        """Per vessel: ruled in, the prevalence among them against the PPV target (claimed
        above or below only when its interval excludes the target), and among the others."""
        parts = []
        for r in rows.to_dict("records"):
            if withheld_reason(r):
                parts.append(f"{r['vessel']}: not reported ({withheld_reason(r)})")
                continue
            if r["n_ruled_in"] == 0:
                parts.append(
                    f"{r['vessel']}: nobody is ruled in ({r['positives']:,} of {r['n']:,} "
                    "examinations positive)"
                )
                continue
            text = (
                f"{r['vessel']}: {r['n_ruled_in']:,} of {r['n']:,} examinations ruled in "
                f"({_share(r, 'share_ruled_in', paren=False)}), prevalence "
                f"{_share(r, 'prevalence_ruled_in')} among them against "
                f"{_share(r, 'prevalence_not_ruled_in')} among the others"
            )
            target = 100 * self.target
            if r["prevalence_ruled_in_lo"] > self.target:
                text += f", above the {target:.0f}% target"
            elif r["prevalence_ruled_in_hi"] < self.target:
                text += f", below the {target:.0f}% target: the PPV is missed"
            else:
                text += (
                    f"; the interval includes {target:.0f}%, so the data neither show the "
                    "target reached nor missed"
                )
            parts.append(text)
        return "; ".join(parts) + "."
