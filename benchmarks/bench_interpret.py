"""Integrated gradients on the CPU: seconds per attributed ECG for a run's network. Prints one JSON object.

The interpretability chapter's cost is integrated gradients (:func:`ecglib.model.attribution.integrated_gradients`:
one forward and backward pass of the network per integration step and ECG) plus folding the
attributions onto beats (:func:`ecglib.model.attribution.beat_attribution`, which detects the R peaks
again). This times both for the network of a params file (default ``params/demo.yaml``; random
weights, which cost the same as trained ones) on simulated demo ECGs, so that
``MAX_ATTRIBUTION_RECORDS`` and ``N_STEPS`` (:mod:`ecglib.chapters.interpretability_vessel`) can
be sized for a machine: the chapter attributes up to 4 x ``MAX_ATTRIBUTION_RECORDS`` ECGs. No target: the figures size the chapter.

Usage: ``python benchmarks/bench_interpret.py [--params params/demo.yaml --n 8 --steps 32]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecglib.chapters.interpretability_vessel import MAX_ATTRIBUTION_RECORDS, N_STEPS
from ecglib.config import load_params
from ecglib.demo import simulate_from_grades
from ecglib.model import Net1D
from ecglib.model.attribution import beat_attribution, integrated_gradients
from ecglib.report.benchmarks import emit, headline
from ecglib.signals import ecg_zscore
from ecglib.train.fit import model_config


def main(argv: list[str] | None = None) -> dict:
    return emit(measure, argv, dumps=json.dumps)


def measure(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params/demo.yaml")
    parser.add_argument("--n", type=int, default=8, help="ECGs to attribute")
    parser.add_argument("--steps", type=int, default=N_STEPS, help="integration steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    params = load_params(args.params)
    torch.manual_seed(args.seed)
    model = Net1D.from_config(model_config(params)).eval()
    grades = np.zeros((args.n, 4), int)
    grades[:, 0] = 4
    signals, _ = simulate_from_grades(grades, seed=args.seed)
    x = np.stack([ecg_zscore(s) for s in signals]).astype(np.float32)

    start = time.perf_counter()
    ig = integrated_gradients(model, x, "RCA", n_steps=args.steps)
    ig_s = time.perf_counter() - start
    start = time.perf_counter()
    folded = beat_attribution(ig.attributions, x, vessel="RCA", ig=ig)
    fold_s = time.perf_counter() - start
    per_ecg = (ig_s + fold_s) / args.n
    result = {
        "params": args.params,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "n_ecgs": args.n,
        "n_steps": args.steps,
        "threads": torch.get_num_threads(),
        "ig_seconds": round(ig_s, 2),
        "fold_seconds": round(fold_s, 2),
        "seconds_per_ecg": round(per_ecg, 3),
        "chapter_estimate_seconds": round(per_ecg * 4 * MAX_ATTRIBUTION_RECORDS, 1),
        "median_relative_completeness_error": float(np.nanmedian(ig.relative_error)),
        "included": folded.n_included,
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    result["headline"] = [
        headline(
            f"integrated gradients + beat folding, per ECG ({args.steps} steps, "
            f"{torch.get_num_threads()} threads)",
            result["seconds_per_ecg"],
            "s",
        ),
        headline(
            f"interpretability chapter estimate ({4 * MAX_ATTRIBUTION_RECORDS} ECGs)",
            result["chapter_estimate_seconds"],
            "s",
        ),
    ]
    return result


if __name__ == "__main__":
    main()
