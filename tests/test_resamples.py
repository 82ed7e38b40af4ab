"""The run's shared patient resamples (ecglib.metrics.resamples)."""

import numpy as np
import pandas as pd
import pytest

from ecglib.metrics.resamples import (
    loop_reference,
    patient_resamples,
    percentile_interval,
    resample_rows,
    weighted_mean,
    weighted_rate,
)


def _table(seed=0, n_patients=60):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, n_patients)
    patient = np.repeat(np.arange(n_patients) * 3 + 11, sizes)  # codes need not be 0..K-1
    y = np.repeat(rng.random(n_patients) < 0.3, sizes).astype(int)
    p = np.clip(0.3 * y + rng.random(len(patient)) * 0.7, 0, 1)
    return pd.DataFrame({"patient": patient, "y": y, "p": p})


def test_whole_patients_are_drawn_with_all_their_rows():
    table = _table()
    res = patient_resamples(table["patient"], 50, seed=3)
    w = res.weights(table["patient"])
    assert w.shape == (50, len(table))
    assert (res.counts.sum(axis=1) == res.n_patients).all()
    # Rows of one patient always carry the same weight.
    per_patient = pd.DataFrame(w.T).groupby(table["patient"].to_numpy()).nunique()
    assert (per_patient.to_numpy() == 1).all()
    # The total weight of a resample is the number of rows its drawn patients hold.
    sizes = table.groupby("patient").size().reindex(res.patients).to_numpy()
    assert np.array_equal(w.sum(axis=1), res.counts @ sizes)


def test_same_seed_same_resamples_and_a_subset_reuses_its_patients_draws():
    table = _table()
    a = patient_resamples(table["patient"], 20, seed=1)
    b = patient_resamples(table["patient"].sample(frac=1, random_state=0), 20, seed=1)
    assert np.array_equal(a.counts, b.counts)
    sub = table[table["p"] > 0.5]
    assert np.array_equal(a.weights(sub["patient"]), a.weights(table["patient"])[:, sub.index])
    assert not np.array_equal(a.counts, patient_resamples(table["patient"], 20, seed=2).counts)


def test_a_row_outside_the_population_is_refused():
    table = _table()
    res = patient_resamples(table["patient"], 5)
    with pytest.raises(ValueError, match="outside the resampled population.*code 4"):
        res.weights([11, 4])
    with pytest.raises(ValueError, match="no patient code"):
        patient_resamples([1, None], 5)
    with pytest.raises(ValueError, match="n_boot"):
        patient_resamples([1, 2], 0)


def test_weighted_rate_equals_the_materialised_resample():
    table = _table(1)
    res = patient_resamples(table["patient"], 200, seed=5)
    w = res.weights(table["patient"])
    flagged = (table["p"] >= 0.4).to_numpy()
    y = table["y"].to_numpy().astype(bool)
    sens = weighted_rate(w, flagged, among=y)

    def sensitivity(t):
        pos = t["y"] == 1
        if not pos.any():
            raise ValueError("no positive")
        return float((t.loc[pos, "p"] >= 0.4).mean())

    assert np.allclose(sens, loop_reference(sensitivity, table, w), equal_nan=True)
    brier = weighted_mean(w, (table["p"] - table["y"]) ** 2)
    ref = loop_reference(lambda t: float(((t["p"] - t["y"]) ** 2).mean()), table, w)
    assert np.allclose(brier, ref)
    # Several columns at once, one per threshold.
    thresholds = np.array([0.2, 0.5, 0.8])
    many = weighted_rate(w, table["p"].to_numpy()[:, None] >= thresholds, among=y)
    assert many.shape == (200, 3)
    assert np.allclose(many[:, 1], weighted_rate(w, table["p"] >= 0.5, among=y), equal_nan=True)


def test_undefined_resamples_are_nan_and_left_out_of_the_interval():
    w = np.array([[1, 0], [0, 1], [2, 0]])
    rate = weighted_rate(w, [1, 0], among=[1, 0])
    assert np.isnan(rate[1]) and rate[0] == 1 and rate[2] == 1
    lo, hi = percentile_interval(rate)
    assert lo == hi == 1
    lo, hi = percentile_interval(np.full((4, 2), np.nan))
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_percentile_interval_matches_numpy_and_cluster_bootstrap_widens_the_interval():
    v = np.random.default_rng(0).normal(size=1000)
    lo, hi = percentile_interval(v, 0.9)
    assert (lo, hi) == tuple(np.percentile(v, [5, 95]))
    # Perfectly correlated rows within a patient: the patient bootstrap's spread of a mean is
    # that of the patients, wider than the spread the rows alone would suggest.
    rng = np.random.default_rng(1)
    patient = np.repeat(np.arange(100), 8)
    value = np.repeat(rng.normal(size=100), 8)
    res = patient_resamples(patient, 2000, seed=0)
    sd = weighted_mean(res.weights(patient), value).std()
    assert sd == pytest.approx(value[::8].std() / 10, rel=0.1)
    assert sd > 2 * value.std() / np.sqrt(len(value))
    assert np.array_equal(resample_rows([0, 2, 1]), [1, 1, 2])


def test_run_results_share_one_set_of_resamples_per_population(ci_run):
    from ecglib.chapters.predictions import load_results

    results = load_results(ci_run)
    a = results.resamples("oof")
    assert a is results.resamples("oof")
    assert a.n_boot == ci_run.evaluation.n_bootstrap and a.seed == ci_run.seed
    assert set(a.patients) == set(results.oof["patient"])
    with pytest.raises(ValueError, match="population"):
        results.resamples("everyone")


def test_table_weights_need_the_patient_column_and_the_method_is_stated():
    table = _table()
    res = patient_resamples(table["patient"], 10, seed=0)
    assert np.array_equal(res.table_weights(table), res.weights(table["patient"]))
    with pytest.raises(KeyError, match="'patient' column"):
        res.table_weights(table.drop(columns="patient"))
    assert res.describe() == "95% percentile, patient bootstrap (10 resamples)"
