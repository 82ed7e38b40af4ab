"""Cost and exactness of PCGrad on a reduced ECGFounder Net1D (CPU). Prints one JSON object.

Per training step (zero_grad, one forward, backward(s), AdamW step), median over repeats after a
warm-up, the step kinds interleaved round-robin so that drifting machine load hits all alike:

- ``plain``: summed uncertainty-weighted loss, one backward;
- ``floor``: the unavoidable cost of exact PCGrad: one backward per task with ``retain_graph``
  and the optimizer step, no surgery at all;
- ``ours``: :func:`ecglib.train.pcgrad.pcgrad_backward` (Yu et al. semantics);
- ``authors``: the study's ``pcgrad_step`` (shunxio/AnyECG-CCTA ``train.py``): ``backward`` per
  task, a clone of every parameter's gradient, Python loops over every parameter tensor for each
  pair of tasks, then averaging (applied to the trunk here, heads unprojected, as in ours);
- ``features``: the representation-level approximation
  :func:`ecglib.train.pcgrad.pcgrad_features_backward`.

"Surgery" is everything after the per-task gradients up to the ``.grad`` being written (the
optimizer step excluded), timed separately on fixed per-task gradients. Exactness: our update
against the authors' loop (their semantics, ``variant="authors"``;
:func:`ecglib.train.pcgrad.pcgrad_authors_reference`) and against the plain flattened-vector
implementation of Yu et al.'s Algorithm 1 (:func:`ecglib.train.pcgrad.pcgrad_reference`, same
visiting order).

The JSON's ``headline`` lists the targeted ratios and exactness figures (with ``targets`` and
``targets_met``) and the per-step times; progress, if any, goes to stderr.

Usage: ``python benchmarks/bench_pcgrad.py [--batch 16 --length 5000 --threads 1 ...]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecglib.model.net1d import Net1D
from ecglib.report.benchmarks import emit, headline
from ecglib.train.pcgrad import (
    pcgrad_authors_reference,
    pcgrad_backward,
    pcgrad_features_backward,
    pcgrad_orders,
    pcgrad_reference,
    pcgrad_surgery,
    task_gradient_matrix,
)
from ecglib.train.uncertainty import UncertaintyWeighting, per_task_bce

N_TASKS = 4
#: measured figure -> (comparison, bound): the targets this benchmark checks.
TARGETS = {
    "ours_over_floor": ("<=", 1.05),
    "authors_surgery_over_ours_surgery": (">=", 10.0),
    "features_over_plain": ("<=", 1.25),
    "max_abs_diff_vs_authors": ("<", 1e-5),
    "max_abs_diff_vs_yu_flat": ("<", 1e-5),
}
#: How the headline names each targeted figure, and its unit.
HEADLINE_NAMES = {
    "ours_over_floor": (
        "PCGrad step (ours) over its floor (one backward per task, no surgery)",
        "ratio",
    ),
    "authors_surgery_over_ours_surgery": ("PCGrad surgery: the authors' loop over ours", "x"),
    "features_over_plain": ("representation-level PCGrad step over a plain step", "ratio"),
    "max_abs_diff_vs_authors": ("PCGrad update, ours vs the authors' loop: largest difference", ""),
    "max_abs_diff_vs_yu_flat": (
        "PCGrad update, ours vs Yu et al.'s Algorithm 1: largest difference",
        "",
    ),
}
CONFIG = dict(
    in_channels=12,
    base_filters=16,
    ratio=1,
    filter_list=[16, 32, 32, 64],
    m_blocks_list=[1, 1, 1, 1],
    kernel_size=16,
    stride=2,
    groups_width=16,
    n_classes=N_TASKS,
)


# ------------------------------------------------------------------------------------------------
# the authors' surgery, loop for loop (their pcgrad_step, restricted to the shared trunk)
# ------------------------------------------------------------------------------------------------
def authors_surgery(per_task_grads: list[list[torch.Tensor]], params: list[torch.Tensor]) -> None:
    """Their surgery (:func:`~ecglib.train.pcgrad.pcgrad_authors_reference`, in place on
    ``per_task_grads`` as their code), the averaged result written to ``.grad``."""
    for p, g in zip(params, pcgrad_authors_reference(per_task_grads)):
        p.grad = g


def authors_task_grads(terms, params, others, zero_grad):
    """Their gradient collection: zero_grad, backward(retain_graph=True), clone every .grad."""
    per_task, other_sum = [], [None] * len(others)
    for li in terms:
        zero_grad()
        li.backward(retain_graph=True)
        per_task.append(
            [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params]
        )
        for k, p in enumerate(others):  # heads/uncertainty: their own (summed) gradient
            if p.grad is not None:
                other_sum[k] = p.grad.clone() if other_sum[k] is None else other_sum[k] + p.grad
    return per_task, other_sum


# ------------------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    return emit(measure, argv, dumps=one_key_per_line)


def one_key_per_line(result: dict) -> str:
    """Plain JSON, one top-level key per line: readable without hiding the nesting."""
    return (
        "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in result.items()) + "\n}"
    )


def measure(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--surgery-repeats", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="which clock the ratios use (both are reported)",
    )
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = Net1D(**CONFIG)
    uw = UncertaintyWeighting(N_TASKS)
    with torch.no_grad():
        uw.log_vars.copy_(torch.linspace(-0.3, 0.3, N_TASKS))
    model.train()
    trunk = model.trunk_parameters()
    others = model.head_parameters() + list(uw.parameters())
    opt = torch.optim.AdamW(
        list(model.parameters()) + list(uw.parameters()), lr=1e-5, weight_decay=5e-4
    )
    data_gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, 12, args.length, generator=data_gen)
    y = (torch.rand(args.batch, N_TASKS, generator=data_gen) < 0.3).float()
    pc_gen = torch.Generator().manual_seed(args.seed + 1)

    def terms_of(logits):
        return uw(per_task_bce(logits, y))

    def zero():
        opt.zero_grad(set_to_none=True)

    def step_plain():
        zero()
        terms_of(model(x)).sum().backward()
        opt.step()

    def step_floor():
        zero()
        terms = terms_of(model(x))
        for t in range(N_TASKS):
            terms[t].backward(retain_graph=t < N_TASKS - 1)
        opt.step()

    def step_ours():
        zero()
        pcgrad_backward(terms_of(model(x)), trunk, other_params=others, generator=pc_gen)
        opt.step()

    def step_authors():
        zero()
        terms = terms_of(model(x))
        per_task, other_sum = authors_task_grads(terms, trunk, others, zero)
        authors_surgery(per_task, trunk)
        for p, g in zip(others, other_sum):
            p.grad = g
        opt.step()

    def step_features():
        zero()
        features = model.forward_features(x)
        pcgrad_features_backward(
            terms_of(model.forward_head(features)), features, other_params=others, generator=pc_gen
        )
        opt.step()

    steps = {
        "plain": step_plain,
        "floor": step_floor,
        "ours": step_ours,
        "authors": step_authors,
        "features": step_features,
    }
    # wall-clock and process CPU time: with one intra-op thread the CPU time is the work done,
    # and is far less disturbed than the wall clock when other processes share the cores
    wall: dict[str, list[float]] = {k: [] for k in steps}
    cpu: dict[str, list[float]] = {k: [] for k in steps}
    for r in range(args.warmup + args.repeats):
        for name, fn in steps.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            w1, c1 = time.perf_counter(), time.process_time()
            if r >= args.warmup:
                wall[name].append(w1 - w0)
                cpu[name].append(c1 - c0)
    clock = cpu if args.clock == "cpu" else wall
    med = {k: statistics.median(v) for k, v in clock.items()}

    def paired(a: str, b: str) -> float:  # median over rounds of the within-round ratio
        return statistics.median(x / y for x, y in zip(clock[a], clock[b]))

    # ---- surgery alone and exactness, on one fixed set of per-task gradients -------------------
    zero()
    terms = terms_of(model(x))
    grads, used, _ = task_gradient_matrix(terms, trunk, retain_graph=True)
    per_task_auth, _ = authors_task_grads(terms, trunk, [], zero)
    sizes = [p.numel() for p in trunk]

    def our_surgery(variant, orders):
        zero()  # .grad accumulates, like backward()
        pcgrad_surgery(grads, trunk, used, orders=orders, variant=variant)
        return torch.cat([p.grad.reshape(-1) for p in trunk])

    auth_orders = pcgrad_orders(N_TASKS, variant="authors")
    yu_orders = pcgrad_orders(N_TASKS, generator=torch.Generator().manual_seed(123))
    tick = time.process_time if args.clock == "cpu" else time.perf_counter
    t_ours, t_auth = [], []
    for r in range(3 + args.surgery_repeats):
        zero()
        t0 = tick()
        pcgrad_surgery(grads, trunk, used, orders=yu_orders, variant="yu")
        t1 = tick()
        zero()
        fresh = [[g.clone() for g in gs] for gs in per_task_auth]  # their loop works in place
        t2 = tick()
        authors_surgery(fresh, trunk)
        t3 = tick()
        if r >= 3:
            t_ours.append(t1 - t0)
            t_auth.append(t3 - t2)

    # exactness in the authors' semantics: their loop vs variant="authors"
    zero()
    authors_surgery([[g.clone() for g in gs] for gs in per_task_auth], trunk)
    theirs = torch.cat([p.grad.reshape(-1) for p in trunk])
    ours_auth = our_surgery("authors", auth_orders)
    # and through the public entry point (same graph, fresh .grad)
    zero()
    pcgrad_backward(terms, trunk, variant="authors", retain_graph=True)
    ours_auth_api = torch.cat([p.grad.reshape(-1) for p in trunk])
    # Yu et al.'s semantics: flattened-vector Algorithm 1 with the same order
    ref_yu = pcgrad_reference(grads, yu_orders)
    ours_yu = our_surgery("yu", yu_orders)
    zero()
    info = pcgrad_backward(terms, trunk, generator=torch.Generator().manual_seed(7))
    gram = info.gram
    cos = gram / torch.sqrt(torch.outer(gram.diagonal(), gram.diagonal())).clamp_min(1e-300)

    ratios = {
        "ours_over_floor": med["ours"] / med["floor"],
        "authors_surgery_over_ours_surgery": statistics.median(t_auth) / statistics.median(t_ours),
        "features_over_plain": med["features"] / med["plain"],
        "authors_step_over_ours_step": med["authors"] / med["ours"],
        "floor_over_plain": med["floor"] / med["plain"],
        "ours_over_plain": med["ours"] / med["plain"],
    }
    paired_ratios = {
        "ours_over_floor": paired("ours", "floor"),
        "features_over_plain": paired("features", "plain"),
        "authors_step_over_ours_step": paired("authors", "ours"),
    }
    diffs = {
        "max_abs_diff_vs_authors": float((ours_auth - theirs).abs().max()),
        "max_abs_diff_vs_authors_api": float((ours_auth_api - theirs).abs().max()),
        "max_abs_diff_vs_yu_flat": float((ours_yu - ref_yu).abs().max()),
        "max_abs_update_authors": float(theirs.abs().max()),
        "max_abs_update_yu": float(ref_yu.abs().max()),
    }
    measured = {**ratios, **diffs}
    met = {
        k: (measured[k] <= v if op == "<=" else measured[k] >= v if op == ">=" else measured[k] < v)
        for k, (op, v) in TARGETS.items()
    }
    result = {
        "setup": {
            "model": CONFIG,
            "trunk_params": sum(sizes),
            "trunk_tensors": len(trunk),
            "input": [args.batch, 12, args.length],
            "tasks": N_TASKS,
            "threads": args.threads,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "surgery_repeats": args.surgery_repeats,
            "clock_for_ratios": args.clock,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "step_ms_median_cpu": {k: round(1e3 * statistics.median(v), 1) for k, v in cpu.items()},
        "step_ms_median_wall": {k: round(1e3 * statistics.median(v), 1) for k, v in wall.items()},
        "step_ms_all_cpu": {k: [round(1e3 * t, 1) for t in v] for k, v in cpu.items()},
        "step_ms_all_wall": {k: [round(1e3 * t, 1) for t in v] for k, v in wall.items()},
        "surgery_ms_median": {
            "ours": round(1e3 * statistics.median(t_ours), 4),
            "authors": round(1e3 * statistics.median(t_auth), 3),
        },
        "ratios": {k: round(v, 4) for k, v in ratios.items()},
        "ratios_paired_by_round": {k: round(v, 4) for k, v in paired_ratios.items()},
        "ratios_min_over_rounds": {
            "ours_over_floor": round(min(clock["ours"]) / min(clock["floor"]), 4),
            "features_over_plain": round(min(clock["features"]) / min(clock["plain"]), 4),
            "authors_surgery_over_ours_surgery": round(min(t_auth) / min(t_ours), 4),
        },
        "ratios_wall": {
            "ours_over_floor": round(
                statistics.median(wall["ours"]) / statistics.median(wall["floor"]), 4
            ),
            "features_over_plain": round(
                statistics.median(wall["features"]) / statistics.median(wall["plain"]), 4
            ),
        },
        "exactness": diffs,
        "targets": {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()},
        "targets_met": met,
        "task_gradient_cosines": [[round(float(c), 4) for c in row] for row in cos],
        "conflicting_pairs": info.n_conflicts,
        "projections": info.n_projections,
    }
    result["headline"] = headlines(result, measured, met, args)
    return result


def headlines(result: dict, measured: dict, met: dict, args) -> list[dict]:
    """The targeted figures (unrounded, with their targets and whether they are met), then the
    median step times."""
    clock = "CPU time" if args.clock == "cpu" else "wall time"
    rows = []
    for key, (op, bound) in TARGETS.items():
        name, unit = HEADLINE_NAMES[key]
        suffix = f", median {clock}" if unit in ("ratio", "x") else ""
        rows.append(
            headline(
                name + suffix,
                measured[key],
                unit,
                f"{op} {bound:g}" + ("x" if unit == "x" else ""),
                met[key],
            )
        )
    batch, _, length = result["setup"]["input"]
    threads = result["setup"]["threads"]
    for step in ("plain", "ours", "authors"):
        rows.append(
            headline(
                f"training step '{step}', batch {batch} x 12 x {length:,}, "
                f"{threads} thread{'s' * (threads != 1)}, median CPU time",
                result["step_ms_median_cpu"][step],
                "ms",
            )
        )
    return rows


if __name__ == "__main__":
    main()
