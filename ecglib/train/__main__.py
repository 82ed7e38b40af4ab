"""Train folds from the command line, also under torchrun.

    python -m ecglib.train params/paper.yaml --fold 0 --fold 1
    torchrun --nproc_per_node 4 -m ecglib.train params/paper.yaml --fold 3
    python -m ecglib.train params/paper.yaml --variant no_pcgrad --fold 3

``--variant NAME`` trains that run variant's folds (the params file's ``variants:``) into
``runs/<name>/variants/NAME/`` (ecglib.train.variants); the job that finishes a variant's last
fold pools its predictions.

Each fold is trained (or resumed, or reused when already finished) exactly as
``notebooks/02_train_fold.ipynb`` does it; re-running the notebook afterwards reuses the result.
Rank 0 writes every file and prints the summary. Under torchrun one process group serves every
fold of the job; ``train.batch_size`` is the global batch, shared by the processes.
"""

from __future__ import annotations

import argparse
import logging
import os

from ecglib.config import load_params
from ecglib.train import distributed as D
from ecglib.train.fit import fit_fold


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ecglib.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("params", help="params YAML, e.g. params/paper.yaml")
    parser.add_argument(
        "--fold", type=int, action="append", help="fold to train (repeatable; default: every fold)"
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop after this many epochs (resumable), e.g. for a job time limit",
    )
    parser.add_argument(
        "--variant",
        default=None,
        help="train this run variant (a name of the params file's variants:) instead of the run",
    )
    parser.add_argument("--force", action="store_true", help="retrain even a finished fold")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = load_params(args.params)
    # an unknown variant fails before any work; a variant may set its own device
    trained = params.variant(args.variant) if args.variant is not None else params
    folds = args.fold if args.fold else list(range(params.folds.n_folds))
    # one group for the whole loop: a group re-created per fold can hang (distributed.py)
    with D.process_group(trained.train.device):
        for fold in folds:
            result = fit_fold(
                params,
                fold,
                progress=not args.no_progress,
                stop_after=args.stop_after,
                force=args.force,
                variant=args.variant,
            )
            if int(os.environ.get("RANK", "0")) != 0:
                continue
            state = "reused" if result.reused else ("finished" if result.finished else "stopped")
            label = f"{args.variant} fold {fold}" if args.variant else f"fold {fold}"
            print(
                f"{label}: {state}; best epoch {result.best_epoch} "
                f"(inner macro-AUC {result.inner_macro_auc:.3f}); {result.seconds:.1f} s; "
                f"{result.world_size} process(es) on {result.device}, {result.precision}",
                flush=True,
            )
    if args.variant is not None and int(os.environ.get("RANK", "0")) == 0:
        from ecglib.train.variants import pool_if_complete

        if pool_if_complete(params, args.variant) is not None:
            print(f"{args.variant}: every fold finished; predictions pooled", flush=True)


if __name__ == "__main__":
    main()
