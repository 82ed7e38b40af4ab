"""Chapter 08's two guideline models side by side: the 2019 ESC pre-test probability (PTP) and
the 2024 ESC risk-factor-weighted clinical likelihood (RF-CL).

:func:`guideline_models` scores the index ECG of every CCTA examination with both
(:mod:`ecglib.metrics.ptp`, :mod:`ecglib.metrics.rf_cl`); on the examinations that have both it
gives each model's AUC for the outcome with the clustered DeLong interval (Obuchowski 1997; unit:
patient; logit-scale Wald) and the paired clustered difference RF-CL - PTP with its normal
interval and two-sided p (:func:`ecglib.metrics.auc_contrasts.clustered_auc_contrasts`), and
each model's categories (2019: < 5%, 5-15%, > 15%; 2024: <= 5%, > 5-15%, > 15%) with the
examinations and the observed outcome rate in each. A cohort without the risk factors (or
without symptoms) has no RF-CL: :class:`~ecglib.errors.MissingInputError`, which the chapter
shows as a skipped part. Neither model is fitted on the cohort, so nothing here is chosen on
the data it is reported on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglib.errors import MissingInputError
from ecglib.metrics import ptp
from ecglib.metrics.auc_contrasts import clustered_auc_contrasts
from ecglib.metrics.rf_cl import RF_CL_CATEGORIES, rf_cl_table
from ecglib.metrics.small_counts import too_few_text
from ecglib.report.present import format_estimate, format_p

__all__ = ["MODELS", "GuidelineModels", "guideline_models", "models_sentence"]

#: The two models' names, as the chapter prints them (the 2019 PTP first).
MODELS: tuple[str, str] = ("2019 PTP", "2024 RF-CL")


@dataclass(frozen=True)
class GuidelineModels:
    """Both guideline models on one population's index ECGs (:func:`guideline_models`)."""

    #: Per index ECG: ``ptp``, ``ptp_category``, ``rf_cl``, ``rf_cl_category``, ``n_risk_factors``,
    #: ``outcome`` and ``patient``.
    table: pd.DataFrame
    #: :func:`~ecglib.metrics.auc_contrasts.clustered_auc_contrasts` rows of both models on the
    #: examinations with both (``diff`` = RF-CL - PTP on the RF-CL row).
    aucs: pd.DataFrame
    #: Per model and category: examinations, share, events and observed outcome rate.
    categories: pd.DataFrame

    def numbers(self, prefix: str) -> dict[str, float | str]:
        """Glue-ready numbers, keys starting with ``prefix``: examinations with both models and
        their patients, each model's AUC and interval (``ptp_auc``, ``rfcl_auc`` ...), the
        difference RF-CL - PTP with its interval and p, the shares of each model's lowest
        category."""
        a = self.aucs.set_index("score")
        ptp_row, rf_row = a.loc[MODELS[0]], a.loc[MODELS[1]]
        out: dict[str, float | str] = {
            "models_exams": int(rf_row["n"]),
            "models_patients": int(rf_row["clusters"]),
            "models_events": int(rf_row["positives"]),
            "rfcl_minus_ptp": -float(rf_row["diff"]),
            "rfcl_minus_ptp_lo": -float(rf_row["diff_high"]),
            "rfcl_minus_ptp_hi": -float(rf_row["diff_low"]),
            "rfcl_minus_ptp_p_text": format_p(float(rf_row["p_value"]), prefix="p"),
        }
        for key, row in (("ptp", ptp_row), ("rfcl", rf_row)):
            out |= {
                f"{key}_auc": float(row["auc"]),
                f"{key}_auc_lo": float(row["ci_low"]),
                f"{key}_auc_hi": float(row["ci_high"]),
            }
        c = self.categories.set_index(["model", "category"])
        out["ptp_low_pct"] = 100 * float(c.loc[(MODELS[0], ptp.PTP_CATEGORIES[0]), "share"])
        out["rfcl_very_low_pct"] = 100 * float(c.loc[(MODELS[1], RF_CL_CATEGORIES[0]), "share"])
        return {f"{prefix}{k}": v for k, v in out.items()}


#: Keys of :meth:`GuidelineModels.numbers` (without prefix), NaN when the part is skipped.
MODEL_NUMBER_KEYS = (
    "models_exams",
    "models_patients",
    "models_events",
    "rfcl_minus_ptp",
    "rfcl_minus_ptp_lo",
    "rfcl_minus_ptp_hi",
    "rfcl_minus_ptp_p_text",
    *[f"{k}_auc{s}" for k in ("ptp", "rfcl") for s in ("", "_lo", "_hi")],
    "ptp_low_pct",
    "rfcl_very_low_pct",
)


def guideline_models(
    index: pd.DataFrame, outcome, *, level: float = 0.95, min_events: int = 1
) -> GuidelineModels:
    """Both guideline models on the index ECGs ``index`` (``age``, ``sex``, ``symptom``, the
    risk factors, ``patient``) against ``outcome`` (0/1 per row; module docstring). Raises
    :class:`MissingInputError` without the models' inputs, when no examination has both
    models, or when those examinations have fewer events or non-events than ``min_events``
    (the small-count policy, :mod:`ecglib.metrics.small_counts`; at least one of each)."""
    scored = rf_cl_table(index)
    guideline = ptp.ptp_table(index)
    table = pd.DataFrame(
        {
            "ptp": guideline["ptp"],
            "ptp_category": guideline["ptp_category"],
            "rf_cl": scored["rf_cl"],
            "rf_cl_category": scored["rf_cl_category"],
            "n_risk_factors": scored["n_risk_factors"],
            "outcome": np.asarray(outcome, dtype=int),
            "patient": index["patient"].to_numpy(),
        },
        index=index.index,
    )
    both = table[table["ptp"].notna() & table["rf_cl"].notna()]
    if both.empty:
        raise MissingInputError("no examination has both the 2019 PTP and the 2024 RF-CL")
    events = int(both["outcome"].sum())
    if events in (0, len(both)):
        which = "none" if events == 0 else "all"
        raise MissingInputError(
            f"{which} of the {len(both)} examinations with both guideline models have the "
            "outcome: no AUC"
        )
    reason = too_few_text(events, len(both) - events, min_events)
    if reason:
        raise MissingInputError(
            f"{reason} among the {len(both)} examinations with both guideline models: no AUC "
            f"is reported on fewer than {min_events} (report.min_events)"
        )
    aucs = clustered_auc_contrasts(
        both["outcome"],
        both[["ptp", "rf_cl"]].to_numpy(),
        both["patient"],
        list(MODELS),
        reference=MODELS[0],
        level=level,
    )
    return GuidelineModels(table=table, aucs=aucs, categories=_categories(both))


def _categories(both: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for model, column, categories in (
        (MODELS[0], "ptp_category", ptp.PTP_CATEGORIES),
        (MODELS[1], "rf_cl_category", RF_CL_CATEGORIES),
    ):
        for category in categories:
            inside = both[column] == category
            n, events = int(inside.sum()), int(both.loc[inside, "outcome"].sum())
            rows.append(
                {
                    "model": model,
                    "category": category,
                    "examinations": n,
                    "share": n / len(both),
                    "events": events,
                    "observed rate": events / n if n else math.nan,
                }
            )
    return pd.DataFrame(rows)


def models_display(models: GuidelineModels, digits: int = 3) -> pd.DataFrame:
    """The AUC table for reading: per model the AUC with its interval, and the difference
    RF-CL - PTP with its interval and p on the RF-CL row."""
    a = models.aucs.set_index("score")
    out = pd.DataFrame(index=pd.Index(list(MODELS), name="model"))
    out["examinations"] = [int(a.at[m, "n"]) for m in MODELS]
    out["patients"] = [int(a.at[m, "clusters"]) for m in MODELS]
    out["AUC (95% CI)"] = [
        format_estimate(a.at[m, "auc"], a.at[m, "ci_low"], a.at[m, "ci_high"], digits)
        for m in MODELS
    ]
    rf = a.loc[MODELS[1]]
    out["RF-CL - PTP (95% CI)"] = [
        "",
        format_estimate(-rf["diff"], -rf["diff_high"], -rf["diff_low"], digits),
    ]
    out["p"] = ["", format_p(float(rf["p_value"]))]
    return out


def categories_display(models: GuidelineModels) -> pd.DataFrame:
    """The category table for reading: examinations (share), events and observed rate."""
    c = models.categories
    return pd.DataFrame(
        {
            "model": c["model"],
            "category": c["category"],
            "examinations": [
                f"{n} ({100 * s:.1f}%)" for n, s in zip(c["examinations"], c["share"])
            ],
            "events": c["events"],
            "observed rate": [
                "-" if not np.isfinite(r) else f"{100 * r:.1f}%" for r in c["observed rate"]
            ],
        }
    ).set_index(["model", "category"])


def models_sentence(numbers: dict, prefix: str, population: str) -> str:
    """What the comparison shows, from its numbers: the difference RF-CL - PTP is called
    higher or lower only when its interval excludes zero."""
    diff = numbers[f"{prefix}rfcl_minus_ptp"]
    lo, hi = numbers[f"{prefix}rfcl_minus_ptp_lo"], numbers[f"{prefix}rfcl_minus_ptp_hi"]
    if not np.isfinite(diff):
        return f"On the {population} examinations the two models could not be compared."
    aucs = (
        f"AUC {numbers[f'{prefix}rfcl_auc']:.3f} for the 2024 RF-CL and "
        f"{numbers[f'{prefix}ptp_auc']:.3f} for the 2019 PTP"
    )
    interval = (
        f"difference {diff:+.3f}, 95% CI {lo:+.3f} to {hi:+.3f}, "
        f"{numbers[f'{prefix}rfcl_minus_ptp_p_text']}"
    )
    if np.isfinite(lo) and lo > 0:
        verdict = "the RF-CL discriminates better than the 2019 PTP"
    elif np.isfinite(hi) and hi < 0:
        verdict = "the RF-CL discriminates worse than the 2019 PTP"
    else:
        verdict = "the data show no clear difference between the two models"
    return f"On the {population} examinations {verdict} ({aucs}; {interval})."
