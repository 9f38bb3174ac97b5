"""One evaluation of a level's hop for every hypergradient path through it.

In e2eaug two paths pass through ``seg`` with the same incoming vector ``v = dL_val/dW``:
arch -> seg -> arch and arch -> seg -> aug -> arch. Betty calls a method once per path, so a
plain method evaluates the seg hop twice. :func:`shared_hop` computes the hop for the
parameters of every problem that follows ``curr`` on some path at once, keeps the results on
``curr`` (attribute :data:`CACHE`), and hands them out when Betty asks again with the same
vector, parameters and batch (checked exactly; otherwise it recomputes).
"""

from __future__ import annotations

from typing import Callable, List, Sequence

import torch

Tensors = List[torch.Tensor]
CACHE = "_shared_hop_cache"


def path_hops(curr) -> tuple:
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
    """Identifies one backward pass of the path owners at ``curr``'s current weights and batch
    (the owners' step counters change between passes; ``curr``'s version counters whenever its
    weights change)."""
    versions = tuple(p._version for p in curr.meta_trainable_parameters())
    return (id(curr.cur_batch), versions, tuple(o.count for o in owners))


def shared_hop(
    vector: Sequence[torch.Tensor],
    curr,
    prev,
    sync: bool,
    compute: Callable[[Sequence[torch.Tensor], object, Tensors], Tensors],
):
    """Betty's method signature around ``compute(vector, curr, params) -> grads``, which returns
    the hop's result for the flat list ``params`` of every target's trainable parameters."""
    owners, targets = path_hops(curr)
    cached = getattr(curr, CACHE, None)
    if (
        cached is not None
        and id(prev) in cached["grads"]
        and cached["state"] == _state(curr, owners)
        and all(torch.equal(a, b) for a, b in zip(cached["vector"], vector))
    ):
        implicit = cached["grads"].pop(id(prev))
    else:
        groups = [list(t.trainable_parameters()) for t in targets]
        flat = compute(vector, curr, [p for group in groups for p in group])
        grads, start = {}, 0
        for target, group in zip(targets, groups):
            grads[id(target)] = flat[start : start + len(group)]
            start += len(group)
        implicit = grads.pop(id(prev))
        setattr(curr, CACHE, {"grads": grads, "state": _state(curr, owners),
                              "vector": [v.detach().clone() for v in vector]})
    if sync:
        prev.set_grads(prev.trainable_parameters(), implicit)
        return None
    return implicit


def zeros_for_none(grads, params) -> Tensors:
    """``grads`` with ``None`` (unused parameters) replaced by zeros."""
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]
