"""ecglib.chapters.ptp_models: the 2019 PTP beside the 2024 RF-CL on index ECGs (chapter 08)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ecglib import schema
from ecglib.chapters.ptp_models import (
    MODELS,
    categories_display,
    guideline_models,
    models_display,
    models_sentence,
)
from ecglib.errors import MissingInputError
from ecglib.metrics import ptp
from ecglib.metrics.rf_cl import rf_cl


def _index(n=400, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.DataFrame(
        {
            "age": rng.integers(35, 85, n).astype(float),
            "sex": rng.choice(schema.SEXES, n),
            "symptom": rng.choice(schema.SYMPTOMS, n),
            "patient": np.arange(n) // 2,
            **{rf: rng.integers(0, 2, n).astype(float) for rf in schema.RISK_FACTORS},
        }
    )
    # the outcome follows the RF-CL, so its AUC is the higher one
    count = index[list(schema.RISK_FACTORS)].sum(axis=1)
    p = rf_cl(index["age"], index["sex"], index["symptom"], count)
    return index, (rng.random(n) < 2.5 * p).astype(int)


def test_aucs_are_those_of_scikit_learn_on_the_examinations_with_both():
    index, outcome = _index()
    index.loc[:9, "diabetes"] = np.nan  # no RF-CL for these ten
    models = guideline_models(index, outcome)
    both = models.table.dropna(subset=["ptp", "rf_cl"])
    assert len(both) == 390
    a = models.aucs.set_index("score")
    assert a.at[MODELS[0], "auc"] == pytest.approx(roc_auc_score(both["outcome"], both["ptp"]))
    assert a.at[MODELS[1], "auc"] == pytest.approx(roc_auc_score(both["outcome"], both["rf_cl"]))
    numbers = models.numbers("x_")
    assert numbers["x_rfcl_minus_ptp"] == pytest.approx(
        a.at[MODELS[1], "auc"] - a.at[MODELS[0], "auc"]
    )
    assert (
        numbers["x_rfcl_minus_ptp_lo"]
        < numbers["x_rfcl_minus_ptp"]
        < numbers["x_rfcl_minus_ptp_hi"]
    )
    assert numbers["x_models_patients"] == both["patient"].nunique()
    # categories count every examination with both models once per model
    c = models.categories
    for model in MODELS:
        assert c.loc[c["model"] == model, "examinations"].sum() == 390
    low = both["ptp_category"] == ptp.PTP_CATEGORIES[0]
    assert numbers["x_ptp_low_pct"] == pytest.approx(100 * low.mean())
    assert models_display(models).loc[MODELS[1], "p"] != ""
    assert categories_display(models).shape[0] == 6


def test_without_risk_factors_or_one_class_it_is_missing_input():
    index, outcome = _index()
    with pytest.raises(MissingInputError, match="smoking"):
        guideline_models(index.drop(columns="smoking"), outcome)
    with pytest.raises(MissingInputError, match="none of the"):
        guideline_models(index, np.zeros(len(index), dtype=int))


@pytest.mark.parametrize(
    ("lo", "hi", "verdict"),
    [
        (0.01, 0.05, "discriminates better"),
        (-0.05, -0.01, "discriminates worse"),
        (-0.01, 0.05, "no clear difference"),
    ],
)
def test_the_sentence_claims_a_difference_only_when_the_interval_excludes_zero(lo, hi, verdict):
    numbers = {
        "i_rfcl_minus_ptp": (lo + hi) / 2,
        "i_rfcl_minus_ptp_lo": lo,
        "i_rfcl_minus_ptp_hi": hi,
        "i_rfcl_minus_ptp_p_text": "p = 0.2",
        "i_rfcl_auc": 0.7,
        "i_ptp_auc": 0.68,
    }
    assert verdict in models_sentence(numbers, "i_", "internal")
