"""PCGrad: coefficient-space surgery against plain flattened-vector references.

The references (:func:`ecglib.train.pcgrad.pcgrad_reference`,
:func:`~ecglib.train.pcgrad.pcgrad_authors_reference`) are deliberately naive: Yu et al.'s
Algorithm 1 with explicit P-length vectors, and the coronary study's own loop over parameter
tensors (shunxio/AnyECG-CCTA, ``train.py``, ``pcgrad_step``), both driven by the same visiting
order as the implementation.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from ecglib.train.pcgrad import (
    PCGradInfo,
    pcgrad_authors_reference,
    pcgrad_backward,
    pcgrad_coefficients,
    pcgrad_features_backward,
    pcgrad_orders,
    pcgrad_reference,
    pcgrad_weights,
)
from ecglib.train.uncertainty import UncertaintyWeighting, per_task_bce


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny convolutions are dominated by thread hand-offs (and suffer badly when other processes
    # load the machine): one intra-op thread keeps this module fast; restored afterwards
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------------
# the plain references (ecglib.train.pcgrad) and the fast path
# ------------------------------------------------------------------------------------------------
def reference_authors(per_task_grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The study's loop on copies: it works in place, and the tests' inputs are views of one matrix."""
    return pcgrad_authors_reference([[g.clone() for g in grads] for grads in per_task_grads])


def ours(grads: torch.Tensor, orders, variant="yu") -> torch.Tensor:
    eps = 1e-12 if variant == "authors" else 0.0
    coef, _ = pcgrad_coefficients(grads @ grads.T, orders, eps=eps)
    return pcgrad_weights(coef, variant).to(grads.dtype) @ grads


# ------------------------------------------------------------------------------------------------
# random gradient sets
# ------------------------------------------------------------------------------------------------
P = 257


def gradient_set(kind: str, n_tasks: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "random":
        out = torch.randn(n_tasks, P, generator=g, dtype=torch.float64)
    elif kind == "no_conflict":
        out = torch.randn(n_tasks, P, generator=g, dtype=torch.float64).abs()
    elif kind == "all_conflict":
        # a perturbed regular simplex centred at 0: every pair has a negative dot product
        simplex = torch.eye(n_tasks, dtype=torch.float64) - 1.0 / n_tasks
        simplex = simplex + 0.03 * torch.randn(n_tasks, n_tasks, generator=g, dtype=torch.float64)
        basis, _ = torch.linalg.qr(torch.randn(P, n_tasks, generator=g, dtype=torch.float64))
        scales = torch.exp(torch.randn(n_tasks, 1, generator=g, dtype=torch.float64))
        out = scales * (simplex @ basis.T)
    elif kind == "zeros":
        out = torch.randn(n_tasks, P, generator=g, dtype=torch.float64)
        out[0] = 0.0
        if n_tasks > 3:
            out[2] = 0.0
    elif kind == "antiparallel":
        out = torch.randn(n_tasks, P, generator=g, dtype=torch.float64)
        out[1] = -2.0 * out[0]
    else:
        raise ValueError(kind)
    return out


KINDS = ["random", "no_conflict", "all_conflict", "zeros", "antiparallel"]


@pytest.mark.parametrize("n_tasks", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_yu_matches_algorithm_1(kind, n_tasks):
    for seed in range(3):
        grads = gradient_set(kind, n_tasks, seed)
        orders = pcgrad_orders(n_tasks, generator=torch.Generator().manual_seed(100 + seed))
        got, want = ours(grads, orders), pcgrad_reference(grads, orders)
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-10), (kind, n_tasks, seed)


@pytest.mark.parametrize("n_tasks", [2, 3, 4, 5, 6])
def test_special_cases(n_tasks):
    # no conflict: plain sum, no projection
    grads = gradient_set("no_conflict", n_tasks, 0)
    orders = pcgrad_orders(n_tasks, generator=torch.Generator().manual_seed(0))
    coef, n_proj = pcgrad_coefficients(grads @ grads.T, orders)
    assert n_proj == 0 and torch.equal(coef, torch.eye(n_tasks, dtype=torch.float64))
    assert torch.allclose(ours(grads, orders), grads.sum(0), atol=1e-12)
    # all conflict: every task is projected at least once, and each projected gradient no longer
    # conflicts with the last task it was projected against
    grads = gradient_set("all_conflict", n_tasks, 1)
    gram = grads @ grads.T
    assert (gram[~torch.eye(n_tasks, dtype=torch.bool)] < 0).all()
    coef, n_proj = pcgrad_coefficients(gram, orders)
    assert n_proj >= n_tasks
    projected = coef @ grads
    last = orders[0][-1]
    assert torch.dot(projected[0], grads[last]) >= -1e-10
    # zero gradients contribute nothing and are never projected against
    grads = gradient_set("zeros", n_tasks, 2)
    assert torch.isfinite(ours(grads, orders)).all()
    coef, _ = pcgrad_coefficients(grads @ grads.T, orders)
    assert coef[:, 0].tolist() == [1.0] + [0.0] * (n_tasks - 1)


def test_order_matters_so_both_must_use_the_same_one():
    grads = gradient_set("all_conflict", 4, 3)
    o1 = pcgrad_orders(4, generator=torch.Generator().manual_seed(1))
    o2 = tuple(tuple(reversed(o)) for o in o1)
    assert not torch.allclose(pcgrad_reference(grads, o1), pcgrad_reference(grads, o2))
    assert torch.allclose(ours(grads, o1), pcgrad_reference(grads, o1), atol=1e-10)


def test_orders_are_seeded_permutations():
    o1 = pcgrad_orders(5, generator=torch.Generator().manual_seed(7))
    o2 = pcgrad_orders(5, generator=torch.Generator().manual_seed(7))
    assert o1 == o2
    for i, o in enumerate(o1):
        assert sorted(o) == [j for j in range(5) if j != i]
    draws = {pcgrad_orders(5, generator=torch.Generator().manual_seed(s)) for s in range(20)}
    assert len(draws) > 1
    assert pcgrad_orders(4, variant="authors") == ((1, 2, 3), (2, 3), (3,), ())
    with pytest.raises(ValueError, match="Generator"):
        pcgrad_orders(4)


@pytest.mark.parametrize("n_tasks", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_authors_variant_matches_their_loop(kind, n_tasks):
    grads = gradient_set(kind, n_tasks, 5)
    # split the flat vector into "parameter tensors" the way their loop sees them
    sizes = [100, 7, 150]
    per_task = [list(torch.split(g, sizes)) for g in grads]
    want = torch.cat(reference_authors(per_task))
    got = ours(grads, pcgrad_orders(n_tasks, variant="authors"), variant="authors")
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-10)
    # the last task is never projected in their variant
    coef, _ = pcgrad_coefficients(grads @ grads.T, pcgrad_orders(n_tasks, variant="authors"))
    assert coef[-1].tolist() == [0.0] * (n_tasks - 1) + [1.0]


# ------------------------------------------------------------------------------------------------
# pcgrad_backward on leaf tensors with known gradients
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["yu", "authors"])
def test_backward_on_linear_losses(variant):
    n_tasks = 4
    grads = gradient_set("all_conflict", n_tasks, 11).float()
    shapes = [(10, 5), (57,), (2, 50, 2)]  # 307 entries: more than P, so append random columns
    sizes = [10 * 5, 57, 2 * 50 * 2]
    grads = torch.cat([grads, gradient_set("random", n_tasks, 12).float()], 1)[:, : sum(sizes)]
    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    losses = torch.stack(
        [
            sum(
                (gi.view(s) * p).sum()
                for gi, s, p in zip(torch.split(grads[t], sizes), shapes, params)
            )
            for t in range(n_tasks)
        ]
    )
    gen_seed = 3
    info = pcgrad_backward(
        losses, params, variant=variant, generator=torch.Generator().manual_seed(gen_seed)
    )
    assert isinstance(info, PCGradInfo)
    if variant == "yu":
        orders = pcgrad_orders(n_tasks, generator=torch.Generator().manual_seed(gen_seed))
        want = pcgrad_reference(grads.double(), orders)
    else:
        want = torch.cat(reference_authors([list(torch.split(g.double(), sizes)) for g in grads]))
    got = torch.cat([p.grad.reshape(-1) for p in params]).double()
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)
    assert info.n_projections > 0 and info.n_conflicts > 0


# ------------------------------------------------------------------------------------------------
# a tiny multi-task model
# ------------------------------------------------------------------------------------------------
class Tiny(nn.Module):
    def __init__(self, n_tasks: int = 4):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 5, padding=2)
        self.bn = nn.BatchNorm1d(8)
        self.conv2 = nn.Conv1d(8, 6, 3)
        self.never_used = nn.Parameter(torch.ones(3))  # not in the forward: must get no .grad
        self.dense = nn.Linear(6, n_tasks)

    def forward_features(self, x):
        return self.conv2(torch.relu(self.bn(self.conv(x)))).mean(-1)

    def forward_head(self, f):
        return self.dense(f)

    def trunk_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("dense.")]

    def head_parameters(self):
        return list(self.dense.parameters())


def make_setup(seed=0, n_tasks=4):
    torch.manual_seed(seed)
    model, uw = Tiny(n_tasks), UncertaintyWeighting(n_tasks)
    with torch.no_grad():
        uw.log_vars.copy_(torch.linspace(-0.5, 0.5, n_tasks))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 3, 40, generator=g)
    y = (torch.rand(16, n_tasks, generator=g) > 0.5).float()
    return model, uw, x, y


def forward_terms(model, uw, x, y):
    features = model.forward_features(x)
    return features, uw(per_task_bce(model.forward_head(features), y))


def flat_task_grads(terms, params):
    rows = []
    for t in range(terms.shape[0]):
        gs = torch.autograd.grad(terms[t], params, retain_graph=True, allow_unused=True)
        rows.append(
            torch.cat(
                [(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, gs)]
            )
        )
    return torch.stack(rows)


@pytest.mark.parametrize("variant", ["yu", "authors"])
def test_tiny_model_grads(variant):
    model, uw, x, y = make_setup()
    trunk, others = model.trunk_parameters(), model.head_parameters() + list(uw.parameters())
    _, terms = forward_terms(model, uw, x, y)
    task_grads = flat_task_grads(terms, trunk).double()
    head_want = torch.autograd.grad(terms.sum(), others, retain_graph=True)
    seed = 5
    if variant == "yu":
        want = pcgrad_reference(
            task_grads, pcgrad_orders(4, generator=torch.Generator().manual_seed(seed))
        )
    else:
        sizes = [p.numel() for p in trunk]
        want = torch.cat(reference_authors([list(torch.split(g, sizes)) for g in task_grads]))
    info = pcgrad_backward(
        terms,
        trunk,
        other_params=others,
        variant=variant,
        generator=torch.Generator().manual_seed(seed),
    )
    assert info.n_projections > 0, "the test setup should produce conflicting task gradients"
    assert model.never_used.grad is None
    got = torch.cat(
        [(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1) for p in trunk]
    )
    assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-6)
    # heads and uncertainty parameters: their own, unprojected gradients
    for p, g in zip(others, head_want):
        assert torch.allclose(p.grad, g, atol=1e-7)
    assert uw.log_vars.grad is not None and (uw.log_vars.grad != 0).all()


def test_tiny_model_training_steps():
    model, uw, x, y = make_setup(seed=1)
    trunk, others = model.trunk_parameters(), model.head_parameters() + list(uw.parameters())
    opt = torch.optim.AdamW(list(model.parameters()) + list(uw.parameters()), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for step in range(3):
        opt.zero_grad(set_to_none=True)
        opt.zero_grad(set_to_none=True)  # twice in a row: nothing may point into a stale buffer
        assert all(p.grad is None for p in model.parameters())
        tracked = int(model.bn.num_batches_tracked)
        _, terms = forward_terms(model, uw, x, y)
        # the reference from the same graph, with a copy of the generator state
        ref_gen = torch.Generator()
        ref_gen.set_state(gen.get_state())
        want = pcgrad_reference(
            flat_task_grads(terms, trunk).double(), pcgrad_orders(4, generator=ref_gen)
        )
        pcgrad_backward(terms, trunk, other_params=others, generator=gen)
        assert int(model.bn.num_batches_tracked) == tracked + 1  # one forward, one BN update
        got = torch.cat(
            [(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1) for p in trunk]
        )
        assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-6)
        # every trainable parameter with a gradient moves; the unused one has none and stays
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        before_s = uw.log_vars.detach().clone()
        opt.step()
        for n, p in model.named_parameters():
            if n == "never_used":
                assert p.grad is None and torch.equal(p, before[n])
            else:
                assert p.grad is not None, n
                assert not torch.equal(p, before[n]), f"{n} did not move at step {step}"
        assert not torch.equal(uw.log_vars, before_s)
        assert int(model.bn.num_batches_tracked) == step + 1


def test_accumulates_like_backward():
    model, uw, x, y = make_setup(seed=2)
    trunk, others = model.trunk_parameters(), model.head_parameters() + list(uw.parameters())
    _, terms = forward_terms(model, uw, x, y)
    pcgrad_backward(
        terms,
        trunk,
        other_params=others,
        generator=torch.Generator().manual_seed(0),
        retain_graph=True,
    )
    first = [p.grad.clone() for p in trunk + others if p.grad is not None]
    pcgrad_backward(terms, trunk, other_params=others, generator=torch.Generator().manual_seed(0))
    second = [p.grad for p in trunk + others if p.grad is not None]
    for a, b in zip(first, second):
        assert torch.allclose(2 * a, b, atol=1e-6)
    # zero_grad(set_to_none=False) then another step: plain values again
    for p in trunk + others:
        if p.grad is not None:
            p.grad.zero_()
    _, terms = forward_terms(model, uw, x, y)
    pcgrad_backward(terms, trunk, other_params=others, generator=torch.Generator().manual_seed(0))
    assert all(torch.isfinite(p.grad).all() for p in trunk + others if p.grad is not None)


def test_argument_checks():
    model, uw, x, y = make_setup()
    _, terms = forward_terms(model, uw, x, y)
    with pytest.raises(ValueError, match="variant"):
        pcgrad_backward(terms, model.trunk_parameters(), variant="mean")
    with pytest.raises(ValueError, match="Generator"):
        pcgrad_backward(terms, model.trunk_parameters())
    with pytest.raises(ValueError, match="both"):
        pcgrad_backward(
            terms,
            model.trunk_parameters(),
            other_params=model.trunk_parameters()[:1],
            generator=torch.Generator(),
        )


# ------------------------------------------------------------------------------------------------
# representation-level approximation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["yu", "authors"])
@pytest.mark.parametrize("per_sample", [True, False])
def test_features_variant(variant, per_sample):
    model, uw, x, y = make_setup(seed=3)
    trunk, others = model.trunk_parameters(), model.head_parameters() + list(uw.parameters())
    features, terms = forward_terms(model, uw, x, y)
    fgrads = torch.stack(
        [torch.autograd.grad(terms[t], features, retain_graph=True)[0] for t in range(4)]
    ).double()  # (T, B, C)
    head_want = torch.autograd.grad(terms.sum(), others, retain_graph=True)
    seed = 9
    orders = (
        pcgrad_orders(4, generator=torch.Generator().manual_seed(seed))
        if variant == "yu"
        else pcgrad_orders(4, variant="authors")
    )

    def combine(g):  # g: (T, N)
        if variant == "yu":
            return pcgrad_reference(g, orders)
        return torch.cat(reference_authors([[row] for row in g]))

    if per_sample:
        combined = torch.stack([combine(fgrads[:, b]) for b in range(x.shape[0])])
    else:
        combined = combine(fgrads.reshape(4, -1)).view_as(features)
    trunk_want = torch.autograd.grad(
        features, trunk, grad_outputs=combined.float(), retain_graph=True, allow_unused=True
    )
    tracked = int(model.bn.num_batches_tracked)
    info = pcgrad_features_backward(
        terms,
        features,
        other_params=others,
        variant=variant,
        per_sample=per_sample,
        generator=torch.Generator().manual_seed(seed),
    )
    assert int(model.bn.num_batches_tracked) == tracked
    assert info.n_projections > 0
    for p, g in zip(trunk, trunk_want):
        if g is None:
            assert p.grad is None
        else:
            assert torch.allclose(p.grad, g, rtol=1e-4, atol=1e-6)
    for p, g in zip(others, head_want):
        assert torch.allclose(p.grad, g, atol=1e-7)


def test_features_equals_exact_when_no_conflict():
    # with a single task there is nothing to project: both variants reduce to plain backward
    model, uw, x, y = make_setup(seed=4, n_tasks=1)
    trunk, others = model.trunk_parameters(), model.head_parameters() + list(uw.parameters())
    features, terms = forward_terms(model, uw, x, y)
    want = torch.autograd.grad(terms.sum(), trunk, retain_graph=True, allow_unused=True)
    pcgrad_features_backward(
        terms, features, other_params=others, generator=torch.Generator().manual_seed(0)
    )
    for p, g in zip(trunk, want):
        assert (p.grad is None) if g is None else torch.allclose(p.grad, g, atol=1e-7)


def test_all_pairs_of_kinds_cover_conflicts():
    # sanity of the fixtures themselves: conflicts exist where they should
    for kind, n in itertools.product(["all_conflict", "antiparallel"], [2, 4, 6]):
        g = gradient_set(kind, n, 0)
        gram = g @ g.T
        assert (gram < 0).any()


def test_expanded_and_constant_task_gradients():
    # d(b.sum())/db is an expanded (stride-0) tensor: it must be stored as a writable .grad;
    # a task whose loss is a constant contributes a zero gradient
    w = torch.randn(5, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    losses = [(w * torch.arange(5.0)).sum() + b.sum(), -(w**2).sum(), torch.tensor(0.7)]
    info = pcgrad_backward(
        losses, [w], other_params=[b], generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(b.grad, torch.ones(3)) and b.grad.stride() == (1,)
    b.grad.mul_(2.0)  # writable
    assert info.gram[2].abs().sum() == 0
    g = torch.stack([torch.arange(5.0), -2 * w.detach(), torch.zeros(5)]).double()
    want = pcgrad_reference(g, info.orders)
    assert torch.allclose(w.grad.double(), want, atol=1e-6)
