"""The words and tables of chapter 12 ("Does the ECG add?"), computed from its results.

Every sentence here is built from the numbers it reports and claims a difference only when the
interval of that difference excludes 0 (an AUC above or below chance only when its interval
excludes 0.5); the tables name their unit and interval method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.chapters.parts import Skipped
from ecglib.metrics.outcomes import ANY_VESSEL, OUTCOMES
from ecglib.metrics.small_counts import withheld_reason
from ecglib.report.present import format_bounds, format_estimate, format_p

__all__ = [
    "INTERVAL",
    "DIFFERENCE",
    "POPULATIONS",
    "NETWORK",
    "CLINICAL",
    "COMBINED",
    "MEASURED",
    "PTP",
    "RF_CL",
    "UNFITTED",
    "PAIRS",
    "matrix_table",
    "matrix_sentence",
    "specific_sentence",
    "comparison_table",
    "comparison_numbers",
    "pair_sentence",
    "difference_rows",
    "unfitted_difference_rows",
    "outcome_table",
    "outcome_numbers",
    "outcome_sentence",
    "join_words",
]

#: The page's AUC interval, as its tables name it.
INTERVAL = "clustered DeLong (unit: patient), logit-scale Wald"
#: The page's interval of a paired AUC difference.
DIFFERENCE = "paired clustered DeLong (unit: patient), normal"
#: The page's populations: key -> name.
POPULATIONS = {"internal": "internal, pooled out-of-fold", "external": "external"}
#: The models compared, by their name in the tables.
NETWORK, CLINICAL, COMBINED = "ECG network", "clinical", "ECG + clinical"
MEASURED = "ECG measurements"
#: The unfitted guideline baselines (:mod:`ecglib.chapters.added_value_ptp`,
#: :mod:`ecglib.chapters.added_value_rf_cl`).
PTP = "ESC 2019 PTP"
RF_CL = "ESC 2024 RF-CL"
#: The unfitted baselines by the glue key of their difference from the network (``d_np_...``).
UNFITTED: dict[str, str] = {"np": PTP, "nr": RF_CL}
#: The paired differences shown, (a, b) for ``AUC(a) - AUC(b)``, and their glue keys.
PAIRS: dict[str, tuple[str, str]] = {
    "nc": (NETWORK, CLINICAL),
    "nm": (NETWORK, MEASURED),
    "cn": (COMBINED, NETWORK),
    "cc": (COMBINED, CLINICAL),
}
SHORT = {
    NETWORK: "network",
    CLINICAL: "clinical",
    COMBINED: "ECG + clinical",
    MEASURED: "ECG-measurement",
    PTP: "PTP",
    RF_CL: "RF-CL",
}


def _pair_label(a: str, b: str) -> str:
    return f"{SHORT[a]} - {SHORT[b]}"


def comparison_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """One row per population and vessel: ECGs (positive), patients, each model's AUC [95% CI],
    each difference of :data:`PAIRS` [95% CI] with its p, and the intervals' methods.
    ``table`` is :func:`ecglib.chapters.added_value.comparisons`."""
    rows = []
    for (population, vessel), group in table.groupby(["population", "vessel"], sort=False):
        models = group[group["reference"] == NETWORK].set_index("model")
        first = models.iloc[0]
        row = {
            "population": population,
            "vessel": vessel,
            "ECGs (positive)": f"{int(first['n']):,} ({int(first['positives']):,})",
            "patients": _count(first["patients"]),
        }
        for model in models.index:
            m = models.loc[model]
            row[f"{model}: AUC [95% CI]"] = withheld_reason(m) or format_estimate(
                m["auc"], m["ci_low"], m["ci_high"], digits
            ) + (f" ({m['reason']})" if m["reason"] else "")
        pairs = group.set_index(["reference", "model"])
        for a, b in PAIRS.values():
            if (a, b) not in pairs.index:
                continue
            d = pairs.loc[(a, b)]
            label = _pair_label(a, b)
            row[f"{label} [95% CI]"] = withheld_reason(d) or format_estimate(
                d["diff"], d["diff_low"], d["diff_high"], digits
            )
            row[f"p ({label})"] = withheld_reason(d) or format_p(d["p_value"])
        row["intervals"] = f"AUC: {INTERVAL}; difference: {DIFFERENCE}"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["population", "vessel"])


def difference_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The differences of :data:`PAIRS` of :func:`~ecglib.chapters.added_value.comparisons`,
    one row per population, vessel and pair, with a ``comparison`` label (for the forest
    figure)."""
    parts = []
    for a, b in PAIRS.values():
        rows = table[(table["reference"] == a) & (table["model"] == b)].copy()
        rows["comparison"] = _pair_label(a, b)
        parts.append(rows)
    out = pd.concat(parts, ignore_index=True)
    order = {p: k for k, p in enumerate(POPULATIONS.values())}
    vessel_order = {v: k for k, v in enumerate(schema.VESSELS)}
    out = out.assign(_p=out["population"].map(order), _v=out["vessel"].map(vessel_order))
    return out.sort_values(["_p", "_v"], kind="stable").drop(columns=["_p", "_v"])


def unfitted_difference_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The differences network - PTP and network - RF-CL of
    :func:`~ecglib.chapters.added_value_ptp.ptp_comparison` (its ECGs, not those of
    :func:`difference_rows`), one row per population, vessel and baseline, with a
    ``comparison`` label (for the forest figure)."""
    rows = table[table["model"].isin(UNFITTED.values())].copy()
    rows["comparison"] = [_pair_label(NETWORK, m) for m in rows["model"]]
    return rows


def comparison_numbers(table: pd.DataFrame | Skipped) -> dict[str, float | str]:
    """Glue-ready numbers of the comparisons for every population key and vessel (NaN and
    "n/a" where absent, so the text always finds its keys): ``net_``, ``clin_``, ``comb_``
    ``<pop>_<v>`` AUCs (+ ``_lo``, ``_hi``); per pair key of :data:`PAIRS` ``d_<pair>_<pop>_<v>``
    (+ ``_lo``, ``_hi``) and ``p_<pair>_<pop>_<v>`` (formatted); and the sentences
    ``sentence_<pair>_<pop>`` (:func:`pair_sentence`)."""
    out: dict[str, float | str] = {}
    for key, population in POPULATIONS.items():
        if isinstance(table, Skipped):
            rows = pd.DataFrame(columns=["reference", "vessel", "model"])
        else:
            rows = table[table["population"] == population]
        index = rows.set_index(["reference", "vessel", "model"])

        def get(ref: str, v: str, model: str, column: str, index=index) -> float:
            have = (ref, v, model) in index.index
            return float(index.at[(ref, v, model), column]) if have else math.nan

        for v in schema.VESSELS:
            for prefix, model in (
                ("net", NETWORK),
                ("clin", CLINICAL),
                ("meas", MEASURED),
                ("comb", COMBINED),
            ):
                out[f"{prefix}_{key}_{v}"] = get(NETWORK, v, model, "auc")
                out[f"{prefix}_{key}_{v}_lo"] = get(NETWORK, v, model, "ci_low")
                out[f"{prefix}_{key}_{v}_hi"] = get(NETWORK, v, model, "ci_high")
            for pair, (a, b) in PAIRS.items():
                out[f"d_{pair}_{key}_{v}"] = get(a, v, b, "diff")
                out[f"d_{pair}_{key}_{v}_lo"] = get(a, v, b, "diff_low")
                out[f"d_{pair}_{key}_{v}_hi"] = get(a, v, b, "diff_high")
                out[f"p_{pair}_{key}_{v}"] = format_p(get(a, v, b, "p_value"))
        for pair, (a, b) in PAIRS.items():
            if isinstance(table, Skipped):
                text = table.message
            elif rows.empty:
                text = f"There is no {population} population in this run."
            else:
                text = pair_sentence(rows, a, b)
            out[f"sentence_{pair}_{key}"] = text
    return out


def pair_sentence(rows: pd.DataFrame, a: str, b: str) -> str:
    """Per vessel, the AUCs of models ``a`` and ``b`` and their difference; then which one
    separates each vessel's disease better, claimed only when the interval of the difference
    excludes 0."""
    pairs = rows[(rows["reference"] == a) & (rows["model"] == b)]
    if pairs.empty:
        return f"There is no {SHORT[a]} model in this run."
    aucs = rows[rows["reference"] == NETWORK].set_index(["vessel", "model"])
    parts, better, worse, unclear = [], [], [], []
    for d in pairs.itertuples(index=False):
        v = d.vessel
        if not np.isfinite(d.diff):
            why = getattr(d, "withheld", "") or d.reason or "no interval"
            parts.append(f"{v}: no comparison ({why})")
            continue
        auc_a, auc_b = aucs.at[(v, a), "auc"], aucs.at[(v, b), "auc"]
        parts.append(
            f"{v}: {SHORT[a]} {auc_a:.3f}, {SHORT[b]} {auc_b:.3f}, difference {d.diff:+.3f} "
            f"({format_bounds(d.diff_low, d.diff_high)}, {format_p(d.p_value, prefix='p')})"
        )
        (better if d.diff_low > 0 else worse if d.diff_high < 0 else unclear).append(v)
    summary = []
    if better:
        summary.append(
            f"the {SHORT[a]} model separates {_disease(better)} better than the {SHORT[b]} model"
        )
    if worse:
        summary.append(
            f"the {SHORT[b]} model separates {_disease(worse)} better than the {SHORT[a]} model"
        )
    if unclear:
        summary.append(
            f"for {_disease(unclear)} the interval of the difference includes 0: the data do not "
            "show which of the two separates it better"
        )
    text = "; ".join(parts) + "."
    if summary:
        text += " So " + "; ".join(summary) + "."
    return text


def outcome_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """One row per population, definition and vessel: ECGs kept (left out), positive and
    negative ECGs, patients, AUC [95% CI] and the interval's method."""
    rows = []
    for r in table.itertuples(index=False):
        rows.append(
            {
                "population": r.population,
                "definition": r.definition,
                "vessel": r.vessel,
                "ECGs (left out)": f"{r.n:,} ({r.excluded:,})",
                "positive / negative ECGs": f"{r.positives:,} / {r.negatives:,}",
                "patients": f"{r.patients:,}",
                "AUC [95% CI]": getattr(r, "withheld", "")
                or format_estimate(r.auc, r.ci_low, r.ci_high, digits)
                + (f" ({r.reason})" if r.reason else ""),
                "95% CI": INTERVAL,
            }
        )
    return pd.DataFrame(rows).set_index(["population", "definition", "vessel"])


def _vessel_key(vessel: str) -> str:
    return "any" if vessel == ANY_VESSEL else vessel


def outcome_numbers(table: pd.DataFrame) -> dict[str, float | str]:
    """Glue-ready numbers of :func:`outcome_tables`: ``o_<pop>_<outcome>_<vessel>`` (vessel
    ``any`` for any vessel) with ``_lo``, ``_hi``, ``_pos`` and ``_n``, NaN where absent; and
    ``outcome_sentence_<pop>``."""
    out: dict[str, float | str] = {}
    for key, population in POPULATIONS.items():
        rows = table[table["population"] == population].set_index(["outcome", "vessel"])
        for outcome in OUTCOMES:
            for vessel in (*schema.VESSELS, ANY_VESSEL):
                have = (outcome.key, vessel) in rows.index
                name = f"o_{key}_{outcome.key}_{_vessel_key(vessel)}"
                for suffix, column in (
                    ("", "auc"),
                    ("_lo", "ci_low"),
                    ("_hi", "ci_high"),
                    ("_pos", "positives"),
                    ("_n", "n"),
                ):
                    out[name + suffix] = (
                        float(rows.at[(outcome.key, vessel), column]) if have else math.nan
                    )
        out[f"outcome_sentence_{key}"] = (
            outcome_sentence(rows.reset_index())
            if len(rows)
            else f"There is no {population} population in this run."
        )
    return out


def outcome_sentence(rows: pd.DataFrame) -> str:
    """The any-vessel AUC under each definition, with its interval and counts; and which
    vessel-definition pairs have no AUC."""
    parts = []
    for r in rows[rows["vessel"] == ANY_VESSEL].itertuples(index=False):
        if np.isfinite(r.auc):
            parts.append(
                f"{r.auc:.3f} ({format_bounds(r.ci_low, r.ci_high)}; {r.positives:,} of {r.n:,} ECGs "
                f"positive) for {r.definition}"
            )
        else:
            parts.append(f"no AUC for {r.definition} ({getattr(r, 'withheld', '') or r.reason})")
    text = "For any vessel, the noisy-OR score's AUC is " + "; ".join(parts) + "." if parts else ""
    missing = rows[~np.isfinite(rows["auc"].astype(float)) & (rows["vessel"] != ANY_VESSEL)]
    for r in missing.itertuples(index=False):
        why = getattr(r, "withheld", "") or r.reason
        text += f" The {r.vessel} has no AUC for {r.definition} ({why})."
    return text.strip()


def _difference(r, digits: int = 3) -> str:
    """``"0.041, 95% CI 0.012 to 0.070, p = 0.006"`` of a matrix row's ``own_minus_head``."""
    return (
        f"{r['own_minus_head']:+.{digits}f}, {format_bounds(r['diff_low'], r['diff_high'], digits)}, "
        f"{format_p(r['p_value'], prefix='p')}"
    )


def matrix_table(matrix: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """AUC [95% CI] of each head (columns) for each outcome vessel (rows), with each row's ECGs,
    positive ECGs and patients and the interval's method."""
    withheld = matrix["withheld"] if "withheld" in matrix.columns else [""] * len(matrix)
    text = matrix.assign(
        cell=[
            w or format_estimate(a, lo, hi, digits)
            for a, lo, hi, w in zip(matrix["auc"], matrix["ci_low"], matrix["ci_high"], withheld)
        ]
    )
    heads = [v for v in schema.VESSELS if v in set(matrix["head"])]
    outcomes = [v for v in schema.VESSELS if v in set(matrix["outcome"])]
    wide = text.pivot(index="outcome", columns="head", values="cell").loc[outcomes, heads]
    wide.columns = [f"{h} head" for h in heads]
    first = matrix.drop_duplicates("outcome").set_index("outcome").loc[outcomes]
    wide["ECGs (positive)"] = [f"{n:,} ({p:,})" for n, p in zip(first["n"], first["positives"])]
    wide["patients"] = first["patients"].to_numpy()
    wide["95% CI"] = INTERVAL
    wide.index = [f"{v} disease" for v in outcomes]
    return wide


def _count(value) -> str:
    return f"{int(value):,}" if pd.notna(value) else "n/a"


def _disease(vessels: Sequence[str]) -> str:
    return f"{join_words(vessels)} disease"


def matrix_sentence(matrix: pd.DataFrame) -> str:
    """What the cross-vessel matrix shows, per outcome vessel: whether its own head has the
    highest AUC, and the paired difference to the best other head, claimed only when its
    interval excludes 0."""
    parts = []
    for outcome, rows in matrix.groupby("outcome", sort=False):
        own = rows[rows["own"]].iloc[0]
        others = rows[~rows["own"] & np.isfinite(rows["auc"])]
        if not np.isfinite(own["auc"]) or others.empty:
            parts.append(f"The {outcome} has no AUC ({own['reason'] or 'no other head'}).")
            continue
        best = others.loc[others["auc"].idxmax()]
        head, d = best["head"], _difference(best)
        if own["auc"] >= best["auc"]:
            text = (
                f"For {outcome} disease the {outcome} head has the highest AUC of the heads "
                f"({own['auc']:.3f}); the next best, the {head} head ({best['auc']:.3f}), is "
                f"lower by {d[1:]}"
            )
            if best["diff_low"] > 0:
                text += ", a difference the interval supports."
            else:
                text += ": the interval includes no difference, so the data do not show that the "
                text += f"{outcome} head separates {outcome} disease better than the {head} head."
        else:
            text = (
                f"For {outcome} disease the {head} head's AUC ({best['auc']:.3f}) is higher than "
                f"the {outcome} head's own ({own['auc']:.3f}; own minus {head}: {d})"
            )
            if best["diff_high"] < 0:
                text += (
                    f": the {head} head separates {outcome} disease better than the {outcome} head."
                )
            else:
                text += (
                    ": the interval includes no difference, so neither head is shown to separate "
                    f"{outcome} disease better."
                )
        parts.append(text)
    return " ".join(parts)


def specific_sentence(specific: pd.DataFrame) -> str:
    """What the vessel-specific view shows, per vessel: its own head's AUC among ECGs with
    severe disease in another vessel, whether that interval excludes 0.5, and which other heads
    it is shown to beat (or to trail); then how many vessels' heads beat every other head."""
    parts = []
    specific_count, defined = 0, 0
    for outcome, rows in specific.groupby("outcome", sort=False):
        own = rows[rows["own"]].iloc[0]
        if not np.isfinite(own["auc"]):
            parts.append(f"The {outcome} has no vessel-specific AUC ({own['reason']}).")
            continue
        defined += 1
        others = rows[~rows["own"]]
        beats = list(others.loc[others["diff_low"] > 0, "head"])
        trails = list(others.loc[others["diff_high"] < 0, "head"])
        level = (
            "above chance"
            if own["ci_low"] > 0.5
            else "below chance"
            if own["ci_high"] < 0.5
            else "not distinguishable from chance (0.5)"
        )
        text = (
            f"Among the {int(own['n']):,} ECGs with severe disease in another vessel "
            f"({int(own['positives']):,} with {outcome} disease), the {outcome} head's AUC is "
            f"{own['auc']:.3f} ({format_bounds(own['ci_low'], own['ci_high'])}), {level}"
        )
        if len(beats) == len(others) and len(others):
            specific_count += 1
            text += ", and higher than that of every other head, each difference clear of zero"
        elif beats:
            text += f"; it is clearly higher than that of {_heads(beats)}"
        if trails:
            text += f"; {_heads(trails)} separate{'s' if len(trails) == 1 else ''} it better"
        rest = [h for h in others["head"] if h not in beats and h not in trails]
        if rest and len(beats) < len(others):
            text += f"; against {_heads(rest)} the interval of the difference includes 0"
        parts.append(text + ".")
    if defined:
        parts.append(
            f"In {specific_count} of {defined} vessels the own head beats every other head "
            "among ECGs with disease elsewhere."
        )
    return " ".join(parts)


def _heads(heads: Sequence[str]) -> str:
    """``"the LM head"``, ``"the LM and LAD heads"``."""
    return f"the {join_words(heads)} head" + ("s" if len(heads) > 1 else "")


def join_words(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
