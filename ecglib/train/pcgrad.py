"""PCGrad gradient surgery for the shared trunk of a multi-task model.

Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient Surgery for Multi-Task Learning", NeurIPS 2020
(Algorithm 1). With ``g_i`` the gradient of task ``i``'s loss with respect to the *shared*
parameters, every task's gradient is projected, in a random order over the other tasks, against
each other task's **original** gradient it conflicts with:

    if g_i^PC . g_j < 0:   g_i^PC <- g_i^PC - (g_i^PC . g_j / ||g_j||^2) g_j ,

and the update is the **sum** ``sum_i g_i^PC``.

``variant="authors"`` reproduces the coronary study's code (github.com/shunxio/AnyECG-CCTA,
``train.py``, ``pcgrad_step``): tasks are visited in their fixed order 0..T-1, task ``i`` is
projected only against the tasks ``j > i`` (still unprojected when it is visited, so again the
originals), with ``||g_j||^2 + 1e-12`` in the denominator, and the projected gradients are
**averaged**. The last task is therefore never projected. (Their code also ran its head through
the surgery, which changes nothing but ``||g_j||^2`` since head rows are disjoint across tasks, and
so averaged the head's gradients too; here, in both variants, the head is left out of the surgery.)

How it is computed here (exact, not approximated): every projected gradient stays a linear
combination of the original ones, ``g_i^PC = sum_k C_ik g_k``, so the whole surgery runs on the
``T x T`` coefficient matrix ``C`` (start ``C = I``) and the Gram matrix ``G = g g^T``:

    g_i^PC . g_j = sum_k C_ik G_kj = (C G)_ij ,     projection:  C_ij <- C_ij - (C G)_ij / G_jj .

Only one entry of ``C`` changes per projection. The update is ``w^T g`` with ``w = 1^T C`` (sum)
or ``1^T C / T`` (mean): one ``(T, P)`` Gram matmul and one ``(T,) x (T, P)`` matmul, instead of
``O(T^2)`` passes over all ``P`` parameters in Python.

Heads and loss weights: each task's head row and its uncertainty weight ``s_t`` are touched by
that task only, so they are not projected; they receive the gradient of the summed loss, which
for them *is* their own task's gradient (``other_params``).

:func:`pcgrad_features_backward` is a cheaper **approximation**, not PCGrad: it applies the same
surgery to the gradients with respect to the trunk's output features ``(B, C)`` (per sample, or
on the flattened batch) and back-propagates the combined feature gradient through the trunk once.

:func:`pcgrad_reference` (Yu et al.'s Algorithm 1 as the textbook per-task loop on explicit
gradient vectors) and :func:`pcgrad_authors_reference` (the study's loop over parameter tensors)
are the plain readings the fast path is checked against, by ``tests/test_pcgrad.py`` and
``benchmarks/bench_pcgrad.py``; they are not used in training.

One module on purpose: the coefficient-space surgery, the per-task gradients it needs, their
write-back into ``.grad`` and the references are one algorithm, read top to bottom.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = [
    "PCGradInfo",
    "pcgrad_backward",
    "pcgrad_features_backward",
    "pcgrad_orders",
    "pcgrad_coefficients",
    "pcgrad_weights",
    "pcgrad_surgery",
    "task_gradient_matrix",
    "pcgrad_reference",
    "pcgrad_authors_reference",
    "AUTHORS_EPS",
]

Variant = Literal["yu", "authors"]
VARIANTS: tuple[str, ...] = ("yu", "authors")

#: The authors' code divides by ``||g_j||^2 + 1e-12``; ``variant="authors"`` keeps it.
AUTHORS_EPS = 1e-12


@dataclass(frozen=True)
class PCGradInfo:
    """What one surgery did, for logging (all on the CPU except in the batched feature variant).

    ``gram``: ``G = g g^T`` of the original task gradients, ``(T, T)`` (``(B, T, T)`` per sample).
    ``coefficients``: ``C`` with ``g_i^PC = sum_k C_ik g_k`` (same shape as ``gram``).
    ``weights``: ``w`` with update ``= sum_k w_k g_k``, ``(T,)`` (``(B, T)``).
    ``n_conflicts``: number of unordered task pairs with ``g_i . g_j < 0`` (summed over samples).
    ``n_projections``: number of projections applied.
    ``orders``: the order in which each task visited the others.
    """

    gram: torch.Tensor
    coefficients: torch.Tensor
    weights: torch.Tensor
    n_conflicts: int
    n_projections: int
    orders: tuple[tuple[int, ...], ...]


# ------------------------------------------------------------------------------------------------
# coefficient-space surgery
# ------------------------------------------------------------------------------------------------
def pcgrad_orders(
    n_tasks: int, *, variant: Variant = "yu", generator: torch.Generator | None = None
) -> tuple[tuple[int, ...], ...]:
    """The order in which each task ``i`` visits the tasks it may be projected against.

    ``"yu"``: for every ``i`` an independent random permutation of the other ``T - 1`` tasks,
    drawn from ``generator`` (required, so that a run is reproducible from its seed). ``"authors"``:
    ``(i+1, ..., T-1)``, no randomness.
    """
    _check_variant(variant)
    if variant == "authors":
        return tuple(tuple(range(i + 1, n_tasks)) for i in range(n_tasks))
    if generator is None:
        raise ValueError(
            "PCGrad (variant='yu') visits tasks in random order: pass a torch.Generator "
            "seeded from the run's seed"
        )
    orders = []
    for i in range(n_tasks):
        others = [j for j in range(n_tasks) if j != i]
        perm = torch.randperm(len(others), generator=generator, device=generator.device).tolist()
        orders.append(tuple(others[k] for k in perm))
    return tuple(orders)


def pcgrad_coefficients(
    gram: torch.Tensor, orders: Sequence[Sequence[int]], *, eps: float = 0.0
) -> tuple[torch.Tensor, int]:
    """Coefficients ``C`` (``g_i^PC = sum_k C_ik g_k``) of the projected gradients, from ``G``.

    Task ``i`` starts at ``C_i = e_i`` and, for ``j`` in ``orders[i]``, if
    ``g_i^PC . g_j = (C G)_ij < 0`` and ``G_jj > 0``, is projected:
    ``C_ij <- C_ij - (C G)_ij / (G_jj + eps)``. A zero gradient ``g_j`` (``G_jj = 0``) is never
    projected against (its dot products are zero anyway). Returns ``(C, n_projections)``, ``C`` in
    float64 on the CPU.
    """
    n = gram.shape[0]
    if gram.shape != (n, n):
        raise ValueError(f"gram must be square (T, T), got {tuple(gram.shape)}")
    # T is tiny (4 vessels): plain Python floats in double precision beat T^2 tiny tensor ops
    # and need a single device->host copy.
    g = gram.detach().to("cpu", torch.float64).tolist()
    coef = [[0.0] * n for _ in range(n)]
    n_proj = 0
    for i in range(n):
        c = coef[i]
        c[i] = 1.0
        for j in orders[i]:
            dot = 0.0
            for k in range(n):
                if c[k] != 0.0:
                    dot += c[k] * g[k][j]
            if dot < 0.0 and g[j][j] > 0.0:
                c[j] -= dot / (g[j][j] + eps)
                n_proj += 1
    return torch.tensor(coef, dtype=torch.float64), n_proj


def pcgrad_weights(coefficients: torch.Tensor, variant: Variant = "yu") -> torch.Tensor:
    """Weights ``w`` of the update ``sum_k w_k g_k``: ``1^T C`` (Yu et al.: sum) or ``1^T C / T``
    (the authors: mean). Works on ``(T, T)`` and batched ``(..., T, T)`` coefficients."""
    _check_variant(variant)
    w = coefficients.sum(dim=-2)
    return w / coefficients.shape[-1] if variant == "authors" else w


def _batched_coefficients(
    gram: torch.Tensor, orders: Sequence[Sequence[int]], eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`pcgrad_coefficients` for a batch of Gram matrices ``(N, T, T)``, vectorised over N
    (same visiting order for every member). Stays on the Gram's device: no host sync."""
    n_batch, n, _ = gram.shape
    gram = gram.to(torch.float64)
    coef = torch.eye(n, dtype=gram.dtype, device=gram.device).repeat(n_batch, 1, 1)
    n_proj = torch.zeros((), dtype=torch.long, device=gram.device)
    diag = torch.diagonal(gram, dim1=-2, dim2=-1)
    for i in range(n):
        for j in orders[i]:
            dot = (coef[:, i, :] * gram[:, :, j]).sum(-1)
            project = (dot < 0) & (diag[:, j] > 0)
            denom = torch.where(project, diag[:, j] + eps, torch.ones_like(dot))
            coef[:, i, j] -= torch.where(project, dot / denom, torch.zeros_like(dot))
            n_proj = n_proj + project.sum()
    return coef, n_proj


def _n_conflicts(gram: torch.Tensor) -> int:
    """Unordered task pairs with ``g_i . g_j < 0`` (summed over a batch of Gram matrices)."""
    if gram.ndim == 2:  # the common, tiny case: plain Python is cheaper than four tensor ops
        g = gram.tolist()
        return sum(g[i][j] < 0 for i in range(len(g)) for j in range(i + 1, len(g)))
    upper = torch.triu(torch.ones(gram.shape[-2:], dtype=torch.bool, device=gram.device), 1)
    return int(((gram < 0) & upper).sum())


# ------------------------------------------------------------------------------------------------
# per-task gradients and the write-back
# ------------------------------------------------------------------------------------------------
def _as_loss_list(task_losses: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(task_losses, torch.Tensor):
        if task_losses.ndim != 1:
            raise ValueError(f"task_losses must have shape (T,), got {tuple(task_losses.shape)}")
        losses = list(task_losses.unbind(0))
    else:
        losses = list(task_losses)
    if not losses:
        raise ValueError("task_losses is empty")
    for t, loss in enumerate(losses):
        if loss.numel() != 1:
            raise ValueError(f"task loss {t} must be a scalar, got shape {tuple(loss.shape)}")
    return losses


def _trainable(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    out, seen = [], set()
    for p in params:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _check_disjoint(shared: list[torch.Tensor], others: list[torch.Tensor]) -> None:
    ids = {id(p) for p in shared}
    if any(id(p) in ids for p in others):
        raise ValueError("a parameter is both in shared_params and in other_params")


def task_gradient_matrix(
    task_losses: torch.Tensor | Sequence[torch.Tensor],
    params: Sequence[torch.Tensor],
    *,
    other_params: Sequence[torch.Tensor] = (),
    retain_graph: bool = False,
) -> tuple[torch.Tensor, list[bool], list[torch.Tensor | None]]:
    """Per-task gradients of ``params`` as one ``(T, P)`` matrix, one backward pass per task.

    Row ``t`` is ``d task_losses[t] / d params``, flattened and concatenated in ``params`` order;
    a parameter a task does not reach contributes zeros. Returns ``(g, used, other_grads)``:
    ``used[k]`` says whether any task reached ``params[k]``, and ``other_grads`` holds the
    gradients of ``sum_t task_losses[t]`` for ``other_params`` (summed over the same passes, so
    they cost no extra backward; ``None`` where no task reached the parameter). The graph is
    freed after the last pass unless ``retain_graph``.
    """
    losses = _as_loss_list(task_losses)
    params = list(params)
    others = list(other_params)
    if not params:
        raise ValueError("no shared parameters to take gradients of")
    dtype, device = params[0].dtype, params[0].device
    for p in params:
        if p.dtype != dtype or p.device != device:
            raise ValueError(
                f"shared parameters must share one dtype and device; found {dtype} on "
                f"{device} and {p.dtype} on {p.device}"
            )
    n_tasks, n_params = len(losses), sum(p.numel() for p in params)
    grads = torch.empty((n_tasks, n_params), dtype=dtype, device=device)
    used = [False] * len(params)
    other_grads: list[torch.Tensor | None] = [None] * len(others)
    inputs = params + others
    for t, loss in enumerate(losses):
        if not loss.requires_grad:  # a constant loss has zero gradient everywhere
            grads[t].zero_()
            continue
        keep = retain_graph or t < n_tasks - 1
        gs = torch.autograd.grad(loss, inputs, retain_graph=keep, allow_unused=True)
        pieces = []
        for k, (p, g) in enumerate(zip(params, gs[: len(params)])):
            if g is None:
                pieces.append(torch.zeros(p.numel(), dtype=dtype, device=device))
            else:
                used[k] = True
                pieces.append(g.reshape(-1))
        # one concatenation straight into the row: no intermediate P-length copy
        torch.cat(pieces, out=grads[t])
        for k, g in enumerate(gs[len(params) :]):
            if g is None:
                continue
            # out-of-place first: autograd may hand back an expanded (stride-0) tensor that an
            # in-place add or a later optimizer update could not write into
            other_grads[k] = (
                g.clone(memory_format=torch.contiguous_format)
                if other_grads[k] is None
                else other_grads[k].add_(g)
            )
    return grads, used, other_grads


def _accumulate(p: torch.Tensor, g: torch.Tensor, *, fresh: bool) -> None:
    """``p.grad += g`` like ``backward()`` does; a missing ``.grad`` gets its own new tensor (never a
    view into a shared buffer, which ``zero_grad`` would orphan or an in-place op would alias)."""
    if p.grad is None:
        p.grad = g if fresh else g.clone()
    else:
        p.grad.add_(g)


def _write_flat(params: Sequence[torch.Tensor], used: Sequence[bool], flat: torch.Tensor) -> None:
    """Scatter the flat update into ``.grad`` (accumulating); see :func:`_accumulate`."""
    for p, u, chunk in zip(params, used, flat.split([p.numel() for p in params])):
        if not u:  # a parameter no task reached keeps .grad untouched, as with backward()
            continue
        if p.grad is None:
            # A view into ``flat`` is safe because ``flat`` is made afresh by every call: no
            # buffer outlives the step, so zero_grad(set_to_none=True) cannot orphan one that a
            # later step still writes; it saves a P-length copy per step.
            p.grad = chunk.view_as(p)
        else:
            p.grad.add_(chunk.view_as(p))


# ------------------------------------------------------------------------------------------------
# public entry points
# ------------------------------------------------------------------------------------------------
def pcgrad_backward(
    task_losses: torch.Tensor | Sequence[torch.Tensor],
    shared_params: Iterable[torch.Tensor],
    *,
    other_params: Iterable[torch.Tensor] = (),
    generator: torch.Generator | None = None,
    variant: Variant = "yu",
    retain_graph: bool = False,
) -> PCGradInfo:
    """Exact PCGrad on ``shared_params``; plain gradients for ``other_params``. Accumulates into
    ``.grad`` like ``backward()`` (call ``optimizer.zero_grad()`` first), then ``optimizer.step()``.

    ``task_losses``: ``(T,)`` tensor (or sequence of scalars) of per-task losses from *one* forward
    pass, e.g. the uncertainty-weighted terms ``exp(-s_t) L_t + s_t`` (so BatchNorm statistics
    are updated once per step). ``shared_params``: the trunk (e.g. ``model.trunk_parameters()``),
    whose per-task gradients ``g_t`` are projected: the result written to ``.grad`` is
    ``sum_i g_i^PC`` (Yu et al. 2020, ``variant="yu"``, random visiting order from ``generator``)
    or ``mean_i g_i^PC`` with one-sided fixed-order projections (``variant="authors"``, see the
    module docstring). ``other_params``: task-specific parameters (head, uncertainty ``s_t``),
    which receive the unprojected gradient of ``sum_t task_losses[t]``.

    Cost: one backward pass per task (``torch.autograd.grad`` with ``retain_graph``), a ``(T, P)``
    gradient matrix, its ``T x T`` Gram matrix and one ``(T,) x (T, P)`` matmul; the surgery itself
    runs on ``T x T`` coefficients (module docstring). Returns a :class:`PCGradInfo`.
    """
    _check_variant(variant)
    shared = _trainable(shared_params)
    others = _trainable(other_params)
    _check_disjoint(shared, others)
    losses = _as_loss_list(task_losses)
    orders = pcgrad_orders(len(losses), variant=variant, generator=generator)
    grads, used, other_grads = task_gradient_matrix(
        losses, shared, other_params=others, retain_graph=retain_graph
    )
    info = pcgrad_surgery(grads, shared, used, orders=orders, variant=variant)
    for p, g in zip(others, other_grads):
        if g is not None:
            _accumulate(p, g, fresh=True)
    return info


def pcgrad_surgery(
    grads: torch.Tensor,
    params: Sequence[torch.Tensor],
    used: Sequence[bool] | None = None,
    *,
    orders: Sequence[Sequence[int]],
    variant: Variant = "yu",
) -> PCGradInfo:
    """The surgery alone: from the ``(T, P)`` per-task gradient matrix to ``.grad``.

    ``G = g g^T`` (one matmul), coefficients ``C`` from :func:`pcgrad_coefficients`, weights
    ``w`` from :func:`pcgrad_weights`, update ``w^T g`` (one matmul), accumulated into the
    ``.grad`` of ``params`` (flattened in order, as :func:`task_gradient_matrix` built ``grads``),
    skipping parameters with ``used[k] = False``. P-length data is touched exactly twice.
    """
    _check_variant(variant)
    # the Gram matrix goes to the host once, in double precision, for the T x T bookkeeping
    gram = (grads @ grads.T).detach().to("cpu", torch.float64)
    coef, n_proj = pcgrad_coefficients(
        gram, orders, eps=AUTHORS_EPS if variant == "authors" else 0.0
    )
    weights = pcgrad_weights(coef, variant)
    update = weights.to(device=grads.device, dtype=grads.dtype) @ grads
    _write_flat(params, [True] * len(params) if used is None else used, update)
    return PCGradInfo(gram, coef, weights, _n_conflicts(gram), n_proj, tuple(map(tuple, orders)))


def pcgrad_features_backward(
    task_losses: torch.Tensor | Sequence[torch.Tensor],
    features: torch.Tensor,
    *,
    other_params: Iterable[torch.Tensor] = (),
    generator: torch.Generator | None = None,
    variant: Variant = "yu",
    per_sample: bool = True,
    retain_graph: bool = False,
) -> PCGradInfo:
    """Representation-level PCGrad: an **approximation** of :func:`pcgrad_backward`.

    The per-task gradients are taken with respect to the trunk's output ``features`` (shape
    ``(B, ...)``, e.g. ``model.forward_features(x)``), which costs only the head's backward, and
    projected exactly as in PCGrad (variant and visiting order likewise): ``per_sample=True``
    treats each sample's ``(T, C)`` feature gradients as its own task-gradient set (same visiting
    order for every sample), ``per_sample=False`` projects the flattened ``(T, B*C)`` gradients
    once. The combined feature gradient is back-propagated through the trunk in ONE backward
    pass. Because ``J^T`` (the trunk's Jacobian transposed) does not preserve dot products,
    the conflicts seen in feature space are not those of the parameter gradients: this is the
    cheap "representation-level" surrogate, not Yu et al.'s algorithm. ``other_params`` (head,
    uncertainty weights) receive the unprojected gradient of ``sum_t task_losses[t]``.
    """
    _check_variant(variant)
    if not features.requires_grad:
        raise ValueError("features must be part of the autograd graph (requires_grad)")
    others = _trainable(other_params)
    losses = _as_loss_list(task_losses)
    n_tasks = len(losses)
    orders = pcgrad_orders(n_tasks, variant=variant, generator=generator)
    eps = AUTHORS_EPS if variant == "authors" else 0.0
    # per-task gradients w.r.t. the features: the trunk graph must survive for the final backward
    grads, _, other_grads = task_gradient_matrix(
        losses, [features], other_params=others, retain_graph=True
    )
    n_batch = features.shape[0]
    if per_sample:
        g = grads.view(n_tasks, n_batch, -1)
        gram = torch.einsum("tbc,sbc->bts", g, g)
        coef, n_proj_t = _batched_coefficients(gram, orders, eps)
        weights = pcgrad_weights(coef, variant)  # (B, T)
        combined = torch.einsum("bt,tbc->bc", weights.to(g.dtype), g)
        n_proj = int(n_proj_t)
    else:
        gram = grads @ grads.T
        coef, n_proj = pcgrad_coefficients(gram, orders, eps=eps)
        weights = pcgrad_weights(coef, variant)
        combined = weights.to(grads.dtype).to(grads.device) @ grads
    torch.autograd.backward(features, combined.view_as(features), retain_graph=retain_graph)
    for p, gp in zip(others, other_grads):
        if gp is not None:
            _accumulate(p, gp, fresh=True)
    return PCGradInfo(gram.detach(), coef, weights, _n_conflicts(gram), n_proj, orders)


# ------------------------------------------------------------------------------------------------
# references: the textbook loops the fast path is checked against (tests, benchmarks/bench_pcgrad.py)
# ------------------------------------------------------------------------------------------------
def pcgrad_reference(grads: torch.Tensor, orders: Sequence[Sequence[int]]) -> torch.Tensor:
    """Yu et al. 2020, Algorithm 1, as the textbook per-task loop on explicit gradient vectors.

    ``grads``: the ``(T, P)`` per-task gradients. Task ``i`` starts from its own ``g_i`` and, for
    ``j`` in ``orders[i]``, is projected against the **original** ``g_j`` when
    ``g_i^PC . g_j < 0`` (and ``||g_j|| > 0``): ``g_i^PC <- g_i^PC - (g_i^PC . g_j / ||g_j||^2) g_j``;
    the update is ``sum_i g_i^PC``, shape ``(P,)``, in the dtype of ``grads``. ``O(T^2)`` passes
    over all ``P`` entries: this is the plain reading of the paper that the coefficient-space
    surgery (:func:`pcgrad_surgery`, ``variant="yu"``) must reproduce for the same ``orders``.
    """
    out = torch.zeros_like(grads[0])
    for i in range(grads.shape[0]):
        g = grads[i].clone()
        for j in orders[i]:
            gj = grads[j]
            dot, norm2 = torch.dot(g, gj), torch.dot(gj, gj)
            if dot < 0 and norm2 > 0:
                g = g - dot / norm2 * gj
        out += g
    return out


def pcgrad_authors_reference(per_task_grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The coronary study's ``pcgrad_step`` surgery (shunxio/AnyECG-CCTA, ``train.py``), loop for loop.

    ``per_task_grads[t]``: task ``t``'s gradient as one tensor per parameter. For ``i < j`` in
    task order, dot products and ``||g_j||^2`` are accumulated over the parameter tensors; when
    ``g_i . g_j < 0`` (and ``||g_j||^2 > 0``) every tensor of ``g_i`` is moved by
    ``(g_i . g_j / (||g_j||^2 + 1e-12)) g_j`` **in place**, as their code does (clone first to keep
    the inputs). Returns the per-parameter mean over tasks: the update that
    ``variant="authors"`` must reproduce.
    """
    n = len(per_task_grads)
    first = per_task_grads[0][0]
    for i in range(n):
        for j in range(i + 1, n):
            dot = torch.tensor(0.0, dtype=first.dtype, device=first.device)
            norm_j_sq = torch.tensor(0.0, dtype=first.dtype, device=first.device)
            for gi, gj in zip(per_task_grads[i], per_task_grads[j]):
                dot += (gi * gj).sum()
                norm_j_sq += (gj * gj).sum()
            if dot < 0 and norm_j_sq > 0:
                coeff = dot / (norm_j_sq + AUTHORS_EPS)
                for k in range(len(per_task_grads[i])):
                    per_task_grads[i][k] -= coeff * per_task_grads[j][k]
    out = [torch.zeros_like(g) for g in per_task_grads[0]]
    for grads in per_task_grads:
        for o, g in zip(out, grads):
            o.add_(g / n)
    return out


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown PCGrad variant {variant!r}; expected one of {VARIANTS}")
