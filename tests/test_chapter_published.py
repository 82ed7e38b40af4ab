"""ecglib.chapters.published: the paper's numbers as data, and a run's numbers beside them."""

import numpy as np
import pandas as pd
import pytest

from ecglib import schema
from ecglib.chapters import published as results


def test_published_numbers_are_the_papers_with_their_source():
    auc = results.published_table("auc")
    assert auc.loc[("first version", "internal")].tolist() == [0.794, 0.818, 0.744, 0.755]
    assert auc.loc[("first version", "external")].tolist() == [0.749, 0.971, 0.667, 0.727]
    assert auc.loc[("first version", "normal ECG")].tolist() == [0.793, 0.896, 0.707, 0.765]
    assert auc.loc[("revision", "internal")].tolist() == [0.744, 0.706, 0.716, 0.736]
    assert auc.loc[("revision", "external")].tolist() == [0.714, 0.713, 0.700, 0.673]
    assert auc.loc[("revision", "normal ECG")].tolist() == [0.693, 0.659, 0.673, 0.716]
    brier = results.published_table("brier")
    assert brier.loc[("first version", "internal")].tolist() == [0.112, 0.030, 0.166, 0.106]
    assert results.PUBLISHED["source"].str.contains("arXiv:2512.05136").all()
    assert results.PUBLISHED_COHORT.loc["patients"].tolist() == [2323, 135]
    with pytest.raises(KeyError):
        results.published_table("f1")


def test_paper_layout_puts_this_run_first_and_labels_published_as_context():
    ours = pd.DataFrame(
        {
            "vessel": list(schema.VESSELS),
            "auc": [0.7, 0.6, np.nan, 0.65],
            "ci_low": [0.6, 0.5, np.nan, np.nan],
            "ci_high": [0.8, 0.7, np.nan, np.nan],
            "set": "internal, pooled",
        }
    )
    layout = results.paper_layout(ours)
    assert layout.index.names == ["source", "set"]
    first = layout.iloc[0]
    assert first.name == ("this run", "internal, pooled")
    assert first.tolist() == ["0.700 [0.600-0.800]", "0.600 [0.500-0.700]", "n/a", "0.650"]
    published = layout.loc[layout.index.get_level_values("source") != "this run"]
    assert len(published) == 6
    assert published.index.get_level_values("source").str.endswith("(context, not a target)").all()
    only = results.paper_layout({"x": ours}, published_sets={"external": "external (published)"})
    assert only.index.get_level_values("set").tolist() == [
        "x",
        "external (published)",
        "external (published)",
    ]
    brier = results.paper_layout({"x": ours.rename(columns={"auc": "brier"})}, "brier", ci=None)
    assert brier.iloc[0].tolist() == ["0.700", "0.600", "n/a", "0.650"] and len(brier) == 2


def test_paper_layout_shows_why_an_estimate_is_withheld():
    ours = pd.DataFrame(
        {
            "vessel": list(schema.VESSELS),
            "auc": [0.7, np.nan, 0.8, 0.65],
            "ci_low": [0.6, np.nan, 0.7, 0.5],
            "ci_high": [0.8, np.nan, 0.9, 0.8],
            "withheld": ["", "too few events (2)", "", ""],
            "set": "external",
        }
    )
    first = results.paper_layout(ours).iloc[0]
    assert first["LM"] == "too few events (2)" and first["RCA"] == "0.700 [0.600-0.800]"
