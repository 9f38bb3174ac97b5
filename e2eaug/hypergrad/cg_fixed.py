"""The plugin's ``cg_fixed``: implicit differentiation with a correct conjugate-gradient solve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Sequence

import torch

from e2eaug.config import AT_LEAST_1

from .base import HypergradConfig, register
from .shared import zeros_for_none

Tensors = List[torch.Tensor]


def cg_fixed(vector: Sequence[torch.Tensor], curr, prev, sync: bool):
    """Implicit-differentiation hypergradient with a correct conjugate-gradient solve.

    Solves ``H x = vector``, with ``H`` the Hessian of ``curr``'s training loss w.r.t. its
    trainable parameters, by ``curr.config.cg_iterations`` steps of conjugate gradients
    (Hestenes & Stiefel, 1952), and returns ``-(d^2 L_curr / d prev d curr) x`` as in the
    implicit function theorem (Rajeswaran et al., "Meta-Learning with Implicit Gradients", 2019).

    It replaces Betty 0.2.1's ``cg``, which (a) builds the next search direction from the old
    residual, so more than one iteration is wrong, (b) returns NaN for a zero ``vector``, and
    (c) rescales steps by ``cg_alpha``, which plain CG does not need; ``cg_alpha`` is ignored
    here. Iterations stop early once the residual is exactly zero or the curvature along the
    search direction is not positive, so a zero ``vector`` gives zeros.

    Args:
        vector: gradient of the upper loss w.r.t. ``curr``'s trainable parameters.
        curr: the lower problem whose best response is differentiated.
        prev: the problem whose parameters the hypergradient is taken w.r.t.
        sync: accumulate the result into ``prev``'s gradients instead of returning it.

    Returns:
        One tensor per trainable parameter of ``prev`` (zeros where unused), or ``None`` when
        ``sync`` is true.

    Raises:
        ValueError: ``curr`` has upper-level paths of its own (as Betty's ``cg``, this method
            uses ``curr``'s direct Hessian only, which is then not its total Hessian).
    """
    if curr.paths:
        raise ValueError(
            f"cg_fixed needs problem {curr.name!r} to have no hypergradient paths of its own"
        )
    params = curr.trainable_parameters()
    loss = curr.training_step_exec(curr.cur_batch)
    in_grad = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(direction: Tensors) -> Tensors:
        out = torch.autograd.grad(
            in_grad, params, grad_outputs=direction, retain_graph=True, allow_unused=True
        )
        return zeros_for_none(out, params)

    x = conjugate_gradient(hvp, [v.detach() for v in vector], curr.config.cg_iterations)
    prev_params = prev.trainable_parameters()
    if sync:
        torch.autograd.backward(in_grad, inputs=prev_params, grad_tensors=[-xi for xi in x])
        return None
    cross = torch.autograd.grad(in_grad, prev_params, grad_outputs=x, allow_unused=True)
    return [-g for g in zeros_for_none(cross, prev_params)]


def conjugate_gradient(
    hvp: Callable[[Tensors], Tensors], b: Tensors, iterations: int
) -> Tensors:
    """Approximately solve ``H x = b`` for symmetric positive-definite ``H`` from ``x = 0``.

    Args:
        hvp: the product ``H p`` for a list of tensors ``p`` shaped like ``b``.
        b: right-hand side, a list of tensors.
        iterations: maximum number of CG iterations (each costs one ``hvp``).

    Returns:
        ``x`` as a list of tensors shaped like ``b``; all zeros when ``b`` is zero.
    """
    x = [torch.zeros_like(bi) for bi in b]
    r = [bi.clone() for bi in b]
    p = [bi.clone() for bi in b]
    rr = _dot(r, r)
    for _ in range(iterations):
        if not rr > 0:
            break
        hp = hvp(p)
        curvature = _dot(p, hp)
        if not curvature > 0:
            break
        step = rr / curvature
        x = [xi + step * pi for xi, pi in zip(x, p)]
        r = [ri - step * hi for ri, hi in zip(r, hp)]
        rr_new = _dot(r, r)
        p = [ri + (rr_new / rr) * pi for ri, pi in zip(r, p)]
        rr = rr_new
    return x


def _dot(a: Tensors, b: Tensors) -> torch.Tensor:
    return sum((ai * bi).sum() for ai, bi in zip(a, b))


@register("cg_fixed", cg_fixed)
@dataclass
class CGFixedConfig(HypergradConfig):
    """``iterations`` conjugate-gradient steps (at most; they stop at an exact solve)."""

    type: str = "cg_fixed"
    iterations: int = 1

    betty_fields = {"iterations": "cg_iterations"}
    limits = {"iterations": AT_LEAST_1}
    swept = "iterations"
    sweep = tuple({"iterations": k} for k in (1, 2, 5, 10, 20))
    representative = {"iterations": 10}
