"""Hypergradient methods the plugin adds to Betty's name -> function table.

Importing this module registers each method in ``betty.hypergradient.jvp_fn_mapping`` under a
new name (Betty's own entries are left untouched). A problem then selects one through its
config, e.g. ``betty.configs.Config(type="cg_fixed", cg_iterations=10)``; Betty looks the name
up each time it computes a hypergradient, so registration at import is enough.

Every method has Betty's signature ``fn(vector, curr, prev, sync)``: given ``vector`` (the
gradient of the upper loss w.r.t. ``curr``'s parameters), it returns the product of the
best-response Jacobian d curr* / d prev with it, or accumulates that product into ``prev``'s
``.grad`` and returns ``None`` when ``sync`` is true.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import torch
from betty.hypergradient import jvp_fn_mapping

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
        return _zeros_for_none(out, params)

    x = conjugate_gradient(hvp, [v.detach() for v in vector], curr.config.cg_iterations)
    prev_params = prev.trainable_parameters()
    if sync:
        torch.autograd.backward(in_grad, inputs=prev_params, grad_tensors=[-xi for xi in x])
        return None
    cross = torch.autograd.grad(in_grad, prev_params, grad_outputs=x, allow_unused=True)
    return [-g for g in _zeros_for_none(cross, prev_params)]


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


def _zeros_for_none(grads, params) -> Tensors:
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]


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


_SHARED: Dict[int, dict] = {}


def darts_shared(vector: Sequence[torch.Tensor], curr, prev, sync: bool):
    """Betty's ``darts`` finite difference, evaluated once for all paths through ``curr``.

    When several hypergradient paths pass through ``curr`` with the same incoming vector (in
    e2eaug: arch -> seg -> arch and arch -> seg -> aug -> arch both start with
    ``v = dL_val/dW``), plain ``darts`` re-evaluates ``curr``'s loss at ``w + eps v`` and
    ``w - eps v`` for each path. This method differentiates those two losses once w.r.t. the
    parameters of every problem that follows ``curr`` on some path, keeps the other paths'
    results, and hands them out when Betty asks with the same vector, parameters and batch
    (checked exactly; otherwise it recomputes). The values equal ``darts``'s; the cost of the
    seg hop halves.
    """
    owners, targets = _path_hops(curr)
    cached = _SHARED.get(id(curr))
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
        _SHARED[id(curr)] = {
            "grads": grads,
            "state": _state(curr, owners),
            "vector": [v.detach().clone() for v in vector],
        }
    if sync:
        prev.set_grads(prev.trainable_parameters(), implicit)
        return None
    return implicit


METHODS = {"cg_fixed": cg_fixed, "darts_shared": darts_shared}
"""The methods this module registers, by the name a ``Config(type=...)`` selects them with."""

for _name, _fn in METHODS.items():
    _existing = jvp_fn_mapping.get(_name)
    if _existing is not None and _existing.__module__ != __name__:
        raise RuntimeError(f"Betty already has a hypergradient method named {_name!r}")
    jvp_fn_mapping[_name] = _fn
