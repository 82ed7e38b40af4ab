"""What the which-artery analysis lets chapter 10 say about its per-vessel maps.

Chapter 10 draws, per vessel, the average beats and attribution maps of the ECGs the vessel's
head calls high-risk. Whether those describe *that artery* depends on whether the head is
vessel-specific, which chapter 12 tests (:mod:`ecglib.metrics.vessel_specificity`): among the
ECGs with severe disease in another vessel, a head that only scores coronary disease in general
falls to an AUC of about 0.5 for its own vessel, and does not beat the other heads.
:func:`head_specificity` classifies each head from that table and :func:`which_artery_sentence`
words the result, so the chapter's wording follows the data instead of assuming per-artery
signals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["SPECIFIC", "ABOVE_CHANCE", "NOT_SHOWN", "head_specificity", "which_artery_sentence"]

#: The head's own AUC among ECGs with disease elsewhere is above chance (interval above 0.5)
#: and higher than every other head's (each paired difference's interval above 0).
SPECIFIC = "vessel-specific"
#: Above chance there, but not shown to beat every other head.
ABOVE_CHANCE = "above chance, not shown to beat every other head"
#: Not shown to be above chance there (or undefined).
NOT_SHOWN = "not shown"


def head_specificity(specific: pd.DataFrame) -> dict[str, str]:
    """Per outcome vessel of a vessel-specific matrix (:func:`ecglib.metrics.vessel_specificity.
    cross_vessel_matrix` with ``within_other_disease=True``), :data:`SPECIFIC`,
    :data:`ABOVE_CHANCE` or :data:`NOT_SHOWN` (module docstring)."""
    out = {}
    for outcome, rows in specific.groupby("outcome", sort=False):
        own = rows[rows["own"]].iloc[0]
        others = rows[~rows["own"]]
        if not (np.isfinite(own["ci_low"]) and own["ci_low"] > 0.5):
            out[outcome] = NOT_SHOWN
        elif len(others) and (others["diff_low"] > 0).all():
            out[outcome] = SPECIFIC
        else:
            out[outcome] = ABOVE_CHANCE
    return out


def _heads(vessels: Sequence[str]) -> str:
    items = list(vessels)
    words = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"the {words} head" + ("s" if len(items) > 1 else "")


def which_artery_sentence(specific: pd.DataFrame) -> str:
    """How to read the per-vessel maps, from :func:`head_specificity` (computed wording)."""
    kinds = head_specificity(specific)
    if not kinds:
        return (
            "The which-artery analysis could not be computed on this run, so nothing shows "
            "whether a vessel's maps describe that artery or coronary disease in general."
        )
    lead = (
        "The which-artery analysis (chapter 12: each head's AUC for its own vessel among the ECGs "
        "with severe disease in another vessel, clustered by patient) "
    )
    spec = [v for v, k in kinds.items() if k == SPECIFIC]
    above = [v for v, k in kinds.items() if k == ABOVE_CHANCE]
    none = [v for v, k in kinds.items() if k == NOT_SHOWN]
    if len(spec) == len(kinds):
        return (
            lead + "shows every head vessel-specific: above chance there and higher than every "
            "other head. Each vessel's groups and maps below can be read as that artery's."
        )
    if not spec and not above:
        return (
            lead + f"shows no head above chance there: the {len(kinds)} outputs behave like one "
            "score of coronary disease in general, so each vessel's groups and maps below show "
            "what the network reads as coronary disease, not disease of that artery."
        )
    parts = []
    if spec:
        parts.append(
            f"shows {_heads(spec)} vessel-specific (above chance there and higher than every "
            "other head), so their maps can be read as that artery's"
        )
    if above:
        parts.append(
            f"finds {_heads(above)} above chance there but not shown to beat every other head, "
            "so their maps mix the artery's own signal with disease elsewhere"
        )
    if none:
        parts.append(
            f"does not show {_heads(none)} above chance there, so their maps describe what the "
            "network reads as coronary disease in general rather than disease of that artery"
        )
    return lead + "; it ".join(parts) + "."
