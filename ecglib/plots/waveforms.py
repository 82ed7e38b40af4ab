"""Figures of the waveform comparison (interpretability chapter): functions returning a Figure.

All take a :class:`ecglib.signals.waveforms.WaveformComparison`:

- :func:`waveform_grid_figure`: the study's 12-lead grid, limb leads (I, II, III, aVR, aVL, aVF) in
  the left column and precordial leads (V1-V6) in the right, each group's mean +- SD, the
  significant stretches (FDR-adjusted) shaded and the wave boundaries of the grand average marked;
- :func:`difference_figure`: the same grid for the difference of the means with its 95% band,
  significant samples drawn bold;
- :func:`difference_heatmap_figure`: leads x time, the difference in colour, significant samples
  outlined: all twelve leads at a glance (e.g. one panel per vessel in the chapter).

The parts of a leads x time map (:func:`lead_time_axes`, :func:`lead_time_image`,
:func:`mark_wave_boundaries`) are public: the attribution maps (:mod:`ecglib.plots.attribution`)
are drawn with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch, Rectangle

from ecglib.plots.style import use_style
from ecglib.schema import LEADS
from ecglib.signals.waveforms import Delineation, WaveformComparison, _runs

#: Rows of the 12-lead grid: (limb lead, precordial lead).
GRID_LAYOUT: tuple[tuple[str, str], ...] = (
    ("I", "V1"),
    ("II", "V2"),
    ("III", "V3"),
    ("aVR", "V4"),
    ("aVL", "V5"),
    ("aVF", "V6"),
)
#: Colours of group A (e.g. high risk) and group B (e.g. low risk), and of the significance marks.
GROUP_COLOURS: tuple[str, str] = ("#c44e52", "#3b75af")
SIGNIFICANT_COLOUR = "#f2c14e"
DIFFERENCE_COLOUR = "#444444"
#: Short labels of the regions, written above the top row.
WAVE_LABELS: dict[str, str] = {
    "P wave": "P",
    "PR segment": "PR",
    "QRS": "QRS",
    "ST segment": "ST",
    "T wave": "T",
    "after T": "",
}
_AMPLITUDE = "amplitude (record SD)"


def _grid(n_rows: int = 6, height: float = 1.25) -> tuple[Figure, np.ndarray]:
    use_style()
    fig, axes = plt.subplots(n_rows, 2, figsize=(7.2, 0.9 + height * n_rows), sharex=True)
    return fig, axes


def _grid_panels(axes: np.ndarray) -> Iterator[tuple[int, Axes, str, int]]:
    """``(row, axes, lead, index of the lead in LEADS)`` of every panel of the 12-lead grid."""
    for row, pair in enumerate(GRID_LAYOUT):
        for col, lead in enumerate(pair):
            yield row, axes[row, col], lead, LEADS.index(lead)


def _name_lead(ax: Axes, lead: str) -> None:
    ax.text(
        0.02,
        0.95,
        lead,
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=8,
        fontweight="bold",
    )


def mark_wave_boundaries(
    ax: Axes,
    delineation: Delineation,
    time_s: np.ndarray,
    *,
    label: bool = True,
    colour: str = "#888888",
    zorder: float = 1,
    label_y: float = 1.02,
) -> None:
    """Dotted lines at the wave boundaries of ``delineation`` (not at the T peak, which is no
    boundary) and, with ``label``, the waves' short names (:data:`WAVE_LABELS`) centred above
    their stretch at ``label_y`` (axes units). Lines behind the traces by default; a heat map
    wants them darker and on top (``colour``, ``zorder``)."""
    for name, sample in delineation.boundaries().items():
        if name == "T peak":
            continue
        ax.axvline(
            time_s[min(sample, len(time_s) - 1)], color=colour, lw=0.6, ls=":", zorder=zorder
        )
    if label:
        for wave, (a, b) in delineation.segments().items():
            text = WAVE_LABELS.get(wave, "")
            if b > a and text:
                centre = 0.5 * (time_s[a] + time_s[b - 1])
                ax.text(
                    centre,
                    label_y,
                    text,
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#555555",
                )


def lead_time_axes(ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Where a leads x time map is drawn: ``ax`` and its figure, or a new figure of one map."""
    use_style()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.0))
    else:
        fig = ax.figure
    return fig, ax


def lead_time_image(
    ax: Axes,
    values: np.ndarray,
    time_s: np.ndarray,
    fs: float,
    leads: Sequence[str],
    *,
    cmap: str,
    vmin: float,
    vmax: float,
) -> AxesImage:
    """``values`` (leads x samples) as a map: one row per lead, the first on top and named on
    the y axis, one column per sample centred on its time (hence the half-sample margins), no
    grid over the cells. Returns the image, for a colour bar."""
    half = 0.5 / fs
    extent = (time_s[0] - half, time_s[-1] + half, len(leads) - 0.5, -0.5)
    image = ax.imshow(
        values,
        aspect="auto",
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        extent=extent,
        interpolation="nearest",
    )
    ax.set_yticks(range(len(leads)), leads)
    ax.set_xlabel("time from R peak (s)")
    ax.grid(False)
    return image


def _mark_significant(ax, cmp: WaveformComparison, lead_index: int) -> None:
    half = 0.5 / cmp.delineation.fs
    for a, b in _runs(cmp.significant[lead_index]):
        ax.axvspan(
            cmp.time_s[a] - half,
            cmp.time_s[b - 1] + half,
            color=SIGNIFICANT_COLOUR,
            alpha=0.35,
            lw=0,
            zorder=0,
        )


def _finish(
    fig: Figure,
    axes: np.ndarray,
    cmp: WaveformComparison,
    title: str | None,
    ylabel: str,
    handles: list,
) -> Figure:
    for ax in axes[-1]:
        ax.set_xlabel("time from R peak (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel if ax is axes[len(axes) // 2, 0] else "")
    axes[0, 0].set_xlim(cmp.time_s[0], cmp.time_s[-1])
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=7,
        bbox_to_anchor=(0.5, -0.005),
    )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.035, 1, 1))
    return fig


def _significance_handle(cmp: WaveformComparison) -> Patch:
    test = "Welch t" if cmp.test == "welch" else "Mann-Whitney U"
    fdr = "BH" if cmp.fdr == "bh" else "BY"
    return Patch(
        color=SIGNIFICANT_COLOUR, alpha=0.35, label=f"q < {cmp.alpha:g} ({test}, {fdr} FDR)"
    )


def waveform_grid_figure(
    cmp: WaveformComparison,
    *,
    title: str | None = None,
    show_sd: bool = True,
    mark_significant: bool = True,
    mark_waves: bool = True,
    ylabel: str = _AMPLITUDE,
) -> Figure:
    """Mean +- SD of both groups' average beats per lead, in the 12-lead grid."""
    fig, axes = _grid()
    for row, ax, lead, li in _grid_panels(axes):
        if mark_significant:
            _mark_significant(ax, cmp, li)
        if mark_waves:
            mark_wave_boundaries(ax, cmp.delineation, cmp.time_s, label=row == 0)
        for g, colour in enumerate(GROUP_COLOURS):
            m, s = cmp.mean[g, li], cmp.sd[g, li]
            if show_sd:
                ax.fill_between(cmp.time_s, m - s, m + s, color=colour, alpha=0.15, lw=0, zorder=2)
            ax.plot(cmp.time_s, m, color=colour, lw=1.0, zorder=3)
        _name_lead(ax, lead)
    shown = " mean \u00b1 SD" if show_sd else " mean"
    handles = [
        Patch(color=c, alpha=0.6, label=f"{name} (n = {n:,}){shown}")
        for c, name, n in zip(GROUP_COLOURS, cmp.names, cmp.n)
    ]
    if mark_significant:
        handles.append(_significance_handle(cmp))
    return _finish(fig, axes, cmp, title, ylabel, handles)


def difference_figure(
    cmp: WaveformComparison,
    *,
    title: str | None = None,
    show_ci: bool = True,
    mark_waves: bool = True,
    sharey: bool = True,
    ylabel: str = "difference (record SD)",
) -> Figure:
    """Difference of the group means (A - B) per lead with its Welch 95% band; significant samples
    bold. ``sharey`` puts all leads on one scale, so that effect sizes compare across leads."""
    fig, axes = _grid(height=1.05)
    lo = np.nanmin(cmp.ci_low if show_ci else cmp.diff)
    hi = np.nanmax(cmp.ci_high if show_ci else cmp.diff)
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    for row, ax, lead, li in _grid_panels(axes):
        if mark_waves:
            mark_wave_boundaries(ax, cmp.delineation, cmp.time_s, label=row == 0)
        ax.axhline(0.0, color="#999999", lw=0.6, zorder=1)
        if show_ci:
            ax.fill_between(
                cmp.time_s,
                cmp.ci_low[li],
                cmp.ci_high[li],
                color=DIFFERENCE_COLOUR,
                alpha=0.15,
                lw=0,
                zorder=2,
            )
        ax.plot(cmp.time_s, cmp.diff[li], color=DIFFERENCE_COLOUR, lw=0.9, zorder=3)
        bold = np.where(cmp.significant[li], cmp.diff[li], np.nan)
        ax.plot(cmp.time_s, bold, color=GROUP_COLOURS[0], lw=2.0, zorder=4)
        _name_lead(ax, lead)
        if sharey:
            ax.set_ylim(lo - pad, hi + pad)
    handles = [
        Patch(
            color=DIFFERENCE_COLOUR,
            alpha=0.6,
            label=f"{cmp.names[0]} \u2212 {cmp.names[1]}" + (" (95% CI)" if show_ci else ""),
        ),
        Patch(color=GROUP_COLOURS[0], label=_significance_handle(cmp).get_label()),
    ]
    return _finish(fig, axes, cmp, title, ylabel, handles)


def difference_heatmap_figure(
    cmp: WaveformComparison, *, title: str | None = None, vmax: float | None = None, ax=None
) -> Figure:
    """Leads (rows, in :data:`~ecglib.schema.LEADS` order) x time, the difference of the means in a
    diverging colour scale centred on 0; significant samples outlined; wave boundaries marked.
    Pass ``ax`` to draw into an existing axes (e.g. one panel per vessel); its figure is returned."""
    fig, ax = lead_time_axes(ax)
    limit = float(np.nanmax(np.abs(cmp.diff))) if vmax is None else float(vmax)
    limit = limit if limit > 0 else 1.0
    image = lead_time_image(
        ax,
        cmp.diff,
        cmp.time_s,
        cmp.delineation.fs,
        cmp.leads,
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
    )
    half = 0.5 / cmp.delineation.fs
    for li in range(len(LEADS)):
        for a, b in _runs(cmp.significant[li]):
            width = cmp.time_s[b - 1] - cmp.time_s[a] + 2 * half
            ax.add_patch(
                Rectangle(
                    (cmp.time_s[a] - half, li - 0.45), width, 0.9, fill=False, edgecolor="k", lw=0.6
                )
            )
    mark_wave_boundaries(ax, cmp.delineation, cmp.time_s)
    fig.colorbar(
        image, ax=ax, label=f"{cmp.names[0]} \u2212 {cmp.names[1]} (record SD)", shrink=0.9
    )
    ax.set_title(
        title
        or f"{cmp.names[0]} (n = {cmp.n[0]:,}) vs {cmp.names[1]} (n = {cmp.n[1]:,}); "
        f"outlined: q < {cmp.alpha:g}",
        fontsize=9,
        pad=14,
    )
    return fig
