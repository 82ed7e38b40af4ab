"""Warm-up + cosine learning-rate schedule: the paper's endpoints."""

import math

import pytest
import torch

from ecglib.train.schedule import warmup_cosine_factor, warmup_cosine_scheduler, warmup_steps


def lrs(total, peak=3e-5, **kw):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=peak)
    sched = warmup_cosine_scheduler(opt, total, **kw)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out, sched.get_last_lr()[0]


def test_peak_after_ten_percent_of_steps_and_final_one_percent():
    total, peak = 1000, 3e-5
    used, after = lrs(total, peak, warmup_fraction=0.1, final_fraction=0.01)
    assert warmup_steps(total, 0.1) == 100
    assert used[0] == 0.0  # linear warm-up from 0
    assert used[50] == pytest.approx(peak * 0.5)
    assert used[100] == pytest.approx(peak)  # peak after 10 % of the steps
    assert max(used) == pytest.approx(peak) and int(torch.tensor(used).argmax()) == 100
    assert all(a < b for a, b in zip(used[:100], used[1:101]))  # rising during warm-up
    assert all(a >= b for a, b in zip(used[100:], used[101:]))  # never rising afterwards
    assert after == pytest.approx(0.01 * peak)  # 1 % of the peak after the last step
    assert used[-1] == pytest.approx(0.01 * peak, rel=1e-3)
    mid = 100 + 450  # half-way through the decay
    assert used[mid] == pytest.approx(peak * (0.01 + 0.99 * 0.5), rel=1e-9)


def test_factor_formula_and_edge_cases():
    f = warmup_cosine_factor(20, 0.1, 0.01)
    assert [f(0), f(1), f(2)] == [0.0, 0.5, 1.0]
    assert f(11) == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 9 / 18)))
    assert f(20) == pytest.approx(0.01) and f(25) == pytest.approx(0.01)
    g = warmup_cosine_factor(5, 0.1, 0.01)  # int(0.5) = 0 warm-up steps: start at the peak
    assert g(0) == 1.0 and g(5) == pytest.approx(0.01)
    with pytest.raises(ValueError):
        warmup_cosine_factor(0)
    with pytest.raises(ValueError):
        warmup_cosine_factor(10, warmup_fraction=1.5)


def test_scheduler_state_round_trip():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = warmup_cosine_scheduler(opt, 50)
    for _ in range(17):
        opt.step()
        sched.step()
    opt2 = torch.optim.AdamW([p], lr=1.0)
    sched2 = warmup_cosine_scheduler(opt2, 50)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.get_last_lr() == sched.get_last_lr()
    opt2.step()
    sched2.step()
    opt.step()
    sched.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
