"""Uncertainty weighting (Kendall et al. 2018) and per-task BCE."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ecglib.train.uncertainty import UncertaintyWeighting, per_task_bce


def test_init_weights_are_one_and_terms_equal_losses():
    uw = UncertaintyWeighting(4)
    assert torch.equal(uw.log_vars.detach(), torch.zeros(4))
    losses = torch.tensor([0.3, 0.1, 0.7, 0.2])
    assert torch.allclose(uw(losses), losses)
    assert torch.allclose(uw.weights(), torch.ones(4))


def test_terms_weights_and_kendall_relation():
    uw = UncertaintyWeighting(3)
    with torch.no_grad():
        uw.log_vars.copy_(torch.tensor([-1.0, 0.5, 2.0]))
    losses = torch.tensor([0.4, 0.9, 0.05])
    s = uw.log_vars.detach()
    assert torch.allclose(uw.weights(), torch.exp(-s))
    assert torch.allclose(uw(losses), torch.exp(-s) * losses + s)
    # exp(-s) L + s == 2 * (L / (2 sigma^2) + log sigma) with sigma^2 = exp(s)
    sigma = uw.sigmas().detach()
    kendall = losses / (2 * sigma**2) + torch.log(sigma)
    assert torch.allclose(uw(losses), 2 * kendall, atol=1e-6)


def test_log_vars_get_their_own_task_gradient():
    uw = UncertaintyWeighting(4)
    with torch.no_grad():
        uw.log_vars.copy_(torch.tensor([0.2, -0.3, 0.0, 1.0]))
    losses = torch.tensor([0.5, 0.2, 1.5, 0.05], requires_grad=True)
    uw(losses).sum().backward()
    s = uw.log_vars.detach()
    assert uw.log_vars.grad is not None
    assert torch.allclose(uw.log_vars.grad, 1 - torch.exp(-s) * losses.detach())
    assert torch.allclose(losses.grad, torch.exp(-s))  # the weight on each task's loss


def test_stationary_point_is_log_loss():
    # d/ds (exp(-s) L + s) = 0 at s = log L: the learned weight becomes 1 / L
    losses = torch.tensor([0.5, 0.2, 1.5, 0.05])
    uw = UncertaintyWeighting(4)
    with torch.no_grad():
        uw.log_vars.copy_(torch.log(losses))
    uw(losses).sum().backward()
    assert torch.allclose(uw.log_vars.grad, torch.zeros(4), atol=1e-6)
    assert math.isclose(float(uw.weights().detach()[0]), 2.0, rel_tol=1e-6)


def test_shape_check():
    with pytest.raises(ValueError, match="task losses"):
        UncertaintyWeighting(4)(torch.ones(3))


def test_per_task_bce_matches_columnwise_bce():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 4, generator=g)
    labels = (torch.rand(8, 4, generator=g) > 0.5).to(torch.int64)
    got = per_task_bce(logits, labels)
    assert got.shape == (4,)
    for t in range(4):
        ref = F.binary_cross_entropy_with_logits(logits[:, t], labels[:, t].float())
        assert torch.allclose(got[t], ref)
    pw = torch.tensor([1.0, 3.0, 1.0, 2.0])
    got_w = per_task_bce(logits, labels, pos_weight=pw)
    ref_w = F.binary_cross_entropy_with_logits(
        logits, labels.float(), pos_weight=pw, reduction="none"
    ).mean(0)
    assert torch.allclose(got_w, ref_w)
    with pytest.raises(ValueError):
        per_task_bce(logits, labels[:, :3])
