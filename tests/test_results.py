"""ecglib.chapters.run_results: predictions joined to the cohort without identifiers, the published numbers,
notices, skipped parts, and the saved metric tables."""
import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from ecglib.chapters import run_results as results
from ecglib import schema
from ecglib.config import DataParams, ModelParams, RunParams
from ecglib.errors import DataError, MissingInputError
from ecglib.paths import RunPaths
from ecglib.train.predict import predictions_frame, write_predictions

from conftest import DEMO_MAP

N_FOLDS = 3


def make_cohort(n_patients: int = 30, n_external: int = 6, seed: int = 0) -> pd.DataFrame:
    """Canonical cohort rows: some patients with two CCTA exams, exams with one to three ECGs."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        site = "external" if p >= n_patients - n_external else "internal"
        n_exams = 2 if p % 5 == 0 else 1
        for e in range(n_exams):
            ccta = pd.Timestamp("2023-01-01") + pd.Timedelta(days=10 * p + 200 * (n_exams - 1 - e))
            grades = rng.integers(0, 5, size=4)
            for k in range(1 + (p + e) % 3):
                ecg = ccta - pd.Timedelta(hours=2 + 30 * k)
                rows.append({
                    "patient_id": f"P{p:03d}", "ccta_id": f"C{p:03d}-{e}",
                    "ecg_id": f"E{len(rows):04d}",
                    "ecg_path": f"/x/E{len(rows):04d}.npy", "ecg_time": ecg, "ccta_time": ccta,
                    "site": site, "age": float(40 + p), "sex": "male" if p % 2 else "female",
                    "symptom": "typical", "normal_ecg": float(p % 3 == 0),
                    "ecg_ccta_hours": (ccta - ecg).total_seconds() / 3600,
                    "followup_days": 300.0 + p, "followup_event": float(p % 7 == 0),
                    **{schema.grade_col(v): int(g) for v, g in zip(schema.VESSELS, grades)}})
    cohort = pd.DataFrame(rows)
    cohort[schema.label_cols()] = schema.binarise_grades(cohort)
    return cohort


def write_run(tmp_path, cohort: pd.DataFrame, *, external: bool = True) -> RunParams:
    params = RunParams(name="t", seed=1, data=DataParams(table="x.csv", map="m.yaml"),
                       runs_dir=str(tmp_path))
    params = replace(params, folds=replace(params.folds, n_folds=N_FOLDS))
    paths = RunPaths.of(params).ensure()
    cohort.to_csv(paths.cohort, index=False)
    rng = np.random.default_rng(3)
    internal = cohort.index[cohort["site"] == "internal"].to_numpy()
    patients = pd.factorize(cohort.loc[internal, "patient_id"])[0]
    for k in range(N_FOLDS):
        rows = internal[patients % N_FOLDS == k]
        write_predictions(predictions_frame(rows, rng.uniform(size=(len(rows), 4)), fold=k),
                          paths.oof_predictions(k))
        ext = cohort.index[cohort["site"] == "external"].to_numpy()
        if external and len(ext):
            write_predictions(predictions_frame(ext, rng.uniform(size=(len(ext), 4))),
                              paths.external_predictions(k))
    return params


# ------------------------------------------------------------------------------------------
def test_cohort_keys_rank_exams_and_ecgs_without_identifiers():
    cohort = make_cohort()
    keys = results.cohort_keys(cohort)
    assert list(keys.columns) == ["patient", "exam", "exam_order", "ecg_order"]
    assert keys["patient"].nunique() == cohort["patient_id"].nunique()
    assert keys["exam"].nunique() == cohort["ccta_id"].nunique()
    for exam, group in cohort.groupby("ccta_id"):
        k = keys.loc[group.index]
        latest = group["ecg_time"].idxmax()
        assert k.loc[latest, "ecg_order"] == 1
        assert sorted(k["ecg_order"]) == list(range(1, len(group) + 1))
    for patient, group in cohort.groupby("patient_id"):
        first = group.loc[group["ccta_time"] == group["ccta_time"].min()].index
        assert (keys.loc[first, "exam_order"] == 1).all()
        assert keys.loc[group.index, "exam_order"].max() == group["ccta_id"].nunique()


def test_join_results_carries_labels_covariates_keys_and_no_identifier():
    cohort = make_cohort()
    preds = predictions_frame(np.array([3, 0, 5]), np.full((3, 4), 0.2), fold=1)
    joined = results.join_results(preds, cohort)
    assert joined["row"].tolist() == [3, 0, 5]
    assert joined["y_LAD"].tolist() == cohort.loc[[3, 0, 5], "y_LAD"].tolist()
    assert joined["age"].tolist() == cohort.loc[[3, 0, 5], "age"].tolist()
    assert {"patient", "exam", "exam_order", "ecg_order", "followup_days"} <= set(joined.columns)
    assert not set(results.IDENTIFYING_COLUMNS) & set(joined.columns)
    assert not joined.astype(str).isin(set(cohort["patient_id"])).any().any()
    with pytest.raises(DataError, match="not in the cohort"):
        results.join_results(predictions_frame(np.array([len(cohort)]), np.zeros((1, 4))), cohort)


def test_load_results_pools_folds_and_averages_external(tmp_path):
    cohort = make_cohort()
    params = write_run(tmp_path, cohort)
    res = results.load_results(params)
    internal = cohort.index[cohort["site"] == "internal"]
    assert sorted(res.oof["row"]) == list(internal) and res.folds == [0, 1, 2]
    assert set(res.fold(1)["fold"]) == {1}
    assert res.external is not None and res.n_fold_models == N_FOLDS
    assert sorted(res.external["row"]) == list(cohort.index[cohort["site"] == "external"])
    paths = RunPaths.of(params)
    frames = [pd.read_csv(paths.external_predictions(k)).sort_values("row") for k in range(3)]
    want = np.mean([f[schema.prob_cols()].to_numpy() for f in frames], axis=0)
    got = res.external.sort_values("row")[schema.prob_cols()].to_numpy()
    np.testing.assert_allclose(got, want)
    normal = res.normal_ecg()
    assert (normal["normal_ecg"] == 1).all() and len(normal) == (res.oof["normal_ecg"] == 1).sum()
    assert res.skipped == {}


def test_load_results_without_external_site_skips_it(tmp_path):
    cohort = make_cohort(n_external=0).drop(columns=["normal_ecg"])
    res = results.load_results(write_run(tmp_path, cohort))
    assert res.external is None and res.n_fold_models == 0
    assert "no external site" in res.skipped["external"]
    with pytest.raises(MissingInputError, match="no external site"):
        res.require_external()
    with pytest.raises(MissingInputError, match="normal"):
        res.normal_ecg()


def test_load_results_refuses_stale_or_missing_predictions(tmp_path):
    cohort = make_cohort()
    params = write_run(tmp_path, cohort)
    paths = RunPaths.of(params)
    # a cohort with one more internal row than was predicted
    extra = cohort.iloc[[0]].assign(ecg_id="E9999", ecg_path="/x/E9999.npy")
    pd.concat([cohort, extra], ignore_index=True).to_csv(paths.cohort, index=False)
    with pytest.raises(DataError, match="do not match"):
        results.load_results(params)
    cohort.to_csv(paths.cohort, index=False)
    paths.external_predictions(2).unlink()
    with pytest.raises(DataError, match="no predictions"):
        results.load_results(params)


# ------------------------------------------------------------------------------------------
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
    ours = pd.DataFrame({"vessel": list(schema.VESSELS), "auc": [0.7, 0.6, np.nan, 0.65],
                         "ci_low": [0.6, 0.5, np.nan, np.nan],
                         "ci_high": [0.8, 0.7, np.nan, np.nan],
                         "set": "internal, pooled"})
    layout = results.paper_layout(ours)
    assert layout.index.names == ["source", "set"]
    first = layout.iloc[0]
    assert first.name == ("this run", "internal, pooled")
    assert first.tolist() == ["0.700 [0.600-0.800]", "0.600 [0.500-0.700]", "n/a", "0.650"]
    published = layout.loc[layout.index.get_level_values("source") != "this run"]
    assert len(published) == 6
    assert published.index.get_level_values("source").str.endswith("(context, not a target)").all()
    only = results.paper_layout({"x": ours}, published_sets={"external": "external (published)"})
    assert only.index.get_level_values("set").tolist() == ["x", "external (published)",
                                                           "external (published)"]
    brier = results.paper_layout({"x": ours.rename(columns={"auc": "brier"})}, "brier", ci=None)
    assert brier.iloc[0].tolist() == ["0.700", "0.600", "n/a", "0.650"] and len(brier) == 2


def test_format_estimate():
    assert results.format_estimate(0.7123, 0.65, 0.77) == "0.712 [0.650-0.770]"
    assert results.format_estimate(0.01, -0.05, 0.07) == "0.010 [-0.050 to 0.070]"
    assert results.format_estimate(0.5, math.nan, 0.6) == "0.500 [CI n/a]"
    assert results.format_estimate(math.nan) == "n/a"
    assert results.format_estimate(0.5, digits=1) == "0.5"


def test_random_init_notice_only_without_pretrained_weights():
    params = RunParams(name="t", seed=1, data=DataParams(table="x", map=str(DEMO_MAP)))
    assert "random" in results.random_init_notice(params).lower()
    assert results.notice_markdown(params).data.startswith("> ")
    pretrained = replace(params, model=ModelParams(pretrained="ecgfounder.pth"))
    assert results.random_init_notice(pretrained) is None
    assert results.notice_markdown(pretrained) is None
    assert results.notice_markdown(params, model=False) is None


def test_label_notices_come_from_the_column_map(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(DEMO_MAP.read_text(encoding="utf-8").replace("  grade_LM: LM\n", "")
                    + "not_assessed: [LM]\nnotice: >\n  These labels are\n  proxies.\n",
                    encoding="utf-8")
    params = RunParams(name="t", seed=1, data=DataParams(table="x", map=str(path)),
                       model=ModelParams(pretrained="ecgfounder.pth"))
    notices = results.label_notices(params)
    assert notices[0] == "These labels are proxies."
    assert notices[1].startswith("**Not assessed: LM.**")
    text = results.notice_markdown(params).data
    assert text.count("> ") == 2 and "random" not in text.lower()


# ------------------------------------------------------------------------------------------
def test_run_part_turns_only_missing_inputs_into_skips():
    def needs_symptoms(x):
        raise MissingInputError("the cohort has no symptom column")

    skipped = results.run_part("The PTP analysis", needs_symptoms, 1)
    assert isinstance(skipped, results.Skipped) and not skipped
    assert skipped.message == ("The PTP analysis is skipped because the cohort has no symptom "
                               "column.")
    assert "**Skipped.**" in skipped._repr_markdown_()
    # a dependent part is not called and reports the first skip
    calls = []
    again = results.run_part("Its figure", lambda a, b=None: calls.append(a), 1, b=skipped)
    assert again is skipped and calls == []
    # any other error propagates
    with pytest.raises(ZeroDivisionError):
        results.run_part("x", lambda: 1 / 0)
    assert results.run_part("x", lambda a: a + 1, 1) == 2
    assert results.unless_skipped(lambda a: a + 1, 1) == 2
    assert results.unless_skipped(lambda a: a + 1, skipped) is skipped
    with pytest.raises(MissingInputError):
        results.unless_skipped(needs_symptoms, 1)
    assert results.skip_message(MissingInputError("no follow-up")) == (
        "This chapter is skipped because no follow-up.")


def test_skipped_markdown_and_shown():
    assert results.skipped_markdown([1, "a", None]) is None
    md = results.skipped_markdown({"external": "there is none"},
                                  {"external": "External validation"})
    assert md.data == "> **Skipped.** External validation is skipped because there is none."
    parts = results.skipped_parts({"LM": "one class"}, "Stratifying {}")
    assert parts[0].message == "Stratifying LM is skipped because one class."
    assert results.shown(parts[0]) is None and results.shown(3) == 3


def test_saving_refuses_identifiers_and_writes_plain_numbers(tmp_path):
    with pytest.raises(ValueError, match="patient_id"):
        results.save_table(pd.DataFrame({"patient_id": ["P1"], "auc": [0.7]}), tmp_path, "t")
    with pytest.raises(ValueError, match="when"):
        results.save_table(pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])}), tmp_path, "t")
    with pytest.raises(ValueError, match="ccta_id"):
        results.check_deidentified(pd.DataFrame({"x": [1]}, index=pd.Index(["C1"], name="ccta_id")))
    path = results.save_json({"a": np.float64(0.5), "b": math.nan, "c": np.int64(3)}, tmp_path, "n")
    assert json.loads(path.read_text()) == {"a": 0.5, "b": None, "c": 3}


def test_save_dispatches_by_type(tmp_path):
    paths = RunPaths(tmp_path)
    assert results.save(pd.DataFrame({"vessel": ["RCA"], "auc": [0.7]}), paths, "table") is None
    assert pd.read_csv(paths.metrics / "table.csv").columns.tolist() == ["vessel", "auc"]
    indexed = pd.DataFrame({"auc": [0.7]}, index=pd.Index(["RCA"], name="vessel"))
    results.save(indexed, paths, "indexed")
    assert pd.read_csv(paths.metrics / "indexed.csv").columns.tolist() == ["vessel", "auc"]
    results.save({"x": 1}, paths, "numbers")
    assert json.loads((paths.metrics / "numbers.json").read_text()) == {"x": 1}
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    results.save(fig, paths, "figure")
    assert (paths.figures / "figure.png").exists() and (paths.figures / "figure.pdf").exists()
    results.save(results.Skipped("x", "y"), paths, "nothing")
    assert not list(paths.metrics.glob("nothing*"))
    with pytest.raises(TypeError):
        results.save(3, paths, "three")
