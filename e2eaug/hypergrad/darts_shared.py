"""The plugin's ``darts_shared``: Betty's ``darts``, evaluated once for every path through a level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .base import register
from .cg_fixed import _dot, _zeros_for_none
from .darts import DartsConfig


def _path_hops(curr) -> tuple:
    """The problems owning paths through ``curr``, and those right after ``curr`` on them."""
    seen, stack, owners = set(), list(curr.parents), []
    while stack:
        problem = stack.pop()
        if id(problem) not in seen:
            seen.add(id(problem))
            owners.append(problem)
            stack.extend(problem.parents)
    targets = []
    for owner in owners:
        for path in owner.paths:
            for i in range(1, len(path) - 1):
                if path[i] is curr and all(t is not path[i + 1] for t in targets):
                    targets.append(path[i + 1])
    return owners, targets


def _state(curr, owners) -> tuple:
    """Identifies one backward pass of the path owners at ``curr``'s current weights and batch.

    The owners' step counters change between their backward passes; ``curr``'s version
    counters change whenever its weights do. (Later hops of a path perturb and restore the
    weights below ``curr``; that round trip is not a change.)
    """
    versions = tuple(p._version for p in curr.meta_trainable_parameters())
    return (id(curr.cur_batch), versions, tuple(o.count for o in owners))


CACHE = "_darts_shared_cache"
"""The attribute of ``curr`` (the problem a path passes through) that holds the shared results."""


def darts_shared(vector: Sequence[torch.Tensor], curr, prev, sync: bool):
    """Betty's ``darts`` finite difference, evaluated once for all paths through ``curr``.

    When several hypergradient paths pass through ``curr`` with the same incoming vector (in
    e2eaug: arch -> seg -> arch and arch -> seg -> aug -> arch both start with
    ``v = dL_val/dW``), plain ``darts`` re-evaluates ``curr``'s loss at ``w + eps v`` and
    ``w - eps v`` for each path. This method differentiates those two losses once w.r.t. the
    parameters of every problem that follows ``curr`` on some path, keeps the other paths'
    results, and hands them out when Betty asks with the same vector, parameters and batch
    (checked exactly; otherwise it recomputes). The results wait on ``curr`` itself (attribute
    :data:`CACHE`). The values equal ``darts``'s up to rounding; the cost of the seg hop halves.
    """
    owners, targets = _path_hops(curr)
    cached = getattr(curr, CACHE, None)
    if (
        cached is not None
        and id(prev) in cached["grads"]
        and cached["state"] == _state(curr, owners)
        and all(torch.equal(a, b) for a, b in zip(cached["vector"], vector))
    ):
        implicit = cached["grads"].pop(id(prev))
    else:
        params = [list(t.trainable_parameters()) for t in targets]
        flat = [p for group in params for p in group]
        eps = curr.config.darts_alpha / (torch.sqrt(_dot(vector, vector)).item() + 1e-15)
        saved = [p.data.clone() for p in curr.meta_trainable_parameters()]
        for p, v in zip(curr.meta_trainable_parameters(), vector):
            p.data.add_(v.data, alpha=eps)
        loss_p = curr.training_step_exec(curr.cur_batch)
        grad_p = _zeros_for_none(torch.autograd.grad(loss_p, flat, allow_unused=True), flat)
        for p, v in zip(curr.meta_trainable_parameters(), vector):
            p.data.sub_(v.data, alpha=2 * eps)
        loss_n = curr.training_step_exec(curr.cur_batch)
        grad_n = _zeros_for_none(torch.autograd.grad(loss_n, flat, allow_unused=True), flat)
        for p, saved_p in zip(curr.meta_trainable_parameters(), saved):
            p.data.copy_(saved_p)  # exact restore: the next path's vector then matches bitwise
        diffs = [(n - p) / (2 * eps) for n, p in zip(grad_n, grad_p)]
        grads, start = {}, 0
        for target, group in zip(targets, params):
            grads[id(target)] = diffs[start : start + len(group)]
            start += len(group)
        implicit = grads.pop(id(prev))
        setattr(curr, CACHE, {
            "grads": grads,
            "state": _state(curr, owners),
            "vector": [v.detach().clone() for v in vector],
        })
    if sync:
        prev.set_grads(prev.trainable_parameters(), implicit)
        return None
    return implicit


@register("darts_shared", darts_shared)
@dataclass
class DartsSharedConfig(DartsConfig):
    """``alpha`` as for ``darts``; the seg level's default."""

    type: str = "darts_shared"
