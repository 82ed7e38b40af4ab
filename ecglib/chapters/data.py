"""Chapter 00, data: from the run's export to the analysed cohort and its ECG store.

:func:`analyse` runs the data step of the run (:func:`ecglib.data.prepare.prepare_data`: the
export read through its column map, the study's inclusion rules, every ECG preprocessed once
into the store, and the cohort table and exclusion flow written into the run folder) and gives
the page its exclusion flow, the counts its text quotes, and what the store holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ecglib.config import RunParams
from ecglib.data.prepare import prepare_data

__all__ = ["Data", "analyse", "flow_numbers"]


@dataclass(frozen=True)
class Data:
    """What chapter 00 shows (:func:`analyse`)."""

    #: The exclusion flow with each step's stable ``kind``
    #: (:func:`ecglib.data.prepare.exclusion_flow`).
    flow: pd.DataFrame
    #: Patients of the analysed cohort.
    n_patients: int
    #: ECGs in the store, and the shape of its signal array.
    store_n: int
    store_shape: tuple[int, ...]
    #: Whether the store of an earlier run was reused (nothing changed) or built.
    store_reused: bool
    #: The run's length policy and filter (``signals:`` in the params).
    length_policy: str
    filter: str

    def flow_table(self) -> pd.DataFrame:
        """The exclusion flow as the page shows it and ``exclusions.csv`` holds it: ``step``,
        ``excluded``, ``remaining``."""
        return self.flow.drop(columns="kind")

    def store_summary(self) -> pd.DataFrame:
        """What the store holds and how the ECGs were preprocessed."""
        items = {
            "ECGs in the store": f"{self.store_n:,}",
            "array shape": " x ".join(map(str, self.store_shape)),
            "length policy": self.length_policy,
            "filter": self.filter,
        }
        return pd.DataFrame(
            {"value": list(items.values())}, index=pd.Index(list(items), name="store")
        )

    def numbers(self) -> dict[str, object]:
        return {
            **flow_numbers(self.flow),
            "n_patients": self.n_patients,
            "store_n": self.store_n,
            "store_reused": (
                "reused the store of an earlier run" if self.store_reused else "built the store"
            ),
        }

    def outputs(self) -> Mapping[str, object]:
        """Nothing besides what the data step wrote itself (``cohort.csv``, ``exclusions.csv``)."""
        return {}

    def skipped(self) -> list:
        return []


def analyse(run: RunParams, *, progress: bool = True) -> Data:
    """Chapter 00 of ``run`` (module docstring); writes the run's cohort table, exclusion flow
    and store (an unchanged store is reused)."""
    data = prepare_data(run, progress=progress)
    return Data(
        flow=data.flow,
        n_patients=int(data.cohort["patient_id"].nunique()),
        store_n=len(data.store),
        store_shape=tuple(data.store.signals.shape),
        store_reused=bool(data.store.reused),
        length_policy=run.signals.length_policy,
        filter=run.signals.filter,
    )


def flow_numbers(flow: pd.DataFrame) -> dict[str, int]:
    """The flow's counts the chapter's text quotes: ``n_export`` (pairs in the export),
    ``n_analysed`` (left after every rule) and ``n_after`` (excluded because the ECG was taken
    after its CCTA, the paper's rule; selected by the step's ``kind``)."""
    return {
        "n_export": int(flow["remaining"].iloc[0]),
        "n_analysed": int(flow["remaining"].iloc[-1]),
        "n_after": int(flow.loc[flow["kind"] == "ecg_after_ccta", "excluded"].sum()),
    }
