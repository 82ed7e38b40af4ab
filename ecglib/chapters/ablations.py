"""Chapter 13, what each part of the method buys: every finished run variant against the full
method on the same ECGs.

A run variant (``variants:`` in the params; :class:`ecglib.config.Variant`) retrains every fold
of the run with a small change (no PCGrad, equal task weights, no augmentation, one network per
vessel, fewer leads, ...) on the same cohort, store and folds, into its own folder
(:meth:`ecglib.paths.RunPaths.variant`). :func:`analyse` compares each variant whose folds are
all finished with the run's own predictions:

* **Paired AUCs** (:func:`compare`): per population (internal pooled out-of-fold; external, the
  mean of the fold models) and vessel, the variant's and the full method's AUC with the
  clustered DeLong interval (Obuchowski 1997; unit: patient; logit-scale Wald), and the paired
  clustered difference *variant - full* with its normal 95% interval and two-sided p
  (:func:`ecglib.metrics.auc_contrasts.model_comparison_table`); the macro row is the mean over
  the vessels with a difference, its interval from the cross-vessel clustered covariances
  (:func:`ecglib.metrics.macro_contrast.clustered_macro_difference`). Both models predict every
  ECG once, held out from the fold model that predicts it, so the difference is paired.
* **Cost** (:mod:`ecglib.chapters.ablations_runs`): training minutes, seconds per step (derived:
  the fold summaries do not record them), PCGrad's share of steps with a conflict and of
  conflicting task pairs.
* **Not finished**: each declared variant without all its folds is listed with the commands
  that train it and an estimate of how long that takes here; with no variant declared the page
  says how to declare them. The page renders in every case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.ablations_runs import (
    FULL,
    VariantState,
    estimated_minutes,
    params_argument,
    relative_step_cost,
    run_commands,
    training_cost,
    variant_states,
)
from ecglib.chapters.parts import Skipped, skipped_of
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.errors import DataError
from ecglib.metrics.auc_contrasts import model_comparison_table
from ecglib.metrics.macro_contrast import clustered_macro_difference
from ecglib.metrics.small_counts import WITHHELD, withhold
from ecglib.paths import RunPaths
from ecglib.report.present import MISSING, format_estimate, format_p, plural
from ecglib.train.predict import mean_external, read_oof

__all__ = [
    "Ablations",
    "analyse",
    "compare",
    "COMPARISON_COLUMNS",
    "difference_sentence",
    "comparison_display",
    "FULL",
    "INTERVAL",
    "DIFFERENCE",
    "POPULATIONS",
    "MACRO",
]

INTERVAL = "clustered DeLong (unit: patient), logit-scale Wald"
DIFFERENCE = "paired clustered DeLong (unit: patient), normal"
POPULATIONS = {"internal": "internal, pooled out-of-fold", "external": "external"}
#: The macro row's name in the tables (the mean over the vessels with a difference).
MACRO = "macro"

#: Columns of :func:`compare`.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "variant",
    "population",
    "vessel",
    "n",
    "positives",
    "patients",
    "auc_variant",
    "variant_low",
    "variant_high",
    "auc_full",
    "full_low",
    "full_high",
    "diff",
    "diff_low",
    "diff_high",
    "p_value",
    "reason",
)


def compare(
    full: pd.DataFrame,
    variant: pd.DataFrame,
    vessels: Sequence[str],
    *,
    name: str,
    population: str,
    min_events: int = 1,
) -> pd.DataFrame:
    """The variant against the full method on the same ECGs (:data:`COMPARISON_COLUMNS`).

    ``full`` is a joined prediction table (``row``, ``p_*``, ``y_*``, ``patient``); ``variant``
    the variant's predictions (``row``, ``p_*``) of exactly the same rows, in any order (other
    rows are an error naming the variant). One row per vessel, ``diff`` = AUC(variant) -
    AUC(full) with its paired clustered interval and p, then the ``macro`` row over the vessels
    whose difference has an interval (its ``reason`` names the others). A vessel with fewer
    than ``min_events`` positive (or negative) ECGs has its AUCs, difference and p withheld
    (:mod:`ecglib.metrics.small_counts`; the reason in ``reason``) and is left out of the macro.
    """
    aligned = _align(full, variant, name, population)
    table = model_comparison_table(
        full, {name: aligned, FULL: full}, vessels, reference=name, cluster_col="patient"
    )
    rows = []
    for v in vessels:
        at = table[table["vessel"] == v].set_index("model")
        var_row, full_row = at.loc[name], at.loc[FULL]
        rows.append(
            {
                "variant": name,
                "population": population,
                "vessel": v,
                "n": int(full_row["n"]),
                "positives": int(full_row["positives"]),
                "patients": int(full["patient"].nunique()),
                "auc_variant": var_row["auc"],
                "variant_low": var_row["ci_low"],
                "variant_high": var_row["ci_high"],
                "auc_full": full_row["auc"],
                "full_low": full_row["ci_low"],
                "full_high": full_row["ci_high"],
                # the reference is the variant: the full method's row holds variant - full
                "diff": full_row["diff"],
                "diff_low": full_row["diff_low"],
                "diff_high": full_row["diff_high"],
                "p_value": full_row["p_value"],
                "reason": full_row["reason"]
                or ("" if np.isfinite(full_row["diff_se"]) else "clustered variance undefined"),
            }
        )
    out = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    kept = withhold(out, min_events, _ESTIMATES, total="n")
    out[list(_ESTIMATES)] = kept[list(_ESTIMATES)]
    too_few = kept[WITHHELD].astype(bool)
    out.loc[too_few, "reason"] = kept.loc[too_few, WITHHELD]
    usable = [r.vessel for r in out.itertuples() if np.isfinite(r.diff_low)]
    left_out = [v for v in vessels if v not in usable]
    macro = {"variant": name, "population": population, "vessel": MACRO, "n": len(full)}
    macro.update(positives=math.nan, patients=int(full["patient"].nunique()))
    if usable:
        m = clustered_macro_difference(full, aligned, full, usable)
        macro.update(
            auc_variant=m["auc_a"],
            auc_full=m["auc_b"],
            diff=m["diff"],
            diff_low=m["diff_low"],
            diff_high=m["diff_high"],
            p_value=m["p_value"],
            reason=f"mean over {_join(usable)}"
            + (f" ({_join(left_out)} left out: {_why(out, left_out)})" if left_out else ""),
        )
    else:
        macro["reason"] = "no vessel has a difference with an interval"
    return pd.concat([out, pd.DataFrame([macro])], ignore_index=True)[list(COMPARISON_COLUMNS)]


#: What a vessel with too few events loses (:func:`compare`): every estimate column.
_ESTIMATES = COMPARISON_COLUMNS[
    COMPARISON_COLUMNS.index("auc_variant") : COMPARISON_COLUMNS.index("reason")
]


def _is_withheld(reason: object) -> bool:
    """Whether a row's ``reason`` is the small-count policy's (``"too few events (2)"``)."""
    return str(reason).startswith("too few")


def _why(rows: pd.DataFrame, vessels: Sequence[str]) -> str:
    """Why ``vessels`` have no interval: their withheld texts, else "no interval"."""
    reasons = rows.set_index("vessel")["reason"]
    withheld = [v for v in vessels if _is_withheld(reasons[v])]
    if len(vessels) == 1 and withheld:
        return str(reasons[withheld[0]])
    texts = [f"{v} {reasons[v]}" for v in withheld]
    return "; ".join(texts) if texts else "no interval"


def _align(full: pd.DataFrame, variant: pd.DataFrame, name: str, population: str):
    """The variant's ``p_*`` on ``full``'s rows and index."""
    indexed = variant.set_index("row")
    missing = pd.Index(full["row"]).difference(indexed.index)
    extra = indexed.index.difference(pd.Index(full["row"]))
    if len(missing) or len(extra) or not indexed.index.is_unique:
        raise DataError(
            f"variant {name}",
            f"its {population} predictions are not of the full method's ECGs ({len(missing)} "
            f"of them unpredicted, {len(extra)} other rows): it was trained on another cohort "
            "or folds; retrain it",
        )
    out = indexed.loc[full["row"].to_numpy(), schema.prob_cols()]
    out.index = full.index
    return out


def _duration(minutes: float) -> str:
    """``"40 seconds"``, ``"4.5 minutes"``, ``"25 minutes"``, ``"3.2 hours"``."""
    if minutes < 1:
        return f"{minutes * 60:.0f} seconds"
    if minutes < 10:
        return f"{minutes:.1f} minutes"
    if minutes < 120:
        return f"{minutes:.0f} minutes"
    return f"{minutes / 60:.1f} hours"


def _share(fraction: float) -> str:
    """A PCGrad share as a percentage; what its absence means otherwise."""
    return f"{100 * fraction:.0f}%" if np.isfinite(fraction) else "n/a (no gradient surgery)"


def finished_text(finished, declared: int) -> str:
    """How many declared variants have finished all their folds, as the page's sentence
    continues "This run declares 6 variants; ...": ``"none of them has finished all its folds
    yet"``, ``"2 of them have finished all their folds (pcgrad and augment)"``."""
    if not finished:
        return "none of them has finished all its folds yet"
    if len(finished) == declared:
        if declared == 1:
            return f"it has finished all its folds ({finished[0]})"
        return f"all of them have finished all their folds ({_join(list(finished))})"
    verb = "has finished all its" if len(finished) == 1 else "have finished all their"
    return f"{len(finished)} of them {verb} folds ({_join(list(finished))})"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def difference_sentence(rows: pd.DataFrame, description: str) -> str:
    """One variant in one population, computed from :func:`compare`'s rows: the macro AUCs and
    their difference, then per vessel which of the two separates the disease better, claimed
    only where the interval of the difference excludes 0."""
    name = rows["variant"].iloc[0]
    head = f"**{name}** ({description})"
    macro = rows[rows["vessel"] == MACRO].iloc[0]
    if not np.isfinite(macro["diff"]):
        return f"{head}: no comparison ({macro['reason']})."
    text = (
        f"{head}: macro-AUC {macro['auc_variant']:.3f} against {macro['auc_full']:.3f} for the "
        f"full method, difference {macro['diff']:+.3f} (95% CI {macro['diff_low']:+.3f} to "
        f"{macro['diff_high']:+.3f}, {format_p(macro['p_value'], prefix='p')}; "
        f"{macro['reason']})"
    )
    vessels = rows[rows["vessel"] != MACRO]
    worse = list(vessels.loc[vessels["diff_high"] < 0, "vessel"])
    better = list(vessels.loc[vessels["diff_low"] > 0, "vessel"])
    unclear = [
        v
        for v in vessels.loc[np.isfinite(vessels["diff_low"]), "vessel"]
        if v not in worse + better
    ]
    no_interval = vessels.loc[~np.isfinite(vessels["diff_low"].astype(float))]
    withheld = no_interval["reason"].map(_is_withheld).astype(bool)
    none = list(no_interval.loc[~withheld, "vessel"])
    too_few = [f"{r.vessel} ({r.reason})" for r in no_interval[withheld].itertuples()]
    parts = []
    if macro["diff_high"] < 0:
        parts.append("on average over the vessels the variant separates disease less well")
    elif macro["diff_low"] > 0:
        parts.append("on average over the vessels the variant separates disease better")
    else:
        parts.append(
            "the interval of the macro difference includes 0: the data do not show that this "
            "change matters on average"
        )
    if worse:
        parts.append(f"it is worse for {_join(worse)} disease")
    if better:
        parts.append(f"it is better for {_join(better)} disease")
    if unclear:
        parts.append(f"for {_join(unclear)} the interval includes 0")
    if none:
        parts.append(f"{_join(none)} {'has' if len(none) == 1 else 'have'} no interval")
    if too_few:
        parts.append(f"{_join(too_few)} {'is' if len(too_few) == 1 else 'are'} withheld")
    return text + ". " + "; ".join(parts)[0].upper() + "; ".join(parts)[1:] + "."


def comparison_display(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`compare`'s rows as text, one row per variant, population and vessel."""
    rows = []
    for r in table.itertuples(index=False):
        # a withheld vessel (too few events) shows why in place of its estimates
        withheld = r.reason if _is_withheld(r.reason) else None
        rows.append(
            {
                "variant": r.variant,
                "population": r.population,
                "vessel": r.vessel,
                "ECGs (positive)": f"{r.n:,}"
                + (f" ({int(r.positives):,})" if np.isfinite(r.positives) else ""),
                "variant AUC [95% CI]": withheld
                or format_estimate(r.auc_variant, r.variant_low, r.variant_high, digits),
                "full method AUC [95% CI]": withheld
                or format_estimate(r.auc_full, r.full_low, r.full_high, digits),
                "variant - full [95% CI]": withheld
                or format_estimate(r.diff, r.diff_low, r.diff_high, digits),
                "p": MISSING if withheld else format_p(r.p_value),
                "note": r.reason,
            }
        )
    out = pd.DataFrame(rows).set_index(["variant", "population", "vessel"])
    return out


@dataclass(frozen=True)
class Ablations:
    """What chapter 13 shows (:func:`analyse`)."""

    #: The params file as commands name it.
    params: str
    vessels: tuple[str, ...]
    #: Every declared variant and its folds, in the params' order.
    states: tuple[VariantState, ...]
    #: :func:`compare` of every finished variant and population, or why there is none.
    comparisons: pd.DataFrame | Skipped
    #: Why there is no external comparison (None when there is one).
    external: Skipped | None
    #: Training cost of the full method and every finished variant (one row each), or why
    #: there is none.
    costs: pd.DataFrame | Skipped
    #: Declared variants not finished: name, description, finished folds, estimated minutes.
    unfinished: pd.DataFrame
    #: The commands that train the variants.
    commands: tuple[str, ...]

    @property
    def finished(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states if s.done)

    def differences_caption(self, differences: pd.DataFrame | None = None) -> str:
        """What the differences figure draws: its variants and populations (the page's figure
        is not drawn, and its caption says why, when the comparison is skipped)."""
        rows = self.comparisons if differences is None else differences
        variants = list(pd.unique(rows["variant"]))
        populations = list(pd.unique(rows["population"]))
        return (
            f"Drawn: {plural(len(variants), 'variant')} ({_join(variants)}) on the "
            f"{_join(populations)} ECGs."
        )

    def differences(self) -> pd.DataFrame | Skipped:
        """The comparisons' rows with a difference (the figure's input)."""
        return self.comparisons

    def comparison_table(self) -> pd.DataFrame | Skipped:
        if isinstance(self.comparisons, Skipped):
            return self.comparisons
        return comparison_display(self.comparisons)

    def cost_table(self) -> pd.DataFrame | Skipped:
        """The training costs as text."""
        if isinstance(self.costs, Skipped):
            return self.costs
        rows = []
        for r in self.costs.itertuples(index=False):
            rows.append(
                {
                    "model": r.model,
                    "change": r.description,
                    "folds": f"{r.folds}",
                    "training minutes (all folds)": f"{r.minutes:.1f}",
                    "minutes per fold": f"{r.minutes_per_fold:.2f}",
                    "seconds per step (derived)": f"{r.seconds_per_step:.3f}",
                    "step cost / full method's": f"{r.relative_step:.2f}",
                    "PCGrad: steps with a conflict": _share(r.conflict_steps),
                    "PCGrad: task pairs in conflict per step": _share(r.conflict_share),
                }
            )
        return pd.DataFrame(rows).set_index("model")

    def how_to_run(self):
        """Markdown: the unfinished (or undeclared) variants and the commands that train them."""
        from IPython.display import Markdown

        return Markdown(self.how_to_run_text())

    def how_to_run_text(self) -> str:
        if not self.states:
            return (
                "This run declares no variants. Declare them in the params file "
                f"(`{self.params}`) under `variants:`, each a name and an overlay of `model:` "
                "or `train:` keys, e.g.\n\n```yaml\nvariants:\n  no_pcgrad: {train: "
                "{gradient_surgery: none}}\n  lead_i: {model: {input_leads: [I]}}\n```\n\n"
                "(`params/paper.yaml` holds a commented template of the usual ablations), then "
                "train them:\n\n```bash\n" + "\n".join(self.commands) + "\n```"
            )
        if self.unfinished.empty:
            return "Every declared variant has finished all its folds."
        lines = []
        for r in self.unfinished.itertuples(index=False):
            lines.append(
                f"- **{r.variant}** ({r.description}): {r.finished} of {r.folds} folds finished"
                + (f" ({r.why})" if r.why else "")
                + (
                    f"; about {_duration(r.estimate)} for the rest on this configuration "
                    "(an estimate: the full method's measured minutes per fold times the "
                    f"variant's relative step cost, {r.relative_step:.2f}, counted in "
                    "forward-pass units, not measured)"
                    if np.isfinite(r.estimate)
                    else ""
                )
            )
        return (
            "Declared variants not finished (their comparison is not on this page):\n\n"
            + "\n".join(lines)
            + "\n\nTrain them (finished folds are reused, an interrupted fold resumes):\n\n"
            "```bash\n" + "\n".join(self.commands) + "\n```"
        )

    def numbers(self) -> dict[str, object]:
        out: dict[str, object] = {
            "n_declared": len(self.states),
            "n_finished": len(self.finished),
            "finished_names": _join(self.finished) if self.finished else "none",
            "declared_text": plural(len(self.states), "variant"),
            "finished_text": finished_text(self.finished, len(self.states)),
        }
        descriptions = {s.name: s.description for s in self.states}
        for key, population in POPULATIONS.items():
            if isinstance(self.comparisons, Skipped):
                # the page's skip notice gives the whole message once
                text = f"Nothing to compare: {self.comparisons.reason}."
            elif key == "external" and self.external is not None:
                text = self.external.message
            else:
                rows = self.comparisons[self.comparisons["population"] == population]
                text = " ".join(
                    difference_sentence(group, descriptions[name])
                    for name, group in rows.groupby("variant", sort=False)
                )
            out[f"sentence_{key}"] = text
        out["cost_sentence"] = self._cost_sentence()
        return out

    def _cost_sentence(self) -> str:
        if isinstance(self.costs, Skipped):
            return self.costs.message
        full = self.costs[self.costs["model"] == FULL].iloc[0]
        text = (
            f"The full method took {full['minutes']:.1f} minutes for its {full['folds']} folds "
            f"({full['seconds_per_step']:.3f} s per step)"
        )
        found = []
        if np.isfinite(full["conflict_steps"]):
            found.append(
                "a conflict between two vessels' gradients on "
                f"{100 * full['conflict_steps']:.0f}% of its steps"
            )
        if np.isfinite(full["conflict_share"]):
            found.append(
                f"{100 * full['conflict_share']:.0f}% of the task pairs in conflict per step "
                "on average"
            )
        if found:
            text += "; PCGrad found " + " and ".join(found)
        parts = [
            f"{r.model} {r.minutes:.1f} minutes ({r.relative_step:.2f} times the full method's "
            "step cost)"
            for r in self.costs[self.costs["model"] != FULL].itertuples(index=False)
        ]
        if parts:
            text += ". The variants: " + "; ".join(parts)
        return text + "."

    def outputs(self) -> dict[str, object]:
        return {
            "ablations_comparisons": self.comparisons,
            "ablations_costs": self.costs,
            "ablations": self.numbers(),
        }

    def unfinished_parts(self) -> list[Skipped]:
        """Each declared variant that has not finished all its folds, as a skipped part."""
        return [
            Skipped(
                f"The comparison of variant {r.variant} ({r.description})",
                f"{r.finished} of its {r.folds} folds are finished (see 'Variants not run yet')",
            )
            for r in self.unfinished.itertuples(index=False)
        ]

    def skipped(self) -> list[Skipped]:
        parts = [self.comparisons, self.external]
        if not isinstance(self.comparisons, Skipped):  # else it already says none finished
            parts += self.unfinished_parts()
        return skipped_of(parts)


def analyse(run: RunParams, results: RunResults | None = None) -> Ablations:
    """Chapter 13 of ``run`` (module docstring); ``results`` when already loaded."""
    results = load_results(run) if results is None else results
    vessels = tuple(schema.vessels_of(results.oof))
    states = tuple(variant_states(run))
    paths = RunPaths.of(run)
    base = training_cost(paths, results.folds, run.train.batch_size, len(vessels))
    done = [s for s in states if s.done]
    external = None
    if results.external is None:
        external = Skipped(
            "The external comparison", results.skipped.get("external", "there is no external site")
        )
    if not states:
        comparisons: pd.DataFrame | Skipped = Skipped(
            "The comparison of run variants", "the params declare no variants (see below)"
        )
    elif not done:
        comparisons = Skipped(
            "The comparison of run variants",
            "no declared variant has finished all its folds (see below)",
        )
    else:
        parts = []
        for state in done:
            params, vpaths = run.variant(state.name), paths.variant(state.name)
            parts.append(
                compare(
                    results.oof,
                    read_oof(params, paths=vpaths),
                    vessels,
                    name=state.name,
                    population=POPULATIONS["internal"],
                    min_events=run.report.min_events,
                )
            )
            if results.external is not None:
                parts.append(
                    compare(
                        results.external,
                        mean_external(params, paths=vpaths, write=False),
                        vessels,
                        name=state.name,
                        population=POPULATIONS["external"],
                        min_events=run.report.min_events,
                    )
                )
        comparisons = pd.concat(parts, ignore_index=True)
    return Ablations(
        params=params_argument(run),
        vessels=vessels,
        states=states,
        comparisons=comparisons,
        external=external,
        costs=_costs(run, states, base, len(vessels)),
        unfinished=_unfinished(run, states, base, len(vessels)),
        commands=tuple(run_commands(run)),
    )


def _costs(run, states, base: dict, n_tasks: int) -> pd.DataFrame | Skipped:
    done = [s for s in states if s.done]
    if not done:
        return Skipped("The variants' training cost", "no variant has finished")
    rows = [{"model": FULL, "description": "the run's own settings", **base, "relative_step": 1.0}]
    for s in done:
        params = run.variant(s.name)
        cost = training_cost(
            RunPaths.of(run).variant(s.name), s.finished, params.train.batch_size, n_tasks
        )
        rows.append(
            {
                "model": s.name,
                "description": s.description,
                **cost,
                "relative_step": cost["seconds_per_step"] / base["seconds_per_step"],
            }
        )
    return pd.DataFrame(rows)


def _unfinished(run, states, base: dict, n_tasks: int) -> pd.DataFrame:
    rows = []
    for s in states:
        if s.done:
            continue
        params = run.variant(s.name)
        todo = s.n_folds - len(s.finished)
        whys = sorted(set(s.missing.values()))
        rows.append(
            {
                "variant": s.name,
                "description": s.description,
                "finished": len(s.finished),
                "folds": s.n_folds,
                "why": "; ".join(w for w in whys if w != "not trained"),
                "relative_step": relative_step_cost(run, params, n_tasks),
                "estimate": estimated_minutes(base["minutes_per_fold"], run, params, n_tasks, todo),
            }
        )
    columns = ["variant", "description", "finished", "folds", "why", "relative_step", "estimate"]
    return pd.DataFrame(rows, columns=columns)
