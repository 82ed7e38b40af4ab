"""ecglib.signals.waveforms and ecglib.plots.waveforms: planted ST offsets are found where they were planted
and nowhere else, FDR holds in null comparisons, the delineation matches known wave timing.

Synthetic groups come from ``tests/test_beats.py`` (:func:`random_group`); the demo cohort's
simulator (``ecglib.demo``) is used when it is importable.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402
from test_beats import ST_BOX, random_group  # noqa: E402

from ecglib.plots.style import save_figure
from ecglib.plots.waveforms import (
    GRID_LAYOUT,
    difference_figure,
    difference_heatmap_figure,
    waveform_grid_figure,
)
from ecglib.schema import FS, LEADS, VESSELS
from ecglib.signals.beats import average_beats, beat_window
from ecglib.signals.waveforms import (
    WAVES,
    compare_waveforms,
    delineate_beat,
    fdr_adjust,
    pointwise_tests,
)

try:
    from ecglib.demo import PLANTED_TERRITORIES, simulate_from_grades, territory_sensitivity
except ImportError:  # the demo package is being written alongside
    try:
        from ecglib.demo.ecg import PLANTED_TERRITORIES, simulate_from_grades, territory_sensitivity
    except ImportError:
        PLANTED_TERRITORIES = simulate_from_grades = territory_sensitivity = None

needs_demo = pytest.mark.skipif(
    simulate_from_grades is None,
    reason="ecglib.demo (simulate_from_grades, PLANTED_TERRITORIES) is not importable",
)

PLANTED = ("V2", "V3", "V4")


@pytest.fixture(scope="module")
def synthetic():
    """Average beats of three groups of 30 records: A with a 0.1 mV ST depression in V2-V4 (the
    ST segment only: from 60 to 130 ms after the R peak), B and C without."""
    st = np.zeros(len(LEADS))
    st[[LEADS.index(v) for v in PLANTED]] = -0.1
    groups = {}
    for name, seed, offset in (("A", 1, st), ("B", 2, None), ("C", 3, None)):
        avg, exclusions = average_beats(random_group(30, st_mv=offset, seed=seed), progress=False)
        assert exclusions.empty
        groups[name] = avg
    return groups


@pytest.fixture(scope="module")
def planted(synthetic):
    return compare_waveforms(synthetic["A"], synthetic["B"], names=("ST depressed", "control"))


# --- the planted difference is found where it was planted, and not elsewhere ----------------------


def test_planted_st_offset_is_found_in_the_planted_leads_and_st_segment(planted):
    stretches = planted.stretches()
    for lead in PLANTED:
        main = stretches[stretches.lead == lead].sort_values("n_samples").iloc[-1]
        assert main.wave == "ST segment"
        assert main.mean_diff < 0  # depression: group A lower
        # The stretch covers the planted box (60-130 ms), to within the 4-ms logistic edges.
        assert main.start_s <= ST_BOX[0] + 0.01 and main.end_s >= ST_BOX[1] - 0.01
        assert main.start_s >= ST_BOX[0] - 0.02 and main.end_s <= ST_BOX[1] + 0.02
    ranking = planted.lead_ranking(("ST segment",))
    assert set(ranking.lead[:3]) == set(PLANTED)
    assert ranking.mean_abs_diff[3] < 0.1 * ranking.mean_abs_diff[2]


def test_false_discoveries_elsewhere_stay_within_the_fdr(planted):
    t = planted.time_s
    truth = np.zeros_like(planted.significant)
    box = (t >= ST_BOX[0] - 0.02) & (t <= ST_BOX[1] + 0.02)
    truth[[LEADS.index(v) for v in PLANTED]] = box
    false = planted.significant & ~truth
    assert planted.n_significant > 100
    assert false.sum() / planted.n_significant <= 0.10  # BH at 0.05, with slack for one sample
    # and nothing in the non-planted leads beyond isolated samples
    others = [LEADS.index(v) for v in LEADS if v not in PLANTED]
    assert planted.significant[others].sum() <= 10
    assert planted.stretches().query("lead not in @PLANTED").n_samples.max() <= 3


def test_wave_table_locates_the_effect(planted):
    table = planted.wave_table().set_index(["lead", "wave"])
    for lead in PLANTED:
        assert table.loc[(lead, "ST segment"), "share_significant"] > 0.7
        for wave in ("P wave", "PR segment", "QRS"):
            if (lead, wave) in table.index:
                assert table.loc[(lead, wave), "share_significant"] < 0.05
    assert set(table.reset_index().wave) <= set(WAVES)
    assert len(planted.curves()) == 12 * 450


def test_null_comparison_of_two_groups_from_one_distribution(synthetic):
    null = compare_waveforms(synthetic["B"], synthetic["C"])
    assert null.n_significant <= 2
    assert np.abs(null.diff).max() < 0.5


def test_fdr_controls_the_familywise_rate_under_the_complete_null():
    # Smooth correlated noise shaped like beats: under the complete null BH keeps
    # P(any discovery) <= alpha; allow 3 of 40 repetitions for sampling error (expected <= 2).
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(0)
    any_discovery = 0
    for _ in range(40):
        smooth = gaussian_filter1d(rng.normal(size=(60, 12, 450)), sigma=5.0, axis=2)
        p = pointwise_tests(smooth[:30], smooth[30:])[1]
        any_discovery += bool((fdr_adjust(p) < 0.05).any())
    assert any_discovery <= 3


def test_fdr_adjustment_matches_statsmodels():
    p = np.random.default_rng(1).uniform(size=(12, 450)) ** 3
    for ours, theirs in (("bh", "fdr_bh"), ("by", "fdr_by")):
        expected = multipletests(p.ravel(), method=theirs)[1].reshape(p.shape)
        np.testing.assert_allclose(fdr_adjust(p, ours), expected, rtol=1e-10)


def test_welch_and_mann_whitney_agree_on_a_clear_effect(synthetic):
    welch = compare_waveforms(synthetic["A"], synthetic["B"], test="welch")
    mw = compare_waveforms(synthetic["A"], synthetic["B"], test="mannwhitney")
    both = welch.significant & mw.significant
    assert both.sum() >= 0.8 * max(welch.n_significant, mw.n_significant)


def test_pointwise_welch_equals_scipy_and_constant_samples_get_p_one():
    from scipy import stats

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(20, 12, 450)), rng.normal(0.3, 1.5, size=(25, 12, 450))
    a[:, 0, 0] = b[:, 0, 0] = 1.0  # zero variance in both groups
    stat, p = pointwise_tests(a, b)
    ref = stats.ttest_ind(a[:, 3, 100], b[:, 3, 100], equal_var=False)
    assert stat[3, 100] == pytest.approx(ref.statistic) and p[3, 100] == pytest.approx(ref.pvalue)
    assert p[0, 0] == 1.0


def test_excluded_records_are_dropped_and_small_groups_refused(synthetic):
    a = synthetic["A"].copy()
    a[:5] = np.nan
    cmp = compare_waveforms(a, synthetic["B"])
    assert cmp.n == (25, 30)
    with pytest.raises(ValueError, match="at least 2"):
        compare_waveforms(a[:6], synthetic["B"])
    with pytest.raises(ValueError):
        compare_waveforms(synthetic["A"], synthetic["B"], test="t")
    with pytest.raises(ValueError):
        compare_waveforms(synthetic["A"][:, :, :400], synthetic["B"][:, :, :400])


def test_welch_confidence_band_contains_the_difference(planted):
    assert (planted.ci_low <= planted.diff).all() and (planted.diff <= planted.ci_high).all()
    # Where the 95% band excludes zero, the unadjusted Welch p is below 0.05 (same test).
    excludes = (planted.ci_low > 0) | (planted.ci_high < 0)
    assert (planted.p[excludes] < 0.05 + 1e-9).all()


# --- delineation -----------------------------------------------------------------------------------


def test_delineation_order_and_tiling(synthetic):
    d = delineate_beat(synthetic["B"])
    b = d.boundaries_s()
    assert b["P end"] < b["QRS onset"] < 0 < b["J point"] < b["T onset"] < b["T peak"] < b["T end"]
    # The synthetic waves: R peak +-3 SD spans -30..+30 ms, S ends near +52 ms, T peaks at 250 ms.
    assert -0.045 <= b["QRS onset"] <= -0.015
    assert 0.035 <= b["J point"] <= 0.065
    assert b["T peak"] == pytest.approx(0.25, abs=0.006)
    segments = d.segments()
    assert list(segments) == list(WAVES)
    edges = [s for seg in segments.values() for s in seg]
    assert edges[0] == 0 and edges[-1] == sum(beat_window())
    assert all(segments[w][1] == segments[v][0] for w, v in zip(WAVES, WAVES[1:]))
    assert (d.labels() != None).all()  # noqa: E711 - every sample has a wave
    assert d.table()["duration_ms"].sum() == pytest.approx(900.0)


def test_delineation_without_p_waves():
    beat = np.zeros((12, 450))
    t = (np.arange(450) - 125) / FS
    beat += np.exp(-0.5 * (t / 0.01) ** 2) + 0.3 * np.exp(-0.5 * ((t - 0.25) / 0.04) ** 2)
    d = delineate_beat(beat)
    assert d.p_end is None and d.segments()["PR segment"][0] == d.segments()["PR segment"][1]
    with pytest.raises(ValueError):
        delineate_beat(np.zeros((12, 450)))


@needs_demo
def test_delineation_matches_the_demo_simulators_wave_timing():
    signals, params = simulate_from_grades(np.zeros((40, 4), int), seed=8, noise=False)
    avg, _ = average_beats(signals, progress=False)
    b = delineate_beat(avg).boundaries_s()
    qrs = float(np.mean(params.qrs))
    qt = float(np.mean(params.qtc * np.sqrt(60.0 / params.heart_rate)))
    assert b["QRS onset"] == pytest.approx(-qrs / 2, abs=0.010)
    assert b["J point"] == pytest.approx(qrs / 2, abs=0.012)
    assert b["T end"] == pytest.approx(-qrs / 2 + qt, abs=0.030)


# --- the demo cohort's planted territories ---------------------------------------------------------


@needs_demo
@pytest.mark.parametrize("vessel", ["RCA", "LAD"])
def test_demo_planted_territory_is_recovered(vessel):
    n = 80
    grades = np.zeros((2 * n, 4), int)
    grades[:n, VESSELS.index(vessel)] = 4
    signals, _ = simulate_from_grades(grades, seed=VESSELS.index(vessel) + 20)
    avg, exclusions = average_beats(signals, progress=False)
    assert len(exclusions) <= 2
    cmp = compare_waveforms(avg[:n], avg[n:], names=(f"{vessel} occluded", "no stenosis"))
    territory = PLANTED_TERRITORIES[vessel]
    sensitivity = dict(zip(LEADS, territory_sensitivity()[VESSELS.index(vessel)]))
    ranking = cmp.lead_ranking()
    # The leads facing the territory are among the most affected in the ST-T window...
    top = set(ranking.lead[: len(territory.leads) + len(territory.reciprocal)])
    assert set(territory.leads) <= top
    # ...their ST segment differs in the planted direction...
    table = cmp.wave_table().set_index(["lead", "wave"])
    for lead in territory.leads:
        row = table.loc[(lead, "ST segment")]
        assert row.share_significant > 0.5
        assert np.sign(row.mean_diff) == np.sign(sensitivity[lead])
    # ...and the leads the planted vector does not reach differ far less.
    facing = ranking.set_index("lead").loc[list(territory.leads), "mean_abs_diff"].min()
    blind = [lead for lead, s in sensitivity.items() if abs(s) < 0.05]
    assert ranking.set_index("lead").loc[blind, "mean_abs_diff"].max() < 0.5 * facing
    # The significant samples lie in the ST-T part of the beat, not in the P wave or PR segment.
    labels = cmp.delineation.labels()
    early = np.isin(labels, ["P wave", "PR segment"])
    assert cmp.significant[:, early].sum() <= 0.02 * cmp.n_significant


@needs_demo
def test_demo_null_comparison_finds_almost_nothing():
    signals, _ = simulate_from_grades(np.zeros((100, 4), int), seed=31)
    avg, _ = average_beats(signals, progress=False)
    cmp = compare_waveforms(avg[:50], avg[50:])
    assert cmp.n_significant <= 0.002 * cmp.significant.size


# --- figures ---------------------------------------------------------------------------------------


def _lead_of(ax) -> str:
    return ax.texts[-1].get_text()


def test_grid_figure_draws_each_groups_mean_per_lead_and_shades_the_significant_runs(planted):
    from ecglib.signals.waveforms import _runs

    grid = waveform_grid_figure(planted, title="synthetic")
    try:
        axes = grid.axes
        assert len(axes) == 12
        # left column limb leads, right column precordial, in the paper's order
        names = [_lead_of(ax) for ax in axes]
        assert names[0::2] == [row[0] for row in GRID_LAYOUT]
        assert names[1::2] == [row[1] for row in GRID_LAYOUT]
        for ax in axes:
            li = LEADS.index(_lead_of(ax))
            means = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) > 2]
            assert len(means) == 2
            np.testing.assert_allclose(means[0], planted.mean[0, li])
            np.testing.assert_allclose(means[1], planted.mean[1, li])
            spans = [p for p in ax.patches if p.get_alpha() == 0.35]
            assert len(spans) == len(_runs(planted.significant[li])), _lead_of(ax)
        # the planted leads carry shaded significant stretches, the untouched limb leads none
        shaded = {_lead_of(ax) for ax in axes if any(p.get_alpha() == 0.35 for p in ax.patches)}
        assert set(PLANTED) <= shaded
        assert grid._suptitle.get_text() == "synthetic"
        legend = [t.get_text() for t in grid.legends[0].get_texts()]
        assert legend[0] == f"ST depressed (n = {planted.n[0]:,}) mean \u00b1 SD"
    finally:
        plt.close(grid)


def test_difference_figure_draws_the_difference_and_bolds_only_significant_samples(planted):
    diff = difference_figure(planted)
    try:
        assert len(diff.axes) == 12
        for ax in diff.axes:
            li = LEADS.index(_lead_of(ax))
            curves = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) > 2]
            np.testing.assert_allclose(curves[0], planted.diff[li])
            bold = np.asarray(curves[1], dtype=float)
            assert np.array_equal(np.isfinite(bold), planted.significant[li])
        low, high = diff.axes[0].get_ylim()
        assert low < np.nanmin(planted.ci_low) and high > np.nanmax(planted.ci_high)
    finally:
        plt.close(diff)


def test_difference_heatmap_shows_the_difference_matrix_and_saves(planted, tmp_path):
    heat = difference_heatmap_figure(planted)
    try:
        image = heat.axes[0].images[0]
        np.testing.assert_allclose(np.asarray(image.get_array()), planted.diff)
        limit = float(np.abs(planted.diff).max())
        assert image.get_clim() == pytest.approx((-limit, limit))
        assert [t.get_text() for t in heat.axes[0].get_yticklabels()] == list(LEADS)
        assert save_figure(heat, tmp_path, "heat").is_file()
        assert (tmp_path / "heat.pdf").is_file()
    finally:
        plt.close(heat)
