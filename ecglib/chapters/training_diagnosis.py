"""The training overview page: for a demo run, why the demo trains the way it does (the saved
diagnosis of its settings, issue 17).

The diagnosis (``benchmarks/diagnose_demo.py``, read by :mod:`ecglib.report.diagnosis`) is made
once, on the demo cohort, not by the book's run: the page shows it with the date and commit it
was made on, and says which of its rows are this run's own settings. A run on a hospital cohort
gets a skip: the diagnosis explains the demo's settings, not a study's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from ecglib.chapters.parts import Skipped
from ecglib.config import PROJECT_ROOT, RunParams, load_params
from ecglib.demo.cohort import SIZES
from ecglib.report.diagnosis import GAP, MARGIN, TARGET_VESSELS, Diagnosis, demo_diagnoses

__all__ = ["DemoDiagnosis", "analyse"]

#: The params file of the medium-sized demo cohort.
LARGE_PARAMS = "params/demo_large.yaml"
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
    #: The medium-sized cohort's internal ECGs over the demo book's (:func:`size_ratio`).
    size_ratio: float = float("nan")

    def table(self, name: str) -> pd.DataFrame | None:
        """The saved diagnosis ``name``'s five-fold table for the page; None when it is not saved
        or does not apply (the page shows nothing for it)."""
        return self.tables().get(name)

    def text(self) -> str:
        """The page's paragraph: what the diagnosis measured, the targets and this run's
        verdicts, or why it does not apply."""
        if isinstance(self.diagnoses, Skipped):
            return self.diagnoses.message
        return (
            "The demo's training settings were chosen by a diagnosis made once on the demo "
            "cohort (benchmarks/diagnose_demo.py): variants of the settings trained on the "
            "same patient-grouped folds, each vessel's out-of-fold AUC set against a logistic "
            "regression on the 12 per-lead ST levels fitted on the same folds, and each output's "
            "AUC among ECGs with severe disease in another vessel set against the best other "
            "output's (the margin: how vessel-specific the output is). The targets: the network "
            f"at most {GAP:.2f} below the regression and its own output at least {MARGIN:.2f} "
            f"ahead of the others, for {', '.join(TARGET_VESSELS)} (the LM has too few events). "
            + " ".join(self.verdicts())
        )

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
            "diagnosis_text": self.text(),
            "diagnosis_large_text": self.large_text(),
        }

    def large_text(self) -> str:
        """The sentence before the medium-sized cohort's table: what it shows, or that it has
        not been saved (and how to make it)."""
        if isinstance(self.diagnoses, Skipped):
            return "Nothing to show for the medium-sized cohort either."
        times = f"{self.size_ratio:.1f} times the demo book's internal ECGs"
        if "diagnose_demo_large" in self.diagnoses:
            text = f"The same settings on the medium-sized cohort ({LARGE_PARAMS}, {times})"
            minutes = self.large_minutes()
            if minutes is not None:
                text += f"; its five folds trained in {minutes:.0f} minutes on two CPU cores"
            return f"{text}. {self.cause()}".rstrip()
        return (
            f"No diagnosis of the medium-sized cohort ({LARGE_PARAMS}, {times}) has been saved "
            "yet: benchmarks/diagnose_demo.py --base "
            "params/demo_large.yaml --variants baseline --out "
            "benchmarks/results/diagnose_demo_large makes it (about 25 minutes on two idle "
            "cores) and this page then shows it."
        )

    def large_minutes(self) -> float | None:
        """Minutes the medium-sized cohort's diagnosis took to train this run's settings' five
        folds (its measured seconds per fold), or None."""
        if isinstance(self.diagnoses, Skipped) or "diagnose_demo_large" not in self.diagnoses:
            return None
        own = self.own_settings.get("diagnose_demo_large")
        rows = self.diagnoses["diagnose_demo_large"].rows
        if own is None or "seconds_per_fold" not in rows:
            return None
        seconds = rows.loc[rows["variant"] == own, "seconds_per_fold"].dropna()
        folds = rows.loc[rows["variant"] == own, "folds"].astype(str).str.split().str.len()
        return float(seconds.iloc[0] * folds.iloc[0] / 60) if len(seconds) else None

    def cause(self) -> str:
        """What the two saved diagnoses say together about the demo network's gap: whether this
        run's settings meet the targets on the demo book's cohort, on the medium-sized one, and
        whether any settings tried on the small cohort met them ("" without both)."""
        if isinstance(self.diagnoses, Skipped) or set(self.diagnoses) != set(COHORTS):
            return ""
        small, large = self.diagnoses["diagnose_demo"], self.diagnoses["diagnose_demo_large"]
        own_small, own_large = (self.own_settings.get(n) for n in COHORTS)
        if own_small is None or own_large is None:
            return ""
        tried = list(dict.fromkeys(small.targets()["variant"]))
        any_small = [v for v in tried if small.met(v)]
        if small.met(own_small):
            return "These settings meet both targets on the demo book's cohort already."
        if not large.met(own_large):
            return (
                f"With {self.size_ratio:.1f} times the ECGs these settings still miss: "
                f"{'; '.join(large.shortfalls(own_large))}."
            )
        on_small = (
            f"none of the {len(tried)} settings tried on the demo book's cohort met both"
            if not any_small
            else f"on the demo book's cohort only {', '.join(any_small)} met both"
        )
        return (
            f"With {self.size_ratio:.1f} times the ECGs the same network and training meet both "
            "targets for "
            f"{', '.join(TARGET_VESSELS)}, while {on_small}: what the demo book's network "
            "lacks is ECGs, not a different recipe."
        )

    def skipped(self) -> list[Skipped]:
        """Nothing: a diagnosis that does not apply says so in its own section (:meth:`text`)."""
        return []


def analyse(run: RunParams) -> DemoDiagnosis:
    """The saved demo diagnoses and which of their rows are ``run``'s settings (what the run
    trained is the page's model notice, :func:`ecglib.chapters.page.setup`)."""
    if run.demo is None:
        reason = "this run is not on the demo cohort (the diagnosis explains the demo's settings)"
        return DemoDiagnosis(Skipped("The demo diagnosis", reason), {})
    found = demo_diagnoses()
    if not found:
        reason = "no saved diagnosis is in benchmarks/results"
        return DemoDiagnosis(Skipped("The demo diagnosis", reason), {})
    model, train = dataclasses.asdict(run.model), dataclasses.asdict(run.train)
    own = {name: d.settings_matching(model, train) for name, d in found.items()}
    return DemoDiagnosis(found, own, size_ratio(run))


def size_ratio(run: RunParams) -> float:
    """Internal ECGs of the medium-sized demo cohort (:data:`LARGE_PARAMS`) over ``run``'s."""
    large = load_params(PROJECT_ROOT / LARGE_PARAMS)
    return SIZES[large.demo.size].internal.ecgs / SIZES[run.demo.size].internal.ecgs
