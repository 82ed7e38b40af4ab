"""A run's predictions, joined to its cohort: the input every results chapter starts from.

:func:`load_results` reads the run's prediction tables (:mod:`ecglib.train.predict`) and joins
them, by cohort-table row, to the labels, grades and covariates of the cohort
(:func:`join_results`):

* ``oof``: the internal cohort's pooled out-of-fold predictions (every internal row predicted
  once, by the model of the fold that held it out), with its ``fold``;
* ``external``: the external cohort's predictions, the mean of the fold models' probabilities
  (:func:`ecglib.train.predict.mean_external`), or ``None`` when the cohort has no external site
  (the reason is in ``skipped``);
* :meth:`RunResults.fold` (one fold's held-out predictions) and :meth:`RunResults.normal_ecg`
  (the out-of-fold predictions of ECGs read as normal).

The joined tables hold **no identifier and no date**. Patients and CCTA examinations are
represented by pseudonymous integer codes (``patient``, ``exam``: the order of first appearance
in the cohort table) that the clustered bootstraps and the patient-level analyses group by, and
two ranks replace the times: ``exam_order`` (1 = the patient's first CCTA) and ``ecg_order``
(1 = the examination's latest ECG before the CCTA, the *index ECG*).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecglib import schema
from ecglib.config import RunParams
from ecglib.data.prepare import read_cohort
from ecglib.data.run_folds import EXTERNAL, internal_mask
from ecglib.errors import DataError, MissingInputError
from ecglib.metrics.resamples import PatientResamples, patient_resamples
from ecglib.paths import RunPaths
from ecglib.train.predict import join_cohort, mean_external, read_oof

__all__ = [
    "COVARIATES",
    "POPULATIONS",
    "RunResults",
    "cohort_keys",
    "join_results",
    "load_results",
]

#: The populations a run's predictions describe (:meth:`RunResults.resamples`).
POPULATIONS: tuple[str, ...] = ("oof", "external")

#: Cohort columns joined to the predictions when the cohort has them.
COVARIATES: tuple[str, ...] = (
    "site",
    "age",
    "sex",
    "symptom",
    "normal_ecg",
    "ecg_ccta_hours",
    "followup_days",
    "followup_event",
    "followup_competing",
    *schema.RISK_FACTORS,
)


def cohort_keys(cohort: pd.DataFrame) -> pd.DataFrame:
    """Pseudonymous keys of every cohort row, on the cohort's index.

    ``patient`` and ``exam``: integer codes of ``patient_id`` and ``ccta_id`` in order of first
    appearance; ``exam_order``: 1 for the patient's earliest CCTA (by CCTA time), 2 for the next;
    ``ecg_order``: 1 for the examination's latest ECG (by ECG time; every ECG precedes its CCTA,
    so this is the ECG closest before it), 2 for the one before. Ties keep the table order.
    """
    for column in ("patient_id", "ccta_id", "ecg_time", "ccta_time"):
        if column not in cohort.columns:
            raise KeyError(
                f"the cohort table has no {column} column (read it with "
                "ecglib.data.prepare.read_cohort)"
            )
    patient = pd.factorize(cohort["patient_id"])[0]
    exam = pd.factorize(cohort["ccta_id"])[0]
    exams = pd.DataFrame(
        {"patient": patient, "exam": exam, "t": cohort["ccta_time"].to_numpy()}
    ).drop_duplicates("exam")
    exams["exam_order"] = (
        exams.sort_values("t", kind="stable").groupby("patient").cumcount().reindex(exams.index) + 1
    )
    order = (
        pd.Series(cohort["ecg_time"].to_numpy()).groupby(exam).rank(method="first", ascending=False)
    )
    out = pd.DataFrame({"patient": patient, "exam": exam}, index=cohort.index)
    out["exam_order"] = out["exam"].map(exams.set_index("exam")["exam_order"]).astype(int)
    out["ecg_order"] = order.to_numpy().astype(int)
    return out


def join_results(
    predictions: pd.DataFrame, cohort: pd.DataFrame, keys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Predictions (``row``, ``p_*``, maybe ``fold``) with the cohort's grades, labels, the
    :data:`COVARIATES` it has, and the pseudonymous keys of :func:`cohort_keys`. No identifier
    or date is carried over; a prediction row that is not in the cohort raises."""
    rows = predictions["row"].to_numpy()
    unknown = ~np.isin(rows, cohort.index.to_numpy())
    if unknown.any():
        raise DataError(
            f"row {int(rows[unknown][0])}",
            "has predictions but is not in the cohort "
            "table: the predictions are from another cohort; retrain the folds",
        )
    keys = cohort_keys(cohort) if keys is None else keys
    present = [c for c in COVARIATES if c in cohort.columns]
    joined = join_cohort(predictions, cohort)
    if present:
        joined = pd.concat(
            [joined, join_cohort(predictions[["row"]], cohort, present).drop(columns="row")], axis=1
        )
    return pd.concat([joined, keys.loc[rows].reset_index(drop=True)], axis=1)


@dataclass
class RunResults:
    """A run's predictions for the evaluation chapters (module docstring)."""

    params: RunParams
    #: Internal pooled out-of-fold predictions, joined (one row per internal ECG).
    oof: pd.DataFrame
    #: External predictions (mean of the fold models), joined; None when there is none.
    external: pd.DataFrame | None
    #: Parts that cannot be computed, and why (``"external"`` when there is no external site).
    skipped: dict[str, str] = field(default_factory=dict)
    _resamples: dict[str, PatientResamples] = field(default_factory=dict, repr=False)

    @property
    def folds(self) -> list[int]:
        return sorted(int(f) for f in pd.unique(self.oof["fold"]))

    @property
    def n_fold_models(self) -> int:
        """Models averaged for the external predictions (0 without an external site)."""
        if self.external is None:
            return 0
        return int(self.external["n_models"].iloc[0])

    def fold(self, k: int) -> pd.DataFrame:
        """The held-out predictions of fold ``k`` (its own model's, predicted once)."""
        if int(k) not in self.folds:
            raise KeyError(f"no fold {k}; the run has folds {self.folds}")
        return self.oof[self.oof["fold"] == int(k)].reset_index(drop=True)

    def normal_ecg(self) -> pd.DataFrame:
        """Out-of-fold predictions of the internal ECGs read as normal (``normal_ecg == 1``).

        Raises :class:`MissingInputError` when the cohort has no normal/abnormal recoding of the
        ECG read, or no internal ECG was read as normal.
        """
        if "normal_ecg" not in self.oof.columns or self.oof["normal_ecg"].isna().all():
            raise MissingInputError(
                "the cohort has no clinical ECG read recoded as normal or "
                "abnormal (the normal_ecg column; see the map's "
                "normal_ecg patterns)"
            )
        subset = self.oof[self.oof["normal_ecg"] == 1].reset_index(drop=True)
        if subset.empty:
            raise MissingInputError("no internal ECG was read as normal")
        return subset

    def resamples(self, population: str = "oof") -> PatientResamples:
        """The run's one set of patient resamples of a population (``"oof"``: the internal
        out-of-fold predictions; ``"external"``), drawn once and shared by every bootstrap
        interval of every chapter (:mod:`ecglib.metrics.resamples`).

        ``evaluation.n_bootstrap`` resamples, seeded from the run's ``seed`` (the external
        population from ``seed + 1``, so the two are independent draws).
        """
        if population not in POPULATIONS:
            raise ValueError(f"population must be one of {POPULATIONS}, got {population!r}")
        if population not in self._resamples:
            table = self.oof if population == "oof" else self.require_external()
            self._resamples[population] = patient_resamples(
                table["patient"],
                self.params.evaluation.n_bootstrap,
                seed=self.params.seed + POPULATIONS.index(population),
            )
        return self._resamples[population]

    def require_external(self) -> pd.DataFrame:
        """The external predictions, or :class:`MissingInputError` with the reason."""
        if self.external is None:
            raise MissingInputError(self.skipped.get("external", "there is no external cohort"))
        return self.external


def load_results(params: RunParams) -> RunResults:
    """The run's predictions joined to its cohort (module docstring).

    Every internal row must have exactly one out-of-fold prediction (a missing fold file or a
    stale prediction raises :class:`DataError` naming it). Without external rows in the cohort
    ``external`` is None and ``skipped["external"]`` says why; with them, every fold's external
    file must exist.
    """
    paths = RunPaths.of(params)
    cohort = read_cohort(paths.cohort)
    keys = cohort_keys(cohort)
    oof = read_oof(params)
    internal_rows = cohort.index[internal_mask(cohort)]
    missing = internal_rows.difference(pd.Index(oof["row"]))
    extra = pd.Index(oof["row"]).difference(internal_rows)
    if len(missing) or len(extra):
        raise DataError(
            str(paths.predictions),
            f"the out-of-fold predictions do not match the cohort's internal rows "
            f"({len(missing)} internal rows unpredicted, {len(extra)} predicted rows "
            "not internal): the cohort changed after training; retrain the folds",
        )
    skipped: dict[str, str] = {}
    external = None
    if internal_mask(cohort).all():
        skipped["external"] = f"the cohort has no external site (no row with site '{EXTERNAL}')"
    else:
        mean = mean_external(params, write=False)
        external_rows = cohort.index[~internal_mask(cohort)]
        if not pd.Index(mean["row"]).sort_values().equals(external_rows.sort_values()):
            raise DataError(
                str(paths.predictions),
                "the external predictions do not cover the cohort's external rows: "
                "the cohort changed after training; retrain the folds",
            )
        external = join_results(mean, cohort, keys)
    return RunResults(
        params=params, oof=join_results(oof, cohort, keys), external=external, skipped=skipped
    )
