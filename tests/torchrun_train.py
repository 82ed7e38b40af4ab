"""``python -m ecglib.train`` under torchrun, recording how many process groups each rank starts.

    torchrun --nproc_per_node 2 tests/torchrun_train.py OUT_DIR PARAMS.yaml [--fold K ...]

Writes ``OUT_DIR/groups_rank{RANK}.json`` (the number of ``init_process_group`` calls) even when
training fails, for ``tests/test_train_distributed.py``: a job that re-creates its group per fold
hangs or fails only now and then, the count tells on every run.
"""

import json
import os
import sys
from pathlib import Path

import torch.distributed as dist

from ecglib.train.__main__ import main

calls: list[int] = []
_real_init = dist.init_process_group


def _counting_init(*args, **kwargs):
    calls.append(1)
    return _real_init(*args, **kwargs)


if __name__ == "__main__":
    dist.init_process_group = _counting_init
    try:
        main(sys.argv[2:])
    finally:
        Path(sys.argv[1], f"groups_rank{os.environ['RANK']}.json").write_text(
            json.dumps(len(calls))
        )
