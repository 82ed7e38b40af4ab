"""ecglib.chapters.appendices: the bad-input corpus (90), the run manifest (91) and the benchmarks
(92) as their pages show them."""

import json

import pandas as pd
import pytest
from IPython.display import Markdown

from ecglib.chapters import appendices as ch
from ecglib.chapters.parts import Skipped
from ecglib.errors import DataError
from ecglib.paths import RunPaths
from ecglib.plots.benchmarks import train_step_figure
from ecglib.report.benchmarks import read_benchmarks
from ecglib.report.corpus import entries, load_manifest
from ecglib.report.present import render_table
from ecglib.report.scan import scan_html

LONG = "x" * 500


def test_a_whole_table_shows_every_row_and_every_character():
    table = pd.DataFrame({"message": [LONG] * 80})
    whole = ch.WholeTable(table)
    assert LONG in repr(whole) and LONG in whole._repr_html_()
    assert "..." not in repr(whole) and repr(whole).count("\n") >= 80
    assert LONG not in repr(table)  # what pandas would have shown


def _corpus_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "input": ["a", "b", "c"],
            "files": ["a.npy", "b.csv", "c.csv"],
            "defect": ["flat", "dup", "bad date"],
            "loader": ["ecg", "export", "export"],
            "expected": ["SignalError", "exclusion", "DataError"],
            "outcome": ["SignalError", "excluded", "DataError"],
            "message": [LONG, "duplicate row: 1 excluded", "ECG E1: bad"],
            "as expected": [True, True, False],
        }
    )


def test_the_corpus_counts_and_tables():
    chapter = ch.BadInputs(table=_corpus_rows())
    assert chapter.numbers() == {
        "corpus_n_inputs": 3,
        "corpus_n_refused": 2,
        "corpus_n_excluded": 1,
        "corpus_n_as_expected": 2,
    }
    by_loader = chapter.by_loader()
    assert by_loader.loc["export"].to_dict() == {"DataError": 1, "SignalError": 0, "excluded": 1}
    every = chapter.every_input()
    assert list(every.table.columns) == ["input", "defect", "loader", "outcome", "message"]
    assert LONG in repr(every)
    assert list(chapter.outputs()) == ["bad_inputs"]


def test_the_corpus_appendix_runs_every_input_of_the_manifest():
    chapter = ch.bad_inputs()
    ids = [e.id for e in entries(load_manifest())]
    assert chapter.table["input"].tolist() == ids
    numbers = chapter.numbers()
    assert numbers["corpus_n_inputs"] == len(ids)
    assert numbers["corpus_n_excluded"] == int((chapter.table["outcome"] == "excluded").sum())
    assert numbers["corpus_n_as_expected"] == len(ids)  # test_bad_inputs checks each one
    assert not chapter.table["message"].str.endswith("…").any()  # messages are whole


def test_without_a_benchmark_run_the_appendix_says_so_in_one_sentence(tmp_path):
    chapter = ch.benchmarks(tmp_path / "bench")
    assert isinstance(chapter.bench, Skipped)
    sentence = chapter.numbers()["bench_run"]
    assert isinstance(sentence, Markdown)
    assert sentence.data.startswith("This appendix is skipped because no benchmark run was found")
    assert "make bench" in sentence.data and "—" not in sentence.data
    # the targets section says in a sentence that it has nothing, never an empty glue
    assert chapter.numbers()["bench_targets"].data.startswith("Without a benchmark run")
    assert chapter.headlines() is None and chapter.skipped() == [] and chapter.outputs() == {}


def _write_bench(folder, args=None, headline=None):
    folder.mkdir()
    headline = headline or [
        {
            "figure": "a " + "very long figure name " * 5,
            "value": 7.5,
            "unit": "s",
            "target": "<= 5 s",
            "met": False,
        },
        {"figure": "speed-up", "value": 25, "unit": "x", "target": ">= 20x", "met": True},
        {"figure": "ECGs excluded", "value": 2, "unit": "ECGs", "target": None, "met": None},
    ]
    (folder / "bench_x.json").write_text(json.dumps({"headline": headline}))
    (folder / "run.json").write_text(
        json.dumps(
            {
                "when": "2026-01-02T03:04:05+00:00",
                "commit": "a" * 40,
                "dirty": True,
                "platform": "Linux-6.1-x86_64",
                "cpu_model": "Some CPU",
                "cpu_count": 8,
                "python": "3.11.7",
                "torch": "2.5.0",
                "scripts": ["benchmarks/bench_x.py"],
                "args": {"bench_x": args or []},
            }
        )
    )
    return folder


def test_the_run_facts_count_the_targets_met(tmp_path):
    bench = read_benchmarks(_write_bench(tmp_path / "bench"))
    facts = ch.run_facts(bench)
    assert (facts["n_figures"], facts["n_targets"], facts["n_met"]) == (3, 2, 1)
    assert facts["cpus"] == 8 and facts["reduced"] == {}
    assert facts["commit"] == "aaaaaaaaaaaa (with uncommitted changes)"
    shown = ch.headline_display(bench)
    assert shown["status"].tolist() == ["not met", "met", "no target"]
    assert shown["measured"].tolist() == ["7.5 s", "25x", "2 ECGs"]
    assert shown["target"].tolist() == ["<= 5 s", ">= 20x", "—"]


def test_tiny_differences_and_their_targets_read_as_powers_of_ten(tmp_path):
    # CI's benchmark run printed "1.86e-09 < 1e-05" in the appendix: raw output to the scanner
    tiny = [
        {
            "figure": "largest difference",
            "value": 1.86e-9,
            "unit": "",
            "target": "< 1e-05",
            "met": True,
        },
        {
            "figure": "AUC difference",
            "value": 1.11e-16,
            "unit": "AUC",
            "target": "< 1e-6",
            "met": True,
        },
    ]
    shown = ch.headline_display(read_benchmarks(_write_bench(tmp_path / "b", headline=tiny)))
    assert shown["measured"].tolist() == ["1.86 × 10⁻⁹", "1.11 × 10⁻¹⁶ AUC"]
    assert shown["target"].tolist() == ["< 10⁻⁵", "< 10⁻⁶"]
    html = render_table(shown)
    assert scan_html(f"<main>{html}</main>") == []
    assert scan_html("<main><p>1.86e-09 < 1e-05</p></main>")  # the scan would have caught it


def test_a_benchmark_run_is_described_and_its_figures_listed_in_full(tmp_path):
    chapter = ch.benchmarks(_write_bench(tmp_path / "bench", args=["--n", "10"]))
    text = chapter.numbers()["bench_run"].data
    assert chapter.numbers()["bench_targets"].data == ch.TARGETS_TEXT
    assert text.startswith(
        "Made on 2026-01-02 03:04 UTC from commit aaaaaaaaaaaa (with "
        "uncommitted changes), on Linux-6.1-x86\\_64 with 8 logical CPUs"
    )
    assert "The scripts ran with reduced arguments" in text and "bench_x: `--n 10`" in text
    assert "Of its 3 headline figures, 2 have a target and 1 of these meet it." in text
    shown = chapter.headlines()
    assert shown.table["status"].tolist() == ["not met", "met", "no target"]
    assert shown.table["figure"].iloc[0] in repr(shown)
    default = ch.benchmarks(_write_bench(tmp_path / "bench2")).paragraph()
    assert "The scripts ran with their default sizes." in default


def test_run_manifest_on_the_ci_run_is_the_manifest_it_wrote(ci_run):
    run = ci_run
    paths = RunPaths.of(run)
    chapter = ch.run_manifest(run)
    written = json.loads(paths.manifest.read_text(encoding="utf-8"))
    assert chapter.numbers()["manifest_path"] == "runs/ci/manifest.json"
    assert chapter.numbers()["manifest_commit"] == (written["code"]["commit"] or "unknown (no git)")
    run_table = chapter.run_table().set_index("item")["value"]
    assert run_table["run"] == "ci" and run_table["params sha256"] == run.sha256
    assert chapter.params().set_index("key").at["seed", "value"] == str(run.seed)
    assert set(chapter.inputs()["input"]) >= {"export_table", "column_map", "cohort_table"}
    assert chapter.packages().set_index("package").at["pandas", "version"] == pd.__version__
    assert chapter.outputs() == {} and chapter.skipped() == []


def _train_step_result(ratios=(1.05, 1.2)):
    """bench_train_step.py's JSON, in its shape, with figures chosen to check the arithmetic."""
    configs = {
        f"c{k}": {
            "label": f"config {k}",
            "ratio": r,
            "ratio_paired": r + 0.01,
            "batch_size": 16,
            "network_batch": 32,
            "training_ecgs": 64,
            "steps": 4,
            "step_ms_median": {
                "fold": {"cpu": 100.0 * r, "wall": 300.0},
                "floor": {"cpu": 100.0, "wall": 250.0},
            },
            "ecgs_per_second": 16 / (0.1 * r),
        }
        for k, r in enumerate(ratios)
    }
    setup = {"threads": 1, "clock_for_ratios": "cpu", "target_ratio": 1.15}
    return {"setup": setup, "configs": configs, "headline": []}


def _with_train_step(folder, result):
    (folder / "bench_train_step.json").write_text(json.dumps(result))
    run = json.loads((folder / "run.json").read_text())
    run["scripts"].append("benchmarks/bench_train_step.py")
    (folder / "run.json").write_text(json.dumps(run))
    return folder


def test_the_training_throughput_section_shows_every_configuration(tmp_path):
    folder = _with_train_step(_write_bench(tmp_path / "bench"), _train_step_result())
    chapter = ch.benchmarks(folder)
    table = chapter.train_step
    assert table["config"].tolist() == ["c0", "c1"]
    assert table["met"].tolist() == [True, False]
    assert table["fold_step_ms"].tolist() == [105.0, 120.0]  # the CPU clock's, as the setup says
    assert table["ratio_paired"].tolist() == [1.06, 1.21]
    text = chapter.numbers()["bench_train_step"].data
    assert text.startswith("Median CPU time, 1 thread: config 0: 1.050 times the floor")
    assert "(105.0 against 100.0 ms per step of 16 ECGs, 152 training ECGs per second)" in text
    assert text.endswith(
        "1 of the 2 configurations meet the target of at most 1.15 times the floor."
    )
    fig = train_step_figure(table)
    left, right = fig.axes
    assert len(left.patches) == 4 and len(right.patches) == 2
    labels = {t.get_text() for t in right.texts}
    assert {"1.050", "1.200", "target 1.15"} <= labels
    assert {"152 ECG/s", "133 ECG/s"} <= {t.get_text() for t in left.texts}


def test_without_the_training_throughput_figures_the_section_says_why(tmp_path):
    chapter = ch.benchmarks(_write_bench(tmp_path / "bench"))
    assert isinstance(chapter.train_step, Skipped)
    text = chapter.numbers()["bench_train_step"].data
    assert "no training-throughput figures" in text and "make bench" in text
    none = ch.benchmarks(tmp_path / "nothing").numbers()["bench_train_step"].data
    assert none == "No figures: there is no benchmark run (above)."
    broken = _train_step_result()
    del broken["configs"]["c1"]["step_ms_median"]
    folder = _with_train_step(_write_bench(tmp_path / "bench2"), broken)
    with pytest.raises(DataError, match="bench_train_step.json"):
        ch.benchmarks(folder)
