"""Discussion and limitations (TRIPOD+AI items 25 and 26), computed from the run.

:func:`analyse` gathers what a reader must weigh before believing this run's numbers, each
worded from the run itself rather than typed: whether the cohort is synthetic
(:class:`~ecglib.chapters.framing.Framing`), how the trained model departs from the study's
(size, initialisation, epochs, recipe), how few events carry each vessel's estimates (the
smallest internal and external positive counts, at ECG and at patient level:
:func:`event_table`), how small the external site is, that the external probabilities come
from an ensemble of the fold models while each internal one comes from a single model, and
which vessels' AUC intervals include 0.5. The interpretation (item 25) is the glance page's
sentence on which vessel the model separates best and worst
(:func:`ecglib.chapters.glance.range_sentence`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecglib import schema
from ecglib.chapters import framing as framing_module
from ecglib.chapters import glance as glance_module
from ecglib.chapters.parts import Skipped
from ecglib.chapters.predictions import RunResults, load_results
from ecglib.config import RunParams
from ecglib.metrics.small_counts import withheld_reason
from ecglib.report.present import format_estimate

__all__ = ["Discussion", "analyse", "event_table", "chance_vessels"]


def event_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per assessed vessel: positive ECGs, and patients with at least one positive ECG (the
    unit of inference), of a prediction table with labels and the ``patient`` key."""
    rows = []
    for v in schema.assessed_vessels(predictions):
        y = predictions[schema.label_col(v)]
        rows.append(
            {
                "vessel": v,
                "positive ECGs": int(y.sum()),
                "ECGs": int(y.notna().sum()),
                "positive patients": int(y.groupby(predictions["patient"]).max().sum()),
                "patients": int(predictions.loc[y.notna(), "patient"].nunique()),
            }
        )
    return pd.DataFrame(rows).set_index("vessel")


def chance_vessels(rows: pd.DataFrame) -> list[str]:
    """Vessels whose AUC interval includes 0.5 (``rows``: one set of the AUC table indexed by
    vessel): the model's separation for them is not distinguishable from chance."""
    return [
        v
        for v, r in rows.iterrows()
        if pd.notna(r["ci_low"]) and pd.notna(r["ci_high"]) and r["ci_low"] <= 0.5 <= r["ci_high"]
    ]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class Discussion:
    """What the discussion page shows (:func:`analyse`)."""

    framing: framing_module.Framing
    glance: glance_module.Glance
    #: :func:`event_table` of the internal out-of-fold and the external predictions.
    internal_events: pd.DataFrame
    external_events: pd.DataFrame | Skipped

    def interpretation(self) -> str:
        g = self.glance
        text = glance_module.range_sentence(g.rows("oof"), "internally")
        if not isinstance(g.external, Skipped):
            text += " " + glance_module.range_sentence(g.rows("external"), "on the external site")
        return text

    def limitations(self) -> list[str]:
        """One Markdown paragraph per limitation that applies to this run."""
        f, out = self.framing, []
        if f.synthetic:
            out.append(
                "**A synthetic cohort.** Every number describes the embedded demo cohort, whose "
                "ECG signal was planted by the generator: the book shows that the pipeline "
                "recovers a known signal, not how well an ECG predicts coronary stenosis in "
                "real patients."
            )
        if f.differences():
            out.append(f"**Not the study's model.** {f.sentence()} {f.consequence()}")
        out.append(self._events_paragraph())
        external = self._external_paragraph()
        if external:
            out.append(external)
        chance = chance_vessels(self.glance.rows("oof"))
        if chance:
            names = ", ".join(chance)
            out.append(
                f"**Separation indistinguishable from chance.** The internal AUC interval of "
                f"{names} includes 0.5 "
                f"({'; '.join(self._auc('oof', v) for v in chance)}): this run gives no "
                f"evidence that the model ranks {names} patients better than chance."
            )
        out.append(
            "**Fixed models.** Every interval describes the sampling of the evaluated patients "
            "with the trained models held fixed; the variation that retraining would add is "
            "not in them (the fold-to-fold spread in the discrimination chapter shows part of it)."
        )
        return out

    def _auc(self, key: str, vessel: str) -> str:
        r = self.glance.rows(key).loc[vessel]
        return f"{vessel}: " + (
            withheld_reason(r) or format_estimate(r["auc"], r["ci_low"], r["ci_high"])
        )

    def _events_paragraph(self) -> str:
        e = self.internal_events
        rarest = e["positive patients"].idxmin()
        row = e.loc[rarest]
        listing = "; ".join(
            f"{v} {_plural(int(r['positive ECGs']), 'positive ECG')} from "
            f"{_plural(int(r['positive patients']), 'patient')}"
            for v, r in e.iterrows()
        )
        return (
            f"**Few events.** The internal cohort has {_plural(int(row['patients']), 'patient')}; "
            f"the rarest outcome, {rarest}, rests on "
            f"{_plural(int(row['positive patients']), 'positive patient')} "
            f"({_plural(int(row['positive ECGs']), 'positive ECG')}), and its estimates are "
            f"correspondingly uncertain ({self._auc('oof', rarest)}). Per vessel: {listing}."
        )

    def _external_paragraph(self) -> str:
        g = self.glance
        if isinstance(self.external_events, Skipped):
            return (
                f"**No external validation.** {self.external_events.message} Every result is "
                "internal (out-of-fold)."
            )
        e = self.external_events
        rarest = e["positive patients"].idxmin()
        row = e.loc[rarest]
        return (
            f"**A small external site, and an ensemble.** The external site has "
            f"{_plural(int(row['patients']), 'patient')} "
            f"({_plural(int(row['ECGs']), 'ECG')}); its rarest outcome, {rarest}, has "
            f"{_plural(int(row['positive patients']), 'positive patient')} "
            f"({self._auc('external', rarest)}). Its probabilities are the mean of the "
            f"{g.n_models} fold models, while each internal probability comes from the one "
            "model that did not see the ECG: an external AUC is that of an ensemble, and the "
            "internal and external AUCs are not estimates of the same model's performance."
        )

    def numbers(self) -> dict[str, object]:
        from IPython.display import Markdown

        return {
            "dc_interpretation": self.interpretation(),
            "dc_limitations": Markdown("\n\n".join(f"- {p}" for p in self.limitations())),
            "dc_n_limitations": len(self.limitations()),
        }

    def outputs(self) -> dict[str, object]:
        out: dict[str, object] = {"events_internal": self.internal_events}
        if not isinstance(self.external_events, Skipped):
            out["events_external"] = self.external_events
        return out

    def skipped(self) -> list[Skipped]:
        return []  # the external paragraph says why, once


def analyse(run: RunParams, results: RunResults | None = None) -> Discussion:
    """The discussion page of ``run`` (module docstring)."""
    results = load_results(run) if results is None else results
    glance = glance_module.analyse(run, results)
    external = (
        glance.external if isinstance(glance.external, Skipped) else event_table(results.external)
    )
    return Discussion(
        framing=framing_module.analyse(run),
        glance=glance,
        internal_events=event_table(results.oof),
        external_events=external,
    )
