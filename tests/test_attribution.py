"""ecglib.model.attribution, ecglib.chapters.interpretability and ecglib.plots.attribution.

- integrated gradients are complete (attributions sum to f(x) - f(baseline)) for a tiny Net1D,
  and do not depend on the batching;
- folding onto beats and the aggregation put a known attribution where it was put;
- the chapter's orchestration survives tiny or empty groups (a weak CI model) and says why;
- **planted-signal recovery**: on simulated demo ECGs with the planted vessel-territory ST-T
  signal, a tiny Net1D trained here (325 steps on 2-s crops of 400 ECGs) learns all four vessels, and both
  the waveform differences of its high- vs low-risk groups and its attributions rank the planted
  leads and the ST-T segment at the top (criteria at :func:`test_planted_signal_is_recovered`).
"""
from __future__ import annotations

import dataclasses
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from torch import nn  # noqa: E402

from ecglib.model.attribution import BeatAttribution, beat_attribution, fold_beats, integrated_gradients, vessel_index
from ecglib.signals.beats import average_beats, beat_window, ecg_beats
from ecglib.demo import PLANTED_TERRITORIES, simulate_from_grades
from ecglib.chapters.interpretability import Interpretation, RowView, interpret_vessel, lead_rank_table, planted_vs_found, recall_at_k
from ecglib.model import Net1D
from ecglib.plots.attribution import attribution_heatmap_figure, attribution_heatmaps_figure, planted_vs_found_figure
from ecglib.schema import FS, LEADS, VESSELS
from ecglib.signals import ecg_zscore
from ecglib.signals.waveforms import ST_T, WAVES


def tiny_net(seed: int = 0, filters=(8, 16, 32), use_bn: bool = True) -> Net1D:
    torch.manual_seed(seed)
    return Net1D(in_channels=12, base_filters=filters[0], ratio=1.0, filter_list=list(filters),
                 m_blocks_list=[1] * len(filters), kernel_size=16, stride=4, groups_width=8,
                 n_classes=4, use_bn=use_bn, use_do=False)


def zscored(signals: np.ndarray) -> np.ndarray:
    """The model's input: each record z-scored per lead (as the ECG store holds it)."""
    return np.stack([ecg_zscore(s) for s in signals]).astype(np.float32)


@pytest.fixture(scope="module")
def demo_small():
    """Twelve simulated ECGs (mixed grades) as model inputs."""
    grades = np.zeros((12, 4), int)
    grades[::2, 0] = 4
    signals, _ = simulate_from_grades(grades, seed=3)
    return zscored(signals)


# --- integrated gradients -------------------------------------------------------------------------

def test_integrated_gradients_are_complete():
    model = tiny_net(1)
    # Non-trivial BatchNorm statistics, so eval mode matters.
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 12, 1000))
    x = np.random.default_rng(0).standard_normal((3, 12, 1000)).astype(np.float32)
    res = integrated_gradients(model, x, "LAD", n_steps=64, batch_size=64)
    assert res.attributions.shape == x.shape and res.attributions.dtype == np.float32
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        f_x = model(torch.from_numpy(x))[:, 2].numpy()
        f_0 = model(torch.zeros_like(torch.from_numpy(x)))[:, 2].numpy()
    np.testing.assert_allclose(res.output, f_x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res.baseline_output, f_0, rtol=1e-5, atol=1e-5)
    total = res.attributions.astype(np.float64).sum(axis=(1, 2))
    span = np.abs(f_x - f_0)
    assert span.min() > 1e-3  # a meaningful difference to explain
    # Completeness: the attributions add up to the change of the logit (quadrature error small).
    np.testing.assert_allclose(total, f_x - f_0, atol=0.02 * span.max() + 1e-4)
    np.testing.assert_allclose(res.delta, total - (f_x - f_0), atol=1e-3)
    assert np.all(res.relative_error < 0.02)


def test_integrated_gradients_do_not_depend_on_batching_and_baseline_shape():
    model = tiny_net(2)
    x = np.random.default_rng(1).standard_normal((4, 12, 800)).astype(np.float32)
    a = integrated_gradients(model, x, 0, n_steps=8, batch_size=8)    # 1 record per pass
    b = integrated_gradients(model, x, "RCA", n_steps=8, batch_size=64)  # all 4 at once
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-4, atol=1e-6)
    zero = np.zeros((12, 800), np.float32)
    c = integrated_gradients(model, x, 0, n_steps=8, baseline=zero)
    np.testing.assert_allclose(c.attributions, b.attributions, rtol=1e-4, atol=1e-6)
    # Another baseline: completeness is relative to it.
    base = np.full((12, 800), 0.5, np.float32)
    d = integrated_gradients(model, x, 0, n_steps=32, baseline=base)
    np.testing.assert_allclose(d.attributions.sum(axis=(1, 2)), d.output - d.baseline_output,
                               atol=0.05 * np.abs(d.output - d.baseline_output).max() + 1e-4)


def test_integrated_gradients_reject_bad_arguments():
    model = tiny_net(0)
    x = np.zeros((1, 12, 400), np.float32)
    with pytest.raises(ValueError, match="unknown vessel"):
        integrated_gradients(model, x, "LIMA")
    with pytest.raises(ValueError, match="index"):
        vessel_index(4)
    with pytest.raises(ValueError, match="shape"):
        integrated_gradients(model, np.zeros((12, 400), np.float32), 0)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(model, x, 0, baseline=np.zeros((12, 10), np.float32))
    with pytest.raises(ValueError, match="n_steps"):
        integrated_gradients(model, x, 0, n_steps=0)


# --- folding and aggregation ---------------------------------------------------------------------

def test_fold_beats_cuts_the_windows_and_drops_beats_that_do_not_fit():
    before, after = beat_window(FS)
    series = np.tile(np.arange(5000, dtype=float), (12, 1))
    folded = fold_beats(series, np.array([50, 1000, 2500, 4900]), FS)
    assert folded.shape == (2, 12, before + after)  # 50 and 4900 do not fit
    np.testing.assert_array_equal(folded[0, 3], np.arange(1000 - before, 1000 + after))
    assert fold_beats(series, np.array([], dtype=int)).shape == (0, 12, before + after)


def test_beat_attribution_puts_a_known_attribution_where_it_was_put(demo_small):
    """An 'attribution' that is 1 in V2 from 0.10 to 0.20 s after every R peak and a little noise
    elsewhere: the map, the tables and the rankings must all point at V2 and the ST-T part."""
    signals = demo_small[:6]
    rng = np.random.default_rng(0)
    attributions = 0.01 * rng.standard_normal(signals.shape)
    v2 = LEADS.index("V2")
    for i, s in enumerate(signals):
        res = ecg_beats(s.astype(float), FS)
        for r in res.r_peaks:
            attributions[i, v2, r + int(0.10 * FS): r + int(0.20 * FS)] += 1.0
    attributions[2] *= 50.0  # a record with a much larger output change weighs the same
    ba = beat_attribution(attributions, signals, vessel="LAD")
    assert isinstance(ba, BeatAttribution) and ba.n_included == 6 and ba.exclusions.empty
    heat = ba.heatmap()
    assert heat.shape == (12, sum(beat_window(FS)))
    t = ba.time_s
    inside = (t >= 0.11) & (t <= 0.19)
    assert heat[v2, inside].min() > 5 * np.delete(heat, v2, axis=0).max()
    # Per-record normalisation: the scaled record does not dominate.
    per_record = ba.abs_beats[:, v2][:, inside].mean(axis=1)
    assert per_record.max() < 1.5 * per_record.min()
    assert ba.lead_ranking()["lead"].iloc[0] == "V2"
    assert ba.lead_ranking(by="abs")["lead"].iloc[0] == "V2"
    top = ba.wave_ranking(leads=["V2"])["wave"].iloc[0]
    assert top in ST_T
    table = ba.phase_table()
    assert set(table.columns) >= {"lead", "wave", "mean_abs", "mean_net", "share", "share_total"}
    assert set(table["wave"]) <= set(WAVES)
    np.testing.assert_allclose(table.groupby("lead")["share"].sum(), 1.0)
    np.testing.assert_allclose(table["share_total"].sum(), 1.0)
    tidy = ba.tidy()
    assert len(tidy) == 12 * len(t) and set(tidy["wave"]) <= set(WAVES)


def test_beat_attribution_counts_records_that_cannot_be_cut_into_beats(demo_small):
    signals = demo_small[:3].copy()
    signals[1, 4] = 0.0                        # a flat lead: the signal check rejects it
    signals[2, :, 100] = np.nan                # non-finite samples
    attributions = np.ones_like(signals)
    ba = beat_attribution(attributions, signals, vessel="RCA", record_ids=["a", "b", "c"])
    assert ba.n_included == 1
    assert list(ba.exclusions["record"]) == ["b", "c"]
    assert set(ba.exclusions["reason"]) == {"signal check"}
    assert np.isnan(ba.abs_beats[1:]).all()

    none = beat_attribution(attributions[1:], signals[1:], vessel="RCA")
    assert none.n_included == 0 and none.delineation is None
    assert np.isnan(none.heatmap()).all()
    with pytest.raises(ValueError, match="no record has beats"):
        none.wave_ranking()
    with pytest.raises(ValueError, match="by must be"):
        ba.lead_ranking(by="mean")
    fig = attribution_heatmap_figure(none)
    plt.close(fig)


# --- the chapter's orchestration on a weak model ------------------------------------------------------

def test_interpret_vessel_survives_empty_and_tiny_groups(demo_small):
    model = tiny_net(3)
    average, _ = average_beats(demo_small, progress=False)
    included = np.isfinite(average).all(axis=(1, 2))
    n = len(demo_small)
    labels = np.zeros(n, int)
    labels[:3] = 1
    # Everyone high risk (an LM-like 1% threshold on a weak model): no low-risk group.
    res = interpret_vessel("LM", average=average, included=included, probs=np.full(n, 0.5),
                           labels=labels, signals=demo_small, model_for=lambda fold: model,
                           threshold=0.01, max_records=2, n_steps=4, seed=1)
    assert res.comparison is None and res.n_low == 0
    assert res.n_true_positive == 3 and res.n_attributed == 2  # capped
    assert res.has_attribution
    assert any("no waveform comparison" in note for note in res.notes)
    # No one high risk: no comparison, no attribution, and no crash.
    res = interpret_vessel("LM", average=average, included=included, probs=np.full(n, 0.001),
                           labels=labels, signals=demo_small, model_for=lambda fold: model,
                           threshold=0.01, n_steps=4)
    assert res.comparison is None and res.attribution is None and not res.has_attribution
    assert res.summary()["attributed"] == 0
    table = planted_vs_found({"LM": res})
    assert list(table["method"]) == ["waveform difference", "attribution"]
    assert table["recall_at_k"].isna().all()
    assert lead_rank_table({"LM": res}).empty


def test_attribution_sample_is_seeded(demo_small):
    model = tiny_net(4)
    average, _ = average_beats(demo_small, progress=False)
    included = np.isfinite(average).all(axis=(1, 2))
    n = len(demo_small)
    kwargs = dict(average=average, included=included, probs=np.linspace(0.2, 0.9, n),
                  labels=np.ones(n, int), signals=demo_small, model_for=lambda fold: model,
                  threshold=0.5, max_records=3, n_steps=2)
    a = interpret_vessel("RCA", seed=7, **kwargs)
    b = interpret_vessel("RCA", seed=7, **kwargs)
    c = interpret_vessel("RCA", seed=8, **kwargs)
    assert list(a.attribution.records["record"]) == list(b.attribution.records["record"])
    assert a.n_attributed == 3 and c.n_attributed == 3
    np.testing.assert_array_equal(a.ig.attributions, b.ig.attributions)


def test_recall_at_k():
    assert recall_at_k(["II", "III", "aVF", "I"], ["II", "III", "aVF"]) == 1.0
    assert recall_at_k(["II", "I", "aVF", "III"], ["II", "III", "aVF"]) == pytest.approx(2 / 3)
    assert recall_at_k(["I", "II"], ["II"], k=2) == 1.0


# --- planted-signal recovery ---------------------------------------------------------------------

N_TRAIN, N_EVAL = 400, 240
CROP = 1000                 # training crops (2 s); the model is fully convolutional
EPOCHS = 25
ATTRIBUTED = 12             # high-risk true positives attributed per vessel
N_STEPS = 16
SEEDS = dict(grades=2024, simulation=11, model=0, sample=5)


def train_recovery_model(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Net1D:
    """A tiny Net1D (3 stages of 16-32 filters) trained with AdamW and a one-cycle schedule on
    random 2-s crops of the training ECGs (25 epochs of 13 batches)."""
    torch.manual_seed(seed)
    model = tiny_net(seed, filters=(16, 16, 32))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-3)
    steps_per_epoch = -(-len(x) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=EPOCHS * steps_per_epoch,
                                                pct_start=0.2)
    rng = np.random.default_rng(seed)
    target = torch.from_numpy(y.astype(np.float32))
    model.train()
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 32):
            idx = order[start:start + 32]
            offset = rng.integers(0, x.shape[-1] - CROP + 1, len(idx))
            batch = torch.from_numpy(np.stack([x[i, :, o:o + CROP] for i, o in zip(idx, offset)]))
            loss = nn.functional.binary_cross_entropy_with_logits(model(batch), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@pytest.fixture(scope="module")
def recovery():
    """Simulated ECGs with independent grades (each vessel occluded in 40% of them, so that even
    the rare left main has ~100 positives to learn from), a model trained on 400 and everything
    interpreted on the other 240."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEEDS["grades"])
    grades = np.where(rng.random((N_TRAIN + N_EVAL, len(VESSELS))) < 0.4, 4, 0)
    signals, _ = simulate_from_grades(grades, seed=SEEDS["simulation"])
    x = zscored(signals)
    y = (grades >= 3).astype(int)
    model = train_recovery_model(x[:N_TRAIN], y[:N_TRAIN], seed=SEEDS["model"])
    x_eval, y_eval = x[N_TRAIN:], y[N_TRAIN:]
    with torch.no_grad():
        probs = torch.sigmoid(model(torch.from_numpy(x_eval))).numpy()
    beats = average_beats(x_eval, progress=False)
    results = {
        v: interpret_vessel(v, average=beats.average, included=beats.included, probs=probs[:, j],
                            labels=y_eval[:, j], signals=x_eval, model_for=lambda fold: model,
                            threshold=0.5, max_records=ATTRIBUTED, n_steps=N_STEPS, seed=SEEDS["sample"])
        for j, v in enumerate(VESSELS)}
    aucs = {v: roc_auc_score(y_eval[:, j], probs[:, j]) for j, v in enumerate(VESSELS)}
    return dict(results=results, aucs=aucs, beats=beats, table=planted_vs_found(results),
                seconds=time.perf_counter() - t0)


def test_recovery_model_learned_every_vessel(recovery):
    """Precondition of the recovery test: the model must actually have learned the planted signal."""
    for vessel, auc in recovery["aucs"].items():
        assert auc >= 0.72, f"{vessel}: held-out AUC {auc:.3f}; the test model did not learn"
    assert recovery["beats"].exclusions.empty


def test_planted_signal_is_recovered(recovery):
    """For every vessel, both methods rank the planted leads in the top half of the 12 leads in
    the ST-T window (their mean rank <= 6; a random ranking gives 6.5, a perfect one (k + 1) / 2)
    with at least half of them among the top k (recall@k >= 0.5; k = number of planted leads; the
    six diffuse left-main leads are not the six most affected by the simulator's own geometry, whose
    recall@6 is 0.83), and name the ST-T segment as the planted region:

    - waveform differences (high- vs low-risk by the model's predictions): the top region of the
      whole beat (mean |difference| per sample over the 12 leads) is the ST segment or T wave for
      every vessel;
    - attributions (integrated gradients on the high-risk true positives, ranked by net
      attribution): the planted leads' ST-T window pushes the logit towards high risk (net
      attribution > 0) for every vessel, and the ST-T segment is the top region of the whole beat
      for at least three of the four. The model reads lead-wise z-scored ECGs: a T wave flattened
      by the planted offset lowers the lead's SD and so *enlarges* its QRS in SD units, which a
      convolutional model may read instead of, or besides, the ST-T segment itself; the test model
      sometimes does this for the anterior leads (LAD), where the planted offset is smallest
      relative to the large precordial QRS.

    Checked with three seed sets (the default and two others): every criterion held, with the
    planted leads' mean rank at most 4.7 (waveform) and 5.0 (attribution).
    """
    table = recovery["table"].set_index(["vessel", "method"])
    wave_hits = 0
    for vessel in VESSELS:
        for method in ("waveform difference", "attribution"):
            row = table.loc[(vessel, method)]
            where = (vessel, method, row["found_leads"], row["planted_mean_rank"], row["found_wave"])
            assert row["planted_mean_rank"] <= 6.0, where
            assert row["recall_at_k"] >= 0.5, where
        assert table.loc[(vessel, "waveform difference"), "found_wave"] in ST_T, vessel
        at = table.loc[(vessel, "attribution")]
        assert at["n"] >= 8, (vessel, at["n"])
        assert at["planted_net_attribution"] > 0, (vessel, at["planted_net_attribution"])
        wave_hits += at["found_wave"] in ST_T
    assert wave_hits >= 3, table.xs("attribution", level="method")["found_wave"].to_dict()


def test_attribution_figures(recovery, tmp_path):
    results = recovery["results"]
    maps = {v: r.attribution for v, r in results.items()}
    figures = [
        attribution_heatmap_figure(results["RCA"].attribution),
        attribution_heatmap_figure(results["RCA"].attribution, kind="abs"),
        attribution_heatmaps_figure({**maps, "LM": None}, notes={"LM": "no true positive"}),
        planted_vs_found_figure(lead_rank_table(results), recovery["table"]),
    ]
    try:
        for fig in figures:
            assert isinstance(fig, Figure)
        assert len(figures[3].axes) == len(VESSELS)
        with pytest.raises(ValueError, match="kind"):
            attribution_heatmap_figure(results["RCA"].attribution, kind="raw")
    finally:
        for fig in figures:
            plt.close(fig)


def test_planted_vs_found_table_shape(recovery):
    table = recovery["table"]
    assert len(table) == 2 * len(VESSELS)
    assert set(table["planted_segment"]) == {"ST-T"}
    ranks = lead_rank_table(recovery["results"])
    assert set(ranks.columns) == {"vessel", "method", "lead", "rank", "planted"}
    counts = ranks.groupby(["vessel", "method"]).size()
    assert (counts == len(LEADS)).all()
    assert isinstance(table, pd.DataFrame)


def test_chapter_tables_and_numbers(recovery):
    """The chapter's tables and glued numbers, for a run with results and for one without any."""
    results = recovery["results"]
    beats = recovery["beats"]
    predictions = pd.DataFrame({"fold": np.zeros(len(beats.average), int)})
    full = Interpretation(vessels=results, beats=beats, predictions=predictions, demo=True)
    numbers = full.numbers()
    assert numbers["n_ecgs"] == N_EVAL and numbers["n_excluded"] == 0 and numbers["n_folds"] == 1
    for vessel in VESSELS:
        assert numbers[f"{vessel}_sig"] > 0
        assert "lead-samples differ" in numbers[f"{vessel}_waveform"]
        assert "draw their net evidence" in numbers[f"{vessel}_attribution"]
    assert numbers["wf_n_vessels"] == numbers["at_n_vessels"] == len(VESSELS)
    assert numbers["planted_sentence"].startswith("The waveform difference ranks")
    assert all(isinstance(v, (int, float, str)) for v in numbers.values())  # glue-able as text
    assert set(full.stretch_summary()["wave"]) <= set(WAVES)
    assert set(full.attribution_phases()["vessel"]) == set(VESSELS)
    assert full.exclusion_counts()["ECGs"].sum() == 0

    # A weak model's run: nothing to compare or attribute, not a demo run.
    empty = {v: dataclasses.replace(results[v], comparison=None, attribution=None, ig=None,
                                    n_attributed=0, notes=("no waveform comparison: 0 high-risk "
                                                           "and 240 low-risk ECGs",
                                                           "no attribution: no high-risk true positive"))
             for v in VESSELS}
    weak = Interpretation(vessels=empty, beats=beats, predictions=predictions, demo=False)
    numbers = weak.numbers()
    assert numbers["RCA_waveform"] == "no comparison was possible: 0 high-risk and 240 low-risk ECGs"
    assert numbers["RCA_attribution"] == "nothing was attributed: no high-risk true positive"
    assert "not on the demo cohort" in numbers["planted_sentence"]
    assert weak.stretches().empty and weak.stretch_summary().empty and weak.attribution_phases().empty
    assert weak.planted_vs_found().empty
    assert dataclasses.replace(weak, demo=True).numbers()["planted_sentence"].startswith("No vessel")


def test_row_view_reads_the_rows_it_names():
    base = np.arange(6 * 12 * 5, dtype=np.float32).reshape(6, 12, 5)
    view = RowView(base, np.array([4, 1, 3]))
    assert view.shape == (3, 12, 5) and view.ndim == 3 and len(view) == 3
    np.testing.assert_array_equal(view[0:2], base[[4, 1]])
    np.testing.assert_array_equal(view[np.array([2, 0])], base[[3, 4]])
    np.testing.assert_array_equal(view[1], base[1])
