"""The paper's published numbers, as data with their source, and a run's numbers beside them.

:data:`PUBLISHED` holds the AUCs and Brier scores of both versions of the paper (Xiao et al.,
arXiv:2512.05136, first version and revision); :func:`paper_layout` sets a run's numbers beside
them. They describe the authors' private cohort: context, never targets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ecglib import schema
from ecglib.metrics.small_counts import withheld_reason
from ecglib.report.present import format_estimate

__all__ = ["PAPER_VERSIONS", "PUBLISHED", "PUBLISHED_COHORT", "published_table", "paper_layout"]

#: The two versions of the paper, with the source their numbers come from.
PAPER_VERSIONS: dict[str, str] = {
    "first version": "Xiao et al., Fine-tuning an ECG Foundation Model to Predict Coronary CT "
    "Angiography Outcomes, arXiv:2512.05136 (first version)",
    "revision": "Xiao et al., arXiv:2512.05136 (later revision)",
}

_PUBLISHED_VALUES = {
    # (version, set, metric): RCA, LM, LAD, LCX
    ("first version", "internal", "auc"): (0.794, 0.818, 0.744, 0.755),
    ("first version", "external", "auc"): (0.749, 0.971, 0.667, 0.727),
    ("first version", "normal ECG", "auc"): (0.793, 0.896, 0.707, 0.765),
    ("first version", "internal", "brier"): (0.112, 0.030, 0.166, 0.106),
    ("revision", "internal", "auc"): (0.744, 0.706, 0.716, 0.736),
    ("revision", "external", "auc"): (0.714, 0.713, 0.700, 0.673),
    ("revision", "normal ECG", "auc"): (0.693, 0.659, 0.673, 0.716),
}

#: The published numbers in long form: ``version, set, metric, vessel, value, source``. The
#: internal AUCs are the paper's own internal evaluation (reported from its best fold, whose
#: epoch was also chosen on it); they describe the authors' private cohort.
PUBLISHED: pd.DataFrame = pd.DataFrame(
    [
        {
            "version": version,
            "set": subset,
            "metric": metric,
            "vessel": vessel,
            "value": value,
            "source": PAPER_VERSIONS[version],
        }
        for (version, subset, metric), values in _PUBLISHED_VALUES.items()
        for vessel, value in zip(schema.VESSELS, values)
    ]
)

#: The published cohorts (both versions): patients, CCTA exams, ECGs, age and sex per site.
PUBLISHED_COHORT: pd.DataFrame = pd.DataFrame(
    {
        "internal": {
            "patients": 2323,
            "ccta": 2595,
            "ecgs": 4620,
            "age_mean": 63.7,
            "age_sd": 10.1,
            "male_pct": 55.0,
        },
        "external": {
            "patients": 135,
            "ccta": 135,
            "ecgs": 228,
            "age_mean": 62.6,
            "age_sd": 14.2,
            "male_pct": 61.1,
        },
    }
)


def published_table(metric: str = "auc") -> pd.DataFrame:
    """Published values of ``metric`` (``auc`` or ``brier``): one row per (version, set), one
    column per vessel."""
    rows = PUBLISHED[PUBLISHED["metric"] == metric]
    if rows.empty:
        raise KeyError(f"no published {metric!r}; have {sorted(set(PUBLISHED['metric']))}")
    table = rows.pivot_table(index=["version", "set"], columns="vessel", values="value", sort=False)
    return table[list(schema.VESSELS)]


def paper_layout(
    ours: Mapping[str, pd.DataFrame] | pd.DataFrame,
    metric: str = "auc",
    *,
    value: str | None = None,
    ci: tuple[str, str] | None = ("ci_low", "ci_high"),
    published_sets: Mapping[str, str] | None = None,
    digits: int = 3,
) -> pd.DataFrame:
    """This run's numbers beside the published ones, in the paper's layout.

    ``ours`` maps a row label (e.g. ``"internal, pooled out-of-fold"``) to a per-vessel table
    (``vessel`` column or index, the ``value`` column, default ``metric``, and optionally the
    ``ci`` columns). ``published_sets`` picks and renames the published sets shown (default:
    all of them). One row per set, indexed by ``source`` (``this run`` or ``published,
    <version> (context, not a target)``) and ``set``, one column per vessel as text (``0.712
    [0.650-0.768]``, or the reason of a row withheld under the small-count policy).
    """
    value = metric if value is None else value
    if isinstance(ours, pd.DataFrame):
        ours = {name: part for name, part in ours.groupby("set", sort=False)}
    rows = []
    for label, table in ours.items():
        t = table.set_index("vessel") if "vessel" in table.columns else table
        cells = {}
        for v in schema.VESSELS:
            if v not in t.index:
                cells[v] = "n/a"
                continue
            low, high = (
                (t.at[v, ci[0]], t.at[v, ci[1]])
                if ci and ci[0] in t.columns
                else (math.nan, math.nan)
            )
            # a row withheld under the small-count policy says why, as in every other table
            cells[v] = withheld_reason(t.loc[v]) or format_estimate(
                float(t.at[v, value]), float(low), float(high), digits
            )
        rows.append({"source": "this run", "set": label, **cells})
    published = published_table(metric)
    for (version, subset), values in published.iterrows():
        if published_sets is not None and subset not in published_sets:
            continue
        label = subset if published_sets is None else published_sets[subset]
        rows.append(
            {
                "source": f"published, {version} (context, not a target)",
                "set": label,
                **{v: format_estimate(float(values[v]), digits=digits) for v in schema.VESSELS},
            }
        )
    return pd.DataFrame(rows, columns=["source", "set", *schema.VESSELS]).set_index(
        ["source", "set"]
    )
