"""The analyses of real records that know no run (ecglib.real.collection, beat_yield, st_groups,
ptb_records, prediction_groups) on the real records of ../shared/data.

The records tests skip, with the reason, when ../shared/data is absent. What they check on the
real records:

- every record is in exactly one outcome of the yield tables (per source and per rhythm);
- records coded ST depression, compared with sinus-rhythm-only records, have a *negative* ST
  shift (depression) in the leads where the groups differ significantly, and records coded ST
  elevation a *positive* one. A diffuse subendocardial pattern lowers the ST segment in the
  inferior and lateral leads and raises it in aVR; an ST-elevation code does not name its
  leads, so fewer leads reach significance there. The assertions follow that physiology, on
  the majority of the significant leads.

The chapter that uses them with a run (predictions, skipped parts, the page) is tested in
``tests/test_chapter_real_ecgs.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecglib import schema
from ecglib.errors import MissingInputError
from ecglib.real.beat_yield import (
    OUTCOMES,
    RHYTHM_CATEGORIES,
    exclusion_table,
    real_beats,
    rhythm_category,
    yield_table,
)
from ecglib.real.collection import (
    REAL_DATA_ENV,
    default_real_data_dir,
    real_data_dir,
    sources_table,
)
from ecglib.real.prediction_groups import (
    OTHER,
    predicted_vessels,
    prediction_group,
    prediction_summary,
)
from ecglib.real.ptb_records import ptb_table
from ecglib.real.st_groups import compare_st, st_group

#: Leads where ischaemic ST depression is expected (lateral, inferior and high-lateral leads).
DEPRESSION_LEADS = {"I", "II", "III", "aVF", "aVL", "V3", "V4", "V5", "V6"}
#: The reciprocal lead of a diffuse ST depression.
RECIPROCAL = "aVR"


# ------------------------------------------------------------------------------------------
# without the records
# ------------------------------------------------------------------------------------------
def test_real_data_dir_is_shared_data_beside_the_repository_and_overridable(tmp_path, monkeypatch):
    from ecglib.config import PROJECT_ROOT

    assert default_real_data_dir() == PROJECT_ROOT.parent / "shared" / "data"
    monkeypatch.setenv(REAL_DATA_ENV, str(tmp_path / "absent"))
    with pytest.raises(MissingInputError, match="ECGLIB_REAL_DATA"):
        real_data_dir()
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(REAL_DATA_ENV, str(tmp_path / "empty"))
    with pytest.raises(MissingInputError, match="no WFDB header"):
        real_data_dir()
    (tmp_path / "empty" / "x.hea").write_text("x 12 500 5000\n")
    assert real_data_dir() == tmp_path / "empty"


def test_st_groups_are_defined_by_the_codes():
    assert st_group("429622005") == "ST depression"
    assert st_group("426783006,429622005,164865005") == "ST depression"
    assert st_group("164931005") == "ST elevation"
    assert st_group("429622005,164931005") is None  # both: neither group
    assert st_group("426783006") == "sinus rhythm only"
    assert st_group(["426783006"]) == "sinus rhythm only"
    assert st_group("426783006,59118001") is None  # sinus plus RBBB: not "only"
    assert st_group("426177001") is None  # sinus bradycardia
    assert st_group("") is None and st_group(None) is None


def test_rhythm_category_separates_not_stated_from_other():
    records = pd.DataFrame(
        {
            "rhythm": ["sinus", "AF/flutter", "other", "other", None],
            "rhythm_stated": [True, True, True, False, None],
        }
    )
    assert rhythm_category(records).tolist() == [
        "sinus",
        "AF/flutter",
        "other",
        "not stated",
        "not stated",
    ]


# ------------------------------------------------------------------------------------------
# on the real records
# ------------------------------------------------------------------------------------------
def test_every_record_is_accounted_for_in_the_yield_tables(real, data_dir):
    n_headers = len(list(data_dir.rglob("*.hea")))
    records = real.records
    assert len(records) == n_headers
    assert records["outcome"].isin(OUTCOMES).all()
    assert ((records["stage"] == "") == (records["outcome"] == "averaged")).all()
    assert real.averaged.sum() == np.isfinite(real.average).all(axis=(1, 2)).sum()
    for by in ("source", "rhythm_category"):
        table = yield_table(real, by)
        outcomes = table.drop(columns=["records", "yield_pct"])
        assert (outcomes.sum(axis=1) == table["records"]).all(), by
        assert table.loc["total", "records"] == n_headers
        assert (
            table.drop(index="total").sum().drop("yield_pct")
            == table.loc["total"].drop("yield_pct")
        ).all()
    assert set(yield_table(real, "rhythm_category").index) == {*RHYTHM_CATEGORIES, "total"}
    excluded = exclusion_table(real)
    assert len(excluded) == n_headers - real.averaged.sum()
    assert "record" not in excluded.columns and excluded["detail"].str.len().gt(0).all()
    # the rejected-at-loading records are exactly load_records' rejections
    assert (records["stage"] == "loading").sum() == (records["status"] == "rejected").sum()


def test_chunked_reading_gives_the_same_beats(real):
    from ecglib.real.records import COLUMNS

    not_averaged = real.records.index[~real.averaged][:3].tolist()
    subset = real.records.loc[sorted({*real.records.index[::25], *not_averaged}), list(COLUMNS)]
    whole = real_beats(real.data_dir, records=subset)
    chunked = real_beats(real.data_dir, records=subset, chunk_size=3)
    np.testing.assert_array_equal(whole.average, chunked.average)
    pd.testing.assert_frame_equal(whole.records, chunked.records)
    assert (~whole.averaged).sum() == len(not_averaged)
    original = real.average[subset.index]
    np.testing.assert_allclose(whole.average, original, equal_nan=True)


def test_sources_carry_their_licences(real):
    sources = sources_table(real).set_index("source")
    assert sources["records"].sum() == len(real.records)
    assert set(sources.loc[sources["folder"] == "cinc", "licence"]) == {"CC BY 4.0"}
    assert sources.loc["ptbdb", "licence"] == "ODC-By 1.0"


@pytest.fixture(scope="module")
def st_depression(real):
    return compare_st(real, "ST depression")


@pytest.fixture(scope="module")
def st_elevation(real):
    return compare_st(real, "ST elevation")


def test_st_depression_records_show_st_depression(st_depression):
    st = st_depression
    assert st.shift["n_group"].iloc[0] >= 10 and st.shift["n_reference"].iloc[0] >= 30
    sig = st.significant.set_index("lead")
    assert len(sig) >= 4, st.shift
    depressed = sig[sig["shift"] < 0]
    assert len(depressed) / len(sig) >= 0.75, sig  # most significant leads: depression
    # in the leads where ischaemic ST depression is expected, every significant shift is negative
    expected = sig.loc[sig.index.isin(DEPRESSION_LEADS)]
    assert len(expected) >= 3 and (expected["shift"] < 0).all(), expected
    assert {"V5", "V6"} <= set(depressed.index)  # the classic lateral leads
    if RECIPROCAL in sig.index:  # aVR mirrors a diffuse depression
        assert sig.loc[RECIPROCAL, "shift"] > 0
    assert (sig["direction"] == np.where(sig["shift"] < 0, "depression", "elevation")).all()
    # the pointwise comparison (the interpretability chapter's statistics) agrees
    cmp = st.comparison
    a, b = cmp.delineation.segments()["ST segment"]
    leads_with_st_difference = [
        lead
        for i, lead in enumerate(cmp.leads)
        if cmp.significant[i, a:b].any() and cmp.diff[i, a:b].mean() < 0
    ]
    assert len(leads_with_st_difference) >= 4


def test_st_elevation_records_show_st_elevation(st_elevation):
    st = st_elevation
    sig = st.significant.set_index("lead")
    assert len(sig) >= 2, st.shift
    elevated = sig[sig["shift"] > 0]
    assert len(elevated) / len(sig) > 0.5, sig  # most significant leads: elevation
    precordial = sig.loc[sig.index.str.startswith("V")]
    assert len(precordial) >= 1 and (precordial["shift"] > 0).all(), precordial
    if RECIPROCAL in sig.index:
        assert sig.loc[RECIPROCAL, "shift"] < 0
    # and the group's mean ST level is above the reference's in most leads
    assert (st.shift["shift"] > 0).sum() >= 8


def test_the_two_st_groups_shift_in_opposite_directions(st_depression, st_elevation):
    d = st_depression.shift.set_index("lead")["shift"]
    e = st_elevation.shift.set_index("lead")["shift"]
    for lead in ("V4", "V5"):
        assert d[lead] < 0 < e[lead]


def test_ptb_table_has_the_six_records_with_their_grades(real):
    ptb = ptb_table(real)
    assert len(ptb) == 6 and ptb["patient"].nunique() == 4
    assert ptb["grade_LM"].isna().all()  # no LM field
    assert ptb.set_index("record").loc[
        "s0043lre", ["grade_RCA", "grade_LAD", "grade_LCX"]
    ].tolist() == [3, 2, 3]
    assert ptb["acute infarct"].notna().all()


def test_prediction_summary_describes_each_group_and_vessel():
    predictions = pd.DataFrame(
        {
            "st_group": ["ST depression", None, "sinus rhythm only", None],
            **{schema.prob_col(v): [0.1, 0.2, 0.3, 0.4] for v in schema.VESSELS},
        }
    )
    predictions[schema.prob_col("LM")] = np.nan  # a head never trained
    assert predicted_vessels(predictions) == ["RCA", "LAD", "LCX"]
    assert prediction_group(predictions).tolist() == [
        "ST depression",
        OTHER,
        "sinus rhythm only",
        OTHER,
    ]
    summary = prediction_summary(predictions, {v: 0.25 for v in schema.VESSELS}, by="group")
    assert summary["group"].unique().tolist() == ["sinus rhythm only", "ST depression", OTHER]
    other = summary[(summary["group"] == OTHER) & (summary["vessel"] == "RCA")].iloc[0]
    assert other["n"] == 2 and other["median"] == 0.3 and other["at_or_above_pct"] == 50.0
    assert set(summary["vessel"]) == {"RCA", "LAD", "LCX"}
