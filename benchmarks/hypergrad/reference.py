"""A generic exact reference: the implicit-function-theorem hypergradient with dense Hessians.

For a case without a closed form (e.g. a tiny e2eaug), once the lower problems sit at their
optimum: along each of Betty's paths ``upper -> l_1 -> ... -> l_k -> upper`` the upper-loss
gradient is carried down by ``v <- -(d^2 L_l / d next d l) H_l^{-1} v`` with the dense Hessian
``H_l`` solved exactly, and the paths are summed with the direct gradient. The closed-form
cases of :mod:`benchmarks.hypergrad.problems` check this against their own algebra. Cost is
one Hessian row per lower parameter: tiny problems only.
"""

from __future__ import annotations

from typing import List

import torch
from betty.problems import Problem


def ift_dense(upper: Problem, identity: bool = False) -> torch.Tensor:
    """Total derivative of ``upper``'s loss w.r.t. its trainable parameters.

    Args:
        upper: a Betty problem initialised in an Engine, with ``cur_batch`` loaded on every
            problem of its paths.
        identity: replace each inverse Hessian by the identity (what ``darts`` estimates).

    Returns:
        The hypergradient flattened over ``upper.trainable_parameters()`` (float64, CPU).
    """
    params = upper.trainable_parameters()
    loss = upper.training_step_exec(upper.cur_batch)
    total = _flat(_grad(loss, params, retain_graph=True)).double()
    for path in upper.paths:
        vector = _grad(loss, path[1].trainable_parameters(), retain_graph=True)
        for curr, prev in zip(path[1:-1], path[2:]):
            vector = _hop(vector, curr, prev, identity)
        total += _flat(vector).double()
    return total.cpu()


def _hop(vector: List[torch.Tensor], curr: Problem, prev: Problem, identity: bool):
    params = curr.trainable_parameters()
    loss = curr.training_step_exec(curr.cur_batch)
    in_grad = torch.autograd.grad(loss, params, create_graph=True)
    if not identity:
        flat_grad = _flat(in_grad)
        rows = [_flat(_grad(g, params, retain_graph=True)) for g in flat_grad]
        solved = torch.linalg.solve(torch.stack(rows), _flat(vector))
        vector = _unflat(solved, params)
    cross = _grad(list(in_grad), prev.trainable_parameters(), grad_outputs=vector)
    return [-c for c in cross]


def _grad(outputs, inputs, **kwargs) -> List[torch.Tensor]:
    grads = torch.autograd.grad(outputs, inputs, allow_unused=True, **kwargs)
    return [torch.zeros_like(p) if g is None else g.detach() for g, p in zip(grads, inputs)]


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _unflat(flat: torch.Tensor, like: List[torch.Tensor]) -> List[torch.Tensor]:
    out, start = [], 0
    for p in like:
        out.append(flat[start : start + p.numel()].view_as(p))
        start += p.numel()
    return out
