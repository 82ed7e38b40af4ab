"""ecglib.chapters.ablations: every finished run variant against the full method on the same
ECGs (paired clustered AUC differences), the training cost, and what the page says about
variants that are not finished or not declared."""

import json
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from chapter_support import N_FOLDS, joined_predictions, make_cohort, write_run  # noqa: E402

from ecglib import schema  # noqa: E402
from ecglib.chapters import ablations as ch  # noqa: E402
from ecglib.chapters import ablations_runs as runs  # noqa: E402
from ecglib.chapters.parts import Skipped  # noqa: E402
from ecglib.config import Variant  # noqa: E402
from ecglib.data.prepare import read_cohort  # noqa: E402
from ecglib.data.store import STORE_VERSION, open_store  # noqa: E402
from ecglib.errors import DataError  # noqa: E402
from ecglib.metrics.auc_contrasts import model_comparison_table  # noqa: E402
from ecglib.paths import RunPaths  # noqa: E402
from ecglib.plots.ablations import ablation_difference_figure  # noqa: E402
from ecglib.train.fit import history_columns, training_fingerprint  # noqa: E402
from ecglib.train.predict import read_predictions, write_predictions  # noqa: E402
from ecglib.train.variants import finished_variants, pool_variant  # noqa: E402

VESSELS = list(schema.VESSELS)


def _worse(table: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """The table's predictions with most of their signal replaced by noise (a planted, clearly
    worse model)."""
    rng = np.random.default_rng(seed)
    out = table[["row", *schema.prob_cols()]].copy()
    for c in schema.prob_cols():
        out[c] = 0.15 * out[c] + rng.uniform(size=len(out))
    return out


# ---- compare on toy prediction tables -----------------------------------------------------------
def test_identical_predictions_differ_by_zero():
    p = joined_predictions(n=400)
    same = p[["row", *schema.prob_cols()]].sample(frac=1.0, random_state=0)  # any row order
    out = ch.compare(p, same, VESSELS, name="same", population="internal")
    assert list(out["vessel"]) == [*VESSELS, ch.MACRO]
    assert np.allclose(out["diff"], 0.0) and np.allclose(out["p_value"], 1.0)
    assert np.allclose(out["auc_variant"], out["auc_full"])
    text = ch.difference_sentence(out, "a copy")
    assert "+0.000" in text and "includes 0" in text and "worse" not in text


def test_a_planted_worse_variant_has_a_negative_difference_excluding_zero():
    p = joined_predictions(n=600)
    out = ch.compare(p, _worse(p), VESSELS, name="worse", population="internal")
    per_vessel = out[out["vessel"] != ch.MACRO]
    # each vessel's difference is the paired clustered one, variant - full
    want = model_comparison_table(
        p, {"full": p, "v": _worse(p).set_index(p.index)}, VESSELS, reference="full"
    )
    want = want[want["model"] == "v"].set_index("vessel")
    assert np.allclose(per_vessel["diff"], -want.loc[VESSELS, "diff"])
    assert np.allclose(per_vessel["diff_low"], -want.loc[VESSELS, "diff_high"])
    macro = out[out["vessel"] == ch.MACRO].iloc[0]
    assert macro["diff"] == pytest.approx(per_vessel["diff"].mean())
    assert macro["diff_high"] < 0 and macro["p_value"] < 0.05
    text = ch.difference_sentence(out, "noise")
    assert "less well" in text
    worse = [v for v in VESSELS if per_vessel.set_index("vessel").at[v, "diff_high"] < 0]
    assert worse and f"worse for {worse[0]}" in text


def test_a_better_variant_is_called_better_only_where_its_interval_excludes_zero():
    p = joined_predictions(n=600)
    full = p.copy()
    full[schema.prob_cols()] = _worse(p)[schema.prob_cols()].to_numpy()
    out = ch.compare(full, p[["row", *schema.prob_cols()]], VESSELS, name="b", population="x")
    text = ch.difference_sentence(out, "the original")
    rows = out[out["vessel"] != ch.MACRO].set_index("vessel")
    better = [v for v in VESSELS if rows.at[v, "diff_low"] > 0]
    unclear = [v for v in VESSELS if rows.at[v, "diff_low"] <= 0 <= rows.at[v, "diff_high"]]
    assert better and "separates disease better" in text and "less well" not in text
    assert ("for " + unclear[0]) in text if unclear else "includes 0" not in text


def test_a_vessel_with_too_few_events_is_withheld_not_shown():
    # CI's chapter showed the external LM's AUCs on 2 positive ECGs: report.min_events applies
    p = joined_predictions(n=400)
    p["y_LM"] = 0
    p.loc[[0, 5, 9], "y_LM"] = 1  # 3 positive ECGs: below 5
    out = ch.compare(p, _worse(p), VESSELS, name="w", population="internal", min_events=5)
    lm = out.set_index("vessel").loc["LM"]
    assert lm["reason"] == "too few events (3)" and lm["positives"] == 3
    assert all(np.isnan(lm[c]) for c in ("auc_variant", "auc_full", "diff", "p_value"))
    macro = out[out["vessel"] == ch.MACRO].iloc[0]
    assert "(LM left out: too few events (3))" in macro["reason"]
    assert "LM (too few events (3)) is withheld" in ch.difference_sentence(out, "noise")
    shown = ch.comparison_display(out).loc[("w", "internal", "LM")]
    assert shown["variant AUC [95% CI]"] == "too few events (3)" and shown["p"] == "—"
    # the same rows with the threshold at 1 keep their estimates
    kept = ch.compare(p, _worse(p), VESSELS, name="w", population="internal", min_events=1)
    assert np.isfinite(kept.set_index("vessel").at["LM", "auc_variant"])


def test_a_difference_without_an_interval_is_left_out_of_the_macro_and_said():
    p = joined_predictions(n=400)
    p["y_LM"] = 0
    p.loc[0, "y_LM"] = 1  # one positive ECG: no clustered variance
    out = ch.compare(p, _worse(p), VESSELS, name="w", population="internal")
    macro = out[out["vessel"] == ch.MACRO].iloc[0]
    assert "LM left out" in macro["reason"]
    assert macro["diff"] == pytest.approx(
        out[out["vessel"].isin(["RCA", "LAD", "LCX"])]["diff"].mean()
    )
    assert "LM has no interval" in ch.difference_sentence(out, "noise")


def test_predictions_of_other_ecgs_are_an_error_naming_the_variant():
    p = joined_predictions(n=200)
    with pytest.raises(DataError, match="variant odd"):
        ch.compare(p, p.iloc[1:][["row", *schema.prob_cols()]], VESSELS, name="odd", population="x")


# ---- step-cost estimate -------------------------------------------------------------------------
def test_relative_step_cost_counts_forward_pass_units():
    base = _default_params()  # pcgrad, augmentation, four tasks: 2 x (1 + 2 x 4) = 18 units
    no_pc = replace(base, train=replace(base.train, gradient_surgery="none"))
    no_aug = replace(base, train=replace(base.train, augment=False))
    single = replace(base, train=replace(base.train, single_task=True))
    assert runs.relative_step_cost(base, no_pc, 4) == pytest.approx(6 / 18)
    assert runs.relative_step_cost(base, no_aug, 4) == pytest.approx(0.5)
    assert runs.relative_step_cost(base, single, 4) == pytest.approx(4 * 2 * 3 / 18)
    leads = replace(base, model=replace(base.model, input_leads=["I"]))
    assert runs.relative_step_cost(base, leads, 4) == 1.0
    assert runs.estimated_minutes(2.0, base, no_pc, 4, 3) == pytest.approx(2.0 * (6 / 18) * 3)


def _default_params():
    from ecglib.config import DataParams, RunParams

    return RunParams(name="t", seed=1, data=DataParams(table="x.csv", map="m.yaml"))


# ---- a toy run with variants on disk ------------------------------------------------------------
def _fake_store(paths: RunPaths, cohort: pd.DataFrame) -> None:
    """The store files the fingerprint reads (its meta's fingerprint), with a tiny array."""
    paths.store.mkdir(parents=True, exist_ok=True)
    meta = {"version": STORE_VERSION, "fingerprint": "toy-store"}
    (paths.store / "meta.json").write_text(json.dumps(meta))
    np.save(paths.store / "signals.npy", np.zeros((len(cohort), 1, 1), dtype=np.float32))
    index = pd.DataFrame({"row": range(len(cohort)), "ecg_path": cohort["ecg_path"]})
    index.to_csv(paths.store / "index.csv", index=False)


def _write_fold(paths: RunPaths, k: int, fingerprint: str, seconds: float, n_train: int):
    """A finished fold's summary and history (2 epochs), as training writes them."""
    paths.ensure()
    history = pd.DataFrame(
        [
            {c: 0.0 for c in history_columns()} | {"epoch": e + 1, "seconds": seconds / 2.5}
            for e in range(2)
        ],
        columns=history_columns(),
    )
    history["pcgrad_conflicts"] = [1.5, 2.5]
    history["pcgrad_conflict_steps"] = [0.5, 1.0]
    history.to_csv(paths.train_history(k), index=False)
    summary = {
        "fold": k,
        "fingerprint": fingerprint,
        "seconds": seconds,
        "n_rows": {"train": n_train, "val": 5, "test": 5, "external": 1},
        "world_size": 1,
        "epochs": 2,
    }
    paths.train_summary(k).write_text(json.dumps(summary))


def toy_run(tmp_path, variants: dict[str, dict]):
    """A run with predictions, fold summaries and a store, and ``variants`` (name -> overlay)."""
    cohort = make_cohort(n_patients=60, n_external=12, seed=2)
    run = write_run(tmp_path, cohort)
    run = replace(
        run,
        variants=tuple(Variant(name=n, overlay=o) for n, o in variants.items()),
        train=replace(run.train, batch_size=16),
    )
    paths = RunPaths.of(run)
    _fake_store(paths, cohort)
    cohort = read_cohort(paths.cohort)
    store = open_store(paths.store)
    for k in range(N_FOLDS):
        _write_fold(paths, k, "base", 60.0, n_train=40)  # 3 steps per epoch
    return run, cohort, store


def finish_variant(run, cohort, store, name, transform, folds=range(N_FOLDS), seconds=30.0):
    """Variant ``name``'s folds as training would leave them, its predictions ``transform`` of
    the full method's."""
    base, paths = RunPaths.of(run), RunPaths.of(run).variant(name)
    paths.ensure()
    params = run.variant(name)
    for k in folds:
        _write_fold(paths, k, training_fingerprint(params, cohort, store, k), seconds, 40)
        for src, dst in (
            (base.oof_predictions(k), paths.oof_predictions(k)),
            (base.external_predictions(k), paths.external_predictions(k)),
        ):
            frame = read_predictions(src)
            write_predictions(transform(frame), dst)


def test_the_chapter_compares_finished_variants_and_lists_the_rest(tmp_path):
    overlays = {
        "same": {"train": {"gradient_surgery": "none"}},
        "worse": {"model": {"input_leads": ["I"]}},
        "half": {"train": {"augment": False}},
    }
    run, cohort, store = toy_run(tmp_path, overlays)
    finish_variant(run, cohort, store, "same", lambda f: f)
    finish_variant(run, cohort, store, "worse", lambda f: _noise(f))
    finish_variant(run, cohort, store, "half", lambda f: f, folds=[0])
    chapter = ch.analyse(run)

    assert chapter.finished == ("same", "worse")
    table = chapter.comparisons
    assert set(table["population"]) == set(ch.POPULATIONS.values())
    same = table[table["variant"] == "same"]
    assert np.allclose(same["diff"].dropna(), 0.0)
    assert same["diff"].notna().any()
    assert chapter.comparison_table().shape[0] == len(table)

    # costs: minutes from the summaries, seconds per step from the epochs' seconds and steps
    costs = chapter.costs.set_index("model")
    assert costs.at[ch.FULL, "minutes"] == pytest.approx(3 * 60 / 60)
    assert costs.at[ch.FULL, "steps"] == 3 * 2 * 3  # folds x epochs x ceil(40 / 16)
    assert costs.at[ch.FULL, "seconds_per_step"] == pytest.approx(3 * 2 * 24 / 18)
    assert costs.at["same", "relative_step"] == pytest.approx(0.5)
    assert costs.at[ch.FULL, "conflict_share"] == pytest.approx(2.0 / 6)
    assert costs.at[ch.FULL, "conflict_steps"] == pytest.approx(0.75)
    assert chapter.cost_table().at["same", "step cost / full method's"] == "0.50"
    sentence = chapter.numbers()["cost_sentence"]
    assert "The full method took 3.0 minutes" in sentence
    assert "conflict between two vessels' gradients on 75% of its steps" in sentence
    assert chapter.cost_table().at[ch.FULL, "PCGrad: steps with a conflict"] == "75%"

    # the unfinished variant: listed with its folds, the commands and an estimate
    unfinished = chapter.unfinished.set_index("variant")
    assert list(unfinished.index) == ["half"]
    assert unfinished.at["half", "finished"] == 1
    assert unfinished.at["half", "estimate"] == pytest.approx(1.0 * 0.5 * 2)  # 2 folds left
    text = chapter.how_to_run_text()
    assert "**half**" in text and "1 of 3 folds finished" in text and "an estimate" in text
    assert "make ablations" in text and "--variants" in text and "--variant NAME --fold K" in text
    assert "about 1.0 minutes for the rest" in text
    (skip,) = chapter.skipped()
    assert "variant half" in skip.message and "1 of its 3 folds" in skip.message
    assert "same" not in text

    numbers = chapter.numbers()
    assert numbers["n_declared"] == 3 and numbers["n_finished"] == 2
    assert numbers["declared_text"] == "3 variants"
    assert numbers["finished_text"] == "2 of them have finished all their folds (same and worse)"
    assert chapter.differences_caption() == (
        "Drawn: 2 variants (same and worse) on the "
        + " and ".join(ch.POPULATIONS.values())
        + " ECGs."
    )
    assert (
        "**same**" in numbers["sentence_internal"] and "**worse**" in numbers["sentence_external"]
    )
    fig = ablation_difference_figure(chapter.differences())
    assert len(fig.axes) == 2
    plt.close(fig)


def _noise(frame: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(len(frame))
    out = frame.copy()
    for c in schema.prob_cols():
        out[c] = rng.uniform(size=len(out))
    return out


def test_a_stale_variant_is_not_compared_and_says_why(tmp_path):
    run, cohort, store = toy_run(tmp_path, {"v": {"train": {"gradient_surgery": "none"}}})
    finish_variant(run, cohort, store, "v", lambda f: f)
    # the overlay is edited after training: the folds' fingerprints no longer match
    run = replace(run, variants=(Variant("v", {"train": {"augment": False}}),))
    chapter = ch.analyse(run)
    assert isinstance(chapter.comparisons, Skipped)
    assert "no declared variant has finished" in chapter.comparisons.message
    assert "other settings or data" in chapter.how_to_run_text()
    assert isinstance(chapter.costs, Skipped)
    assert chapter.numbers()["sentence_internal"] == (
        f"Nothing to compare: {chapter.comparisons.reason}."
    )
    assert chapter.numbers()["finished_text"] == "none of them has finished all its folds yet"


def test_without_variants_the_page_says_how_to_declare_them(tmp_path):
    run, _, _ = toy_run(tmp_path, {})
    chapter = ch.analyse(run)
    assert isinstance(chapter.comparisons, Skipped) and chapter.unfinished.empty
    assert chapter.skipped()[0] is chapter.comparisons
    text = chapter.how_to_run_text()
    assert "declares no variants" in text and "variants:" in text and "make ablations" in text
    assert chapter.numbers()["n_declared"] == 0


def test_the_figure_draws_each_difference_with_its_interval_and_the_legend_outside():
    p = joined_predictions(n=400)
    table = pd.concat(
        [
            ch.compare(p, _worse(p), VESSELS, name="worse", population="internal"),
            ch.compare(
                p, p[["row", *schema.prob_cols()]], VESSELS, name="same", population="internal"
            ),
        ]
    )
    fig = ablation_difference_figure(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["same", "worse"]
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # outside the data
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [*VESSELS, "macro mean"]
    plt.close(fig)


# ---- the real ci run ----------------------------------------------------------------------------
def test_the_ci_run_compares_its_two_finished_variants(ci_run):
    chapter = ch.analyse(ci_run)
    names = tuple(v.name for v in ci_run.variants)
    assert chapter.finished == names and len(names) == 2
    table = chapter.comparisons
    assert set(table["variant"]) == set(names)
    assert set(table["population"]) == set(ch.POPULATIONS.values())
    macro = table[table["vessel"] == ch.MACRO]
    assert np.isfinite(macro["diff"]).all()
    # every difference is variant - full on the same ECGs: the AUCs' difference
    finite = table[np.isfinite(table["diff"])]
    assert np.allclose(finite["diff"], finite["auc_variant"] - finite["auc_full"])
    assert chapter.unfinished.empty
    costs = chapter.costs.set_index("model")
    assert (costs["minutes"] > 0).all() and (costs["seconds_per_step"] > 0).all()
    numbers = chapter.numbers()
    for name in names:
        assert f"**{name}**" in numbers["sentence_internal"]
    fig = ablation_difference_figure(chapter.differences())
    plt.close(fig)


def test_a_fold_is_finished_by_the_rule_training_reuses_it_by(tmp_path):
    # one rule (train.variants.fold_problem) for "reuse this fold" and "compare this fold"
    run, cohort, store = toy_run(tmp_path, {"v": {"train": {"gradient_surgery": "none"}}})
    finish_variant(run, cohort, store, "v", lambda f: f)
    paths = RunPaths.of(run).variant("v")
    pool_variant(run, "v")
    assert finished_variants(run) == ["v"]
    paths.train_summary(1).write_text("{not json")
    paths.oof_predictions(2).unlink()
    (state,) = runs.variant_states(run)
    assert state.finished == (0,)
    assert state.missing[1] == "its summary (train_fold1.json) is not readable JSON"
    assert state.missing[2].startswith("its held-out predictions")
    assert finished_variants(run) == []


def test_finished_text_reads_right_for_every_count():
    assert ch.finished_text((), 6) == "none of them has finished all its folds yet"
    assert ch.finished_text(("a",), 6) == "1 of them has finished all its folds (a)"
    assert ch.finished_text(("a",), 1) == "it has finished all its folds (a)"
    assert ch.finished_text(("a", "b"), 2) == "all of them have finished all their folds (a and b)"
