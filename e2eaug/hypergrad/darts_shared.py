"""The plugin's ``darts_shared``: Betty's ``darts``, evaluated once for every path through a level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .base import register
from .darts import DartsConfig
from .shared import Tensors, shared_hop, zeros_for_none


def _central_difference(vector: Sequence[torch.Tensor], curr, params: Tensors) -> Tensors:
    """darts' ``-(d^2 L_curr / d params d w) vector`` by a central difference of the gradient."""
    weights = curr.meta_trainable_parameters()
    eps = curr.config.darts_alpha / (torch.sqrt(sum((v * v).sum() for v in vector)).item() + 1e-15)
    saved = [p.data.clone() for p in weights]
    for p, v in zip(weights, vector):
        p.data.add_(v.data, alpha=eps)
    loss_p = curr.training_step_exec(curr.cur_batch)
    grad_p = zeros_for_none(torch.autograd.grad(loss_p, params, allow_unused=True), params)
    for p, v in zip(weights, vector):
        p.data.sub_(v.data, alpha=2 * eps)
    loss_n = curr.training_step_exec(curr.cur_batch)
    grad_n = zeros_for_none(torch.autograd.grad(loss_n, params, allow_unused=True), params)
    for p, saved_p in zip(weights, saved):
        p.data.copy_(saved_p)  # exact restore: the next path's vector then matches bitwise
    return [(n - p) / (2 * eps) for n, p in zip(grad_n, grad_p)]


def darts_shared(vector: Sequence[torch.Tensor], curr, prev, sync: bool):
    """Betty's ``darts`` finite difference, evaluated once for all paths through ``curr``
    (:func:`~e2eaug.hypergrad.shared.shared_hop`). When several paths pass through ``curr``
    with the same incoming vector, plain ``darts`` re-evaluates ``curr``'s loss at ``w + eps v``
    and ``w - eps v`` for each; this differentiates those two losses once w.r.t. the parameters
    of every problem that follows ``curr`` on some path. The values equal ``darts``'s up to
    rounding; the cost of the seg hop halves."""
    return shared_hop(vector, curr, prev, sync, _central_difference)


@register("darts_shared", darts_shared)
@dataclass
class DartsSharedConfig(DartsConfig):
    """``alpha`` as for ``darts``."""

    type: str = "darts_shared"
    sweep = ({"alpha": 0.01},)
