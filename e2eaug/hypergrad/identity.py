"""The plugin's ``identity``: the identity-inverse-Hessian hypergradient by exact second derivatives.

It is the quantity ``darts`` estimates, ``-(d^2 L_curr / d prev d w) v`` (DARTS' second-order
approximation; Liu et al., 2019), computed by double backward instead of a finite difference.
Finite differences of the gradient cross the kinks of ReLU, max-pooling and L1 at any usable
radius (``benchmarks/hypergrad_default.py``), so on e2eaug's default models ``darts`` points
nowhere near it; autograd's mixed second derivative has no radius and no kinks to cross.
Like ``darts_shared``, one evaluation serves every path through the level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .base import HypergradConfig, register
from .shared import Tensors, shared_hop, zeros_for_none


def _mixed_second_derivative(vector: Sequence[torch.Tensor], curr, params: Tensors) -> Tensors:
    """``-(d^2 L_curr / d params d w) vector`` with ``w`` ``curr``'s trainable parameters."""
    weights = list(curr.trainable_parameters())
    loss = curr.training_step_exec(curr.cur_batch)
    grads = torch.autograd.grad(loss, weights, create_graph=True)
    used = [(g, v) for g, v in zip(grads, vector) if g.requires_grad]
    if not used:
        return [torch.zeros_like(p) for p in params]
    cross = torch.autograd.grad([g for g, _ in used], params, grad_outputs=[v.detach() for _, v in used],
                                allow_unused=True)
    return [-g for g in zeros_for_none(cross, params)]


def identity(vector: Sequence[torch.Tensor], curr, prev, sync: bool):
    """Betty's method signature: the identity-form hop, shared across paths through ``curr``."""
    return shared_hop(vector, curr, prev, sync, _mixed_second_derivative)


@register("identity", identity)
@dataclass
class IdentityConfig(HypergradConfig):
    """No knobs: exact, in the models' own precision."""

    type: str = "identity"
