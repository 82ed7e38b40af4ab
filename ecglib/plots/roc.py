"""ROC curves per vessel with the AUC and its CI in the legend.

:func:`roc_figure` draws one or more prediction sets (internal out-of-fold, external, the
normal-ECG subset, ...) either one panel per vessel (sets told apart by colour and line style,
so that they stay apart in grey print and for colour-blind readers) or all vessels in one panel
(vessels by colour, sets by line style). Each panel's legend sits below its axes, off the
curves. A set in which a vessel has one class gets a note in place of its curve, never an
invented AUC; so does an AUC the chapter withheld under the small-count policy (a
``withheld`` column in ``aucs``, :func:`ecglib.metrics.small_counts.withhold`).
:func:`roc_caption` words the figure's facts (each set's AUC and its ECGs and positives per
vessel) for its caption.

The legend's intervals are the caller's: a chapter passes the AUC table it reports
(``aucs``, e.g. the patient-clustered one of :mod:`ecglib.metrics.clustered_roc`), so the
figure and the tables show the same interval. Without a table the figure falls back to
DeLong's interval of the ECGs as independent rows, for plain arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ecglib import schema
from ecglib.metrics.roc import OneClassError, delong_auc, roc_points
from ecglib.metrics.small_counts import WITHHELD
from ecglib.plots.style import VESSEL_COLOURS, panel_grid, use_style
from ecglib.report.present import format_estimate

#: Line styles of successive prediction sets.
SET_STYLES = ("-", "--", ":", "-.")
#: Colours of successive prediction sets in the one-panel-per-vessel layout (Okabe-Ito:
#: distinguishable with the common colour-vision deficiencies).
SET_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7")


def roc_figure(
    sets: pd.DataFrame | Mapping[str, pd.DataFrame],
    vessels: Sequence[str] | None = None,
    *,
    label: str = "internal",
    layout: str = "panels",
    level: float = 0.95,
    ci_method: str = "logit",
    title: str | None = None,
    aucs: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    interval: str | None = None,
) -> Figure:
    """ROC curves of every vessel, with ``AUC [95% CI]`` in the legend.

    Parameters
    ----------
    sets : a predictions table (``p_<vessel>``, ``y_<vessel>``), or a mapping ``name ->
        table`` for several sets drawn together (e.g. ``{"internal": oof, "external": ext}``).
    vessels : vessels to draw (default: those the first set has labels for,
        :func:`ecglib.schema.vessels_of`).
    label : the set's name when ``sets`` is a single table.
    layout : ``"panels"`` (one panel per vessel; sets by line style) or ``"single"`` (one
        panel; vessels by colour, sets by line style).
    level, ci_method : of the fallback DeLong interval (:func:`ecglib.metrics.roc.auc_ci`)
        when no ``aucs`` are given; ``level`` also names the interval in the legend's title.
    aucs : the AUCs and intervals the legends show: a long table with a ``set`` column holding
        the names of ``sets`` (e.g. the chapter's AUC table), or a mapping ``name -> table``;
        each table has ``vessel``, ``auc``, ``ci_low``, ``ci_high`` (the columns of
        :func:`~ecglib.metrics.roc.vessel_auc_table`). A set or vessel it lacks is a
        ``KeyError``. Default: DeLong's interval computed here, each ECG an independent row.
    interval : the interval's name in the legend's title (``AUC [95% CI, <interval>]``);
        default ``"DeLong"`` without ``aucs`` and nothing with them.
    """
    if isinstance(sets, pd.DataFrame):
        sets = {label: sets}
    if not sets:
        raise ValueError("no prediction set to draw")
    if len(sets) > len(SET_STYLES):
        raise ValueError(f"at most {len(SET_STYLES)} prediction sets per figure")
    if layout not in ("panels", "single"):
        raise ValueError(f"layout must be 'panels' or 'single', got {layout!r}")
    vessels = schema.vessels_of(next(iter(sets.values())), vessels)
    given = None if aucs is None else _legend_aucs(aucs, list(sets), vessels)
    if interval is None and aucs is None:
        interval = "DeLong"
    use_style()
    if layout == "panels":
        # one row: each panel's legend hangs below it, where no other panel is
        fig, axes = panel_grid(len(vessels), width=2.9, height=3.0, max_columns=len(vessels))
        axes_of = dict(zip(vessels, axes))
    else:
        fig, ax = plt.subplots(figsize=(4.4, 4.2))
        axes_of = dict.fromkeys(vessels, ax)
    ci_name = f"{level:.0%} CI" + (f", {interval}" if interval else "")
    for (set_name, table), style, set_colour in zip(sets.items(), SET_STYLES, SET_COLOURS):
        for vessel in vessels:
            ax = axes_of[vessel]
            colour = set_colour if layout == "panels" else VESSEL_COLOURS.get(vessel, "k")
            name = set_name if layout == "panels" else f"{vessel}, {set_name}"
            if len(sets) == 1 and layout == "single":
                name = vessel
            y = table[schema.label_col(vessel)]
            p = table[schema.prob_col(vessel)]
            withheld = "" if given is None else given[set_name][vessel][3]
            if withheld:  # the small-count policy: no curve, the reason in the legend
                ax.plot(
                    [],
                    [],
                    linestyle=style,
                    color=VESSEL_COLOURS.get(vessel, "k"),
                    label=f"{name}: {withheld}",
                )
                continue
            try:
                pts = roc_points(y, p, name=vessel)
                if given is None:
                    res = delong_auc(
                        y, p, level=level, ci_method=ci_method, name=f"{vessel} ({set_name})"
                    )
                    text = format_estimate(res.auc, res.ci_low, res.ci_high)
                else:
                    text = format_estimate(*given[set_name][vessel][:3])
            except OneClassError as err:
                ax.plot(
                    [],
                    [],
                    linestyle=style,
                    color=colour,
                    label=f"{name}: no AUC ({err.positives}/{err.n} positive)",
                )
                continue
            ax.plot(
                pts["fpr"],
                pts["tpr"],
                linestyle=style,
                linewidth=1.4,
                color=colour,
                label=f"{name}: {text}",
            )
    panels = {id(ax): (vessel, ax) for vessel, ax in axes_of.items()}.values()
    for vessel, ax in panels:
        ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, linestyle=(0, (2, 2)))
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("1 - specificity")
        if layout == "panels":
            ax.set_title(vessel)
        ax.set_ylabel("sensitivity")
        # below the axes, never over a curve
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.26),
            fontsize=7,
            title=f"AUC [{ci_name}]",
            title_fontsize=7,
        )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _legend_aucs(
    aucs: pd.DataFrame | Mapping[str, pd.DataFrame], sets: Sequence[str], vessels: Sequence[str]
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """``set -> vessel -> (auc, ci_low, ci_high, withheld)`` of the given AUC table(s), for
    every set and vessel drawn (``withheld``: the small-count policy's reason, "" when the AUC
    is shown); a missing one is a ``KeyError`` naming it."""
    if isinstance(aucs, pd.DataFrame):
        if "set" not in aucs.columns:
            raise KeyError("the AUC table needs a 'set' column naming the prediction sets")
        aucs = {name: part for name, part in aucs.groupby("set", sort=False)}
    out = {}
    for name in sets:
        if name not in aucs:
            raise KeyError(f"the AUC table has no set {name!r}; it has {list(aucs)}")
        table = aucs[name]
        table = table.set_index("vessel") if "vessel" in table.columns else table
        absent = [v for v in vessels if v not in table.index]
        if absent:
            raise KeyError(f"the AUC table of {name!r} has no row for {absent}")
        out[name] = {
            v: (
                *(float(table.at[v, c]) for c in ("auc", "ci_low", "ci_high")),
                str(table.at[v, WITHHELD]) if WITHHELD in table.columns else "",
            )
            for v in vessels
        }
    return out


def roc_caption(
    sets: pd.DataFrame | Mapping[str, pd.DataFrame],
    vessels: Sequence[str] | None = None,
    *,
    label: str = "internal",
    aucs: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    **_figure_options,
) -> str:
    """The facts of :func:`roc_figure`'s figure, in words for its caption: per set, each
    vessel's AUC (from ``aucs`` when given, as the legend shows it) with its ECGs and positive
    ECGs, e.g. ``"pooled OOF: RCA 0.851 (557 ECGs, 85 positive), ..."``. Takes the figure's
    arguments (its other options are ignored)."""
    if isinstance(sets, pd.DataFrame):
        sets = {label: sets}
    vessels = schema.vessels_of(next(iter(sets.values())), vessels)
    given = None if aucs is None else _legend_aucs(aucs, list(sets), vessels)
    parts = []
    for set_name, table in sets.items():
        bits = []
        for vessel in vessels:
            y = table[schema.label_col(vessel)].dropna()
            n, pos = len(y), int((y == 1).sum())
            if given is not None and given[set_name][vessel][3]:
                bits.append(f"{vessel} too few events ({n:,} ECGs, {pos:,} positive)")
                continue
            if given is not None:
                auc = given[set_name][vessel][0]
            else:
                try:
                    auc = delong_auc(y, table.loc[y.index, schema.prob_col(vessel)]).auc
                except OneClassError:
                    auc = float("nan")
            value = f"AUC {auc:.3f}" if auc == auc else "no AUC"
            bits.append(f"{vessel} {value} ({n:,} ECGs, {pos:,} positive)")
        parts.append(f"{set_name}: " + ", ".join(bits))
    return "; ".join(parts) + "."
