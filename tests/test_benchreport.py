"""One benchmark run per folder: running the scripts, their errors, reading the run back."""

import datetime as dt
import json
import os
import platform
import textwrap

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from ecglib.errors import DataError, MissingInputError
from ecglib.plots.benchmarks import CLIP, MET_COLOURS, benchmark_target_figure
from ecglib.report.benchmarks import (
    BENCHMARKS,
    HEADLINE_COLUMNS,
    BenchmarkError,
    emit,
    format_target,
    format_value,
    parse_target,
    read_benchmarks,
    run_benchmarks,
    target_ratios,
)

GOOD = """
import argparse, json, sys
ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=3.0)
args = ap.parse_args()
print("working...", file=sys.stderr)
print(json.dumps({"seconds": args.seconds, "headline": [
    {"figure": "a step, 10 ECGs", "value": args.seconds, "unit": "s", "target": "<= 5 s",
     "met": args.seconds <= 5},
    {"figure": "speed-up over the loop", "value": 25, "unit": "x", "target": ">= 20x", "met": True},
    {"figure": "ECGs excluded", "value": 2, "unit": "ECGs", "target": None, "met": None}]}))
"""
FAILS = """
import sys
print("half a line of JSON {", flush=True)
print("Traceback: something broke in the benchmark", file=sys.stderr)
sys.exit(3)
"""
NOT_JSON = """
print("the time was 3 s")
"""
NO_HEADLINE = """
import json
print(json.dumps({"seconds": 1.0}))
"""


def script(folder, name, source):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    return {
        name: script(folder, name, source)
        for name, source in [
            ("bench_good", GOOD),
            ("bench_fails", FAILS),
            ("bench_not_json", NOT_JSON),
            ("bench_plain", NO_HEADLINE),
        ]
    }


def test_a_run_writes_each_scripts_json_and_run_json(tmp_path, scripts):
    out = run_benchmarks(
        tmp_path / "bench",
        scripts=[scripts["bench_good"], scripts["bench_plain"]],
        args={"bench_good": ["--seconds", "7.5"]},
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "bench_good.json",
        "bench_plain.json",
        "run.json",
    ]
    run = json.loads((out / "run.json").read_text())
    when = dt.datetime.fromisoformat(run["when"])
    assert when.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) < 600
    assert run["commit"] is None or len(run["commit"]) == 40
    assert run["platform"] == platform.platform()
    assert run["python"] == platform.python_version()
    assert run["cpu_count"] == os.cpu_count()
    assert "torch" in run
    assert [s.rsplit("/", 1)[-1] for s in run["scripts"]] == ["bench_good.py", "bench_plain.py"]
    assert run["args"] == {"bench_good": ["--seconds", "7.5"], "bench_plain": []}
    assert json.loads((out / "bench_good.json").read_text())["seconds"] == 7.5


def test_the_headline_table_has_one_row_per_figure(tmp_path, scripts):
    out = run_benchmarks(
        tmp_path / "bench",
        scripts=[scripts["bench_good"], scripts["bench_plain"]],
        args={"bench_good": ["--seconds", "7.5"]},
    )
    bench = read_benchmarks(out)
    h = bench.headlines
    assert list(h.columns) == list(HEADLINE_COLUMNS)
    assert list(h["benchmark"]) == ["bench_good"] * 3  # a script without headline adds no row
    assert list(h["value"]) == [7.5, 25.0, 2.0]
    assert list(h["met"]) == [False, True, None]
    assert list(h["target"]) == ["<= 5 s", ">= 20x", None]
    assert set(bench.raw) == {"bench_good", "bench_plain"}
    ratios = target_ratios(h)
    assert ratios["ratio"].round(3).tolist() == [1.5, 0.8]
    ax = benchmark_target_figure(bench).axes[0]
    # one bar per targeted figure, top to bottom, as long as the share of its target it uses
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "good: a step, 10 ECGs",
        "good: speed-up over the loop",
    ]
    bars = sorted(ax.patches, key=lambda b: -b.get_y())
    assert [round(b.get_width(), 12) for b in bars] == [1.5, 0.8]
    assert all(b.get_x() == CLIP[0] for b in bars)
    assert [to_hex(b.get_facecolor()) for b in bars] == [MET_COLOURS[False], MET_COLOURS[True]]
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["7.5 s (target <= 5 s)", "25x (target >= 20x)"]


def test_a_new_run_replaces_the_old_one_whole(tmp_path, scripts):
    out = tmp_path / "bench"
    out.mkdir()
    (out / "bench_gone.json").write_text("{}")
    run_benchmarks(out, scripts=[scripts["bench_good"]])
    assert sorted(p.name for p in out.iterdir()) == ["bench_good.json", "run.json"]
    assert not list(tmp_path.glob(".bench-*"))  # the scratch folder is gone


def test_a_failing_script_is_named_with_its_stderr_and_the_previous_run_is_kept(tmp_path, scripts):
    out = run_benchmarks(tmp_path / "bench", scripts=[scripts["bench_good"]])
    before = (out / "run.json").read_text()
    with pytest.raises(BenchmarkError, match=r"bench_fails\.py failed \(exit code 3\)") as info:
        run_benchmarks(out, scripts=[scripts["bench_good"], scripts["bench_fails"]])
    assert "something broke in the benchmark" in str(info.value)
    assert (out / "run.json").read_text() == before
    assert sorted(p.name for p in out.iterdir()) == ["bench_good.json", "run.json"]
    assert not list(tmp_path.glob(".bench-*"))


def test_a_script_printing_something_else_than_json_is_named(tmp_path, scripts):
    with pytest.raises(BenchmarkError, match=r"bench_not_json\.py did not print one JSON") as info:
        run_benchmarks(tmp_path / "bench", scripts=[scripts["bench_not_json"]])
    assert "the time was 3 s" in str(info.value)
    assert not (tmp_path / "bench" / "run.json").exists()


def test_args_for_a_script_that_is_not_run_are_refused(tmp_path, scripts):
    with pytest.raises(ValueError, match="bench_typo"):
        run_benchmarks(tmp_path / "bench", scripts=[scripts["bench_good"]], args={"bench_typo": []})


@pytest.mark.parametrize("make", [False, True])
def test_no_run_is_a_missing_input_that_says_how_to_make_one(tmp_path, make):
    folder = tmp_path / "bench"
    if make:
        folder.mkdir()
    with pytest.raises(MissingInputError) as info:
        read_benchmarks(folder)
    assert "make bench" in info.value.reason


def test_a_malformed_file_is_named(tmp_path, scripts):
    out = run_benchmarks(tmp_path / "bench", scripts=[scripts["bench_good"]])
    (out / "bench_good.json").write_text('{"headline": [')
    with pytest.raises(DataError, match=r"bench_good\.json.*not valid JSON"):
        read_benchmarks(out)
    (out / "bench_good.json").write_text('{"headline": [{"figure": "x", "value": "fast"}]}')
    with pytest.raises(DataError, match=r"bench_good\.json.*lacks"):
        read_benchmarks(out)
    (out / "run.json").write_text("not json")
    with pytest.raises(DataError, match=r"run\.json"):
        read_benchmarks(out)


def test_targets_parse_and_values_format():
    assert parse_target("<= 120 s") == ("<=", 120.0)
    assert parse_target(">= 20x") == (">=", 20.0)
    assert parse_target("< 1e-05") == ("<", 1e-5)
    assert parse_target("roughly 0.75 to 0.88") is None
    assert parse_target(None) is None
    assert format_value(4321.0, "ms") == "4,321 ms"
    assert format_value(0.8437, "AUC") == "0.844 AUC"
    assert format_value(1.0776, "ratio") == "1.08"
    assert format_value(3.7e-8, "") == "3.7 × 10⁻⁸"
    assert format_value(0.0, "AUC") == "0 AUC" and format_value(-2.5e-7, "") == "-2.5 × 10⁻⁷"
    assert format_target("< 1e-05") == "< 10⁻⁵" and format_target(None) == "—"
    assert format_target("<= 120 s") == "<= 120 s"
    empty = pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    ax = benchmark_target_figure(empty).axes[0]
    assert not ax.patches and [t.get_text() for t in ax.texts] == [
        "no figure of this run has a target"
    ]


def test_every_benchmark_script_prints_a_headline():
    sources = sorted(BENCHMARKS.glob("bench_*.py"))
    assert sources
    for source in sources:
        text = source.read_text()
        assert '"headline"' in text, f"{source.name} prints no headline"
        # emit() sends the script's prints to stderr (test_emit_keeps_stdout_for_the_json)
        assert "emit(measure" in text, f"{source.name}: progress must go to stderr"


def test_emit_keeps_stdout_for_the_json(capsys):
    def measure(argv):
        print("progress", argv)
        return {"headline": [], "argv": argv}

    result = emit(measure, ["--n", "3"])
    out, err = capsys.readouterr()
    assert json.loads(out) == result == {"headline": [], "argv": ["--n", "3"]}
    assert "progress ['--n', '3']" in err
    emit(measure, None, dumps=lambda r: "custom")
    assert capsys.readouterr().out == "custom\n"


def test_the_metrics_benchmark_runs_at_its_smallest_size(tmp_path):
    args = ["--n", "300", "--n-boot", "20", "--repeats", "1", "--loop-repeats", "1"]
    out = run_benchmarks(
        tmp_path / "bench", scripts=[BENCHMARKS / "bench_metrics.py"], args={"bench_metrics": args}
    )
    bench = read_benchmarks(out)
    h = bench.headlines
    assert len(h) >= 3 and set(h["benchmark"]) == {"bench_metrics"}
    assert h["value"].notna().all() and (h["value"] >= 0).all()
    targeted = h[h["target"].notna()]
    assert set(targeted["target"]) == {"< 50 ms", ">= 20x", "< 100 ms"}
    assert targeted["met"].map(lambda m: isinstance(m, bool)).all()
    # the headline repeats figures of the script's own JSON, never other numbers
    raw = bench.raw["bench_metrics"]
    assert raw["delong"]["vessel_auc_table"]["best_ms"] in set(h["value"])
    assert raw["bootstrap"]["speedup_best"] in set(h["value"])
    assert raw["clustered_delong"]["clustered_auc_table"]["best_ms"] in set(h["value"])
    assert bench.run["args"] == {"bench_metrics": args}
