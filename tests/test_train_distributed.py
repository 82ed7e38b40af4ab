"""DDP: PCGrad on the global batch's task gradients; devices, precision and the global batch;
2-process gloo jobs that train every fold in one process group and take one process's steps."""

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace

import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from train_support import store_of, tiny_params, write_params_yaml, write_run

from ecglib import schema
from ecglib.config import PROJECT_ROOT
from ecglib.errors import ConfigError
from ecglib.paths import RunPaths
from ecglib.train import distributed as D
from ecglib.train import fit as fit_mod
from ecglib.train.checkpoint import load_checkpoint
from ecglib.train.distributed import DistContext, distributed_pcgrad_backward
from ecglib.train.fit import fit_fold
from ecglib.train.pcgrad import pcgrad_backward


class TwoHeads(nn.Module):
    """A shared trunk and a 4-logit head, small enough to compare gradients exactly."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.trunk = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5))
        self.head = nn.Linear(5, 4)
        self.log_vars = nn.Parameter(torch.tensor([0.1, -0.2, 0.3, 0.0]))

    def terms(self, x, y):
        logits = self.head(torch.tanh(self.trunk(x)))
        losses = nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(0)
        return torch.exp(-self.log_vars) * losses + self.log_vars

    def others(self):
        return list(self.head.parameters()) + [self.log_vars]


def batch():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, 6, generator=g)
    y = (torch.rand(8, 4, generator=g) < 0.4).float()
    return x, y


def reference_grads():
    model = TwoHeads()
    x, y = batch()
    pcgrad_backward(
        model.terms(x, y),
        list(model.trunk.parameters()),
        other_params=model.others(),
        generator=torch.Generator().manual_seed(5),
    )
    return [p.grad.clone() for p in model.parameters()]


def test_distributed_pcgrad_in_one_process_is_pcgrad():
    model = TwoHeads()
    x, y = batch()
    n = distributed_pcgrad_backward(
        model.terms(x, y),
        list(model.trunk.parameters()),
        model.others(),
        DistContext(),
        generator=torch.Generator().manual_seed(5),
    )
    for got, want in zip([p.grad for p in model.parameters()], reference_grads()):
        assert torch.equal(got, want)
    assert n >= 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pcgrad_worker(rank, world, port, out):
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        model = TwoHeads()
        x, y = batch()
        half = slice(rank * 4, rank * 4 + 4)  # each process sees half of the batch
        ctx = DistContext(rank=rank, world_size=world)
        distributed_pcgrad_backward(
            model.terms(x[half], y[half]),
            list(model.trunk.parameters()),
            model.others(),
            ctx,
            generator=torch.Generator().manual_seed(5),
        )
        torch.save([p.grad for p in model.parameters()], f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_pcgrad_under_ddp_projects_the_global_batch_gradients(tmp_path):
    mp.spawn(_pcgrad_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    want = reference_grads()  # PCGrad of the whole batch in one process
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    for a, b, w in zip(r0, r1, want):
        assert torch.equal(a, b)  # every process steps alike
        torch.testing.assert_close(a, w, rtol=1e-5, atol=1e-7)


# ---- devices, precision, the global batch ---------------------------------------------------
def test_under_torchrun_a_device_naming_one_gpu_is_an_error():
    # train.device: cuda:1 would put every rank on GPU 1; each rank takes cuda:LOCAL_RANK instead
    with pytest.raises(ConfigError, match=r"'cuda:1'.*under torchrun.*cuda:3"):
        D.choose_device("cuda:1", 3, distributed=True)
    assert D.choose_device("cpu", 1, distributed=True) == torch.device("cpu")


def test_precision_auto_takes_bf16_only_where_the_gpu_computes_it_natively(monkeypatch):
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert D.autocast_dtype("auto", cpu) is None  # a CPU run is float32, as it always was
    assert [D.autocast_dtype(p, cpu) for p in ("bf16", "fp16", "fp32")] == [
        torch.bfloat16,
        torch.float16,
        None,
    ]
    native = {"value": False}

    def is_bf16_supported(including_emulation=True):
        return native["value"] or including_emulation  # V100/T4: emulated only

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert D.autocast_dtype("auto", gpu) is None
    native["value"] = True  # Ampere and later
    assert D.autocast_dtype("auto", gpu) is torch.bfloat16
    with pytest.raises(ConfigError, match="fp8"):
        D.autocast_dtype("fp8", cpu)


def test_batch_size_is_the_global_batch_shared_by_the_processes():
    assert D.per_process_batch(64, 1) == 64 and D.per_process_batch(64, 4) == 16
    with pytest.raises(ConfigError, match=r"batch_size = 30 .* 4 processes.*not a multiple of 4"):
        D.per_process_batch(30, 4)


# ---- torchrun: one job, three folds, one process group; the same steps as one process ----------
def _equivalence_params(tmp_path, surgery):
    """Augmentation, dropout and batch norm off: their per-rank streams and per-process
    statistics are meant to differ, so that only the batch semantics and the gradient averaging
    are compared. One epoch; a global batch of 16 (8 per process)."""
    params = tiny_params(tmp_path, epochs=1, batch_size=16, augment=False, gradient_surgery=surgery)
    return replace(params, model=replace(params.model, use_bn=False, use_do=False))


@pytest.fixture(scope="module", params=["pcgrad", "none"])
def torchrun_job(request, tmp_path_factory):
    """``torchrun --nproc_per_node 2`` of ``python -m ecglib.train`` without ``--fold`` (every
    fold, one after the other, in one job), on the CPU with gloo."""
    tmp = tmp_path_factory.mktemp(f"torchrun_{request.param}")
    params = write_run(tmp, params=_equivalence_params(tmp, request.param))
    yaml_path = write_params_yaml(params, tmp / "tiny.yaml")
    env = {k: v for k, v in os.environ.items() if k != "ECGLIB_PARAMS"}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(PROJECT_ROOT / "tests" / "torchrun_train.py"),
        str(tmp),
        str(yaml_path),
        "--no-progress",
    ]
    # a session of its own, so that a hung job's workers die with it (torchrun's agent alone
    # would leave them behind)
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # the hang a group re-created per fold can cause
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the torchrun job hung for 120 s:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    groups = [
        json.loads((tmp / f"groups_rank{r}.json").read_text())
        if (tmp / f"groups_rank{r}.json").exists()
        else None
        for r in range(2)
    ]
    return params, done, groups


def test_torchrun_trains_every_fold_in_one_job_with_one_process_group(torchrun_job):
    params, done, groups = torchrun_job
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for k in range(params.folds.n_folds):
        assert f"fold {k}: finished" in done.stdout
    # one group for the job: re-created per fold, it reads its predecessor's stale store keys
    # and hangs or is refused now and then (distributed.py)
    assert groups == [1, 1]
    paths = RunPaths.of(params)
    for k in range(params.folds.n_folds):
        summary = json.loads(paths.train_summary(k).read_text())
        assert summary["world_size"] == 2 and summary["batch_per_process"] == 8
        assert summary["best_epoch"] == 1 and summary["precision"] == "fp32"
        oof = pd.read_csv(paths.oof_predictions(k))
        assert list(oof.columns) == ["row", "fold"] + schema.prob_cols()
        assert oof["row"].is_unique and len(oof) == summary["n_rows"]["test"]
        assert paths.external_predictions(k).exists() and paths.best_checkpoint(k).exists()
        assert len(pd.read_csv(paths.train_history(k))) == 1
    # the book, in one process, reuses the folds and says they were trained by two
    again = fit_fold(params, 0, progress=False)
    assert again.reused and again.world_size == 2


def test_two_processes_take_the_steps_of_one_with_the_same_global_batch(torchrun_job, tmp_path):
    params, done, _ = torchrun_job
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    single = write_run(tmp_path, params=replace(params, runs_dir=str(tmp_path / "runs")))
    store = store_of(single)
    cohort = pd.read_csv(RunPaths.of(single).cohort, dtype={"patient_id": str})
    folds = fit_mod.ensure_folds(single, cohort)
    compared = 0
    for k in range(params.folds.n_folds):
        n_train = int((fit_mod.fold_roles(single, cohort, folds, k) == "train").sum())
        if n_train % 2:
            continue  # the sampler repeats one ECG to give both processes equal shards
        fit_fold(single, k, cohort=cohort, store=store, progress=False)
        one = load_checkpoint(RunPaths.of(single).last_checkpoint(k))
        two = load_checkpoint(RunPaths.of(params).last_checkpoint(k))
        assert one["scheduler"]["last_epoch"] == two["scheduler"]["last_epoch"]  # same steps
        assert one["model"].keys() == two["model"].keys()
        for name, want in one["model"].items():
            torch.testing.assert_close(
                two["model"][name], want, rtol=1e-4, atol=1e-6, msg=f"fold {k}: {name}"
            )
        compared += 1
    assert compared >= 2
