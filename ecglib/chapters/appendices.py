"""The book's appendices: 90 (inputs the pipeline refuses), 91 (the run manifest) and 92 (the
benchmarks), one entry point each.

* :func:`bad_inputs` runs every input of the bad-input corpus through the loader it would meet
  in a real run (:func:`ecglib.report.corpus.corpus_table`) and counts how each ended: the
  messages the appendix shows are computed, not typed.
* :func:`run_manifest` writes the run's ``manifest.json`` (:func:`ecglib.report.manifest.
  write_manifest`) and gives its tables.
* :func:`benchmarks` reads the benchmark run in ``runs/bench`` (:func:`ecglib.report.benchmarks.
  read_benchmarks`); without one, the appendix says so in one sentence.

None of them depends on the run's results; the appendices carry no model notice.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ecglib.chapters.parts import Skipped, attempt
from ecglib.config import RunParams
from ecglib.report import benchmarks as bench_report
from ecglib.report.corpus import corpus_table
from ecglib.report.manifest import manifest_tables, read_manifest, relative, write_manifest
from ecglib.report.present import render_table

__all__ = [
    "WholeTable",
    "BadInputs",
    "bad_inputs",
    "RunManifest",
    "run_manifest",
    "Benchmarks",
    "benchmarks",
    "headline_display",
    "run_facts",
    "run_paragraph",
    "train_step_paragraph",
    "CORPUS_MAX_CHARS",
]

#: Characters of a corpus message the appendix shows: None, every message whole (the book
#: never shows a cell cut with "…"; a long message is the reader's to read in full).
CORPUS_MAX_CHARS: int | None = None


@dataclass(frozen=True)
class WholeTable:
    """A table that displays every row, column and character of its cells (pandas shortens
    them by default), for the appendices' lists of messages and figure names."""

    table: pd.DataFrame

    def _options(self):
        return pd.option_context(
            "display.max_colwidth", None, "display.max_rows", None, "display.max_columns", None
        )

    def _repr_html_(self) -> str:
        # the book's table renderer never shortens a cell; every row stays unfolded
        return render_table(self.table, max_rows=max(len(self.table), 1))

    def __repr__(self) -> str:
        with self._options():
            return repr(self.table)


# --------------------------------------------------------------------------------------------
# 90: the bad-input corpus
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BadInputs:
    """What appendix 90 shows (:func:`bad_inputs`)."""

    #: One row per corpus input (:func:`ecglib.report.corpus.corpus_table`).
    table: pd.DataFrame

    def by_loader(self) -> pd.DataFrame:
        """Inputs per loader (rows) and outcome (columns)."""
        return self.table.groupby(["loader", "outcome"]).size().unstack(fill_value=0)

    def every_input(self) -> WholeTable:
        """Every input with its defect, loader, outcome and message, nothing shortened."""
        table = self.table[["input", "defect", "loader", "outcome", "message"]].copy()
        # the loaders' messages and the corpus's defects are quoted as written, reprs and all
        table.attrs["verbatim"] = ["defect", "message"]
        return WholeTable(table)

    def numbers(self) -> dict[str, int]:
        excluded = self.table["outcome"] == "excluded"
        return {
            "corpus_n_inputs": len(self.table),
            "corpus_n_refused": int((~excluded).sum()),
            "corpus_n_excluded": int(excluded.sum()),
            "corpus_n_as_expected": int(self.table["as expected"].sum()),
        }

    def outputs(self) -> dict[str, object]:
        return {"bad_inputs": self.table}

    def skipped(self) -> list[Skipped]:
        return []


def bad_inputs(max_chars: int | None = CORPUS_MAX_CHARS) -> BadInputs:
    """Appendix 90: every corpus input run through its loader (module docstring); messages
    longer than ``max_chars`` (when given) are shortened."""
    return BadInputs(table=corpus_table(max_chars=max_chars))


# --------------------------------------------------------------------------------------------
# 91: the run manifest
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunManifest:
    """What appendix 91 shows (:func:`run_manifest`)."""

    #: Where the manifest was written, as the book may show it (relative to the project).
    path: str
    manifest: Mapping[str, Any]
    #: :func:`ecglib.report.manifest.manifest_tables`: ``run``, ``inputs``, ``packages``,
    #: ``hardware``, ``params``.
    tables: Mapping[str, pd.DataFrame]

    def run_table(self) -> pd.DataFrame:
        return self.tables["run"]

    def inputs(self) -> pd.DataFrame:
        return self.tables["inputs"]

    def packages(self) -> pd.DataFrame:
        return self.tables["packages"]

    def hardware(self) -> pd.DataFrame:
        return self.tables["hardware"]

    def params(self) -> pd.DataFrame:
        return self.tables["params"]

    def numbers(self) -> dict[str, str]:
        return {
            "manifest_path": self.path,
            "manifest_commit": self.manifest["code"]["commit"] or "unknown (no git)",
        }

    def outputs(self) -> dict[str, object]:
        """Nothing more: the manifest is written beside the run's folders, not as a metric."""
        return {}

    def skipped(self) -> list[Skipped]:
        return []


def run_manifest(run: RunParams) -> RunManifest:
    """Appendix 91: write ``run``'s manifest and read it back as the appendix shows it."""
    path = write_manifest(run)
    manifest = read_manifest(path)
    return RunManifest(path=relative(path), manifest=manifest, tables=manifest_tables(manifest))


# --------------------------------------------------------------------------------------------
# 92: the benchmarks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Benchmarks:
    """What appendix 92 shows (:func:`benchmarks`).

    Without a benchmark run, :attr:`bench` is :class:`Skipped` and the run's paragraph
    (``bench_run``) is the one sentence that says so; the page lists no skipped part besides it,
    so that the reason is said once.
    """

    bench: bench_report.BenchmarkRun | Skipped
    #: The training-throughput benchmark's configurations
    #: (:func:`ecglib.report.benchmarks.train_step_table`), or why there are none.
    train_step: pd.DataFrame | Skipped

    def headlines(self) -> WholeTable | None:
        """Every headline figure with its measured value, target and status (None without a
        run)."""
        if isinstance(self.bench, Skipped):
            return None
        return WholeTable(headline_display(self.bench))

    def paragraph(self) -> str:
        """The run's paragraph in Markdown (:func:`run_paragraph`), or the sentence saying
        that there is no run and how to make one."""
        if isinstance(self.bench, Skipped):
            return self.bench.message
        return run_paragraph(self.bench)

    def numbers(self) -> dict[str, object]:
        """``bench_run``: :meth:`paragraph`; ``bench_train_step``: the training-throughput
        paragraph (:func:`train_step_paragraph`, or why it is missing); both Markdown, for
        the page's ``{glue:md}`` role."""
        from IPython.display import Markdown

        if isinstance(self.bench, Skipped):  # said once, by bench_run
            step = "No figures: there is no benchmark run (above)."
        elif isinstance(self.train_step, Skipped):
            step = self.train_step.message
        else:
            step = train_step_paragraph(self.train_step)
        return {
            "bench_run": Markdown(self.paragraph()),
            "bench_targets": Markdown(self.targets()),
            "bench_train_step": Markdown(step),
        }

    def targets(self) -> str:
        """What the targets figure shows, or, without a run, that there is nothing to show
        (the reason is said once, in ``bench_run``)."""
        if isinstance(self.bench, Skipped):
            return "Without a benchmark run there is no figure to set against its target."
        return TARGETS_TEXT

    def outputs(self) -> dict[str, object]:
        """Nothing: the benchmark run keeps its own JSON in its folder."""
        return {}

    def skipped(self) -> list[Skipped]:
        return []


#: How to read the targets figure (appendix 92, when there is a benchmark run).
TARGETS_TEXT = (
    "Each figure with a bound as its target, as the share of the target it uses: the measured "
    "value over the limit for an upper bound (a time, a ratio of times, a difference), the "
    "limit over the measured value for a lower bound (a speed-up). Left of the line at 1 the "
    "target is met, whichever its direction."
)


def headline_display(bench: bench_report.BenchmarkRun) -> pd.DataFrame:
    """The headline table as the appendix shows it: measured value with its unit, the target,
    and met / not met / no target."""
    h = bench.headlines
    status = h["met"].map(
        lambda m: "no target" if m is None or pd.isna(m) else "met" if m else "not met"
    )
    return pd.DataFrame(
        {
            "benchmark": h["benchmark"].str.removeprefix("bench_"),
            "figure": h["figure"],
            "measured": [bench_report.format_value(v, u) for v, u in zip(h["value"], h["unit"])],
            "target": h["target"].map(bench_report.format_target),
            "status": status,
        }
    )


def run_facts(bench: bench_report.BenchmarkRun) -> dict[str, Any]:
    """The run's facts the appendix states: when and from which commit it was made, the
    machine and software, the scripts that ran with reduced arguments (``reduced``: stem ->
    arguments) and how many headline figures have a target and meet it."""
    run, h = bench.run, bench.headlines
    when = run.get("when")
    try:
        when = _dt.datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        when = str(when or "unknown")
    commit = run.get("commit")
    dirty = " (with uncommitted changes)" if run.get("dirty") else ""
    targeted = h["met"].map(lambda m: m is not None and not pd.isna(m))
    return {
        "when": when,
        "commit": commit[:12] + dirty if commit else "unknown (no git)",
        "platform": run.get("platform") or "unknown",
        "cpu_model": run.get("cpu_model") or "CPU model unknown",
        "cpus": run.get("cpu_count") if run.get("cpu_count") is not None else "unknown",
        "python": run.get("python") or "unknown",
        "torch": run.get("torch") or "not installed",
        "reduced": {Path(k).stem: list(v) for k, v in (run.get("args") or {}).items() if v},
        "n_figures": len(h),
        "n_targets": int(targeted.sum()),
        "n_met": int(h.loc[targeted, "met"].astype(bool).sum()),
    }


def run_paragraph(bench: bench_report.BenchmarkRun) -> str:
    """The appendix's paragraph on the run, in Markdown (:func:`run_facts`; the arguments of
    the scripts that ran at a reduced size as code)."""
    facts = run_facts(bench)
    reduced = facts["reduced"]
    sizes = (
        "their default sizes"
        if not reduced
        else "reduced arguments, so their figures are not the targets' sizes ("
        + "; ".join(f"{k}: `{' '.join(v)}`" for k, v in reduced.items())
        + ")"
    )
    text = {k: _markdown_text(str(v)) for k, v in facts.items()}
    return (
        f"Made on {text['when']} from commit {text['commit']}, on {text['platform']} with "
        f"{text['cpus']} logical CPUs ({text['cpu_model']}), Python {text['python']} and "
        f"torch {text['torch']}. The scripts ran with {sizes}. Of its {facts['n_figures']} "
        f"headline figures, {facts['n_targets']} have a target and {facts['n_met']} of these "
        "meet it. The benchmarks' own JSON, with every figure they measure, is in "
        "`runs/bench/` beside `run.json`."
    )


def train_step_paragraph(table: pd.DataFrame) -> str:
    """The training-throughput figures in one Markdown paragraph: per configuration the fold's
    step over its floor and the training ECGs per second, on the benchmark's clock, and how
    many configurations meet the target."""
    clock = "CPU time" if (table["clock"] == "cpu").all() else "wall time"
    threads = int(table["threads"].iloc[0])
    target = float(table["target"].iloc[0])
    parts = [
        f"{_markdown_text(row.label)}: {row.ratio:.3f} times the floor "
        f"({row.fold_step_ms:,.1f} against {row.floor_step_ms:,.1f} ms per step of "
        f"{row.batch_size} ECGs, {row.ecgs_per_second:,.0f} training ECGs per second)"
        for row in table.itertuples(index=False)
    ]
    met = int(table["met"].sum())
    return (
        f"Median {clock}, {threads} thread{'s' * (threads != 1)}: " + "; ".join(parts) + ". "
        f"{met} of the {len(table)} configurations meet the target of at most {target:g} "
        "times the floor."
    )


def _markdown_text(text: str) -> str:
    """``text`` shown as it is in Markdown (characters that would start markup escaped)."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def benchmarks(folder: str | os.PathLike = bench_report.DEFAULT_OUT) -> Benchmarks:
    """Appendix 92: the benchmark run in ``folder`` (default ``runs/bench``), or a
    :class:`Skipped` that says there is none."""
    bench = attempt("This appendix", bench_report.read_benchmarks, folder)
    return Benchmarks(
        bench=bench,
        train_step=attempt("This section", bench_report.train_step_table, bench),
    )
