"""ecglib.chapters.added_value: the sentences claim only what the intervals support, and the
chapter on the ci run matches a recomputation."""

from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from ecglib import schema  # noqa: E402
from ecglib.chapters import added_value as ch  # noqa: E402
from ecglib.chapters.added_value_ecg import MEASUREMENTS, beat_measurements  # noqa: E402
from ecglib.metrics.vessel_specificity import MATRIX_COLUMNS  # noqa: E402
from ecglib.plots.added_value import auc_matrix_figure  # noqa: E402


@pytest.fixture(autouse=True)
def toy_measurements(monkeypatch, request):
    """The toy runs have no signals: their "ECG measurements" are the ECGs' probabilities'
    logits plus noise (the ci-run test measures real average beats)."""
    if "ci_run" in request.fixturenames:
        return

    def fake(run, results, seed: int = 11):
        rng = np.random.default_rng(seed)
        out = []
        for table in (results.oof, results.external):
            if table is None:
                out.append(None)
                continue
            p = table[schema.prob_cols()].to_numpy()
            values = np.log(p / (1 - p)) + rng.normal(size=p.shape)
            frame = pd.DataFrame(np.nan, index=range(len(table)), columns=list(MEASUREMENTS))
            frame.iloc[:, :4] = values
            frame.iloc[::7, :] = np.nan  # some ECGs without an average beat
            out.append(frame)
        return out[0], out[1]

    monkeypatch.setattr(ch, "ecg_measurements", fake)


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
        if key.startswith(("m_", "s_")) and key.split("_")[1] in chapter.vessels:
            assert math.isfinite(value), key
        if isinstance(value, str):
            assert "nan" not in value, key
    # the three baselines and the combined model exist on the ci run
    assert not isinstance(chapter.combined, ch.Skipped)
    assert not isinstance(chapter.measured, ch.Skipped)
    assert chapter.skipped() == []
    assert numbers["combined_fit_min"] > 0
    assert {"95% CI", "patients", "ECGs (positive)"} <= set(chapter.matrix_table().columns)
    fig = auc_matrix_figure(chapter.matrix, chapter.specific)
    assert len(fig.axes) == 3  # two heatmaps and one colour bar
    assert np.all(chapter.matrix["n"] == len(oof))


def toy_results(n_patients: int = 240, seed: int = 0, *, clinical: bool = True):
    """Joined predictions of a toy run: two ECGs per patient, three folds, an external site;
    the RCA head informative, the others noise; age raising every vessel's risk."""
    from ecglib.chapters.predictions import RunResults

    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n_patients), 2)
    age = rng.normal(62, 9, n_patients)
    table = pd.DataFrame(
        {
            "patient": patient,
            "fold": patient % 3,
            "age": age[patient],
            "sex": rng.choice(schema.SEXES, n_patients)[patient],
            "symptom": rng.choice(schema.SYMPTOMS, n_patients)[patient],
        }
    )
    for v in schema.VESSELS:
        logit = 0.08 * (age - 62) + rng.normal(size=n_patients) - 0.8
        grade = np.clip(np.round(logit + 2), 0, 4).astype(int)
        table[schema.grade_col(v)] = grade[patient]
        table[schema.label_col(v)] = (grade >= 3).astype(int)[patient]
        noise = rng.normal(size=len(table))
        signal = table[schema.label_col(v)] * (1.5 if v == "RCA" else 0.0)
        table[schema.prob_col(v)] = 1 / (1 + np.exp(-(signal + noise - 1)))
    # one CCTA examination per patient, its two ECGs in order (the index ECG is the first)
    table["exam"] = table["patient"]
    table["exam_order"] = 1
    table["ecg_order"] = np.tile([1, 2], n_patients)
    if not clinical:
        table = table.drop(columns=["age", "sex", "symptom"])
    internal = table[table["patient"] < 180].reset_index(drop=True)
    external = table[table["patient"] >= 180].drop(columns="fold").reset_index(drop=True)
    return RunResults(params=TOY_PARAMS, oof=internal, external=external)


#: What :meth:`RunResults.resamples` reads of a run's parameters.
TOY_PARAMS = SimpleNamespace(
    seed=3,
    evaluation=SimpleNamespace(n_bootstrap=200, rule_in_ppv=0.5),
    report=SimpleNamespace(min_events=5),
)


def fake_network_predictions(run, results, seed: int = 9):
    """Stand-in for the fold models on their inner splits: for fold k, a fifth of the other
    folds' ECGs with their out-of-fold probabilities jittered."""
    rng = np.random.default_rng(seed)
    oof = results.oof.reset_index(drop=True)
    inner = {}
    for k in results.folds:
        rows = np.flatnonzero(oof["fold"].to_numpy() != k)
        rows = np.sort(rng.choice(rows, size=len(rows) // 5, replace=False))
        p = oof.loc[rows, schema.prob_cols()].to_numpy()
        inner[k] = pd.DataFrame(
            np.clip(p + rng.normal(scale=0.02, size=p.shape), 0.01, 0.99),
            index=rows,
            columns=schema.prob_cols(),
        )
    ext = results.external.reset_index(drop=True)[schema.prob_cols()]
    return inner, {k: ext for k in results.folds}


def test_the_comparisons_pair_every_model_on_the_same_ecgs(monkeypatch):
    from ecglib.metrics.baselines import clinical_baseline
    from ecglib.metrics.clustered_roc import clustered_delong_test

    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    results = toy_results()
    chapter = ch.analyse(None, results)
    base = clinical_baseline(results.oof, results.external)
    combined = chapter.combined
    table = chapter.comparisons.set_index(["population", "reference", "vessel", "model"])
    for key, frame, field in (
        ("internal", results.oof, "oof"),
        ("external", results.external, "external"),
    ):
        frame = frame.reset_index(drop=True)
        clin = getattr(base, field).reset_index(drop=True)
        comb = getattr(combined, field).reset_index(drop=True)
        meas = getattr(chapter.measured, field).reset_index(drop=True)
        for v in schema.VESSELS:
            y, net, patients = frame[f"y_{v}"], frame[f"p_{v}"], frame["patient"]
            pop = ch.POPULATIONS[key]
            for a, b, ref, model in (
                (net, clin[f"p_{v}"], ch.NETWORK, ch.CLINICAL),
                (comb[f"p_{v}"], net, ch.COMBINED, ch.NETWORK),
                (comb[f"p_{v}"], clin[f"p_{v}"], ch.COMBINED, ch.CLINICAL),
                (net, meas[f"p_{v}"], ch.NETWORK, ch.MEASURED),
            ):
                want = clustered_delong_test(y, a, b.to_numpy(), patients)
                row = table.loc[(pop, ref, v, model)]
                assert row["diff"] == pytest.approx(want.diff, abs=1e-12)
                assert row["p_value"] == pytest.approx(want.p_value, rel=1e-8)
                assert row["patients"] == frame["patient"].nunique()
    numbers = chapter.numbers()
    assert numbers["clinical_variables"] == "age, sex and symptom"
    assert numbers["p_nc_internal_RCA"] == ch.format_p(
        table.loc[(ch.POPULATIONS["internal"], ch.NETWORK, "RCA", ch.CLINICAL), "p_value"]
    )
    assert numbers["combined_status"] == "Every vessel has its ECG + clinical model."
    # the informative RCA head beats the clinical model; the text says so only if supported
    row = table.loc[(ch.POPULATIONS["internal"], ch.NETWORK, "RCA", ch.CLINICAL)]
    said = "the network model separates RCA" in numbers["sentence_nc_internal"]
    assert said == (row["diff_low"] > 0)
    shown = chapter.comparison_table()
    assert {"intervals", "network - clinical [95% CI]", "p (ECG + clinical - network)"} <= set(
        shown.columns
    )
    assert len(chapter.differences()) == 2 * 4 * 4  # populations, vessels, pairs
    # the toy cohort has no risk factors: the RF-CL is all the page leaves out
    from ecglib.chapters.added_value_text import RF_CL

    assert [s.part for s in chapter.skipped()] == [
        f"The {RF_CL} ({p})" for p in ch.POPULATIONS.values()
    ]


def test_the_combined_models_held_out_predictions_ignore_the_held_out_labels(monkeypatch):
    monkeypatch.setattr(ch, "fold_network_predictions", fake_network_predictions)
    results = toy_results(seed=4)
    first = ch.analyse(None, results)
    before, measured = first.combined.oof, first.measured.oof
    flipped = results.oof.copy()
    held = flipped["fold"] == 0
    for v in schema.VESSELS:
        flipped.loc[held, f"y_{v}"] = 1 - flipped.loc[held, f"y_{v}"]
    results.oof = flipped
    again = ch.analyse(None, results)
    after = again.combined.oof
    cols = schema.prob_cols()
    held_rows = held.to_numpy()
    np.testing.assert_array_equal(
        again.measured.oof.loc[held_rows, cols], measured.loc[held_rows, cols]
    )
    np.testing.assert_array_equal(
        after.loc[held.to_numpy(), cols], before.loc[held.to_numpy(), cols]
    )
    assert not np.allclose(after.loc[~held.to_numpy(), cols], before.loc[~held.to_numpy(), cols])


def test_a_cohort_without_clinical_variables_skips_the_baseline_and_says_why():
    chapter = ch.analyse(None, toy_results(clinical=False))
    assert isinstance(chapter.comparisons, ch.Skipped)
    assert "none of the clinical variables" in chapter.comparisons.message
    assert [s.part for s in chapter.skipped()] == [
        "The clinical baseline",
        "The ESC 2019 PTP baseline",
    ]
    assert chapter.combined is chapter.clinical
    numbers = chapter.numbers()
    assert numbers["clinical_variables"] == "none"
    assert numbers["sentence_nc_internal"] == chapter.comparisons.message
    assert math.isnan(numbers["clin_internal_RCA"]) and math.isnan(numbers["comb_internal_RCA"])
    assert isinstance(chapter.comparison_table(), ch.Skipped)
    # the parts that need no clinical variable are still there
    assert len(chapter.matrix) == 16 and len(chapter.outcomes) == 2 * 4 * 5


def test_beat_measurements_find_a_planted_st_shift():
    from ecglib.signals.beats import beat_time

    t = beat_time()

    def beat(st: float) -> np.ndarray:
        qrs = (
            np.exp(-0.5 * (t / 0.012) ** 2)
            - 0.15 * np.exp(-0.5 * ((t + 0.03) / 0.008) ** 2)
            - 0.2 * np.exp(-0.5 * ((t - 0.03) / 0.008) ** 2)
        )
        wave = qrs + 0.1 * np.exp(-0.5 * ((t + 0.16) / 0.025) ** 2)
        wave = wave + 0.3 * np.exp(-0.5 * ((t - 0.28) / 0.05) ** 2)
        x = np.tile(wave, (12, 1))
        shift = 1 / (1 + np.exp(-(t - 0.045) / 0.004)) / (1 + np.exp((t - 0.4) / 0.02))
        x[schema.LEADS.index("V2")] += st * shift
        return x

    nan = np.full_like(beat(0.0), np.nan)
    m = beat_measurements(np.stack([beat(0.0), beat(0.2), nan]), [60.0, 70.0, np.nan])
    assert list(m.columns) == list(MEASUREMENTS)
    assert m.at[1, "ST V2"] - m.at[0, "ST V2"] == pytest.approx(0.2, abs=0.01)
    others = [f"ST {lead}" for lead in schema.LEADS if lead != "V2"]
    assert np.allclose(m.loc[1, others], m.loc[0, others], atol=0.002)
    assert abs(m.at[0, "ST I"]) < 0.01
    assert 60 < m.at[0, "QRS duration"] < 120 and 300 < m.at[0, "QT interval"] < 500
    assert m.loc[2].isna().all() and m.at[1, "heart rate"] == 70.0


def test_the_forest_figure_draws_each_difference_and_interval_where_given():
    from ecglib.plots.added_value import difference_forest_figure

    table = pd.DataFrame(
        {
            "population": ["internal"] * 3,
            "vessel": ["RCA", "LAD", "LM"],
            "comparison": ["network - clinical"] * 3,
            "diff": [0.04, -0.02, np.nan],
            "diff_low": [0.01, -0.07, np.nan],
            "diff_high": [0.09, 0.01, np.nan],
        }
    )
    fig = difference_forest_figure(table)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "RCA: network - clinical",
        "LAD: network - clinical",
        "LM: network - clinical",
    ]
    # the error bars span exactly the given intervals, at their rows (seaborn draws each bar
    # and its caps as NaN-separated segments of one line)
    spans = set()
    for line in ax.lines:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        for seg in np.split(np.arange(len(x)), np.flatnonzero(np.isnan(y)) + 1):
            seg = seg[~np.isnan(y[seg]) & ~np.isnan(x[seg])]
            if len(seg) == 2 and y[seg[0]] == y[seg[1]] and x[seg[0]] != x[seg[1]]:
                spans.add((round(x[seg].min(), 6), round(x[seg].max(), 6), round(y[seg[0]], 6)))
    assert (0.01, 0.09, 0.0) in spans and (-0.07, 0.01, 1.0) in spans
    # the points are the estimates (the median of bound, estimate, bound)
    points = {
        (round(float(x), 6), round(float(y), 6))
        for line in ax.lines
        for x, y in zip(line.get_xdata(), line.get_ydata())
        if line.get_marker() not in (None, "None", "")
    }
    assert (0.04, 0.0) in points and (-0.02, 1.0) in points
    assert any(t.get_text() == "n/a" for t in ax.texts)  # LM has no difference


def test_clinical_variables_are_named_as_table_1_names_them():
    names = [ch.variable_name(c) for c in ("age", "symptom", "family_history", "smoking")]
    assert names == ["age", "symptom", "family history of CAD", "smoking (current or past)"]


def test_a_model_auc_below_one_half_is_said_with_why_it_can_happen():
    from types import SimpleNamespace

    rows = []
    for reference in (ch.NETWORK, ch.COMBINED):  # the same model's AUC under two references
        for model, auc in ((ch.NETWORK, 0.88), (ch.CLINICAL, 0.357)):
            rows.append(
                {"population": "internal", "reference": reference, "vessel": "LM",
                 "model": model, "auc": auc, "ci_low": auc - 0.2, "ci_high": auc + 0.2}
            )  # fmt: skip
    comparisons = pd.DataFrame(rows)
    text = ch.AddedValue.below_half_sentence(SimpleNamespace(comparisons=comparisons))
    assert text.startswith("One AUC is below 0.5: the clinical model for LM disease, internal")
    assert "0.357, 95% CI 0.157-0.557, which includes 0.5" in text
    assert "handful of positives" in text
    comparisons["auc"] = 0.7
    fine = ch.AddedValue.below_half_sentence(SimpleNamespace(comparisons=comparisons))
    assert fine == "No model's AUC on this page is below 0.5."
    skipped = ch.AddedValue.below_half_sentence(SimpleNamespace(comparisons=ch.Skipped("x", "y")))
    assert "skipped" in skipped
