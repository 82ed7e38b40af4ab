"""The book's figures (issue 16, item 4): one place that saves them (200 dpi PNG and PDF, alt
text computed from the figure, closed after saving), legends outside the data, the ROC sets
told apart by colour and line style, time axes in whole months, and captions from the data."""

import struct
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ecglib import schema  # noqa: E402
from ecglib.chapters.page import Page  # noqa: E402
from ecglib.chapters.parts import Skipped  # noqa: E402
from ecglib.config import PROJECT_ROOT, DataParams, RunParams  # noqa: E402
from ecglib.metrics.roc import delong_auc  # noqa: E402
from ecglib.plots.calibration import calibration_caption, calibration_figure  # noqa: E402
from ecglib.plots.roc import roc_caption, roc_figure  # noqa: E402
from ecglib.plots.style import PNG_DPI, figure_alt, save_figure  # noqa: E402
from ecglib.plots.survival import (  # noqa: E402
    DAYS_PER_MONTH,
    cumulative_incidence_figure,
    month_ticks,
)
from ecglib.report.save import figure_image  # noqa: E402

DEMO_MAP = PROJECT_ROOT / "params" / "maps" / "demo_export.yaml"
sys.path.insert(0, str(Path(__file__).parent))


def predictions(n=300, seed=0) -> pd.DataFrame:
    """Predictions of four vessels whose probabilities carry their label (AUC well above 0.5)."""
    rng = np.random.default_rng(seed)
    out = {"patient": np.arange(n) // 2}
    for v in schema.VESSELS:
        y = (rng.random(n) < (0.08 if v == "LM" else 0.25)).astype(int)
        out[schema.label_col(v)] = y
        out[schema.prob_col(v)] = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * y - 1.5)))
    return pd.DataFrame(out)


def png_dpi(path: Path) -> float:
    """The resolution a PNG declares in its pHYs chunk (pixels per metre -> per inch)."""
    data = path.read_bytes()
    at = data.index(b"pHYs")
    per_metre = struct.unpack(">I", data[at + 4 : at + 8])[0]
    return per_metre * 0.0254


def outside(ax, legend) -> bool:
    """Whether ``legend``'s box lies outside ``ax``'s data area (no overlap)."""
    fig = ax.figure
    fig.canvas.draw()
    box = legend.get_window_extent()
    area = ax.get_window_extent()
    return not box.overlaps(area)


# ------------------------------------------------------------------------------------------
# saving: one place, 200 dpi PNG plus PDF, alt text, closed
# ------------------------------------------------------------------------------------------
def test_save_figure_writes_a_200_dpi_png_and_a_pdf(tmp_path):
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1])
    png = save_figure(fig, tmp_path, "line")
    assert png == tmp_path / "line.png"
    assert PNG_DPI == 200
    assert png_dpi(png) == pytest.approx(200, abs=0.5)
    pdf = tmp_path / "line.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # 3 inches wide at 200 dpi, give or take the tight bounding box
    width = struct.unpack(">I", png.read_bytes()[16:20])[0]
    assert 400 < width <= 620


def test_alt_text_says_what_the_figure_shows_from_its_artists():
    fig, axes = plt.subplots(1, 2)
    fig.suptitle("internal, out-of-fold")
    axes[0].plot([0, 1], [0, 1], label="pooled OOF: 0.812 [0.75-0.86]")
    axes[0].set_title("RCA")
    axes[0].set(xlabel="1 - specificity", ylabel="sensitivity")
    axes[0].legend(title="AUC [95% CI]")
    axes[1].set_title("LM")
    alt = figure_alt(fig)
    plt.close(fig)
    assert alt == (
        "internal, out-of-fold. 2 panels. RCA: sensitivity against 1 - specificity; "
        "AUC [95% CI]: pooled OOF: 0.812 [0.75-0.86]. LM."
    )
    assert "/" not in alt.replace("1 - specificity", "")  # no file path


def test_the_glued_image_carries_its_alt_text_and_half_its_pixels_as_width(tmp_path):
    import IPython

    fig = Figure(figsize=(4, 2))
    fig.add_subplot().plot([0, 1])
    png = save_figure(fig, tmp_path, "f")
    bundle, metadata = IPython.core.formatters.format_display_data(figure_image(png, "a line"))
    assert "image/png" in bundle
    width = struct.unpack(">I", png.read_bytes()[16:20])[0]
    assert metadata["image/png"] == {"alt": "a line", "width": width // 2}


def page_of(tmp_path) -> Page:
    return Page(
        RunParams(
            name="t", seed=1, data=DataParams(table="x", map=str(DEMO_MAP)), runs_dir=str(tmp_path)
        )
    )


def test_page_figure_saves_glues_with_alt_and_caption_and_closes(tmp_path, monkeypatch):
    glued = {}

    def fake_glue(name, value, display=True):
        assert display is False
        glued[name] = value

    monkeypatch.setattr("myst_nb.glue", fake_glue)
    page = page_of(tmp_path)
    table = predictions()
    before = set(plt.get_fignums())
    assert (
        page.figure("roc", roc_figure, {"internal": table}, caption=roc_caption, interval="x")
        is None
    )
    assert set(plt.get_fignums()) == before  # closed after saving
    assert (page.paths.figures / "roc.png").exists() and (page.paths.figures / "roc.pdf").exists()
    image = glued["roc"]
    alt = image.metadata["alt"]
    rca = delong_auc(table["y_RCA"], table["p_RCA"])
    assert alt.startswith("4 panels. RCA: sensitivity against 1 - specificity")
    assert f"internal: {rca.auc:.3f}" in alt
    assert "roc.png" not in alt
    assert glued["roc_caption"] == roc_caption({"internal": table})
    # a skipped input: nothing drawn, the figure's glue says why
    page.figure(
        "ext",
        roc_figure,
        Skipped("External validation", "there is no external site"),
        caption=roc_caption,
    )
    assert glued["ext"] == Skipped("External validation", "there is no external site")
    assert glued["ext_caption"].startswith("Not drawn: External validation is skipped because")
    assert not (page.paths.figures / "ext.png").exists()
    # a figure saved per fold, glued under the page's one key
    page.figure("curve_fold3", lambda: plt.figure(), glue_name="curve")
    assert "curve" in glued and (page.paths.figures / "curve_fold3.png").exists()


def test_the_book_extension_sets_the_alt_text_from_the_output_metadata():
    sys.path.insert(0, str(PROJECT_ROOT / "book" / "_ext"))
    import book_fixes
    from docutils import nodes

    class Data:
        mime_type = "image/png"
        output_metadata = {"image/png": {"alt": "ROC curves of four vessels", "width": 400}}

    render = book_fixes._alt_from_metadata(lambda self, data: [nodes.image(uri="x/abc.png")])
    (image,) = render(None, Data())
    assert image["alt"] == "ROC curves of four vessels"
    # an :alt: given to the directive wins
    render = book_fixes._alt_from_metadata(
        lambda self, data: [nodes.image(uri="x/abc.png", alt="given")]
    )
    assert render(None, Data())[0]["alt"] == "given"
    # and the patch on myst-nb's renderer is applied once
    from myst_nb.core.render import NbElementRenderer

    book_fixes.patch_image_alt()
    first = NbElementRenderer.render_image
    book_fixes.patch_image_alt()
    assert NbElementRenderer.render_image is first and first.wrapped_for_alt


# ------------------------------------------------------------------------------------------
# plot fixes
# ------------------------------------------------------------------------------------------
def test_roc_legends_sit_outside_the_curves_and_sets_differ_in_colour_and_style():
    a, b = predictions(seed=1), predictions(n=160, seed=2)
    fig = roc_figure({"pooled OOF": a, "external": b})
    for ax in fig.axes:
        assert outside(ax, ax.get_legend())
        lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        assert len(lines) == 2
        assert lines[0].get_color() != lines[1].get_color()
        assert lines[0].get_linestyle() != lines[1].get_linestyle()
    plt.close(fig)


def test_roc_caption_gives_each_sets_auc_and_counts():
    table = predictions()
    given = pd.DataFrame(
        {
            "set": "internal",
            "vessel": list(schema.VESSELS),
            "auc": [0.81, 0.72, 0.93, 0.64],
            "ci_low": 0.5,
            "ci_high": 0.99,
        }
    )
    text = roc_caption({"internal": table}, aucs=given)
    n_lm = int(table["y_LM"].sum())
    assert text.startswith("internal: RCA AUC 0.810 (300 ECGs, ")
    assert f"LM AUC 0.720 (300 ECGs, {n_lm} positive)" in text
    assert text.endswith("LCX AUC 0.640 (300 ECGs, " + f"{int(table['y_LCX'].sum())} positive).")


def test_calibration_legend_sits_outside_the_bins_and_its_caption_counts_events():
    table = predictions(n=400, seed=3)
    fig = calibration_figure(table, n_boot=5, seed=0)
    panels = [ax for ax in fig.axes if ax.get_legend()]
    assert len(panels) == 4
    for ax in panels:
        assert outside(ax, ax.get_legend())
    plt.close(fig)
    text = calibration_caption(table)
    events = ", ".join(f"{v} {int(table[schema.label_col(v)].sum())}" for v in schema.VESSELS)
    assert text == f"400 ECGs of 200 patients; events (positive ECGs) per vessel: {events}."


def test_month_ticks_are_whole_months_and_a_year_ends_at_its_horizon():
    days, labels = month_ticks(365)
    assert labels == ["0", "3", "6", "9", "12"]
    np.testing.assert_allclose(
        days, [0, 3 * DAYS_PER_MONTH, 6 * DAYS_PER_MONTH, 9 * DAYS_PER_MONTH, 365]
    )
    assert month_ticks(730)[1] == ["0", "6", "12", "18", "24"]
    assert month_ticks(91)[1] == ["0", "1", "2", "3"]


def test_cumulative_incidence_axis_is_in_months_with_the_legend_and_p_outside():
    rng = np.random.default_rng(4)
    n = 200
    group = pd.Categorical(rng.choice(["low", "high"], n), categories=["low", "high"])
    time = rng.integers(1, 450, n).astype(float)
    event = (rng.random(n) < 0.3).astype(int)
    fig = cumulative_incidence_figure(time, event, group, horizon=365, time_label="months")
    ax, table = fig.axes
    assert [t.get_text() for t in table.get_xticklabels()] == ["0", "3", "6", "9", "12"]
    assert table.get_xlabel() == "months"
    assert outside(ax, ax.get_legend())
    fig.canvas.draw()
    (p_text,) = ax.texts
    assert not p_text.get_window_extent().overlaps(ax.get_window_extent())
    plt.close(fig)


def test_decision_curve_and_learning_curve_legends_sit_outside_the_data():
    from ecglib.metrics.decision import decision_curves
    from ecglib.plots.decision import decision_curve_figure
    from ecglib.plots.training import learning_curves_figure

    fig = decision_curve_figure(decision_curves(predictions(seed=5)))
    for ax in fig.axes:
        if ax.axison:
            assert outside(ax, ax.get_legend())
    plt.close(fig)
    epochs = np.arange(1, 6)
    history = pd.DataFrame(
        {
            "epoch": epochs,
            "lr": 1e-3 / epochs,
            "val_macro_auc": 0.6 + 0.02 * epochs,
            **{f"loss_{v}": 0.7 - 0.05 * epochs for v in schema.VESSELS},
            **{f"sigma_{v}": 1.0 + 0.01 * epochs for v in schema.VESSELS},
            **{f"val_auc_{v}": 0.55 + 0.03 * epochs for v in schema.VESSELS},
        }
    )
    fig = learning_curves_figure(history, best_epoch=3)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [*schema.VESSELS, "macro"]
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert all(not box.overlaps(ax.get_window_extent()) for ax in fig.axes)
    assert all(ax.get_legend() is None for ax in fig.axes)
    plt.close(fig)


def test_a_subgroup_without_an_auc_says_n_a_clear_of_the_reference_line():
    from test_metrics_subgroups import clustered_cohort

    from ecglib.metrics.subgroups import define_subgroups, subgroup_auc_table
    from ecglib.plots.subgroups import subgroup_forest_figure

    df = clustered_cohort()
    table = subgroup_auc_table(df, define_subgroups(df))
    table.loc[table.index[1], ["auc", "ci_low", "ci_high"]] = np.nan
    fig = subgroup_forest_figure(table)
    fig.canvas.draw()
    ax = fig.axes[list(dict.fromkeys(table["vessel"])).index(table.at[table.index[1], "vessel"])]
    (na,) = [t for t in ax.texts if t.get_text() == "n/a"]
    line = next(line for line in ax.get_lines() if line.get_xdata()[0] == 0.5)
    assert not na.get_window_extent().overlaps(line.get_window_extent())
    plt.close(fig)
