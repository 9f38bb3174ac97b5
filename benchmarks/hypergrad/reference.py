"""A generic exact reference: the implicit-function-theorem hypergradient with dense Hessians.

For a case without a closed form (e.g. a tiny e2eaug), once the lower problems sit at their
optimum: along each of Betty's paths ``upper -> l_1 -> ... -> l_k -> upper`` the upper-loss
gradient is carried down by ``v <- -(d^2 L_l / d next d l) H_l^{-1} v`` with the dense Hessian
``H_l`` solved exactly, and the paths are summed with the direct gradient. The closed-form
cases of :mod:`benchmarks.hypergrad.problems` check this against their own algebra. Cost is
one Hessian row per lower parameter (rows are batched through ``is_grads_batched``): tiny
problems only.

Where the lower problems are *not* at an optimum (e2eaug's neural nets after a few steps), the
Hessians are indefinite and may be singular. :class:`SpectralSolve` then applies a function of
the eigenvalues instead of ``H^{-1}`` (by default the pseudo-inverse, dropping exactly-null
directions) and records each Hessian's spectrum, so the conditioning of the reference is
reported rather than hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch
from betty.problems import Problem

Solve = Callable[[Callable[[], torch.Tensor], torch.Tensor, Problem], torch.Tensor]
"""``solve(hessian, rhs, problem) -> x``: a stand-in for ``H^{-1} rhs`` (float64 tensors), where
``hessian()`` computes ``problem``'s dense Hessian (the costly part: a solver may reuse it)."""

HESSIAN_CHUNK = 256
"""Hessian rows computed per batched double-backward call."""


def ift_dense(upper: Problem, identity: bool = False,
              solve: Optional[Solve] = None) -> torch.Tensor:
    """Total derivative of ``upper``'s loss w.r.t. its trainable parameters.

    Args:
        upper: a Betty problem initialised in an Engine, with ``cur_batch`` loaded on every
            problem of its paths.
        identity: replace each inverse Hessian by the identity (what ``darts`` estimates).
        solve: how ``H^{-1} v`` is applied with the dense float64 Hessian ``H`` of each lower
            problem (see :data:`Solve`); default ``torch.linalg.solve`` (needs a non-singular
            ``H``). See :class:`SpectralSolve`. Paths sharing a prefix share its solve.

    Returns:
        The hypergradient flattened over ``upper.trainable_parameters()`` (float64, CPU).
    """
    solve = solve or _plain_solve
    params = upper.trainable_parameters()
    loss = upper.training_step_exec(upper.cur_batch)
    total = _flat(_grad(loss, params, retain_graph=True)).double()
    solved: Dict[tuple, List[torch.Tensor]] = {}
    for path in upper.paths:
        vector = _grad(loss, path[1].trainable_parameters(), retain_graph=True)
        for depth, (curr, prev) in enumerate(zip(path[1:-1], path[2:])):
            key = tuple(id(p) for p in path[1 : depth + 2])  # same prefix: same H^-1 v
            vector = _hop(vector, curr, prev, identity, solve, solved.setdefault(key, []))
        total += _flat(vector).double()
    return total.cpu()


def hessian(problem: Problem) -> torch.Tensor:
    """Dense Hessian of ``problem``'s training loss on ``cur_batch`` w.r.t. its trainable
    parameters: float64 on the problem's device, symmetrised, ``n x n`` for ``n`` parameters."""
    params = problem.trainable_parameters()
    loss = problem.training_step_exec(problem.cur_batch)
    in_grad = torch.autograd.grad(loss, params, create_graph=True)
    return _hessian_of(in_grad, params)


@dataclass
class Spectrum:
    """Eigenvalue summary of one Hessian (float64).

    Attributes:
        n: parameters.
        negative: eigenvalues below ``-null_rtol * max|lambda|`` (0 at a strict minimum).
        null: eigenvalues with ``|lambda| <= null_rtol * max|lambda|``, treated as exactly zero.
        lowest, highest: extreme eigenvalues.
        smallest_kept: the smallest ``|lambda|`` that is inverted.
    """

    n: int
    negative: int
    null: int
    lowest: float
    highest: float
    smallest_kept: float

    @property
    def condition(self) -> float:
        """``max|lambda| / smallest_kept``: the amplification of the inverse."""
        return max(abs(self.lowest), abs(self.highest)) / self.smallest_kept

    def __str__(self) -> str:
        return (f"n={self.n} eig [{self.lowest:.3g}, {self.highest:.3g}], "
                f"{self.negative} negative, "
                f"{self.null} null, min kept |eig| {self.smallest_kept:.2e}, "
                f"condition {self.condition:.2e}")


class SpectralSolve:
    """``rhs -> Q f(Lambda) Q^T rhs`` with ``H = Q Lambda Q^T``, recording every spectrum.

    With the default ``f(lambda) = 1 / lambda`` on eigenvalues above the null threshold (zero
    on the others) this is the pseudo-inverse: the exact ``H^{-1}`` when ``H`` is non-singular,
    whatever its signature; the minimum-norm solution on the null space (e.g. a bias followed
    by a per-channel normalisation, or a dead ReLU unit). Any other ``f`` gives the matching
    spectral approximation, e.g. Betty's ``neumann`` after ``K`` iterations is
    ``f(lambda) = a * sum_{i=0..K} (1 - a lambda)^i``.

    Args:
        function: ``f`` applied to the eigenvalues kept (a float64 tensor).
        null_rtol: eigenvalues with ``|lambda| <= null_rtol * max|lambda|`` count as zero.

    Each problem's Hessian is decomposed once, on first use, and reused after: one instance
    serves one state of the problems (one :func:`ift_dense` call, or several at the same
    parameters and batches).

    Attributes:
        spectra: the :class:`Spectrum` of each problem solved with, by problem name.
    """

    def __init__(self, function: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                 null_rtol: float = 1e-12) -> None:
        self.function = function or torch.reciprocal
        self.null_rtol = null_rtol
        self.spectra: Dict[str, Spectrum] = {}
        self._eigen: Dict[str, tuple] = {}

    def __call__(self, hessian: Callable[[], torch.Tensor], rhs: torch.Tensor,
                 problem: Problem) -> torch.Tensor:
        if problem.name not in self._eigen:
            evals, evecs = torch.linalg.eigh(hessian())
            cutoff = self.null_rtol * evals.abs().max()
            keep = evals.abs() > cutoff
            self._eigen[problem.name] = evals[keep], evecs[:, keep]
            self.spectra[problem.name] = Spectrum(
                n=len(evals), negative=int((evals < -cutoff).sum()), null=int((~keep).sum()),
                lowest=evals[0].item(), highest=evals[-1].item(),
                smallest_kept=evals[keep].abs().min().item() if keep.any() else math.nan)
        evals, evecs = self._eigen[problem.name]
        return evecs @ (self.function(evals) * (evecs.T @ rhs))

    def with_function(self, function: Callable[[torch.Tensor], torch.Tensor]) -> "SpectralSolve":
        """The same eigendecompositions (so the same problem states) with another ``f``."""
        other = SpectralSolve(function, self.null_rtol)
        other._eigen, other.spectra = self._eigen, self.spectra
        return other


def _plain_solve(hessian: Callable[[], torch.Tensor], rhs: torch.Tensor,
                 problem: Problem) -> torch.Tensor:
    return torch.linalg.solve(hessian(), rhs)


def _hop(vector: List[torch.Tensor], curr: Problem, prev: Problem, identity: bool, solve: Solve,
         cache: List[List[torch.Tensor]]):
    """``-(d^2 L_curr / d prev d curr) H^{-1} vector``; ``cache`` keeps ``H^{-1} vector``."""
    params = curr.trainable_parameters()
    loss = curr.training_step_exec(curr.cur_batch)
    in_grad = torch.autograd.grad(loss, params, create_graph=True)
    if not identity:
        if not cache:
            rhs = _flat(vector).double()
            solution = solve(lambda: _hessian_of(in_grad, params), rhs, curr)
            cache.append(_unflat(solution.to(params[0].dtype), params))
        vector = cache[0]
    cross = _grad(list(in_grad), prev.trainable_parameters(), grad_outputs=vector)
    return [-c for c in cross]


def _hessian_of(in_grad, params) -> torch.Tensor:
    """Rows ``d (in_grad . e_i) / d params``, batched over basis vectors ``e_i``."""
    flat_grad = _flat(in_grad)
    n = flat_grad.numel()
    rows = []
    for start in range(0, n, HESSIAN_CHUNK):
        index = torch.arange(start, min(start + HESSIAN_CHUNK, n), device=flat_grad.device)
        basis = torch.zeros(len(index), n, dtype=flat_grad.dtype, device=flat_grad.device)
        basis[torch.arange(len(index)), index] = 1.0
        block = torch.autograd.grad(flat_grad, params, grad_outputs=basis, retain_graph=True,
                                    allow_unused=True, is_grads_batched=True)
        rows.append(torch.cat([(torch.zeros(len(basis), p.numel(), dtype=flat_grad.dtype,
                                            device=flat_grad.device) if b is None
                                else b.reshape(len(basis), -1)) for b, p in zip(block, params)],
                              dim=1))
    hess = torch.cat(rows).double()
    return 0.5 * (hess + hess.T)


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
