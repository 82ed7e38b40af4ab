"""Operating points at fixed thresholds: hand counts, CIs from statsmodels."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from ecglib import schema
from ecglib.metrics import thresholds as th

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
