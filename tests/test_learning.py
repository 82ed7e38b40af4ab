"""The training path learns vessel-specific information (issue 17's regression guard).

A small cohort of simulated 12-lead ECGs (:mod:`ecglib.demo`'s dipole simulator, first 4 s) in
which each diseased ECG has one occluded vessel whose planted ST-T offset is made three times the
demo's, so that the per-lead ST levels separate RCA, LAD and LCX almost perfectly (a logistic
regression on them reaches cross-validated AUCs of about 0.99, 0.99 and 0.94). The CI-sized
network of ``params/ci.yaml`` is trained on it through :func:`ecglib.train.fit.fit_fold` (the
whole training path: store rows, labels, loss, weighting, surgery, augmentation, epoch selection,
checkpoint) with a fixed seed, and its chosen model scores a fresh planted set (other people).
For each vessel the *margin* is the AUC of its own output minus the best AUC any other output
reaches for the same label.

Two recipes are checked: the demo's (plain multi-task cross-entropy, 40 epochs) and the paper's
(augmented copies, uncertainty weighting, PCGrad, 16 epochs). Calibration (seeds 1-5, the
planted set re-drawn each time): mean margin over RCA, LAD and LCX 0.45-0.55 (plain) and
0.30-0.46 (paper recipe), no vessel below 0.03. A network whose outputs all score "any disease"
(what issue 17 found in the demo) has margins near 0; so does this one when the input leads are
shuffled per ECG before the network (tried once for each recipe, seeds 1 and 2: mean margins
-0.01 to 0.06, every one below the bound). The test asks for a mean margin of at least
``MEAN_MARGIN`` and no checked vessel below 0 (its own output never worse than another's).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from train_support import write_store

from ecglib import schema
from ecglib.config import PROJECT_ROOT, FoldParams, load_params
from ecglib.data.store import open_store
from ecglib.demo import sample_ecg_params, simulate_ecgs
from ecglib.demo.geometry import territory_vector
from ecglib.paths import RunPaths
from ecglib.signals.preprocess import ecg_zscore

#: ECGs per planted group (no disease, RCA, LM, LAD, LCX), one ECG per patient.
PER_GROUP = 50
#: ECGs per group of the fresh set the trained model is scored on.
EVAL_PER_GROUP = 50
#: Samples kept of each 10-s ECG (the first 4 s hold 3-6 beats), to keep the test fast.
LENGTH = 2000
#: How much stronger than the demo's the planted offset is.
AMPLIFY = 3.0
#: Vessels checked: LM's territory is the mean of LAD's and LCX's (ST towards aVR), which 12
#: ST levels separate only moderately (AUC about 0.8) even at this strength.
CHECKED = ("RCA", "LAD", "LCX")
#: The recipes checked: training settings over ``params/ci.yaml``'s, and the epochs each needs.
RECIPES = {
    "demo (plain cross-entropy)": {
        "epochs": 40,
        "augment": False,
        "gradient_surgery": "none",
        "loss_weighting": "equal",
    },
    "paper (augmentation, uncertainty weights, PCGrad)": {
        "epochs": 16,
        "augment": True,
        "gradient_surgery": "pcgrad",
        "loss_weighting": "uncertainty",
    },
}
#: Least mean margin over the checked vessels (own-output AUC minus the best other output's).
MEAN_MARGIN = 0.2
#: Default epochs when a caller gives none.
EPOCHS = 16


def planted_cohort(seed: int, per_group: int = PER_GROUP) -> tuple[pd.DataFrame, np.ndarray]:
    """Cohort rows and z-scored signals ``(n, 12, LENGTH)`` with one grade-4 vessel or none."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(-1, len(schema.VESSELS)), per_group)
    rng.shuffle(group)
    grades = np.zeros((len(group), len(schema.VESSELS)), dtype=int)
    grades[group >= 0, group[group >= 0]] = 4
    params = sample_ecg_params(grades, rng)
    territories = np.stack([territory_vector(v) for v in schema.VESSELS])
    params = dataclasses.replace(
        params, st_vector=params.st_vector + (AMPLIFY - 1.0) * params.planted_mv @ territories
    )
    signals = simulate_ecgs(params)[..., :LENGTH]
    signals = np.stack([ecg_zscore(x) for x in signals]).astype(np.float32)
    n = len(group)
    cohort = pd.DataFrame(
        {
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "ecg_id": [f"E{i:04d}" for i in range(n)],
            "ecg_path": [f"/synthetic/E{i:04d}.npy" for i in range(n)],
            "site": "internal",
            **{schema.grade_col(v): grades[:, j] for j, v in enumerate(schema.VESSELS)},
        }
    )
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    return cohort, signals


def write_planted_run(tmp_path, seed: int, **train):
    """The CI model and training settings on the planted cohort, as a run under ``tmp_path``."""
    ci = load_params(PROJECT_ROOT / "params" / "ci.yaml")
    params = dataclasses.replace(
        ci,
        name="learning",
        seed=seed,
        runs_dir=str(tmp_path / "runs"),
        folds=FoldParams(n_folds=5, inner_val_fraction=0.2),
        train=dataclasses.replace(ci.train, **{"epochs": EPOCHS, "batch_size": 16, **train}),
    )
    paths = RunPaths.of(params).ensure()
    cohort, signals = planted_cohort(seed)
    cohort.to_csv(paths.cohort, index=False)
    write_store(paths, cohort, signals, f"planted-{seed}")
    return params, cohort


def head_margins(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Per vessel: AUC of its own output minus the best AUC of another output, for its label."""
    out = {}
    for v, vessel in enumerate(schema.VESSELS):
        aucs = [roc_auc_score(labels[:, v], probs[:, u]) for u in range(len(schema.VESSELS))]
        out[vessel] = aucs[v] - max(a for u, a in enumerate(aucs) if u != v)
    return out


def train_planted(tmp_path, seed: int, **train) -> dict[str, float]:
    """Train fold 0 of the planted run; the margins of its chosen model on a fresh planted set
    (``EVAL_PER_GROUP`` ECGs per group, other people than the training set's)."""
    from ecglib.train.fit import fit_fold
    from ecglib.train.predict import load_fold_model, predict_probs

    params, cohort = write_planted_run(tmp_path, seed, **train)
    store = open_store(RunPaths.of(params).store)
    fit_fold(params, 0, cohort=cohort, store=store, progress=False)
    fresh, signals = planted_cohort(seed + 1, EVAL_PER_GROUP)
    probs = predict_probs(load_fold_model(params, 0), signals, np.arange(len(fresh)))
    return head_margins(schema.binarise_grades(fresh).to_numpy(), probs)


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_each_head_separates_its_own_vessel(tmp_path, recipe):
    margins = train_planted(tmp_path, 20251206, **RECIPES[recipe])
    short = {v: round(m, 3) for v, m in margins.items()}
    mean = float(np.mean([margins[v] for v in CHECKED]))
    assert mean >= MEAN_MARGIN, (
        f"{recipe}: the outputs are not vessel-specific: mean margin {mean:.3f} over "
        f"{', '.join(CHECKED)} (need >= {MEAN_MARGIN}); margins: {short}"
    )
    worse = [v for v in CHECKED if margins[v] < 0]
    assert not worse, f"{recipe}: another output separates {worse} better than its own: {short}"
