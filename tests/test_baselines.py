"""ecglib.metrics.baselines: the clinical baseline is cross-fitted (a held-out fold's labels never
reach its predictions), recovers a planted clinical effect, and codes its variables as
documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ecglib import schema
from ecglib.errors import MissingInputError
from ecglib.metrics.baselines import (
    NOT_RECORDED,
    clinical_baseline,
    clinical_columns,
    clinical_design,
    cross_fit_logistic,
)

#: The planted effects on the logit of every vessel: per SD of age, female, and per symptom.
AGE, FEMALE = 0.9, -0.8
SYMPTOM = {"typical": 0.0, "atypical": -0.6, "non-anginal": -1.2, "dyspnoea": -0.3}


def toy(n_patients: int = 1500, seed: int = 0, ecgs: int = 2) -> pd.DataFrame:
    """Patients with ``ecgs`` ECGs each, three patient-grouped folds, labels drawn from a
    logistic model of age, sex and symptom; some symptoms missing."""
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 9, n_patients)
    sex = rng.choice(schema.SEXES, n_patients)
    symptom = rng.choice(schema.SYMPTOMS, n_patients).astype(object)
    logit = (
        -1.0
        + AGE * (age - age.mean()) / age.std()
        + FEMALE * (sex == "female")
        + np.array([SYMPTOM[s] for s in symptom])
    )
    truth = 1 / (1 + np.exp(-logit))
    symptom[rng.random(n_patients) < 0.1] = None
    patient = np.repeat(np.arange(n_patients), ecgs)
    table = pd.DataFrame(
        {
            "patient": patient,
            "fold": (patient % 3),
            "age": age[patient],
            "sex": sex[patient],
            "symptom": symptom[patient],
            "truth": truth[patient],
        }
    )
    for k, v in enumerate(schema.VESSELS):
        offset = (0.0, -1.5, 0.3, -0.4)[k]
        p = 1 / (1 + np.exp(-(logit + offset)))
        table[schema.label_col(v)] = (rng.random(n_patients) < p).astype(int)[patient]
    return table


def test_a_held_out_folds_labels_do_not_reach_its_predictions():
    t = toy(300, seed=1)
    base = clinical_baseline(t)
    flipped = t.copy()
    held = flipped["fold"] == 1
    for v in schema.VESSELS:
        flipped.loc[held, schema.label_col(v)] = 1 - flipped.loc[held, schema.label_col(v)]
    again = clinical_baseline(flipped)
    cols = schema.prob_cols()
    np.testing.assert_array_equal(again.oof.loc[held, cols], base.oof.loc[held, cols])
    # the other folds' models did see fold 1's labels: their predictions move
    assert not np.allclose(again.oof.loc[~held, cols], base.oof.loc[~held, cols])


def test_the_planted_clinical_effect_is_recovered():
    t = toy(4000, seed=2, ecgs=1)
    base = clinical_baseline(t)
    coef = base.coefficients[base.coefficients["vessel"] == "RCA"].groupby("term")["coef"].mean()
    # age is standardised on the internal rows (as planted), so its coefficient is per SD
    assert coef["age"] == pytest.approx(AGE, abs=0.15)
    assert coef["sex: female"] == pytest.approx(FEMALE, abs=0.2)
    for level in schema.SYMPTOMS[1:]:
        assert coef[f"symptom: {level}"] == pytest.approx(SYMPTOM[level], abs=0.25)
    # the out-of-fold AUC is close to that of the true risk (the best any model can do)
    y = t["y_RCA"]
    assert roc_auc_score(y, base.oof["p_RCA"]) > roc_auc_score(y, t["truth"]) - 0.02


def test_external_rows_get_the_mean_of_the_fold_models():
    t = toy(300, seed=3)
    internal, external = t[t["patient"] < 240], t[t["patient"] >= 240].drop(columns="fold")
    base = clinical_baseline(internal, external)
    design = clinical_design(internal, ["age", "sex", "symptom"])
    ext_design = clinical_design(external, ["age", "sex", "symptom"], reference=internal)
    from sklearn.linear_model import LogisticRegression

    x = design.to_numpy()
    probs = []
    for k in range(3):
        train = internal["fold"].to_numpy() != k
        model = LogisticRegression(C=1.0, max_iter=5000).fit(x[train], internal["y_LAD"][train])
        probs.append(model.predict_proba(ext_design[design.columns].to_numpy())[:, 1])
    np.testing.assert_allclose(base.external["p_LAD"], np.mean(probs, axis=0), rtol=1e-6)
    assert base.external.index.equals(external.index)


def test_the_design_codes_levels_missing_values_and_refuses_unknown_ones():
    t = toy(50, seed=4)
    design = clinical_design(t, ["age", "sex", "symptom"])
    assert list(design.columns) == [
        "age",
        "sex: female",
        "symptom: atypical",
        "symptom: non-anginal",
        "symptom: dyspnoea",
        f"symptom: {NOT_RECORDED}",
    ]
    assert design["age"].mean() == pytest.approx(0.0, abs=1e-12)
    assert (design[f"symptom: {NOT_RECORDED}"] == t["symptom"].isna()).all()
    t.loc[t.index[3], "sex"] = "m"
    with pytest.raises(ValueError, match="sex of row 3 is 'm'"):
        clinical_design(t, ["age", "sex"])


def test_a_cohort_without_clinical_variables_is_a_missing_input():
    t = toy(30).drop(columns=["age", "sex"]).assign(symptom=None)
    with pytest.raises(MissingInputError, match="none of the clinical variables"):
        clinical_columns(t)
    assert clinical_columns(toy(30).drop(columns="sex")) == ["age", "symptom"]


def test_one_class_in_a_training_set_is_named():
    t = toy(60, seed=5)
    t["y_LM"] = 0
    design = clinical_design(t, ["age"])
    with pytest.raises(ValueError, match="the LM has one class in the training rows of fold"):
        cross_fit_logistic(design, t, t["fold"], ["LM"])


def combiner_inputs(n_patients: int = 600, seed: int = 6):
    """A toy with a network whose logit carries the label, three folds, and for each fold an
    inner validation split of a fifth of the other folds' patients (as the run's)."""
    t = toy(n_patients, seed=seed)
    rng = np.random.default_rng(seed)
    for v in schema.VESSELS:
        logit = 1.2 * t[schema.label_col(v)] + rng.normal(size=len(t)) - 1
        t[schema.prob_col(v)] = 1 / (1 + np.exp(-logit))
    inner = {}
    for k in range(3):
        others = np.unique(t.loc[t["fold"] != k, "patient"])
        chosen = rng.choice(others, size=len(others) // 5, replace=False)
        rows = t.index[t["patient"].isin(chosen)]
        # fold k's network on its inner rows: its own (noisy) view of the same ECGs
        noise = rng.normal(scale=0.3, size=(len(rows), 4))
        inner[k] = pd.DataFrame(
            1
            / (
                1
                + np.exp(
                    -(
                        np.log(
                            t.loc[rows, schema.prob_cols()] / (1 - t.loc[rows, schema.prob_cols()])
                        )
                        + noise
                    )
                )
            ),
            index=rows,
        )
    design = clinical_design(t, ["age", "sex", "symptom"])
    return t, design, inner


def test_the_combiner_never_sees_the_held_out_folds_labels():
    from ecglib.metrics.baselines import cross_fit_combiner

    t, design, inner = combiner_inputs()
    base = cross_fit_combiner(design, t, t["fold"], t, inner, schema.VESSELS)
    flipped = t.copy()
    held = flipped["fold"] == 2
    for v in schema.VESSELS:
        flipped.loc[held, schema.label_col(v)] = 1 - flipped.loc[held, schema.label_col(v)]
    again = cross_fit_combiner(design, flipped, t["fold"], t, inner, schema.VESSELS)
    cols = schema.prob_cols()
    np.testing.assert_array_equal(again.oof.loc[held, cols], base.oof.loc[held, cols])
    # folds 0 and 1 fit their combiners on inner rows that include fold 2: those move
    assert not np.allclose(again.oof.loc[~held, cols], base.oof.loc[~held, cols])
    # an inner split holding its own held-out rows is refused
    bad = dict(inner)
    bad[0] = inner[0].copy()
    bad[0].index = t.index[t["fold"] == 0][: len(bad[0])]
    with pytest.raises(ValueError, match="inner validation rows of fold 0 include"):
        cross_fit_combiner(design, t, t["fold"], t, bad, schema.VESSELS)


def test_the_combiner_uses_both_the_ecg_and_the_clinical_signal():
    from ecglib.metrics.baselines import cross_fit_combiner

    t, design, inner = combiner_inputs(1500, seed=7)
    combined = cross_fit_combiner(design, t, t["fold"], t, inner, ["RCA"])
    clinical = clinical_baseline(t, vessels=["RCA"])
    y = t["y_RCA"]
    auc_combined = roc_auc_score(y, combined.oof["p_RCA"])
    assert auc_combined > roc_auc_score(y, clinical.oof["p_RCA"]) + 0.02
    assert auc_combined > roc_auc_score(y, t["p_RCA"]) + 0.02
    coef = combined.coefficients.groupby("term")["coef"].mean()
    assert coef["ECG logit"] > 0.5 and coef["age"] > 0.3
