"""One benchmark run: run every ``benchmarks/bench_*.py``, keep their JSON, read it back.

Each benchmark script prints one JSON object on stdout (progress goes to stderr) with, besides its
own detailed figures, a top-level ``"headline"`` list: the few figures a reader wants, each
``{"figure", "value", "unit", "target", "met"}`` (:func:`headline` builds one). ``make bench``
calls :func:`run_benchmarks` (``python -m ecglib.report.benchmarks``), which runs the scripts one after
the other from the project root and writes one folder per run (default ``runs/bench``): a
``<script>.json`` per script and ``run.json`` saying when, from which commit and on what machine.
The benchmarks appendix of the book (:func:`ecglib.chapters.appendices.benchmarks`) reads that
folder with :func:`read_benchmarks`; :func:`target_ratios` and :func:`format_value` put a figure
beside its target for the appendix's table and figure.

The folder always holds exactly one complete run: the scripts write into a scratch folder first,
and only when every one of them succeeded does it replace the previous run's files (a failing
script leaves the previous run as it was).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime as _dt
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ecglib.config import PROJECT_ROOT
from ecglib.errors import DataError, EcglibError, MissingInputError
from ecglib.report.manifest import git_state, hardware, package_versions, relative
from ecglib.report.present import format_scientific, unexponent

#: Where ``make bench`` writes its run and the book's appendix reads it.
DEFAULT_OUT = PROJECT_ROOT / "runs" / "bench"
BENCHMARKS = PROJECT_ROOT / "benchmarks"
RUN_FILE = "run.json"
HEADLINE_COLUMNS = ("benchmark", "figure", "value", "unit", "target", "met")
#: Characters of a failing script's stderr shown in the error.
STDERR_TAIL = 3000
_TARGET = re.compile(r"^\s*(<=|>=|<|>|≤|≥)\s*([-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


class BenchmarkError(EcglibError, RuntimeError):
    """A benchmark script failed or printed something other than one JSON object."""


def headline(
    figure: str, value: float, unit: str, target: str | None = None, met: bool | None = None
) -> dict[str, Any]:
    """One entry of a benchmark's ``"headline"`` list (plain Python types, JSON-ready)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        value = float(value)  # numpy scalars; a non-number fails here, in the script
    return {
        "figure": str(figure),
        "value": value,
        "unit": str(unit),
        "target": None if target is None else str(target),
        "met": None if met is None else bool(met),
    }


def emit(
    measure: Callable[[Sequence[str] | None], dict[str, Any]],
    argv: Sequence[str] | None = None,
    *,
    dumps: Callable[[dict[str, Any]], str] = lambda r: json.dumps(r, indent=2),
) -> dict[str, Any]:
    """A benchmark script's ``main``: ``measure(argv)`` with whatever it prints sent to stderr,
    then its result printed with ``dumps`` as the only output on stdout (what
    :func:`run_script` parses). Returns the result."""
    with contextlib.redirect_stdout(sys.stderr):
        result = measure(argv)
    print(dumps(result))
    return result


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def default_scripts() -> list[Path]:
    return sorted(BENCHMARKS.glob("bench_*.py"))


def run_benchmarks(
    out_dir: str | os.PathLike = DEFAULT_OUT,
    scripts: Sequence[str | os.PathLike] | None = None,
    python: str = sys.executable,
    args: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Run each benchmark script and write one run into ``out_dir``; returns ``out_dir``.

    ``scripts`` defaults to every ``benchmarks/bench_*.py`` (sorted); ``args`` maps a script's
    stem (``"bench_metrics"``) to extra command-line arguments (e.g. small sizes for a quick run).
    Each script runs as ``python <script> <args>`` from the project root; its stderr (progress)
    is passed through, its stdout must be one JSON object. A script that fails or prints anything
    else raises :class:`BenchmarkError` naming it, with the tail of its stderr, and leaves
    ``out_dir`` untouched.
    """
    out_dir = Path(out_dir)
    scripts = [Path(s).absolute() for s in (default_scripts() if scripts is None else scripts)]
    args = {k: [str(a) for a in v] for k, v in (args or {}).items()}
    unknown = set(args) - {s.stem for s in scripts}
    if unknown:
        raise ValueError(f"args given for scripts that are not run: {sorted(unknown)}")
    stems = [s.stem for s in scripts]
    if len(set(stems)) != len(stems) or RUN_FILE.removesuffix(".json") in stems:
        raise ValueError(f"benchmark scripts need distinct names other than 'run': {stems}")

    started = _dt.datetime.now(_dt.timezone.utc)
    load_start = _load_average()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    seconds: dict[str, float] = {}
    try:
        for i, script in enumerate(scripts, 1):
            extra = args.get(script.stem, [])
            print(
                f"[{i}/{len(scripts)}] {relative(script)} {' '.join(extra)}".rstrip(),
                file=sys.stderr,
                flush=True,
            )
            start = time.perf_counter()
            result = run_script(script, python=python, args=extra)
            seconds[script.stem] = round(time.perf_counter() - start, 1)
            print(
                f"[{i}/{len(scripts)}] {script.stem}: {seconds[script.stem]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            _write_json(scratch / f"{script.stem}.json", result)
        code, machine, versions = git_state(PROJECT_ROOT), hardware(), package_versions(("torch",))
        run = {
            "when": started.isoformat(timespec="seconds"),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "commit": code["commit"],
            "dirty": code["dirty"],
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu_model": machine["cpu_model"],
            "cpu_count": machine["cpu_count"],
            "python": versions["python"],
            "torch": versions["torch"],
            "load_average_start": load_start,
            "load_average_end": _load_average(),
            "scripts": [relative(s) for s in scripts],
            "args": {s.stem: args.get(s.stem, []) for s in scripts},
            "seconds": seconds,
        }
        _write_json(scratch / RUN_FILE, run)
        _replace_run(scratch, out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out_dir


def run_script(
    script: str | os.PathLike, python: str = sys.executable, args: Sequence[str] = ()
) -> dict[str, Any]:
    """Run one benchmark script from the project root; its stdout parsed as a JSON object."""
    script = Path(script)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    kept: list[str] = []
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [python, str(script), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        # pass progress through as it comes (tqdm redraws with \r) and keep it for errors
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            text = decoder.decode(chunk)
            sys.stderr.write(text)
            sys.stderr.flush()
            kept.append(text)
        code = proc.wait()
        out.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
    stderr = "".join(kept) + decoder.decode(b"", final=True)
    name = relative(script)
    tail = _tail(stderr)
    if code != 0:
        raise BenchmarkError(
            f"benchmark {name} failed (exit code {code}); the end of its stderr:\n{tail}"
        )
    try:
        result = json.loads(stdout)
    except json.JSONDecodeError as exc:
        start = stdout.strip()[:300] or "(nothing)"
        raise BenchmarkError(
            f"benchmark {name} did not print one JSON object on stdout ({exc}); "
            f"its stdout begins:\n{start}\nthe end of its stderr:\n{tail}"
        ) from None
    if not isinstance(result, dict):
        raise BenchmarkError(
            f"benchmark {name} printed JSON that is not an object ({type(result).__name__})"
        )
    return result


def _replace_run(scratch: Path, out_dir: Path) -> None:
    """Move a complete run from ``scratch`` into ``out_dir``: old JSON files go, so the folder
    holds this run only; ``run.json`` is moved last (a folder without it holds no run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RUN_FILE).unlink(missing_ok=True)
    for old in out_dir.glob("*.json"):
        old.unlink()
    for new in sorted(scratch.glob("*.json"), key=lambda p: p.name == RUN_FILE):
        os.replace(new, out_dir / new.name)


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n")


def _tail(text: str, n: int = STDERR_TAIL) -> str:
    # tqdm's carriage-return redraws: keep the last state of each line
    lines = [line.rsplit("\r", 1)[-1] for line in text.rstrip().split("\n")]
    text = "\n".join(lines)
    return ("..." + text[-n:]) if len(text) > n else (text or "(empty)")


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchmarkRun:
    """A run read back: ``run`` (run.json), ``headlines`` (one row per headline figure:
    benchmark, figure, value, unit, target, met) and ``raw`` (script stem -> its full JSON)."""

    run: dict[str, Any]
    headlines: pd.DataFrame
    raw: dict[str, dict[str, Any]] = field(repr=False)


def read_benchmarks(out_dir: str | os.PathLike = DEFAULT_OUT) -> BenchmarkRun:
    """The run in ``out_dir``; :class:`MissingInputError` when there is none (no folder or no
    ``run.json``), :class:`ecglib.errors.DataError` naming the file when a file is malformed."""
    out_dir = Path(out_dir)
    if not (out_dir / RUN_FILE).is_file():
        raise MissingInputError(
            f"no benchmark run was found in {relative(out_dir)} on this machine "
            "(`make bench`, or `python -m ecglib.report.benchmarks`, makes one)"
        )
    run = _read_json(out_dir / RUN_FILE)
    scripts = run.get("scripts")
    if not isinstance(scripts, list):
        raise DataError(relative(out_dir / RUN_FILE), "has no list of 'scripts'")
    raw, rows = {}, []
    for script in scripts:
        stem = Path(script).stem
        path = out_dir / f"{stem}.json"
        if not path.is_file():
            raise DataError(relative(path), f"is missing, but {RUN_FILE} lists {script}")
        raw[stem] = result = _read_json(path)
        entries = result.get("headline", [])
        if not isinstance(entries, list):
            raise DataError(relative(path), "'headline' is not a list")
        for k, entry in enumerate(entries):
            missing = [
                c for c in HEADLINE_COLUMNS[1:] if not isinstance(entry, dict) or c not in entry
            ]
            if missing:
                raise DataError(relative(path), f"headline entry {k} lacks {missing}")
            value = entry["value"]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(
                    relative(path),
                    f"headline entry {k} ({entry['figure']!r}) has a "
                    f"value that is not a number: {value!r}",
                )
            rows.append({"benchmark": stem, **{c: entry[c] for c in HEADLINE_COLUMNS[1:]}})
    headlines = pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))
    headlines["value"] = headlines["value"].astype(float)
    headlines["met"] = headlines["met"].astype(object)
    return BenchmarkRun(run=run, headlines=headlines, raw=raw)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(relative(path), f"is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise DataError(relative(path), "does not hold a JSON object")
    return value


# --------------------------------------------------------------------------------------------
# for the appendix
# --------------------------------------------------------------------------------------------
def parse_target(target: str | None) -> tuple[str, float] | None:
    """``"<= 120 s"`` -> ``("<=", 120.0)``; None for no target or one that is not a bound
    (e.g. a range)."""
    if not isinstance(target, str):
        return None
    match = _TARGET.match(target)
    if not match:
        return None
    op = {"≤": "<=", "≥": ">="}.get(match[1], match[1])
    return op, float(match[2].replace(",", ""))


def format_target(target: str | None) -> str:
    """A headline's target as the book shows it: its numbers in exponent notation as powers of
    ten (``"< 1e-05" -> "< 10⁻⁵"``), an em dash for none."""
    return "—" if not isinstance(target, str) or not target.strip() else unexponent(target)


def target_ratios(headlines: pd.DataFrame) -> pd.DataFrame:
    """The headlines with a bound as target, and how much of the target each uses: measured /
    limit for an upper bound (``<=``, ``<``), limit / measured for a lower bound (``>=``, ``>``);
    below 1 is within the target whichever its direction."""
    rows = []
    for row in headlines.itertuples(index=False):
        bound = parse_target(row.target)
        if bound is None or not math.isfinite(row.value):
            continue
        op, limit = bound
        upper = op in ("<=", "<")
        if upper:
            ratio = row.value / limit if limit else math.inf
        else:
            ratio = limit / row.value if row.value else math.inf
        rows.append(
            {
                "benchmark": row.benchmark,
                "figure": row.figure,
                "value": row.value,
                "unit": row.unit,
                "target": row.target,
                "met": row.met,
                "ratio": ratio,
                "bound": "upper" if upper else "lower",
            }
        )
    return pd.DataFrame(
        rows, columns=["benchmark", "figure", "value", "unit", "target", "met", "ratio", "bound"]
    )


def format_value(value: float, unit: str = "") -> str:
    """``"45.2 s"``, ``"1,234 ms"``, ``"41.7x"``, ``"3.1 × 10⁻⁹"``: whole numbers as they are,
    others to three significant digits, thousands grouped, below 0.001 as a power of ten
    (:func:`ecglib.report.present.format_scientific`); a ``ratio`` has no unit shown."""
    if not math.isfinite(value):
        return "n/a"
    if value and abs(value) < 1e-3:
        text = format_scientific(value, 3)
    elif abs(value) >= 1e3 or (value == round(value) and abs(value) < 1e15):
        text = f"{value:,.0f}"
    else:
        text = f"{value:.3g}"
    if unit in ("", "ratio"):
        return text
    return text + unit if unit == "x" else f"{text} {unit}"


#: The training-throughput benchmark's stem, and the columns of :func:`train_step_table`.
TRAIN_STEP = "bench_train_step"
TRAIN_STEP_COLUMNS = (
    "config",
    "label",
    "ratio",
    "ratio_paired",
    "target",
    "met",
    "fold_step_ms",
    "floor_step_ms",
    "ecgs_per_second",
    "training_ecgs",
    "steps",
    "batch_size",
    "network_batch",
    "clock",
    "threads",
)


def train_step_table(bench: BenchmarkRun) -> pd.DataFrame:
    """The training-throughput benchmark of the run (``benchmarks/bench_train_step.py``), one
    row per configuration (:data:`TRAIN_STEP_COLUMNS`): the fold's step over its floor
    (``ratio``, and paired by round), its target and whether it is met, the median step of
    each on the benchmark's clock (``fold_step_ms``, ``floor_step_ms``), training ECGs per
    second, the epoch's size. :class:`MissingInputError` when the run did not include the
    script, :class:`DataError` naming the file when its JSON lacks a figure."""
    raw = bench.raw.get(TRAIN_STEP)
    if raw is None:
        raise MissingInputError(
            "the benchmark run has no training-throughput figures "
            f"(benchmarks/{TRAIN_STEP}.py; `make bench` runs it)"
        )
    where = f"the benchmark run's {TRAIN_STEP}.json"
    try:
        setup, target = raw["setup"], float(raw["setup"]["target_ratio"])
        clock = setup["clock_for_ratios"]
        rows = [
            {
                "config": name,
                "label": c["label"],
                "ratio": float(c["ratio"]),
                "ratio_paired": float(c["ratio_paired"]),
                "target": target,
                "met": float(c["ratio"]) <= target,
                "fold_step_ms": float(c["step_ms_median"]["fold"][clock]),
                "floor_step_ms": float(c["step_ms_median"]["floor"][clock]),
                "ecgs_per_second": float(c["ecgs_per_second"]),
                "training_ecgs": int(c["training_ecgs"]),
                "steps": int(c["steps"]),
                "batch_size": int(c["batch_size"]),
                "network_batch": int(c["network_batch"]),
                "clock": clock,
                "threads": int(setup["threads"]),
            }
            for name, c in raw["configs"].items()
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(
            where, f"lacks a figure of the training-throughput benchmark ({exc!r})"
        ) from None
    if not rows:
        raise DataError(where, "has no configuration")
    return pd.DataFrame(rows, columns=list(TRAIN_STEP_COLUMNS))


# --------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> Path:
    """``make bench``: run the benchmarks (all, or ``--script`` ones) into ``--out``, one run per
    folder, so that the book's appendix shows one consistent run."""
    parser = argparse.ArgumentParser(
        prog="python -m ecglib.report.benchmarks",
        description="Run the benchmark scripts and keep their JSON "
        "as one run (read by the benchmarks appendix).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder of the run (default runs/bench; replaced)",
    )
    parser.add_argument(
        "--script",
        type=Path,
        nargs="+",
        action="extend",
        dest="scripts",
        help="scripts to run (default every benchmarks/bench_*.py)",
    )
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar="STEM=ARGS",
        help="extra arguments of one script, e.g. "
        "--args 'bench_metrics=--n 500 --repeats 1' (repeatable)",
    )
    ns = parser.parse_args(argv)
    extra = {}
    for item in ns.args:
        stem, sep, rest = item.partition("=")
        if not sep:
            parser.error(f"--args needs STEM=ARGS, got {item!r}")
        extra[stem.strip()] = rest.split()
    try:
        out = run_benchmarks(ns.out, scripts=ns.scripts, args=extra)
    except (BenchmarkError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"benchmark run written to {relative(out)}", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
