"""Why the demo network learns what it learns: train variants of a run's settings, compare them
with the per-lead ST-level logistic regression on the same folds, save the table (issue 17).

Every variant is the base params file (default ``params/demo.yaml``) with a few settings
overridden (``params/variants/<name>.yaml``: a partial params mapping, e.g.
``train: {augment: false}``; ``baseline`` is the base file itself). A variant trains in its own
run folder ``<runs-dir>/<base name>__<variant>`` that links the base run's cohort, folds and ECG
store (``runs/<base name>``, prepared by ``notebooks/00_data.ipynb`` or ``make book``), so every
variant sees the same rows, the same folds and the same inputs; only the training differs. The
folds (``--folds``, default all) are trained with :func:`ecglib.train.fit.fit_fold`, one process,
one after the other (a finished fold with unchanged settings is reused, not retrained).

Measured per variant and vessel, on the held-out rows of the trained folds (out of fold):

* ``auc``: AUC of the vessel's own output;
* ``auc_lr``: the reference, a logistic regression on the 12 per-lead ST levels
  (:func:`ecglib.demo.measure.measure_st_levels` of the exported mV signals, standardised, as
  ``benchmarks/bench_demo.py`` fits it), trained on each fold's other folds (training and inner
  validation rows) and scored on the same held-out rows;
* ``own_among_other``: among ECGs with disease (grade >= 3) in *another* vessel, the AUC of the
  vessel's own output for the vessel's label; ``best_other_head``: the highest AUC any other
  output reaches for the same label in the same ECGs; ``specificity_margin`` the difference
  (a network that only scores "any disease" has a margin near or below 0);
* ``relative_cost``: the work of a fold (epochs x the measured cost of one step of the
  variant's recipe and model, :data:`STEP_COST`) relative to ``recipe_e10``, the demo settings
  before issue 17 (about 100 s a fold, 8-9 minutes for five, on two idle cores);
* ``seconds_per_fold`` (the fold's wall-clock training time as :func:`fit_fold` reports it),
  ``cpu_seconds_per_fold`` (this process's CPU time, all threads: less sensitive to other jobs
  on a shared machine) and the chosen epochs.

Writes ``<out>.csv`` (one row per variant and vessel, the reference as variant ``st_logistic``)
and ``<out>.json`` (the same plus the date, the commit, the machine, the base params' hash and
each variant's overrides). Default ``--out``: ``benchmarks/results/diagnose_demo``.

Usage::

    python benchmarks/diagnose_demo.py --variants baseline no_augment --folds 0
    python benchmarks/diagnose_demo.py --variants baseline longer --folds 0 1 2 3 4

Run it with ``nice``: each fold of the demo settings takes about two minutes on two cores.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ecglib import schema
from ecglib.config import PROJECT_ROOT, load_params, load_yaml
from ecglib.data.prepare import read_cohort
from ecglib.data.run_folds import ensure_folds, internal_mask
from ecglib.data.store import open_store
from ecglib.demo.measure import measure_st_levels
from ecglib.paths import RunPaths

VARIANTS_DIR = PROJECT_ROOT / "params" / "variants"
DEFAULT_OUT = PROJECT_ROOT / "benchmarks" / "results" / "diagnose_demo"
#: What a variant run folder shares with the base run (links, never copies).
SHARED = ("cohort.csv", "exclusions.csv", "folds.csv", "folds.json", "store")
REFERENCE = "st_logistic"


# --------------------------------------------------------------------------------------------
# variants
# --------------------------------------------------------------------------------------------
def deep_merge(base: dict, override: dict) -> dict:
    """``base`` with ``override``'s entries replacing its own, mapping by mapping."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def variant_overrides(name: str) -> dict:
    """The settings variant ``name`` changes (``params/variants/<name>.yaml``; none for
    ``baseline``)."""
    if name == "baseline":
        return {}
    path = VARIANTS_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in VARIANTS_DIR.glob("*.yaml"))
        raise SystemExit(f"no variant {name!r}: {path} does not exist (known: {known})")
    raw = load_yaml(path.read_text(encoding="utf-8"), where=str(path)) or {}
    if not isinstance(raw, dict) or {"name", "runs_dir", "data", "demo"} & set(raw):
        raise SystemExit(f"{path}: a variant overrides model/train/folds settings only")
    return raw


def variant_params(base_file: Path, name: str, runs_dir: Path):
    """The variant's params, written to (and read back from) its run folder, whose shared inputs
    link to the base run's."""
    base_raw = load_yaml(base_file.read_text(encoding="utf-8"), where=str(base_file))
    base = load_params(base_file)
    merged = deep_merge(base_raw, variant_overrides(name))
    merged["name"] = f"{base.name}__{name}"
    merged["runs_dir"] = str(runs_dir)
    folder = Path(runs_dir) / merged["name"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False))
    params = load_params(path)
    source = base.run_dir
    for item in SHARED:
        link = folder / item
        if (source / item).exists() and not link.exists():
            link.symlink_to(source / item)
    return params


# --------------------------------------------------------------------------------------------
# measures
# --------------------------------------------------------------------------------------------
def _auc(y: np.ndarray, score: np.ndarray) -> float:
    ok = ~np.isnan(score)
    y, score = y[ok], score[ok]
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def vessel_specificity(labels: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Per vessel ``v`` (rows, :data:`~ecglib.schema.VESSELS` order): ``auc`` of output ``v``
    for label ``v`` over all rows; and among the rows with a positive label in another vessel,
    ``own_among_other`` (output ``v``), ``best_other_head`` (the best other output),
    ``specificity_margin`` (their difference) and ``n_other_diseased`` / ``n_pos_other_diseased``.

    ``labels``, ``scores``: ``(n, 4)`` arrays in VESSELS order."""
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    rows = []
    for v, vessel in enumerate(schema.VESSELS):
        others = [u for u in range(len(schema.VESSELS)) if u != v]
        sub = labels[:, others].max(axis=1) == 1
        y = labels[sub, v]
        own = _auc(y, scores[sub, v])
        other = {schema.VESSELS[u]: _auc(y, scores[sub, u]) for u in others}
        best = max(other.values()) if not all(np.isnan(list(other.values()))) else float("nan")
        rows.append(
            {
                "vessel": vessel,
                "auc": _auc(labels[:, v], scores[:, v]),
                "own_among_other": own,
                "best_other_head": best,
                "specificity_margin": own - best,
                "other_heads": json.dumps({k: round(x, 3) for k, x in other.items()}),
                "n_other_diseased": int(sub.sum()),
                "n_pos_other_diseased": int(y.sum()),
            }
        )
    return pd.DataFrame(rows)


def st_features(cohort: pd.DataFrame, cache: Path | None = None) -> np.ndarray:
    """Per-lead ST levels (mV) of every cohort row's exported file, ``(n, 12)`` (cached)."""
    if cache is not None and cache.exists():
        feats = np.load(cache)
        if feats.shape == (len(cohort), len(schema.LEADS)):
            return feats
    out = np.empty((len(cohort), len(schema.LEADS)))
    paths = cohort["ecg_path"].tolist()
    for start in range(0, len(paths), 128):
        batch = []
        for path in paths[start : start + 128]:
            x = np.load(path)
            batch.append(x.T if x.shape[0] != len(schema.LEADS) else x)
        out[start : start + len(batch)] = measure_st_levels(np.stack(batch))
    if cache is not None:
        np.save(cache, out)
    return out


def st_logistic_oof(
    features: np.ndarray, labels: np.ndarray, folds: pd.Series, trained: list[int]
) -> np.ndarray:
    """Out-of-fold probabilities ``(n_internal_rows_of_trained_folds, 4)`` of the ST-level
    logistic regression, each fold's rows scored by a model fitted on the other folds, rows in
    ``folds.index`` order restricted to ``trained`` folds."""
    rows = folds.index[folds.isin(trained)].to_numpy()
    out = pd.DataFrame(np.nan, index=rows, columns=list(schema.VESSELS))
    for k in trained:
        test = folds.index[folds == k].to_numpy()
        fit = folds.index[folds != k].to_numpy()
        for v, vessel in enumerate(schema.VESSELS):
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            model.fit(features[fit], labels[fit, v])
            out.loc[test, vessel] = model.predict_proba(features[test])[:, 1]
    return out.to_numpy()


# --------------------------------------------------------------------------------------------
# cost
# --------------------------------------------------------------------------------------------
#: CPU seconds of one training step (16 ECGs of 5000 samples, the demo's Net1D, one thread)
#: relative to a plain step (no augmented copies, no PCGrad), as :func:`measure_step_costs`
#: measured them on the 2-core build machine on 2026-12-06: the wall clock of a shared machine
#: is no measure of a variant's cost, the work per step is. Uncertainty weighting costs nothing.
STEP_COST = {"plain": 1.0, "augment": 2.2, "pcgrad": 2.68, "both": 5.69, "wide": 1.99, "deep": 1.67}


def measure_step_costs(repeats: int = 4) -> dict[str, float]:
    """CPU seconds per step of each kind, relative to a plain step (see :data:`STEP_COST`)."""
    import torch

    from ecglib.model import Net1D
    from ecglib.train.augment import with_augmented_copies
    from ecglib.train.pcgrad import pcgrad_backward
    from ecglib.train.uncertainty import UncertaintyWeighting, per_task_bce

    torch.manual_seed(0)
    x0, y0 = torch.randn(16, 12, 5000), (torch.rand(16, 4) < 0.2).float()
    gen = torch.Generator().manual_seed(0)

    def step(net, augment, pcgrad):
        x, y = with_augmented_copies(x0, y0, generator=gen) if augment else (x0, y0)
        _, logits = net.forward_features_and_logits(x)
        terms = UncertaintyWeighting(4)(per_task_bce(logits, y))
        if pcgrad:
            pcgrad_backward(
                terms, net.trunk_parameters(), other_params=net.head_parameters(), generator=gen
            )
        else:
            terms.sum().backward()

    kinds = {
        "plain": ({}, False, False),
        "augment": ({}, True, False),
        "pcgrad": ({}, False, True),
        "both": ({}, True, True),
        "wide": ({"base_filters": 32, "filter_list": [32, 64, 128, 128]}, False, False),
        "deep": ({"m_blocks_list": [2, 2, 2, 2]}, False, False),
    }
    out = {}
    for kind, (arch, augment, pcgrad) in kinds.items():
        config = {
            "in_channels": 12, "base_filters": 16, "ratio": 1.0, "filter_list": [16, 32, 64, 64],
            "m_blocks_list": [1, 1, 1, 1], "kernel_size": 16, "stride": 2, "groups_width": 16,
            "n_classes": 4, "use_do": False, **arch,
        }  # fmt: skip
        net = Net1D(**config)
        step(net, augment, pcgrad)  # warm-up
        start = time.process_time()
        for _ in range(repeats):
            step(net, augment, pcgrad)
        out[kind] = (time.process_time() - start) / repeats
    return {k: round(v / out["plain"], 2) for k, v in out.items()}


def relative_cost(params, costs: dict[str, float] = STEP_COST) -> float:
    """Work of one fold in plain-step epochs: ``epochs x`` the step cost of the recipe (augmented
    copies, PCGrad) and of the model's size relative to the demo's (wide, deep, else 1)."""
    t, m = params.train, params.model
    surgery = t.gradient_surgery != "none"
    kind = {(False, False): "plain", (True, False): "augment", (False, True): "pcgrad"}.get(
        (t.augment, surgery), "both"
    )
    model = 1.0
    if m.filter_list[-1] > 64:
        model = costs["wide"]
    elif sum(m.m_blocks_list) > 4:
        model = costs["deep"]
    return t.epochs * costs[kind] * model


# --------------------------------------------------------------------------------------------
# one variant
# --------------------------------------------------------------------------------------------
def run_variant(
    params, folds_to_train: list[int], cohort, store, progress: bool, reuse_only: bool = False
) -> dict:
    """Train (or reuse) the folds of one variant; its out-of-fold predictions and timings.
    ``reuse_only``: refuse to train (every fold must be finished with these settings)."""
    from ecglib.train.fit import fit_fold, training_fingerprint

    results, cpu = [], []
    for k in folds_to_train:
        if reuse_only:
            summary = RunPaths.of(params).train_summary(k)
            done = json.loads(summary.read_text()) if summary.exists() else {}
            if done.get("fingerprint") != training_fingerprint(params, cohort, store, k):
                raise SystemExit(f"{params.name} fold {k} is not trained with these settings")
        t0, c0 = time.perf_counter(), time.process_time()
        res = fit_fold(params, k, cohort=cohort, store=store, progress=progress)
        wall = time.perf_counter() - t0
        cpu.append(np.nan if res.reused else time.process_time() - c0)
        results.append(res)
        print(
            f"  {params.name} fold {k}: best epoch {res.best_epoch}/{params.train.epochs}, "
            f"inner macro-AUC {res.inner_macro_auc:.3f}, {res.seconds:.0f} s "
            f"({'reused' if res.reused else f'{wall:.0f} s wall'})",
            file=sys.stderr,
            flush=True,
        )
    oof = pd.concat([r.oof for r in results], ignore_index=True).sort_values("row")
    external = None
    if all(r.external is not None for r in results):
        probs = np.mean([r.external[schema.prob_cols()].to_numpy() for r in results], axis=0)
        external = (results[0].external["row"].to_numpy(), probs)
    return {
        "oof": oof,
        "external": external,
        "seconds_per_fold": float(np.mean([r.seconds for r in results])),
        # CPU seconds of this process (all its threads): less sensitive than the wall clock to
        # other jobs on a shared machine; NaN for reused folds
        "cpu_seconds_per_fold": float(np.nanmean(cpu)) if not np.isnan(cpu).all() else np.nan,
        "best_epochs": [r.best_epoch for r in results],
        "inner_macro_auc": float(np.mean([r.inner_macro_auc for r in results])),
        "reused": all(r.reused for r in results),
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def diagnose(
    base_file: Path,
    variants: list[str],
    folds_to_train: list[int] | None,
    runs_dir: Path,
    out: Path | None,
    progress: bool = False,
    reuse_only: bool = False,
) -> pd.DataFrame:
    base = load_params(base_file)
    base_paths = RunPaths.of(base)
    cohort = read_cohort(base_paths.cohort)
    store = open_store(base_paths.store)
    folds = ensure_folds(base, cohort, write=False)
    trained = list(range(base.folds.n_folds)) if folds_to_train is None else folds_to_train
    labels = schema.binarise_grades(cohort).to_numpy().astype(float)
    internal = internal_mask(cohort).to_numpy()

    feats = st_features(cohort, cache=base_paths.root / "st_levels.npy")
    lr_oof = st_logistic_oof(feats, labels, folds, trained)
    test_rows = folds.index[folds.isin(trained)].to_numpy()
    table = [
        vessel_specificity(labels[test_rows], lr_oof).assign(
            variant=REFERENCE, seconds_per_fold=np.nan, best_epochs="", inner_macro_auc=np.nan
        )
    ]
    ext_rows = np.flatnonzero(~internal)
    if len(ext_rows):
        fit_rows = folds.index.to_numpy()
        ext = np.column_stack(
            [
                make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
                .fit(feats[fit_rows], labels[fit_rows, v])
                .predict_proba(feats[ext_rows])[:, 1]
                for v in range(len(schema.VESSELS))
            ]
        )
        table[0]["external_auc"] = [
            _auc(labels[ext_rows, v], ext[:, v]) for v in range(len(schema.VESSELS))
        ]
    overrides = {}
    for name in variants:
        params = variant_params(base_file, name, runs_dir)
        overrides[name] = variant_overrides(name)
        got = run_variant(params, trained, cohort, store, progress, reuse_only)
        oof = got["oof"]
        if not np.array_equal(oof["row"].to_numpy(), np.sort(test_rows)):
            raise RuntimeError(f"{name}: out-of-fold rows differ from the folds' held-out rows")
        frame = vessel_specificity(labels[oof["row"]], oof[schema.prob_cols()].to_numpy())
        frame["variant"] = name
        frame["seconds_per_fold"] = got["seconds_per_fold"]
        frame["cpu_seconds_per_fold"] = got["cpu_seconds_per_fold"]
        frame["best_epochs"] = " ".join(map(str, got["best_epochs"]))
        frame["relative_cost"] = relative_cost(params) / relative_cost(
            variant_params(base_file, "recipe_e10", runs_dir)
        )
        frame["inner_macro_auc"] = got["inner_macro_auc"]
        if got["external"] is not None:
            rows, probs = got["external"]
            frame["external_auc"] = [
                _auc(labels[rows, v], probs[:, v]) for v in range(len(schema.VESSELS))
            ]
        table.append(frame)
    result = pd.concat(table, ignore_index=True)
    lr = result[result["variant"] == REFERENCE].set_index("vessel")["auc"]
    result["auc_lr"] = result["vessel"].map(lr)
    result["gap_to_lr"] = result["auc"] - result["auc_lr"]
    result["folds"] = " ".join(map(str, trained))
    cols = [
        "variant",
        "folds",
        "vessel",
        "auc",
        "auc_lr",
        "gap_to_lr",
        "own_among_other",
        "best_other_head",
        "specificity_margin",
        "other_heads",
        "n_other_diseased",
        "n_pos_other_diseased",
        "external_auc",
        "inner_macro_auc",
        "best_epochs",
        "relative_cost",
        "seconds_per_fold",
        "cpu_seconds_per_fold",
    ]
    result = result.reindex(columns=cols)
    if out is not None:
        save(result, out, base_file, base, overrides, trained)
    return result


def save(result: pd.DataFrame, out: Path, base_file: Path, base, overrides: dict, trained) -> None:
    """``<out>.csv`` and ``<out>.json``; rows of variants measured before on the same folds and
    base are kept unless measured again (so variants can be added run by run)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    csv, meta = out.with_suffix(".csv"), out.with_suffix(".json")
    old_meta = json.loads(meta.read_text()) if meta.exists() else {}
    runs = old_meta.get("runs", []) if old_meta.get("base_sha256") == base.sha256 else []
    if csv.exists() and runs:
        old = pd.read_csv(csv)
        same_folds = " ".join(map(str, trained))
        keep = ~((old["folds"].astype(str) == same_folds) & old["variant"].isin(result["variant"]))
        result = pd.concat([old[keep], result], ignore_index=True)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs.append(
        {
            "date": now,
            "commit": git_commit(),
            "folds": list(trained),
            "variants": {k: v for k, v in overrides.items()},
            "machine": f"{platform.node()} ({os.cpu_count()} CPUs), torch threads "
            f"{__import__('torch').get_num_threads()}",
        }
    )
    tmp = csv.with_suffix(".csv.tmp")
    result.to_csv(tmp, index=False, float_format="%.4f")
    os.replace(tmp, csv)
    meta.write_text(
        json.dumps(
            {
                "base": str(base_file.relative_to(PROJECT_ROOT))
                if base_file.is_relative_to(PROJECT_ROOT)
                else str(base_file),
                "base_sha256": base.sha256,
                "base_train": dataclasses.asdict(base.train),
                "base_model": dataclasses.asdict(base.model),
                "step_cost": STEP_COST,
                "runs": runs,
                "rows": json.loads(result.to_json(orient="records")),
            },
            indent=1,
        )
    )


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=PROJECT_ROOT / "params" / "demo.yaml")
    parser.add_argument("--variants", nargs="+", default=["baseline"])
    parser.add_argument("--folds", nargs="+", type=int, default=None)
    parser.add_argument("--runs-dir", type=Path, default=PROJECT_ROOT / "runs" / "diagnose")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--reuse-only", action="store_true", help="tabulate trained folds only, never train"
    )
    args = parser.parse_args(argv)
    result = diagnose(
        args.base.resolve(),
        args.variants,
        args.folds,
        args.runs_dir.resolve(),
        None if args.no_save else args.out,
        progress=args.progress,
        reuse_only=args.reuse_only,
    )
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(result.drop(columns=["other_heads", "folds"]).round(3).to_string(index=False))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
