"""Operating points at fixed thresholds: hand counts, CIs from statsmodels, the patient
bootstrap against a per-resample loop, and the cut-offs against obstructive CAD."""

from functools import partial

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from ecglib import schema
from ecglib.metrics import thresholds as th
from ecglib.metrics.resamples import loop_reference, patient_resamples

# 10 patients, threshold 0.15 (p >= 0.15 is high risk):
Y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1])
P = np.array([0.40, 0.15, 0.10, 0.30, 0.15, 0.05, 0.02, 0.10, 0.14, 0.60])
# high risk: 0.40(y1) 0.15(y1) 0.30(y0) 0.15(y0) 0.60(y1) -> TP 3, FP 2
# low risk:  0.10(y1) 0.05 0.02 0.10 0.14 (y0)            -> FN 1, TN 4
# sensitivity 3/4, specificity 4/6, PPV 3/5, NPV 4/5


def test_counts_and_proportions_by_hand():
    op = th.operating_point(Y, P, 0.15)
    assert (op["tp"], op["fp"], op["tn"], op["fn"]) == (3, 2, 4, 1)
    assert op["sensitivity"] == pytest.approx(3 / 4)
    assert op["specificity"] == pytest.approx(4 / 6)
    assert op["ppv"] == pytest.approx(3 / 5)
    assert op["npv"] == pytest.approx(4 / 5)
    assert op["high_risk_share"] == pytest.approx(0.5)


@pytest.mark.parametrize("method,sm_method", [("wilson", "wilson"), ("clopper-pearson", "beta")])
def test_cis_match_statsmodels_and_contain_estimate(method, sm_method):
    op = th.operating_point(Y, P, 0.15, method=method)
    for name, (num, den) in {
        "sensitivity": (3, 4),
        "specificity": (4, 6),
        "ppv": (3, 5),
        "npv": (4, 5),
    }.items():
        lo, hi = proportion_confint(num, den, alpha=0.05, method=sm_method)
        assert (op[f"{name}_lo"], op[f"{name}_hi"]) == pytest.approx((lo, hi))
        assert op[f"{name}_lo"] <= op[name] <= op[f"{name}_hi"]


def test_zero_denominator_is_nan():
    op = th.operating_point([0, 1, 0], [0.1, 0.05, 0.0], 0.5)  # nobody high risk
    assert np.isnan(op["ppv"]) and np.isnan(op["ppv_lo"])
    assert op["npv"] == pytest.approx(2 / 3)


def test_per_vessel_thresholds_from_params_dict():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({c: rng.random(50) for c in schema.prob_cols()})
    for v in schema.VESSELS:
        table[schema.label_col(v)] = (rng.random(50) < 0.3).astype(int)
    out = th.operating_points(table, th.PAPER_HIGH_RISK_THRESHOLDS)
    assert out.loc["LM", "threshold"] == 0.01 and out.loc["RCA", "threshold"] == 0.15
    custom = th.operating_points(table, {"LAD": 0.5}, method="clopper-pearson")
    assert list(custom.index) == ["LAD"]
    assert custom.loc["LAD", "tp"] == int(((table["p_LAD"] >= 0.5) & (table["y_LAD"] == 1)).sum())


def test_unknown_method_and_bad_threshold():
    with pytest.raises(ValueError, match="unknown CI method"):
        th.operating_point(Y, P, 0.15, method="wald")
    with pytest.raises(ValueError, match="probability"):
        th.high_risk(P, 15)


def _clustered(seed=0, n_patients=70):
    """Patients with 1-4 ECGs sharing labels and most of the score, all four vessels."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, n_patients)
    table = pd.DataFrame({"patient": np.repeat(np.arange(n_patients) + 100, sizes)})
    for v in schema.VESSELS:
        grade = np.repeat(rng.choice(5, n_patients, p=[0.5, 0.15, 0.15, 0.12, 0.08]), sizes)
        table[schema.grade_col(v)] = grade
        table[schema.label_col(v)] = (grade >= 3).astype(int)
        shared = np.repeat(rng.normal(size=n_patients), sizes)
        table[schema.prob_col(v)] = 1 / (1 + np.exp(-(shared + 1.5 * (grade >= 3) - 2.0)))
    return table


def _one_point(vessel, cut, name, t):
    """One proportion of one materialised resample, the slow way."""
    value = th.operating_point(t[schema.label_col(vessel)], t[schema.prob_col(vessel)], cut)[name]
    if np.isnan(value):
        raise ValueError("no denominator in this resample")
    return value


def test_bootstrap_operating_points_equal_the_materialised_resamples():
    table = _clustered()
    weights = patient_resamples(table["patient"], 120, seed=3).weights(table["patient"])
    thresholds = {"RCA": 0.15, "LM": 0.6, "LAD": 0.15, "LCX": 0.3}
    out = th.operating_points_bootstrap(table, thresholds, weights)
    wilson = th.operating_points(table, thresholds)
    same = ["threshold", "n", "n_pos", "tp", "fp", "tn", "fn", "high_risk_share"]
    pd.testing.assert_frame_equal(out[same], wilson[same])
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        np.testing.assert_array_equal(out[name], wilson[name])
    for vessel, cut in thresholds.items():
        for name in ("sensitivity", "specificity", "ppv", "npv"):
            ref = loop_reference(partial(_one_point, vessel, cut, name), table, weights)
            lo, hi = np.percentile(ref[~np.isnan(ref)], [2.5, 97.5])
            assert out.at[vessel, f"{name}_lo"] == pytest.approx(lo, abs=1e-12)
            assert out.at[vessel, f"{name}_hi"] == pytest.approx(hi, abs=1e-12)
            assert out.at[vessel, f"{name}_undefined"] == np.isnan(ref).sum()
    # a cut-off few ECGs reach leaves resamples without a high-risk ECG: PPV undefined there
    assert out.at["LM", "ppv_undefined"] > 0
    assert (out["n_boot"] == 120).all()


def test_patient_bootstrap_is_wider_than_wilson_when_ecgs_repeat_a_patient():
    # every patient three times with identical rows: Wilson counts three times the evidence
    base = _clustered(1, 150)
    first = base.groupby("patient").head(1)
    tripled = pd.concat([first] * 3, ignore_index=True)
    weights = patient_resamples(tripled["patient"], 400, seed=0).weights(tripled["patient"])
    boot = th.operating_points_bootstrap(tripled, {"LAD": 0.15}, weights)
    wilson = th.operating_points(tripled, {"LAD": 0.15})
    width = lambda t, n: t.at["LAD", f"{n}_hi"] - t.at["LAD", f"{n}_lo"]  # noqa: E731
    for name in ("sensitivity", "specificity"):
        assert width(boot, name) > 1.4 * width(wilson, name)


def test_bootstrap_refuses_weights_of_another_table():
    table = _clustered()
    with pytest.raises(ValueError, match=f"weights must be \\(n_boot, {len(table)}\\)"):
        th.operating_points_bootstrap(table, {"RCA": 0.15}, np.ones((5, len(table) - 1)))


def test_cutoffs_against_obstructive_by_hand():
    # 6 ECGs of 6 patients, two vessels; obstructive = grade >= 2 in any vessel
    table = pd.DataFrame(
        {
            "patient": np.arange(6),
            "grade_RCA": [3, 0, 2, 0, 1, 0],
            "grade_LAD": [0, 0, 0, 4, 0, 2],
            "p_RCA": [0.40, 0.20, 0.10, 0.05, 0.01, 0.02],
            "p_LAD": [0.10, 0.05, 0.02, 0.30, 0.10, 0.12],
        }
    )
    for v in ("RCA", "LAD"):
        table[schema.label_col(v)] = (table[schema.grade_col(v)] >= 3).astype(int)
    for v in ("LM", "LCX"):
        table[schema.label_col(v)] = np.nan
        table[schema.grade_col(v)] = np.nan
        table[schema.prob_col(v)] = 0.5
    weights = np.ones((3, 6), int)
    out = th.cutoffs_against_obstructive(table, th.PAPER_HIGH_RISK_THRESHOLDS, weights)
    assert out.index.tolist() == ["RCA", "LAD", "none", "all"]
    # RCA >= 15%: ECGs 0 (grade 3) and 1 (none): 1 of 2 obstructive, PPV 1/2
    assert out.loc["RCA", ["flagged", "ppv", "obstructive"]].tolist() == [2, 0.5, 0.5]
    # LAD >= 15%: ECG 3 (grade 4): obstructive
    assert out.loc["LAD", ["flagged", "ppv", "obstructive"]].tolist() == [1, 1.0, 1.0]
    # below both: ECGs 2 (RCA grade 2: obstructive, not severe), 4, 5 (LAD grade 2)
    assert out.loc["none", ["flagged", "obstructive"]].tolist() == [3, pytest.approx(2 / 3)]
    assert out.at["all", "obstructive"] == pytest.approx(4 / 6)
    assert out.at["RCA", "prevalence"] == pytest.approx(1 / 6)
    # every resample the whole table: the interval is the point
    assert out.at["none", "obstructive_lo"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="row 1 has no grade_RCA"):
        bad = table.assign(grade_RCA=[3, np.nan, 2, 0, 1, 0])
        th.cutoffs_against_obstructive(bad, th.PAPER_HIGH_RISK_THRESHOLDS, weights)
