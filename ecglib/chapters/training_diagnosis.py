"""Why the demo trains the way it does: the saved diagnosis of its settings (issue 17), for the
training overview page of a demo run.

The diagnosis (``benchmarks/diagnose_demo.py``, read by :mod:`ecglib.report.diagnosis`) is made
once, on the demo cohort, not by the book's run: the page shows it with the date and commit it
was made on, and says which of its rows are this run's own settings. A run on a hospital cohort
gets a skip: the diagnosis explains the demo's settings, not a study's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from ecglib.chapters.parts import Skipped, skipped_of
from ecglib.config import RunParams
from ecglib.report.diagnosis import GAP, MARGIN, TARGET_VESSELS, Diagnosis, demo_diagnoses

__all__ = ["DemoDiagnosis", "analyse"]

#: What each saved diagnosis measured.
COHORTS = {
    "diagnose_demo": "the demo book's cohort (params/demo.yaml)",
    "diagnose_demo_large": "the medium-sized cohort (params/demo_large.yaml)",
}


@dataclass(frozen=True)
class DemoDiagnosis:
    """The saved diagnoses (by name) and the rows that are this run's settings."""

    diagnoses: dict[str, Diagnosis] | Skipped
    own_settings: dict[str, str | None]

    def tables(self) -> dict[str, pd.DataFrame]:
        if isinstance(self.diagnoses, Skipped):
            return {}
        return {name: d.table() for name, d in self.diagnoses.items()}

    def runs(self) -> pd.DataFrame | Skipped:
        """When and on which commit each saved diagnosis was made."""
        if isinstance(self.diagnoses, Skipped):
            return self.diagnoses
        frames = [d.runs.assign(cohort=COHORTS.get(n, n)) for n, d in self.diagnoses.items()]
        return pd.concat(frames, ignore_index=True)[
            ["cohort", "date", "commit", "folds", "settings"]
        ]

    def verdicts(self) -> list[str]:
        """One sentence per saved diagnosis on whether this run's settings meet the targets."""
        if isinstance(self.diagnoses, Skipped):
            return []
        out = []
        for name, d in self.diagnoses.items():
            own = self.own_settings.get(name)
            where = COHORTS.get(name, name)
            if own is None:
                out.append(f"On {where} no saved row has this run's exact settings.")
            elif d.met(own):
                out.append(
                    f"On {where} these settings ({own}) meet both targets for "
                    f"{', '.join(TARGET_VESSELS)}."
                )
            else:
                out.append(
                    f"On {where} these settings ({own}) miss: {'; '.join(d.shortfalls(own))}."
                )
        return out

    def numbers(self) -> dict[str, object]:
        return {
            "diagnosis_gap": GAP,
            "diagnosis_margin": MARGIN,
            "diagnosis_verdicts": " ".join(self.verdicts()) or "No saved diagnosis applies.",
        }

    def skipped(self) -> list[Skipped]:
        return skipped_of([self.diagnoses])


def analyse(run: RunParams) -> DemoDiagnosis:
    """The saved demo diagnoses and which of their rows are ``run``'s settings."""
    if run.demo is None:
        return DemoDiagnosis(
            Skipped(
                "The demo diagnosis",
                "this run is not on the demo cohort (the diagnosis explains the demo's settings)",
            ),
            {},
        )
    found = demo_diagnoses()
    if not found:
        return DemoDiagnosis(
            Skipped("The demo diagnosis", "no saved diagnosis is in benchmarks/results"), {}
        )
    model, train = dataclasses.asdict(run.model), dataclasses.asdict(run.train)
    own = {name: d.settings_matching(model, train) for name, d in found.items()}
    return DemoDiagnosis(found, own)
