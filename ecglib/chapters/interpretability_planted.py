"""Chapter 10 on the demo cohort: what was planted beside what each method found.

The demo cohort's simulator planted a vessel-specific ST-T change in known leads
(:data:`ecglib.demo.PLANTED_TERRITORIES`). For each vessel and method (:data:`METHODS`) the found
leads are the top-``k`` of the method's lead ranking in the ST-T window (``k`` = the number of
planted leads), and the found region is the method's top-ranked region of the whole beat:

- waveform difference: leads ranked by mean |difference| over the ST segment and T wave
  (:meth:`~ecglib.signals.waveforms.WaveformComparison.lead_ranking`); regions ranked by mean
  |difference| per sample over all 12 leads
  (:func:`~ecglib.chapters.interpretability_vessel.waveform_wave_ranking`);
- attribution: leads and regions ranked by the mean *net* (signed) attribution per sample
  (:meth:`~ecglib.model.attribution.BeatAttribution.lead_ranking` with ``by="net"``).

Measures (:func:`planted_vs_found`): **recall@k** (:func:`recall_at_k`) = share of the planted
leads among the top ``k``; the planted leads' **mean rank** (1 = top, 12 = bottom; 6.5 is what a
random ranking gives); whether the top region is the planted one (ST segment or T wave).
``ideal_recall`` is the recall@k that the simulator's own ST sensitivity per lead
(:func:`ecglib.demo.territory_sensitivity`) would score, since the planted lead sets are clinical
territories, not the simulator's exact geometry. :func:`planted_numbers` turns the table into
the chapter's glued numbers and its one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ecglib.chapters.interpretability_vessel import PLANTED_WAVES, VesselInterpretation
from ecglib.schema import LEADS, VESSELS

__all__ = ["METHODS", "recall_at_k", "planted_vs_found", "lead_rank_table", "planted_numbers"]

#: Methods of the planted-vs-found comparison.
METHODS: tuple[str, str] = ("waveform difference", "attribution")


def recall_at_k(found: Sequence[str], planted: Sequence[str], k: int | None = None) -> float:
    """Share of ``planted`` among the first ``k`` of the ranking ``found`` (k = len(planted))."""
    k = len(planted) if k is None else int(k)
    if not planted:
        raise ValueError("no planted leads")
    return len(set(found[:k]) & set(planted)) / len(planted)


def _mean_rank(ranking: pd.DataFrame, planted: Sequence[str]) -> float:
    ranks = ranking.set_index("lead")["rank"]
    return float(ranks.loc[list(planted)].mean())


def _ideal_ranking(vessel: str) -> list[str]:
    from ecglib.demo import territory_sensitivity

    sens = np.abs(territory_sensitivity()[VESSELS.index(vessel)])
    return [LEADS[i] for i in np.argsort(-sens, kind="stable")]


def planted_vs_found(results: Mapping[str, VesselInterpretation]) -> pd.DataFrame:
    """Per vessel and method: planted leads and segment vs the top-ranked leads and region.

    Columns: vessel, region, planted_leads, planted_segment, method, n (ECGs behind the method:
    high + low risk, or attributed), found_leads (top k, k = number of planted leads), recall_at_k,
    planted_mean_rank, top_half (mean rank <= 6), found_wave, wave_match (found wave in the ST-T
    segment), ideal_recall, planted_net_attribution (attribution rows: the mean net attribution
    per sample over the planted leads' ST-T window, > 0 when it pushes towards high risk). A method
    that could not run has NaN / empty entries.
    """
    from ecglib.demo import PLANTED_TERRITORIES

    rows = []
    for vessel, res in results.items():
        territory = PLANTED_TERRITORIES[vessel]
        planted = list(territory.leads)
        k = len(planted)
        ideal = recall_at_k(_ideal_ranking(vessel), planted)
        for method in METHODS:
            if method == METHODS[0]:
                leads, waves = res.waveform_leads(), res.waveform_waves()
                n = (res.n_high_averaged + res.n_low_averaged) if res.comparison is not None else 0
            else:
                leads, waves = res.attribution_leads(), res.attribution_waves()
                n = res.attribution.n_included if res.has_attribution else 0
            row = dict(
                vessel=vessel,
                region=territory.region,
                planted_leads=", ".join(planted),
                planted_segment="ST-T",
                method=method,
                n=n,
                ideal_recall=ideal,
            )
            row["planted_net_attribution"] = np.nan
            if method == METHODS[1] and leads is not None:
                net = leads.set_index("lead")["mean_net"]
                row["planted_net_attribution"] = float(net.loc[planted].mean())
            if leads is None:
                row.update(
                    found_leads="",
                    recall_at_k=np.nan,
                    planted_mean_rank=np.nan,
                    top_half=None,
                    found_wave="",
                    wave_match=None,
                )
            else:
                found = list(leads["lead"])
                mean_rank = _mean_rank(leads, planted)
                top_wave = str(waves["wave"].iloc[0])
                row.update(
                    found_leads=", ".join(found[:k]),
                    recall_at_k=recall_at_k(found, planted),
                    planted_mean_rank=mean_rank,
                    top_half=bool(mean_rank <= len(LEADS) / 2),
                    found_wave=top_wave,
                    wave_match=bool(top_wave in PLANTED_WAVES),
                )
            rows.append(row)
    columns = [
        "vessel",
        "region",
        "planted_leads",
        "planted_segment",
        "method",
        "n",
        "found_leads",
        "recall_at_k",
        "planted_mean_rank",
        "top_half",
        "found_wave",
        "wave_match",
        "ideal_recall",
        "planted_net_attribution",
    ]
    return pd.DataFrame(rows, columns=columns)


def lead_rank_table(
    results: Mapping[str, VesselInterpretation], planted: bool = True
) -> pd.DataFrame:
    """Long table of every lead's rank per vessel and method (ST-T window): vessel, method, lead,
    rank, and (``planted``, demo runs) whether the lead is planted. Methods that did not run are
    left out."""
    rows = []
    if planted:
        from ecglib.demo import PLANTED_TERRITORIES
    for vessel, res in results.items():
        for method, table in zip(METHODS, (res.waveform_leads(), res.attribution_leads())):
            if table is None:
                continue
            for lead, rank in zip(table["lead"], table["rank"]):
                row = dict(vessel=vessel, method=method, lead=lead, rank=int(rank))
                if planted:
                    row["planted"] = lead in PLANTED_TERRITORIES[vessel].leads
                rows.append(row)
    columns = ["vessel", "method", "lead", "rank"] + (["planted"] if planted else [])
    return pd.DataFrame(rows, columns=columns)


def planted_numbers(table: pd.DataFrame | None) -> dict:
    """Glue-ready summary of :func:`planted_vs_found` per method (``wf_``/``at_``: vessels that
    ran, planted leads in the top half, ST-T as top region, mean recall@k) and
    ``planted_sentence``; ``table`` None on a run that is not on the demo cohort."""
    keys = {}
    for method, short in zip(METHODS, ("wf", "at")):
        sub = None if table is None or table.empty else table[table["method"] == method]
        ran = sub[sub["recall_at_k"].notna()] if sub is not None else None
        keys[f"{short}_n_vessels"] = 0 if ran is None else len(ran)
        keys[f"{short}_top_half"] = 0 if ran is None else int(ran["top_half"].astype(bool).sum())
        keys[f"{short}_wave_match"] = (
            0 if ran is None else int(ran["wave_match"].astype(bool).sum())
        )
        keys[f"{short}_mean_recall"] = (
            float(ran["recall_at_k"].mean()) if ran is not None and len(ran) else float("nan")
        )
    if table is not None and keys["wf_n_vessels"] == 0 and keys["at_n_vessels"] == 0:
        keys["planted_sentence"] = (
            "No vessel had groups large enough for either method, so nothing "
            "can be compared with what was planted (see the notes above)."
        )
    elif table is None:
        keys["planted_sentence"] = (
            "This run is not on the demo cohort: nothing was planted, so there "
            "is no truth to compare with and this section is empty."
        )
    else:
        clauses = []
        for short, name in (("wf", "the waveform difference"), ("at", "the attribution")):
            n = keys[f"{short}_n_vessels"]
            if n == 0:
                clauses.append(f"{name} could not be computed for any vessel")
            else:
                clauses.append(
                    f"{name} ranks the planted leads in the top half for {keys[f'{short}_top_half']} "
                    f"of {n} vessel{'s' if n != 1 else ''} (mean recall@k "
                    f"{keys[f'{short}_mean_recall']:.2f}) and names the ST-T segment as the top "
                    f"region for {keys[f'{short}_wave_match']}"
                )
        text = "; ".join(clauses) + "."
        keys["planted_sentence"] = text[0].upper() + text[1:]
    return keys
