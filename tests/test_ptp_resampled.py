"""The rule-out summary on patients (ecglib.metrics.ptp): intervals from the shared patient
resamples, vectorised and checked against the per-resample loop."""

import numpy as np
import pandas as pd
import pytest

from ecglib.metrics import ptp
from ecglib.metrics.resamples import loop_reference, patient_resamples, percentile_interval


def _exams(seed=0, n_patients=50):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, n_patients)
    patient = np.repeat(np.arange(n_patients) + 100, sizes)
    y = np.repeat(rng.random(n_patients) < 0.4, sizes).astype(int)
    cats = rng.choice(ptp.PTP_CATEGORIES, len(patient), p=[0.25, 0.35, 0.4]).astype(object)
    cats[rng.choice(len(patient), 3, replace=False)] = None
    return pd.DataFrame({"patient": patient, "y": y, "cat": cats})


def _loop(table, weights, column):
    def statistic(t):
        value = ptp.rule_out_summary(t["y"], {"x": t["cat"]}).loc["x", column]
        if np.isnan(value):
            raise ValueError(f"{column} undefined")
        return value

    return loop_reference(statistic, table, weights)


@pytest.mark.parametrize("n_patients", [50, 5])
def test_resampled_rule_out_equals_the_loop(n_patients):
    # 5 patients: some resamples have no low examination or no event (NaN there)
    table = _exams(seed=n_patients, n_patients=n_patients)
    w = patient_resamples(table["patient"], 200, seed=2).weights(table["patient"])
    boot = ptp.resampled_rule_out(table["y"], table["cat"], weights=w)
    assert list(boot.columns) == ["npv_low", "sensitivity"]
    for column in boot.columns:
        assert np.allclose(boot[column], _loop(table, w, column), equal_nan=True), column


def test_summary_with_weights_takes_the_percentile_interval_and_names_it():
    table = _exams(seed=1)
    w = patient_resamples(table["patient"], 200, seed=3).weights(table["patient"])
    cats = {"A": table["cat"], "B": table["cat"].where(table["cat"] != "grey zone", "low")}
    s = ptp.rule_out_summary(table["y"], cats, weights=w)
    wilson = ptp.rule_out_summary(table["y"], cats)
    for name, cat in cats.items():
        one = table.assign(cat=cat)
        for column in ("npv_low", "sensitivity"):
            lo, hi = percentile_interval(_loop(one, w, column))
            assert (s.loc[name, f"{column}_lo"], s.loc[name, f"{column}_hi"]) == pytest.approx(
                (lo, hi)
            )
            # the point estimate is the same; only the interval changes
            assert s.loc[name, column] == pytest.approx(wilson.loc[name, column])
    assert set(s["interval"]) == {"patient bootstrap percentile"}
    assert set(wilson["interval"]) == {"wilson"}
    assert (s["n_boot"] == 200).all() and (s["npv_low_undefined"] == 0).all()
    assert s.loc["A", "n_missing"] == 3


def test_bad_weights_are_refused():
    table = _exams()
    w = patient_resamples(table["patient"], 5).weights(table["patient"])
    with pytest.raises(ValueError, match="shape"):
        ptp.resampled_rule_out(table["y"], table["cat"], weights=w[:, :-1])
