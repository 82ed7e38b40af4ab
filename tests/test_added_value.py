"""ecglib.chapters.added_value: the sentences claim only what the intervals support, and the
chapter on the ci run matches a recomputation."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from ecglib import schema  # noqa: E402
from ecglib.chapters import added_value as ch  # noqa: E402
from ecglib.metrics.vessel_specificity import MATRIX_COLUMNS  # noqa: E402
from ecglib.plots.added_value import auc_matrix_figure  # noqa: E402


def matrix_rows(outcome: str, own: tuple, others: dict) -> list[dict]:
    """Matrix rows of one outcome: ``own`` = (auc, lo, hi); ``others`` head -> (auc, diff,
    diff_lo, diff_hi)."""
    base = {"outcome": outcome, "population": "all ECGs", "n": 100, "positives": 20}
    rows = [
        {**base, "head": outcome, "own": True, "auc": own[0], "ci_low": own[1], "ci_high": own[2]}
    ]
    for head, (auc, d, lo, hi) in others.items():
        rows.append(
            {
                **base,
                "head": head,
                "own": False,
                "auc": auc,
                "ci_low": auc - 0.1,
                "ci_high": auc + 0.1,
                "own_minus_head": d,
                "diff_low": lo,
                "diff_high": hi,
                "p_value": 0.01 if lo > 0 or hi < 0 else 0.4,
            }
        )
    return rows


def table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(MATRIX_COLUMNS)).fillna({"reason": "", "patients": 50})


def test_matrix_sentence_claims_a_better_head_only_when_the_interval_excludes_zero():
    clear = table(matrix_rows("RCA", (0.70, 0.6, 0.8), {"LAD": (0.78, -0.08, -0.12, -0.04)}))
    text = ch.matrix_sentence(clear)
    assert "the LAD head separates RCA disease better than the RCA head" in text
    unclear = table(matrix_rows("RCA", (0.70, 0.6, 0.8), {"LAD": (0.72, -0.02, -0.09, 0.05)}))
    text = ch.matrix_sentence(unclear)
    assert "better than the RCA head" not in text and "neither head is shown" in text
    own_best = table(matrix_rows("LM", (0.80, 0.7, 0.9), {"LCX": (0.70, 0.10, -0.02, 0.22)}))
    text = ch.matrix_sentence(own_best)
    assert "the LM head has the highest AUC" in text and "do not show" in text


def test_specific_sentence_says_chance_and_which_heads_are_beaten():
    rows = matrix_rows(
        "RCA",
        (0.52, 0.40, 0.64),
        {"LM": (0.40, 0.12, 0.02, 0.22), "LAD": (0.55, -0.03, -0.10, 0.04)},
    )
    text = ch.specific_sentence(table(rows))
    assert "not distinguishable from chance" in text
    assert "clearly higher than that of the LM head" in text
    assert "against the LAD head the interval of the difference includes 0" in text
    assert "In 0 of 1 vessels" in text
    rows = matrix_rows(
        "LAD", (0.80, 0.70, 0.88), {"RCA": (0.6, 0.2, 0.1, 0.3), "LCX": (0.5, 0.3, 0.2, 0.4)}
    )
    text = ch.specific_sentence(table(rows))
    assert "above chance" in text and "higher than that of every other head" in text
    assert "In 1 of 1 vessels" in text


def test_analyse_on_the_ci_run_matches_a_recomputation(ci_run):
    chapter = ch.analyse(ci_run)
    numbers = chapter.numbers()
    from ecglib.chapters.predictions import load_results

    oof = load_results(ci_run).oof
    assert numbers["n_ecgs"] == len(oof)
    for outcome in chapter.vessels:
        for head in chapter.vessels:
            want = roc_auc_score(oof[schema.label_col(outcome)], oof[schema.prob_col(head)])
            assert numbers[f"m_{outcome}_{head}"] == pytest.approx(want)
    mask = (oof[schema.label_cols([v for v in chapter.vessels if v != "RCA"])] == 1).any(axis=1)
    want = roc_auc_score(oof.loc[mask, "y_RCA"], oof.loc[mask, "p_RCA"])
    assert numbers["s_RCA_RCA"] == pytest.approx(want)
    assert numbers["s_n_RCA"] == int(mask.sum())
    for key, value in numbers.items():
        assert (
            isinstance(value, str)
            or math.isfinite(value)
            or key.split("_")[1] in (set(schema.VESSELS) - set(chapter.vessels))
        ), key
    assert "nan" not in numbers["matrix_sentence"] and "nan" not in numbers["specific_sentence"]
    assert {"95% CI", "patients", "ECGs (positive)"} <= set(chapter.matrix_table().columns)
    fig = auc_matrix_figure(chapter.matrix, chapter.specific)
    assert len(fig.axes) == 3  # two heatmaps and one colour bar
    assert np.all(chapter.matrix["n"] == len(oof))
