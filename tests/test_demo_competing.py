"""The demo's competing event (non-cardiovascular death): drawn from its own stream, so that every
other value of the cohort is what it was without it."""

import numpy as np
import pandas as pd
import pytest

from ecglib.demo import EXPORT_COLUMNS, make_demo_cohort
from ecglib.demo import cohort as demo_cohort

COLUMN = "Non-cardiovascular death"


@pytest.fixture(scope="module")
def paper():
    return make_demo_cohort("paper", seed=0)


def test_the_export_has_the_column_and_it_fits_the_follow_up(paper):
    table, truth = paper.table, paper.truth
    assert COLUMN in EXPORT_COLUMNS and COLUMN in table.columns
    assert set(table[COLUMN]) == {0, 1}
    assert (table.groupby("Patient ID")[COLUMN].nunique() == 1).all()
    first = ~truth["patient_id"].duplicated()  # one row per patient (table and truth align)
    patients, age = truth[first], table.loc[first, "Age"]
    died = patients["competing"].to_numpy()
    # never with MACE, and only where the follow-up ended before the administrative close
    # (365 days plus a visit window of up to 35)
    assert not (died & patients["mace"].to_numpy()).any()
    assert (patients.loc[died, "followup_days"] <= 400).all()
    # about a quarter of the early losses, 1-5% of the patients, likelier with age
    lost = (~patients["mace"] & (patients["followup_days"] < 365)).to_numpy()
    assert 0.15 < died[lost].mean() < 0.45
    assert 0.01 < died.mean() < 0.05
    older = (age >= 65).to_numpy()
    assert died[lost & older].mean() > died[lost & ~older].mean()


def test_another_competing_stream_changes_nothing_else(monkeypatch):
    base = make_demo_cohort("small", seed=3)
    monkeypatch.setattr(demo_cohort, "COMPETING_STREAM", demo_cohort.COMPETING_STREAM + 1)
    other = make_demo_cohort("small", seed=3)
    rest = [c for c in EXPORT_COLUMNS if c != COLUMN]
    pd.testing.assert_frame_equal(base.table[rest], other.table[rest])
    pd.testing.assert_frame_equal(
        base.truth.drop(columns="competing"), other.truth.drop(columns="competing")
    )
    np.testing.assert_array_equal(base.params.planted_mv, other.params.planted_mv)
    assert not base.table[COLUMN].equals(other.table[COLUMN])  # the stream is what draws it
    # the same seed draws the same competing events
    monkeypatch.undo()
    again = make_demo_cohort("small", seed=3)
    pd.testing.assert_series_equal(base.table[COLUMN], again.table[COLUMN])
