"""The real-ECG chapter's orchestration (ecglib.chapters.real_ecgs) on the real records of ../shared/data.

The records tests skip, with the reason, when ../shared/data is absent. What they check on the
real records:

- every record is in exactly one outcome of the yield tables (per source and per rhythm);
- records coded ST depression, compared with sinus-rhythm-only records, have a *negative* ST
  shift (depression) in the leads where the groups differ significantly, and records coded ST
  elevation a *positive* one. What the data show (22 ST-depression, 13 ST-elevation and 69
  sinus-only records, all averaged): ST depression is significant in I, II, III, aVF and V2-V6,
  with the reciprocal elevation in aVR (diffuse subendocardial pattern); ST elevation is
  significant in V4 and V5 only (13 records, almost all CPSC 2018, whose labels do not name
  leads). The assertions follow that physiology, on the majority of the significant leads.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from ecglib.chapters import real_ecgs as rs
from ecglib import schema
from ecglib.errors import MissingInputError
from ecglib.paths import RunPaths
from ecglib.train.fit import model_config
from ecglib.train.predict import load_fold_model, predict_probs
from ecglib.model import Net1D
from train_support import tiny_params

#: Leads where ischaemic ST depression is expected (lateral, inferior and high-lateral leads).
DEPRESSION_LEADS = {"I", "II", "III", "aVF", "aVL", "V3", "V4", "V5", "V6"}
#: The reciprocal lead of a diffuse ST depression.
RECIPROCAL = "aVR"


@pytest.fixture(scope="module")
def data_dir():
    try:
        return rs.real_data_dir()
    except MissingInputError as exc:
        pytest.skip(f"real ECG records not available: {exc.reason}")


@pytest.fixture(scope="module")
def real(data_dir):
    return rs.real_beats(data_dir)


# ------------------------------------------------------------------------------------------
# without the records
# ------------------------------------------------------------------------------------------
def test_real_data_dir_is_shared_data_beside_the_repository_and_overridable(tmp_path,
                                                                              monkeypatch):
    from ecglib.config import PROJECT_ROOT

    assert rs.default_real_data_dir() == PROJECT_ROOT.parent / "shared" / "data"
    monkeypatch.setenv(rs.REAL_DATA_ENV, str(tmp_path / "absent"))
    with pytest.raises(MissingInputError, match="ECGLIB_REAL_DATA"):
        rs.real_data_dir()
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(rs.REAL_DATA_ENV, str(tmp_path / "empty"))
    with pytest.raises(MissingInputError, match="no WFDB header"):
        rs.real_data_dir()
    (tmp_path / "empty" / "x.hea").write_text("x 12 500 5000\n")
    assert rs.real_data_dir() == tmp_path / "empty"


def test_st_groups_are_defined_by_the_codes():
    assert rs.st_group("429622005") == "ST depression"
    assert rs.st_group("426783006,429622005,164865005") == "ST depression"
    assert rs.st_group("164931005") == "ST elevation"
    assert rs.st_group("429622005,164931005") is None          # both: neither group
    assert rs.st_group("426783006") == "sinus rhythm only"
    assert rs.st_group(["426783006"]) == "sinus rhythm only"
    assert rs.st_group("426783006,59118001") is None           # sinus plus RBBB: not "only"
    assert rs.st_group("426177001") is None                    # sinus bradycardia
    assert rs.st_group("") is None and rs.st_group(None) is None


def test_rhythm_category_separates_not_stated_from_other():
    records = pd.DataFrame({"rhythm": ["sinus", "AF/flutter", "other", "other", None],
                            "rhythm_stated": [True, True, True, False, None]})
    assert rs.rhythm_category(records).tolist() == ["sinus", "AF/flutter", "other", "not stated",
                                                    "not stated"]


def test_missing_records_skip_the_chapter_not_crash(monkeypatch, tmp_path):
    from ecglib.chapters.run_results import Skipped, run_part

    monkeypatch.setenv(rs.REAL_DATA_ENV, str(tmp_path / "absent"))
    data_dir = run_part("This chapter", rs.real_data_dir)
    real = run_part("This chapter", rs.real_beats, data_dir)
    assert isinstance(real, Skipped) and "not available" in real.message
    assert run_part("x", rs.compare_st, real, "ST depression") is real
    numbers = rs.real_numbers(real, [real, real], real)
    assert np.isnan(numbers["real_records"]) and numbers["std_leads_depressed"] == "n/a"


# ------------------------------------------------------------------------------------------
# on the real records
# ------------------------------------------------------------------------------------------
def test_every_record_is_accounted_for_in_the_yield_tables(real, data_dir):
    n_headers = len(list(data_dir.rglob("*.hea")))
    records = real.records
    assert len(records) == n_headers
    assert records["outcome"].isin(rs.OUTCOMES).all()
    assert ((records["stage"] == "") == (records["outcome"] == "averaged")).all()
    assert real.averaged.sum() == np.isfinite(real.average).all(axis=(1, 2)).sum()
    for by in ("source", "rhythm_category"):
        table = rs.yield_table(real, by)
        outcomes = table.drop(columns=["records", "yield_pct"])
        assert (outcomes.sum(axis=1) == table["records"]).all(), by
        assert table.loc["total", "records"] == n_headers
        assert (table.drop(index="total").sum() .drop("yield_pct") ==
                table.loc["total"].drop("yield_pct")).all()
    assert set(rs.yield_table(real, "rhythm_category").index) == {*rs.RHYTHM_CATEGORIES, "total"}
    excluded = rs.exclusion_table(real)
    assert len(excluded) == n_headers - real.averaged.sum()
    assert "record" not in excluded.columns and excluded["detail"].str.len().gt(0).all()
    # the rejected-at-loading records are exactly load_records' rejections
    assert (records["stage"] == "loading").sum() == (records["status"] == "rejected").sum()


def test_chunked_reading_gives_the_same_beats(real):
    from ecglib.real.records import COLUMNS

    not_averaged = real.records.index[~real.averaged][:3].tolist()
    subset = real.records.loc[sorted({*real.records.index[::25], *not_averaged}), list(COLUMNS)]
    whole = rs.real_beats(real.data_dir, records=subset)
    chunked = rs.real_beats(real.data_dir, records=subset, chunk_size=3)
    np.testing.assert_array_equal(whole.average, chunked.average)
    pd.testing.assert_frame_equal(whole.records, chunked.records)
    assert (~whole.averaged).sum() == len(not_averaged)
    original = real.average[subset.index]
    np.testing.assert_allclose(whole.average, original, equal_nan=True)


def test_sources_carry_their_licences(real):
    sources = rs.sources_table(real).set_index("source")
    assert sources["records"].sum() == len(real.records)
    assert set(sources.loc[sources["folder"] == "cinc", "licence"]) == {"CC BY 4.0"}
    assert sources.loc["ptbdb", "licence"] == "ODC-By 1.0"


@pytest.fixture(scope="module")
def st_depression(real):
    return rs.compare_st(real, "ST depression")


@pytest.fixture(scope="module")
def st_elevation(real):
    return rs.compare_st(real, "ST elevation")


def test_st_depression_records_show_st_depression(st_depression):
    st = st_depression
    assert st.shift["n_group"].iloc[0] >= 10 and st.shift["n_reference"].iloc[0] >= 30
    sig = st.significant.set_index("lead")
    assert len(sig) >= 4, st.shift
    depressed = sig[sig["shift"] < 0]
    assert len(depressed) / len(sig) >= 0.75, sig            # most significant leads: depression
    # in the leads where ischaemic ST depression is expected, every significant shift is negative
    expected = sig.loc[sig.index.isin(DEPRESSION_LEADS)]
    assert len(expected) >= 3 and (expected["shift"] < 0).all(), expected
    assert {"V5", "V6"} <= set(depressed.index)             # the classic lateral leads
    if RECIPROCAL in sig.index:                             # aVR mirrors a diffuse depression
        assert sig.loc[RECIPROCAL, "shift"] > 0
    assert (sig["direction"] == np.where(sig["shift"] < 0, "depression", "elevation")).all()
    # the pointwise comparison (the interpretability chapter's statistics) agrees
    cmp = st.comparison
    a, b = cmp.delineation.segments()["ST segment"]
    leads_with_st_difference = [lead for i, lead in enumerate(cmp.leads)
                                if cmp.significant[i, a:b].any() and cmp.diff[i, a:b].mean() < 0]
    assert len(leads_with_st_difference) >= 4


def test_st_elevation_records_show_st_elevation(st_elevation):
    st = st_elevation
    sig = st.significant.set_index("lead")
    assert len(sig) >= 2, st.shift
    elevated = sig[sig["shift"] > 0]
    assert len(elevated) / len(sig) > 0.5, sig               # most significant leads: elevation
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
    ptb = rs.ptb_table(real)
    assert len(ptb) == 6 and ptb["patient"].nunique() == 4
    assert ptb["grade_LM"].isna().all()                                   # no LM field
    assert ptb.set_index("record").loc["s0043lre", ["grade_RCA", "grade_LAD", "grade_LCX"]
                                       ].tolist() == [3, 2, 3]
    assert ptb["acute infarct"].notna().all()


def test_predictions_are_the_mean_of_the_fold_models_and_need_a_trained_run(real, tmp_path):
    params = tiny_params(tmp_path)
    subset = dataclasses.replace(real, records=real.records[real.records["source"] == "ptbdb"])
    with pytest.raises(MissingInputError, match="trained"):
        rs.real_predictions(subset, params)
    paths = RunPaths.of(params).ensure()
    for fold in (0, 2):
        torch.manual_seed(fold)
        net = Net1D.from_config(model_config(params))
        torch.save({"state_dict": net.state_dict(), "model_config": net.config()},
                   paths.best_checkpoint(fold))
    preds = rs.real_predictions(subset, params)
    assert len(preds) == 6 and (preds["n_models"] == 2).all()
    assert not {"record", "patient_id", "ecg_id", "ecg_path"} & set(preds.columns)
    rows, signals = rs.real_model_inputs(subset, params)
    expected = np.mean([predict_probs(load_fold_model(params, k), signals, np.arange(len(rows)))
                        for k in (0, 2)], axis=0)
    np.testing.assert_allclose(preds[schema.prob_cols()].to_numpy(), expected, rtol=1e-6)
    assert pd.read_csv(paths.predictions / "real_mean.csv")["row"].tolist() == rows.tolist()
    anecdote = rs.ptb_predictions(subset, preds)
    assert anecdote[[f"{v} p" for v in schema.VESSELS]].notna().all().all()
    summary = rs.prediction_summary(preds, params.evaluation.high_risk_thresholds, by="group")
    assert set(summary["vessel"]) == set(schema.VESSELS)
