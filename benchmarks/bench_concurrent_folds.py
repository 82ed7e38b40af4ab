"""Three fold jobs on one machine: at once, one CPU each, against one after the other.

A cluster node runs several array jobs side by side, each bound to the CPUs it was given. Before
:mod:`ecglib.train.threads`, every training process started as many threads as the machine has
cores, and three ci fold jobs started at once on a 2-core machine took several times as long as
the same jobs one after the other. This benchmark prepares a copy of the ci run in a temporary
folder, then trains its three folds (``python -m ecglib.train PARAMS --fold K --force``):

- ``sequential``: one job after the other, each with the whole machine;
- ``concurrent``: the three jobs started at once, job ``K`` bound to CPU ``K mod n_cpus``
  (``os.sched_setaffinity``, as a scheduler binds a job), so that each sizes its threads from
  its affinity.

It prints one JSON object: both wall times, their ratio (target: concurrent at most 1.2 x the
sequential wall time), the thread choice each job reported, and the largest difference between
the two phases' out-of-fold probabilities (a thread count changes float summation order, not
the model). Progress goes to stderr.

Usage: ``python benchmarks/bench_concurrent_folds.py [--jobs 3]`` (Linux: needs
``os.sched_setaffinity``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecglib.config import PROJECT_ROOT, load_params
from ecglib.data.prepare import prepare_data
from ecglib.report.benchmarks import emit, headline
from ecglib.train.predict import read_oof

TARGET_RATIO = 1.2
CI_PARAMS = PROJECT_ROOT / "params" / "ci.yaml"


def main(argv: list[str] | None = None) -> dict:
    return emit(measure, argv)


def _command(params: Path, fold: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ecglib.train",
        str(params),
        "--fold",
        str(fold),
        "--force",
        "--no-progress",
    ]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _bind(cpu: int):
    return lambda: os.sched_setaffinity(0, {cpu})


def _chosen(stderr: str) -> str:
    for line in stderr.splitlines():
        if "training with" in line:
            return line.split("training with", 1)[1].strip()
    return "not reported"


def _finish(procs: list[subprocess.Popen]) -> list[str]:
    out = []
    for k, proc in enumerate(procs):
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"fold job {k} failed:\n{err[-2000:]}")
        out.append(_chosen(err))
    return out


def measure(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3, help="folds trained (the ci run has 3)")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))

    with tempfile.TemporaryDirectory() as tmp:
        raw = yaml.safe_load(CI_PARAMS.read_text())
        raw["runs_dir"] = tmp
        raw["folds"]["n_folds"] = max(args.jobs, raw["folds"]["n_folds"])
        params_file = Path(tmp) / "ci.yaml"
        params_file.write_text(yaml.safe_dump(raw))
        params = load_params(params_file)
        print("preparing a copy of the ci run ...", file=sys.stderr)
        prepare_data(params, progress=False)
        env = _environment()
        folds = list(range(args.jobs))

        print("sequential ...", file=sys.stderr)
        start = time.perf_counter()
        sequential_threads = []
        for k in folds:
            proc = subprocess.Popen(
                _command(params_file, k),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            sequential_threads += _finish([proc])
        sequential = time.perf_counter() - start
        first = read_oof(params, folds)

        print("concurrent ...", file=sys.stderr)
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                _command(params_file, k),
                env=env,
                stdout=subprocess.DEVNULL,  # stdout is this script's JSON, nothing else
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=_bind(cpus[k % len(cpus)]),
            )
            for k in folds
        ]
        concurrent_threads = _finish(procs)
        concurrent = time.perf_counter() - start
        second = read_oof(params, folds)

    columns = [c for c in first.columns if c.startswith("p_")]
    difference = float(np.nanmax(np.abs(first[columns].to_numpy() - second[columns].to_numpy())))
    ratio = concurrent / sequential
    return {
        "machine": {"cpus": len(cpus)},
        "jobs": args.jobs,
        "sequential_s": round(sequential, 1),
        "concurrent_s": round(concurrent, 1),
        "ratio": round(ratio, 2),
        "threads": {"sequential": sequential_threads, "concurrent": concurrent_threads},
        "max_abs_probability_difference": difference,
        "headline": [
            headline(
                f"{args.jobs} ci fold jobs at once (one CPU each) over one after the other, "
                "wall time",
                round(ratio, 2),
                "x",
                f"<= {TARGET_RATIO}",
                ratio <= TARGET_RATIO,
            ),
            headline("the same jobs one after the other", round(sequential, 1), "s"),
        ],
    }


if __name__ == "__main__":
    main()
