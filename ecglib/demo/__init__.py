"""The embedded synthetic demo cohort: ECG waveforms with a planted, vessel-specific signal.

- :mod:`ecglib.demo.ecg`: the dipole ECG simulator, built on :mod:`ecglib.demo.geometry`
  (electrodes, leads, :data:`PLANTED_TERRITORIES`) and :mod:`ecglib.demo.ecg_params` (what each
  ECG is made of); :mod:`ecglib.demo.measure` is its own check of the simulated beats;
- :mod:`ecglib.demo.cohort`: patients, CCTA exams, grades, symptoms, reads, follow-up;
- :mod:`ecglib.demo.export`: writes the raw hospital-style export (``export.csv`` + ``ecg/*.npy``).

Typical use::

    from ecglib.demo import write_demo_export, make_demo_cohort
    table_path = write_demo_export("runs/demo/raw", size="small", seed=0)
    truth = make_demo_cohort("small", seed=0).truth   # hidden grades and planted amplitudes
"""

from ecglib.demo.cohort import (
    EXPORT_COLUMNS,
    GRADE_TEXT,
    SIZES,
    SYMPTOM_TEXT,
    CohortSize,
    DemoCohort,
    SiteCounts,
    make_demo_cohort,
)
from ecglib.demo.ecg import simulate_ecgs, simulate_from_grades
from ecglib.demo.ecg_params import GRADE_ST_MV, EcgParams, RecordingSite, sample_ecg_params
from ecglib.demo.export import write_demo_export
from ecglib.demo.geometry import PLANTED_TERRITORIES, territory_sensitivity
from ecglib.demo.measure import measure_st_levels

__all__ = [
    "EXPORT_COLUMNS",
    "GRADE_TEXT",
    "SIZES",
    "SYMPTOM_TEXT",
    "CohortSize",
    "DemoCohort",
    "SiteCounts",
    "make_demo_cohort",
    "GRADE_ST_MV",
    "PLANTED_TERRITORIES",
    "EcgParams",
    "RecordingSite",
    "measure_st_levels",
    "sample_ecg_params",
    "simulate_ecgs",
    "simulate_from_grades",
    "territory_sensitivity",
    "write_demo_export",
]
