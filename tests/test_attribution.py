"""ecglib.model.attribution and its one-vessel map (ecglib.plots.attribution.attribution_heatmap_figure).

- integrated gradients are complete (attributions sum to f(x) - f(baseline)) for a tiny Net1D,
  and do not depend on the batching;
- folding onto beats and the aggregation put a known attribution where it was put, and the map
  shows exactly the aggregated attribution.

The chapter's use of them (groups, planted-signal recovery, the chapter's figures) is tested in
``tests/test_chapter_interpretability.py``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from ecglib.demo import simulate_from_grades
from ecglib.model import Net1D
from ecglib.model.attribution import (
    BeatAttribution,
    beat_attribution,
    fold_beats,
    integrated_gradients,
    vessel_index,
)
from ecglib.plots.attribution import attribution_heatmap_figure
from ecglib.schema import FS, LEADS
from ecglib.signals import ecg_zscore
from ecglib.signals.beats import beat_window, ecg_beats
from ecglib.signals.waveforms import ST_T, WAVES


def tiny_net(seed: int = 0, filters=(8, 16, 32), use_bn: bool = True) -> Net1D:
    torch.manual_seed(seed)
    return Net1D(
        in_channels=12,
        base_filters=filters[0],
        ratio=1.0,
        filter_list=list(filters),
        m_blocks_list=[1] * len(filters),
        kernel_size=16,
        stride=4,
        groups_width=8,
        n_classes=4,
        use_bn=use_bn,
        use_do=False,
    )


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
    a = integrated_gradients(model, x, 0, n_steps=8, batch_size=8)  # 1 record per pass
    b = integrated_gradients(model, x, "RCA", n_steps=8, batch_size=64)  # all 4 at once
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-4, atol=1e-6)
    zero = np.zeros((12, 800), np.float32)
    c = integrated_gradients(model, x, 0, n_steps=8, baseline=zero)
    np.testing.assert_allclose(c.attributions, b.attributions, rtol=1e-4, atol=1e-6)
    # Another baseline: completeness is relative to it.
    base = np.full((12, 800), 0.5, np.float32)
    d = integrated_gradients(model, x, 0, n_steps=32, baseline=base)
    np.testing.assert_allclose(
        d.attributions.sum(axis=(1, 2)),
        d.output - d.baseline_output,
        atol=0.05 * np.abs(d.output - d.baseline_output).max() + 1e-4,
    )


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
            attributions[i, v2, r + int(0.10 * FS) : r + int(0.20 * FS)] += 1.0
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
    signals[1, 4] = 0.0  # a flat lead: the signal check rejects it
    signals[2, :, 100] = np.nan  # non-finite samples
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
    try:
        ax = fig.axes[0]
        assert not ax.axison and not ax.images  # an empty panel that says why
        assert ax.texts[0].get_text() == "RCA: no attributed ECG could be cut into beats"
    finally:
        plt.close(fig)


def test_attribution_map_shows_the_aggregated_attribution(demo_small):
    signals = demo_small[:4]
    attributions = np.random.default_rng(1).standard_normal(signals.shape).astype(np.float32)
    ba = beat_attribution(attributions, signals, vessel="LAD")
    net = attribution_heatmap_figure(ba)
    absolute = attribution_heatmap_figure(ba, kind="abs", title="LAD |IG|")
    try:
        image = net.axes[0].images[0]
        np.testing.assert_allclose(np.asarray(image.get_array()), ba.heatmap(signed=True))
        limit = float(np.nanmax(np.abs(ba.heatmap(signed=True))))
        assert image.get_clim() == pytest.approx((-limit, limit))  # centred on 0
        assert net.axes[0].get_title() == f"LAD: {ba.n_included:,} high-risk true positive ECG(s)"
        image = absolute.axes[0].images[0]
        np.testing.assert_allclose(np.asarray(image.get_array()), ba.heatmap())
        assert image.get_clim()[0] == 0.0 and absolute.axes[0].get_title() == "LAD |IG|"
        assert [t.get_text() for t in net.axes[0].get_yticklabels()] == list(LEADS)
        with pytest.raises(ValueError, match="kind"):
            attribution_heatmap_figure(ba, kind="raw")
    finally:
        plt.close(net)
        plt.close(absolute)
