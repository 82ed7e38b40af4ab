"""ST-coded real records against sinus-rhythm-only records: groups by SNOMED CT code, and where
their average beats differ.

Groups (:func:`st_group`) by the SNOMED CT codes of a record's header (:data:`ST_CODES`):

- ``"ST depression"``: coded 429622005, whatever else is coded, but not also ST elevation;
- ``"ST elevation"``: coded 164931005, whatever else is coded, but not also ST depression;
- ``"sinus rhythm only"`` (the reference, :data:`REFERENCE`): the record's codes are exactly
  {426783006}, sinus rhythm and nothing else (no conduction, ST-T, axis, ectopy or any other
  code). In the CPSC 2018 records this is the Challenge's mapping of the label "Normal", i.e. a
  normal ECG.

A record coded both ST depression and ST elevation belongs to neither group.

Comparison (:func:`compare_st`). Each ST group is compared with the reference by
:func:`ecglib.signals.waveforms.compare_waveforms` with its defaults (pointwise Welch t-tests,
Benjamini-Hochberg FDR over all 12 x 450 samples, alpha 0.05: the interpretability chapter's
statistics). The per-lead ST shift (:attr:`StComparison.shift`) summarises the ST segment as one
number per record and lead: the mean of its average beat over the ST segment of the comparison's
delineation (J point to T onset of the grand average beat, in record SD units, referenced to the
PR segment); per lead, the difference of the group means (group - reference) with its Welch 95%
CI, Welch's p, and BH-adjusted q over the 12 leads. ``direction`` is ``"depression"`` (q < alpha,
negative shift), ``"elevation"`` (positive) or ``"no significant shift"``. ``shift_mv`` gives the
same difference in approximate millivolts: each record's ST level times that lead's SD after a
0.67 Hz zero-phase high-pass (the z-score's scale up to the baseline-removal method).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ecglib import schema
from ecglib.errors import MissingInputError
from ecglib.real.snomed import split_codes
from ecglib.signals.waveforms import WaveformComparison, compare_waveforms, fdr_adjust

if TYPE_CHECKING:
    from ecglib.real.beat_yield import RealBeats

__all__ = [
    "ST_CODES",
    "SINUS_RHYTHM",
    "REFERENCE",
    "ST_GROUPS",
    "st_group",
    "st_groups_table",
    "StComparison",
    "st_levels",
    "compare_st",
    "significant_leads",
]

#: SNOMED CT codes of the ST groups.
ST_CODES: dict[str, str] = {"ST depression": "429622005", "ST elevation": "164931005"}
#: Sinus rhythm; the reference group's records carry exactly this code.
SINUS_RHYTHM = "426783006"
REFERENCE = "sinus rhythm only"
#: The groups of :func:`st_group`, the ST groups first.
ST_GROUPS: tuple[str, ...] = (*ST_CODES, REFERENCE)


def st_group(codes: object) -> str | None:
    """``"ST depression"``, ``"ST elevation"``, ``"sinus rhythm only"`` or None for a record's
    SNOMED CT codes (comma-separated string or iterable); rules in the module docstring."""
    present = set(split_codes(codes))
    st = [g for g, code in ST_CODES.items() if code in present]
    if len(st) == 1:
        return st[0]
    if not st and present == {SINUS_RHYTHM}:
        return REFERENCE
    return None


def st_groups_table(real: RealBeats) -> pd.DataFrame:
    """Per group: records, averaged records, those coded with the group's code alone, and the
    sources and rhythms they come from."""
    rows = []
    for group in ST_GROUPS:
        members = real.records[real.records["st_group"] == group]
        n_codes = members["dx_codes"].map(lambda c: len(split_codes(c)))
        rows.append(
            {
                "group": group,
                "records": len(members),
                "averaged": int((members["outcome"] == "averaged").sum()),
                "coded with this code only": int((n_codes == 1).sum()),
                "sources": ", ".join(
                    f"{s} {n}" for s, n in members["source"].value_counts().items()
                ),
                "rhythm": ", ".join(
                    f"{s} {n}" for s, n in members["rhythm_category"].value_counts().items()
                ),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class StComparison:
    """An ST group vs the sinus-rhythm-only reference: the pointwise ``comparison`` and the
    per-lead ``shift`` table (module docstring)."""

    group: str
    comparison: WaveformComparison
    shift: pd.DataFrame

    @property
    def significant(self) -> pd.DataFrame:
        return self.shift[self.shift["significant"]]


def st_levels(average: np.ndarray, comparison: WaveformComparison) -> np.ndarray:
    """(N, 12) mean of each average beat over the comparison's ST segment (J point to T onset)."""
    a, b = comparison.delineation.segments()["ST segment"]
    if b <= a:
        raise ValueError("the delineation's ST segment is empty")
    return np.asarray(average, dtype=np.float64)[:, :, a:b].mean(axis=2)


def compare_st(real: RealBeats, group: str, *, alpha: float = 0.05) -> StComparison:
    """``group`` (``"ST depression"`` or ``"ST elevation"``) vs ``"sinus rhythm only"``; only
    averaged records take part. Raises :class:`MissingInputError` when either group has fewer
    than 2 averaged records."""
    if group not in ST_CODES:
        raise ValueError(f"group must be one of {list(ST_CODES)}, got {group!r}")
    masks = {}
    for name in (group, REFERENCE):
        mask = (real.records["st_group"] == name).to_numpy() & real.averaged
        if mask.sum() < 2:
            raise MissingInputError(
                f"only {int(mask.sum())} averaged record(s) are coded "
                f"{name!r}; the comparison needs at least 2 per group"
            )
        masks[name] = mask
    cmp = compare_waveforms(
        real.average[masks[group]],
        real.average[masks[REFERENCE]],
        names=(group, REFERENCE),
        alpha=alpha,
    )
    levels = st_levels(real.average, cmp)
    levels_mv = levels * real.lead_sd
    g, r = masks[group], masks[REFERENCE]
    diff = levels[g].mean(axis=0) - levels[r].mean(axis=0)
    # Welch's standard error and Welch-Satterthwaite degrees of freedom, per lead.
    va, vb = levels[g].var(axis=0, ddof=1) / g.sum(), levels[r].var(axis=0, ddof=1) / r.sum()
    se = np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (g.sum() - 1) + vb**2 / (r.sum() - 1))
    half = stats.t.ppf(0.975, dof) * se
    p = stats.ttest_ind(levels[g], levels[r], axis=0, equal_var=False).pvalue
    q = fdr_adjust(p, "bh")
    a, b = cmp.delineation.segments()["ST segment"]
    share = cmp.significant[:, a:b].mean(axis=1)
    significant = q < alpha
    shift = pd.DataFrame(
        {
            "lead": list(schema.LEADS),
            "n_group": int(g.sum()),
            "n_reference": int(r.sum()),
            "st_group": levels[g].mean(axis=0),
            "st_reference": levels[r].mean(axis=0),
            "shift": diff,
            "ci_low": diff - half,
            "ci_high": diff + half,
            "shift_mv": levels_mv[g].mean(axis=0) - levels_mv[r].mean(axis=0),
            "p": p,
            "q": q,
            "significant": significant,
            "direction": np.where(
                ~significant, "no significant shift", np.where(diff < 0, "depression", "elevation")
            ),
            "st_samples_significant_pct": 100.0 * share,
        }
    )
    return StComparison(group=group, comparison=cmp, shift=shift)


def significant_leads(st: StComparison, direction: str | None = None) -> list[str]:
    """Leads with a significant ST shift (optionally only ``"depression"`` or ``"elevation"``)."""
    rows = st.significant
    if direction is not None:
        rows = rows[rows["direction"] == direction]
    return rows["lead"].tolist()
