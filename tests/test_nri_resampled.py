"""The NRI on patients (ecglib.metrics.nri): the shared patient resamples, vectorised and checked
against the per-resample loop, and Pencina's z-test with the null variance summed per patient."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ecglib.metrics import nri
from ecglib.metrics.resamples import loop_reference, patient_resamples, percentile_interval

CATS = ("low", "mid", "high")


def _clustered(seed=0, n_patients=40, max_rows=4, missing=3):
    """Patients with 1-``max_rows`` examinations that share the label and, mostly, the move."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_rows + 1, n_patients)
    patient = np.repeat(np.arange(n_patients) * 7 + 3, sizes)
    y = np.repeat(rng.random(n_patients) < 0.35, sizes).astype(int)
    old = rng.integers(0, 3, len(patient))
    shared = np.repeat(rng.choice([-1, 0, 1], n_patients, p=[0.25, 0.45, 0.30]), sizes)
    own = rng.choice([-1, 0, 1], len(patient), p=[0.2, 0.6, 0.2])
    move = np.where(rng.random(len(patient)) < 0.8, shared, own)
    new = np.clip(old + move, 0, 2)
    table = pd.DataFrame(
        {
            "patient": patient,
            "y": y,
            "old": np.array(CATS, dtype=object)[old],
            "new": np.array(CATS, dtype=object)[new],
        }
    )
    table.loc[rng.choice(len(table), missing, replace=False), "old"] = None
    return table


def _loop(table, weights, field):
    def statistic(t):
        return getattr(nri.categorical_nri(t["y"], t["old"], t["new"], CATS), field)

    return loop_reference(statistic, table, weights)


@pytest.mark.parametrize("n_patients", [40, 6])
def test_resampled_nri_equals_the_loop_over_materialised_resamples(n_patients):
    # 6 patients: some resamples draw no event (or no non-event) and must be NaN in both
    table = _clustered(seed=n_patients, n_patients=n_patients, missing=2)
    w = patient_resamples(table["patient"], 300, seed=1).weights(table["patient"])
    boot = nri.resampled_nri(table["y"], table["old"], table["new"], CATS, weights=w)
    assert boot.shape == (300, 3)
    for field in ("nri", "nri_events", "nri_nonevents"):
        assert np.allclose(boot[field], _loop(table, w, field), equal_nan=True), field
    if n_patients == 6:
        assert 0 < boot["nri"].isna().sum() < 300
    assert boot["nri"].isna().equals(boot["nri_events"].isna())


def test_bootstrap_from_shared_weights_is_the_percentile_interval_of_the_loop():
    table = _clustered(seed=2)
    w = patient_resamples(table["patient"], 400, seed=5).weights(table["patient"])
    b = nri.nri_bootstrap(table["y"], table["old"], table["new"], CATS, weights=w)
    point = nri.categorical_nri(table["y"], table["old"], table["new"], CATS)
    loop = _loop(table, w, "nri")
    lo, hi = percentile_interval(loop)
    assert (b["nri_lo"], b["nri_hi"]) == pytest.approx((lo, hi))
    assert b["nri"] == pytest.approx(point.nri) and b["nri_events"] == pytest.approx(
        point.nri_events
    )
    assert b["n_boot"] == 400 and b["n_one_class"] == 0
    # 90% interval: alpha carries through
    b90 = nri.nri_bootstrap(table["y"], table["old"], table["new"], CATS, weights=w, alpha=0.1)
    assert (b90["nri_lo"], b90["nri_hi"]) == pytest.approx(percentile_interval(loop, 0.9))
    # patient ids instead of weights: the same resamples when drawn with the same seed
    g = nri.nri_bootstrap(
        table["y"], table["old"], table["new"], CATS, groups=table["patient"], n_boot=400, seed=5
    )
    assert g == b


def test_bad_weights_and_both_sources_are_refused():
    table = _clustered()
    w = patient_resamples(table["patient"], 10).weights(table["patient"])
    with pytest.raises(ValueError, match="shape"):
        nri.resampled_nri(table["y"], table["old"], table["new"], CATS, weights=w[:, 1:])
    with pytest.raises(ValueError, match="not both"):
        nri.nri_bootstrap(
            table["y"], table["old"], table["new"], CATS, weights=w, groups=table["patient"]
        )
    with pytest.raises(ValueError, match="no patient id"):
        nri.clustered_nri_test(
            table["y"], table["old"], table["new"], CATS, groups=[None] * len(table)
        )


def test_clustered_test_is_pencinas_with_one_row_per_patient():
    table = _clustered(seed=3, max_rows=1, missing=0)
    r = nri.categorical_nri(table["y"], table["old"], table["new"], CATS)
    t = nri.clustered_nri_test(
        table["y"], table["old"], table["new"], CATS, groups=table["patient"]
    )
    assert t["se_null"] == pytest.approx(r.se_null, rel=1e-12)
    assert t["z"] == pytest.approx(r.z, rel=1e-12) and t["p_value"] == pytest.approx(r.p_value)
    assert t["nri"] == pytest.approx(r.nri) and t["n_clusters"] == len(table)


def test_clustered_test_by_hand():
    # patient A: two events, up and up; patient B: an event down and a non-event down;
    # patient C: a non-event, unchanged; patient D: a non-event up.
    # n_e = 3, n_ne = 3; c = +1/3 for events, -1/3 for non-events
    # per patient sum of c*m: A = 2/3, B = -1/3 + 1/3 = 0, C = 0, D = -1/3
    # NRI = 1/3 (events: 2 up 1 down) + 0 (non-events: 1 down 1 up) = 1/3
    # se_null = sqrt(4/9 + 0 + 0 + 1/9) = sqrt(5)/3
    y = [1, 1, 1, 0, 0, 0]
    old = ["low", "low", "mid", "mid", "mid", "low"]
    new = ["mid", "high", "low", "low", "mid", "mid"]
    t = nri.clustered_nri_test(y, old, new, CATS, groups=["A", "A", "B", "B", "C", "D"])
    assert t["nri"] == pytest.approx(1 / 3)
    assert t["se_null"] == pytest.approx(np.sqrt(5) / 3)
    assert t["z"] == pytest.approx((1 / 3) / (np.sqrt(5) / 3))
    assert t["p_value"] == pytest.approx(2 * norm.sf(t["z"]))
    assert t["n_clusters"] == 4
    # nobody reclassified: no evidence either way
    same = nri.clustered_nri_test(y, old, old, CATS, groups=list("AABBCD"))
    assert (same["z"], same["p_value"]) == (0.0, 1.0)


def test_duplicated_examinations_leave_the_clustered_test_unchanged():
    table = _clustered(seed=4, max_rows=1, missing=0)
    twice = pd.concat([table, table], ignore_index=True)
    one = nri.clustered_nri_test(
        table["y"], table["old"], table["new"], CATS, groups=table["patient"]
    )
    two = nri.clustered_nri_test(
        twice["y"], twice["old"], twice["new"], CATS, groups=twice["patient"]
    )
    assert two["z"] == pytest.approx(one["z"]) and two["nri"] == pytest.approx(one["nri"])
    # Pencina's test, treating the copies as new patients, grows by sqrt(2)
    naive = nri.categorical_nri(twice["y"], twice["old"], twice["new"], CATS)
    assert naive.z == pytest.approx(np.sqrt(2) * one["z"])


def test_clustered_test_keeps_its_size_where_pencinas_does_not():
    # No improvement (up and down equally likely), each patient's examinations moving together:
    # the clustered test rejects about 5% of the time, Pencina's (rows independent) far more.
    rng = np.random.default_rng(13)
    reps, clustered, naive = 400, 0, 0
    for _ in range(reps):
        sizes = rng.integers(1, 6, 150)
        patient = np.repeat(np.arange(150), sizes)
        y = np.repeat(rng.random(150) < 0.4, sizes).astype(int)
        move = np.repeat(rng.choice([-1, 0, 1], 150, p=[0.3, 0.4, 0.3]), sizes)
        old = np.ones(len(patient), int)
        clustered += nri.clustered_nri_test(y, old, old + move, groups=patient)["p_value"] < 0.05
        naive += nri.categorical_nri(y, old, old + move).p_value < 0.05
    assert 0.02 <= clustered / reps <= 0.09
    assert naive / reps > 0.2
