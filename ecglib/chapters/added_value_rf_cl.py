"""Chapter 12's second unfitted baseline: the ESC 2024 risk-factor-weighted clinical likelihood.

The 2024 ESC chronic coronary syndromes guideline (Vrints et al. 2024, Figure 4;
:data:`ecglib.metrics.rf_cl.ESC_2024_CITATION`) replaced the 2019 pre-test probability table by
the risk-factor-weighted clinical likelihood (RF-CL) of Winther et al. 2020 (supplementary Table
S3; :data:`ecglib.metrics.rf_cl.RF_CL_CITATION`): a logistic model of age, sex, symptom group
and the number of five risk factors, computed by :func:`ecglib.metrics.rf_cl.rf_cl_table`. Each
ECG is scored by its examination's RF-CL (age at the ECG, as for the PTP), one number for every
vessel, and enters :func:`ecglib.chapters.added_value_ptp.ptp_comparison` beside the PTP. The
comparison is made on the ECGs that have both a PTP and an RF-CL, so every model's AUC is on
the same ECGs and network - RF-CL, like network - PTP, is the paired clustered DeLong difference
(Obuchowski 1997; :func:`ecglib.metrics.auc_contrasts.clustered_auc_contrasts`). The ECGs with a
PTP but no RF-CL are counted with their reasons (:func:`rf_cl_coverage`).

A population whose cohort lacks a risk-factor column (or has no value in one) has no RF-CL:
its comparison stays on the ECGs with a PTP, and the page says why (:func:`rf_cl_status`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglib.chapters.added_value_text import RF_CL
from ecglib.chapters.parts import Skipped, attempt
from ecglib.metrics.rf_cl import rf_cl_table

__all__ = ["rf_cl_coverage", "rf_cl_status", "rf_cl_sentence", "rf_cl_skipped"]

_PART = f"The {RF_CL}"


def rf_cl_coverage(
    table: pd.DataFrame, with_ptp: np.ndarray
) -> tuple[np.ndarray | None, dict[str, object]]:
    """The RF-CL of every row of ``table`` (NaN where an input is missing; None when the
    population has none) and its coverage among the rows with a PTP (``with_ptp``):
    ``rf_cl_skipped`` (why there is no RF-CL, "" when there is one), ``without_rf_cl`` (ECGs
    with a PTP but no RF-CL, left out of the comparison) and ``rf_cl_reasons`` (their reasons
    with counts)."""
    scored = attempt(_PART, rf_cl_table, table)
    if not isinstance(scored, Skipped) and not (with_ptp & scored["rf_cl"].notna()).any():
        scored = Skipped(_PART, "no ECG with a PTP has every risk factor recorded")
    if isinstance(scored, Skipped):
        return None, {"rf_cl_skipped": scored.reason, "without_rf_cl": 0, "rf_cl_reasons": ""}
    p = scored["rf_cl"].to_numpy(dtype=float)
    dropped = with_ptp & np.isnan(p)
    reasons = scored.loc[dropped, "reason"].value_counts()
    return p, {
        "rf_cl_skipped": "",
        "without_rf_cl": int(dropped.sum()),
        "rf_cl_reasons": "; ".join(f"{r}: {n:,}" for r, n in reasons.items()),
    }


def rf_cl_status(reason: str, population: str, consequence: str = "") -> str:
    """``"The ESC 2024 RF-CL is not computed for the external ECGs because <reason>"``, then
    ``consequence`` and a full stop."""
    return f"The {RF_CL} is not computed for the {population} ECGs because {reason}{consequence}."


def rf_cl_sentence(row: pd.Series, population: str) -> str:
    """What the RF-CL leaves out of the comparison, from a row of
    :func:`~ecglib.chapters.added_value_ptp.ptp_comparison`'s coverage: the ECGs with a PTP but
    no RF-CL and the ECGs and patients compared; or why there is no RF-CL."""
    if row["rf_cl_skipped"]:
        return rf_cl_status(
            row["rf_cl_skipped"], population, ", so the comparison is on the ECGs with a PTP"
        )
    compared = f"{int(row['compared']):,} ECGs (of {int(row['patients_compared']):,} patients)"
    if row["without_rf_cl"]:
        return (
            f"Of the {int(row['with_ptp']):,} ECGs with a PTP, {int(row['without_rf_cl']):,} "
            f"have no {RF_CL} ({row['rf_cl_reasons']}) and are left out, so every model is "
            f"compared on the {compared} with both."
        )
    return f"Every ECG with a PTP has an {RF_CL}, so every model is compared on those {compared}."


def rf_cl_skipped(coverage: pd.DataFrame | None) -> list[Skipped]:
    """A :class:`Skipped` per population of ``coverage`` (:func:`~ecglib.chapters.
    added_value_ptp.ptp_comparison`'s) that has no RF-CL, so that the page's list of what it
    left out names it; none when the PTP comparison itself was skipped (``None``)."""
    if coverage is None or "rf_cl_skipped" not in coverage.columns:
        return []
    return [
        Skipped(f"{_PART} ({row['population']})", row["rf_cl_skipped"])
        for _, row in coverage.iterrows()
        if row["rf_cl_skipped"]
    ]
