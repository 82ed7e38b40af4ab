"""Training throughput: a fold's whole training step against its floor (CPU). Prints one JSON object.

A fold's step is more than the network's arithmetic: the batch is fetched from the memory-mapped
ECG store (sampler, fancy-indexed read), its augmented copies are made, the forward pass runs,
the per-vessel losses are uncertainty-weighted, PCGrad takes one backward pass per task and
projects the trunk's gradients, and the optimiser and the learning-rate schedule step. This
benchmark times that step **as a fold runs it**: :func:`ecglib.train.fit.fold_trainer` sets a
fold up exactly as :func:`~ecglib.train.fit.fit_fold` does, and ``trainer.train_epoch(e)`` runs
an epoch's steps through the fold's own loop (:class:`ecglib.train.step.TrainStep`), loader
included. Against it, in the same run and interleaved round by round (drifting machine load hits
both alike), its **floor**: the same network on a batch already in memory (the same batch sizes,
doubled by the augmented copies when the recipe has them), forward and the backward passes the
recipe cannot avoid (one per vessel for PCGrad, one for a summed loss), nothing else: no fetch,
no augmentation, no surgery, no optimiser.

Configurations, their model and recipe read from the params files:

- ``demo_paper``: ``params/demo.yaml``'s network with the paper's recipe (``params/paper.yaml``'s
  ``loss_weighting``, ``gradient_surgery`` and ``augment``: uncertainty weighting, PCGrad,
  augmented copies) and the demo's batch;
- ``demo_plain``: ``params/demo.yaml`` as it is (plain multi-task BCE, no augmentation);
- ``ci``: ``params/ci.yaml`` as it is (a tiny network, the paper's recipe, batch 64).

Data: the benchmark makes its own, a copy of the ci run (the synthetic demo cohort, about 700
ECGs) prepared in a temporary folder; each configuration trains fold 0 of the first
``--rows-*`` rows of that cohort, so that an epoch is a few steps.

Figures (CPU time of this process by default, ``--clock``; wall times are reported too):
``ratio``, the median epoch time over the median floor time of the same steps (target: at
most 1.15); ``ratio_paired``, the median over rounds of the within-round ratio; and
``ecgs_per_second``, training ECGs (augmented copies not counted) per second of the fold's
epoch. The JSON's ``headline`` lists the ratios with their target and the throughputs;
progress goes to stderr.

Usage: ``python benchmarks/bench_train_step.py [--threads 1 --rounds 5 --warmup 1]``
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecglib.config import PROJECT_ROOT, load_params
from ecglib.data.prepare import prepare_data, read_cohort
from ecglib.data.store import open_store
from ecglib.paths import RunPaths
from ecglib.report.benchmarks import emit, headline
from ecglib.train.augment import with_augmented_copies
from ecglib.train.fit import fold_trainer
from ecglib.train.uncertainty import per_task_bce

TARGET_RATIO = 1.15
PARAMS = PROJECT_ROOT / "params"
#: The recipe's settings taken from params/paper.yaml for ``demo_paper``.
RECIPE_KEYS = ("loss_weighting", "gradient_surgery", "augment")
#: configuration -> (params file of the model and train sections, recipe from paper.yaml?, label)
CONFIGS = {
    "demo_paper": ("demo.yaml", True, "demo model, the paper's recipe"),
    "demo_plain": ("demo.yaml", False, "demo model, the demo's plain recipe"),
    "ci": ("ci.yaml", False, "ci model and recipe"),
}


def main(argv=None) -> dict:
    return emit(measure, argv)


def _raw(name: str) -> dict:
    return yaml.safe_load((PARAMS / name).read_text())


def config_params(name: str, runs_dir: Path, threads: int) -> Path:
    """The params file of configuration ``name``: the ci run's data, seed and folds (one
    prepared store for all), the model and train sections of its own params file."""
    source, paper_recipe, _ = CONFIGS[name]
    raw = _raw("ci.yaml")
    own = _raw(source)
    raw["runs_dir"] = str(runs_dir)
    raw["model"] = own["model"]
    raw["train"] = dict(own["train"])
    if paper_recipe:
        paper = _raw("paper.yaml")["train"]
        raw["train"].update({k: paper[k] for k in RECIPE_KEYS})
    raw["train"].update(threads=threads, device="cpu", num_workers=0)
    path = runs_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def n_backward(surgery: str, n_tasks: int) -> int:
    """Backward passes through the network a step cannot avoid: one per task for exact PCGrad,
    one for a summed loss (or the feature-level approximation)."""
    return n_tasks if surgery in ("pcgrad", "pcgrad_authors") else 1


def measure_config(name: str, params_file: Path, rows: int, args) -> dict:
    params = load_params(params_file)
    paths = RunPaths.of(params)
    cohort = read_cohort(paths.cohort)
    store = open_store(paths.store)
    if rows > len(cohort):
        raise SystemExit(f"{name}: --rows {rows} but the cohort has {len(cohort)} rows")
    trainer = fold_trainer(params, 0, cohort=cohort.iloc[:rows], store=store)
    tp = params.train
    loader = trainer.loader
    n_ecgs = len(loader.sampler)
    batch = loader.batch_size
    sizes = [batch] * (n_ecgs // batch) + ([n_ecgs % batch] if n_ecgs % batch else [])

    # the floor: a copy of the fold's network (the fold's own keeps training undisturbed), a
    # batch already in memory, augmented once beforehand when the recipe augments
    net = copy.deepcopy(trainer.net).train()
    x, y, _ = next(iter(loader))
    if tp.augment:
        gen = torch.Generator().manual_seed(args.seed)
        x_aug, _ = with_augmented_copies(x, y, generator=gen, strength=1.0)
        x_aug = x_aug[len(x) :]
    inputs = {}
    for s in set(sizes):
        xs, ys = x[:s], y[:s]
        if tp.augment:
            xs, ys = torch.cat([xs, x_aug[:s]]), torch.cat([ys, ys])
        inputs[s] = (xs.contiguous(), ys.contiguous())
    tasks = trainer.tasks
    passes = n_backward(tp.gradient_surgery, len(tasks))

    def floor_epoch() -> None:
        for s in sizes:
            xs, ys = inputs[s]
            net.zero_grad(set_to_none=True)
            _, logits = net.forward_features_and_logits(xs)
            losses = per_task_bce(logits[:, tasks], ys[:, tasks])
            if passes == 1:
                losses.sum().backward()
            else:
                for t in range(passes):
                    losses[t].backward(retain_graph=t < passes - 1)

    epoch = iter(range(10**9))

    def fold_epoch() -> None:
        trainer.train_epoch(next(epoch) % tp.epochs)

    times = {k: {"cpu": [], "wall": []} for k in ("fold", "floor")}
    for r in range(args.warmup + args.rounds):
        # alternate which goes first: a slow spell of the machine falls on both alike
        order = [("fold", fold_epoch), ("floor", floor_epoch)]
        for key, fn in order if r % 2 == 0 else order[::-1]:
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            w1, c1 = time.perf_counter(), time.process_time()
            if r >= args.warmup:
                times[key]["cpu"].append(c1 - c0)
                times[key]["wall"].append(w1 - w0)
        print(f"  {name}: round {r + 1}/{args.warmup + args.rounds}", file=sys.stderr, flush=True)

    clock = args.clock
    med = {k: {c: statistics.median(v[c]) for c in ("cpu", "wall")} for k, v in times.items()}
    ratio = med["fold"][clock] / med["floor"][clock]
    paired = statistics.median(a / b for a, b in zip(times["fold"][clock], times["floor"][clock]))
    return {
        "label": CONFIGS[name][2],
        "model": {
            "filter_list": list(params.model.filter_list),
            "m_blocks_list": list(params.model.m_blocks_list),
            "parameters": sum(p.numel() for p in trainer.net.parameters()),
        },
        "recipe": {k: getattr(tp, k) for k in RECIPE_KEYS},
        "batch_size": batch,
        "network_batch": batch * (2 if tp.augment else 1),
        "cohort_rows": rows,
        "training_ecgs": n_ecgs,
        "steps": len(sizes),
        "backward_passes_in_floor": passes,
        "input": [12, int(store.signals.shape[-1])],
        "epoch_s_median": {k: {c: round(v, 4) for c, v in m.items()} for k, m in med.items()},
        "epoch_s_all": {
            k: {c: [round(t, 4) for t in v[c]] for c in ("cpu", "wall")} for k, v in times.items()
        },
        "step_ms_median": {
            k: {c: round(1e3 * v / len(sizes), 2) for c, v in m.items()} for k, m in med.items()
        },
        "ratio": ratio,
        "ratio_paired": paired,
        "ratio_min": min(times["fold"][clock]) / min(times["floor"][clock]),
        "ratio_wall": med["fold"]["wall"] / med["floor"]["wall"],
        "ecgs_per_second": n_ecgs / med["fold"][clock],
        "ecgs_per_second_wall": n_ecgs / med["fold"]["wall"],
        "floor_ecgs_per_second": n_ecgs / med["floor"][clock],
    }


def measure(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the fold")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per configuration")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    ap.add_argument("--rows-demo", type=int, default=120, help="cohort rows, demo model")
    ap.add_argument("--rows-ci", type=int, default=480, help="cohort rows, ci model")
    ap.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        print("preparing a copy of the ci run ...", file=sys.stderr, flush=True)
        prepare_data(load_params(config_params("ci", runs, args.threads)), progress=False)
        for name in args.configs:
            print(f"{name} ...", file=sys.stderr, flush=True)
            rows = args.rows_ci if CONFIGS[name][0] == "ci.yaml" else args.rows_demo
            results[name] = measure_config(
                name, config_params(name, runs, args.threads), rows, args
            )

    clock = "CPU time" if args.clock == "cpu" else "wall time"
    rows = []
    for r in results.values():
        rows.append(
            headline(
                f"{r['label']}: training step over its floor, median {clock}",
                r["ratio"],
                "ratio",
                f"<= {TARGET_RATIO}",
                r["ratio"] <= TARGET_RATIO,
            )
        )
    for r in results.values():
        rows.append(
            headline(
                f"{r['label']}: training ECGs per second ({clock}, "
                f"{args.threads} thread{'s' * (args.threads != 1)})",
                round(r["ecgs_per_second"], 1),
                "ECG/s",
            )
        )
    return {
        "setup": {
            "threads": args.threads,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "clock_for_ratios": args.clock,
            "target_ratio": TARGET_RATIO,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "configs": results,
        "targets_met": {k: r["ratio"] <= TARGET_RATIO for k, r in results.items()},
        "headline": rows,
    }


if __name__ == "__main__":
    main()
