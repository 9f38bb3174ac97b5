"""Measurements: a hypergradient through Betty, its accuracy, wall time and peak memory."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch
from betty.problems import Problem
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


def hypergradient(upper: Problem) -> torch.Tensor:
    """The upper problem's hypergradient, computed exactly as Betty's ``one_step_descent`` does.

    Runs ``upper.backward`` (direct gradient plus ``get_grads`` along every path, with the
    arguments ``one_step_descent`` passes) but no optimizer step, then clears the gradients.

    Returns:
        The gradient flattened over ``upper.trainable_parameters()`` (float64, CPU).
    """
    loss, _ = upper.get_loss(upper.cur_batch)
    upper.backward(
        loss=loss,
        params=upper.trainable_parameters(),
        paths=upper.paths,
        create_graph=not upper._first_order,
        retain_graph=upper._retain_graph,
        allow_unused=upper._allow_unused,
    )
    grads = [p.grad if p.grad is not None else torch.zeros_like(p)
             for p in upper.trainable_parameters()]
    flat = torch.cat([g.detach().reshape(-1) for g in grads]).double().cpu()
    upper.zero_grad()
    return flat


def plain_gradients(lowers: List[Problem]) -> None:
    """The floor: one plain gradient of every lower problem's loss (forward + backward)."""
    for problem in lowers:
        loss = problem.training_step_exec(problem.cur_batch)
        torch.autograd.grad(loss, problem.trainable_parameters())


def cosine(estimate: torch.Tensor, exact: torch.Tensor) -> float:
    """Cosine similarity (NaN if either vector is zero or not finite)."""
    denominator = (estimate.norm() * exact.norm()).item()
    return (estimate @ exact).item() / denominator if denominator > 0 else float("nan")


def relative_error(estimate: torch.Tensor, exact: torch.Tensor) -> float:
    """``|estimate - exact| / |exact|``."""
    return ((estimate - exact).norm() / exact.norm()).item()


def median_time(fn: Callable[[], object], reset: Callable[[], None], device: str,
                repeats: int, warmup: int) -> float:
    """Median wall time of ``fn`` in seconds over ``repeats`` calls after ``warmup`` calls.

    ``reset`` runs untimed before each call (e.g. to restore parameters).
    """
    times = []
    for i in range(warmup + repeats):
        reset()
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory(fn: Callable[[], object], device: str) -> float:
    """Peak bytes of tensor storage allocated by one call of ``fn`` (and not freed before).

    CUDA: ``torch.cuda.max_memory_allocated`` above the level before the call. CPU: every
    storage an operator creates during the call (not a view or in-place result of its inputs)
    is tracked through a dispatch mode until it is freed; Python objects and transient
    workspaces inside an operator are not counted.
    """
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - base)
    with _StorageTracker() as tracker:
        fn()
    return float(tracker.peak)


class _StorageTracker(TorchDispatchMode):
    """Live and peak bytes of the tensor storages created by operators while active."""

    def __init__(self) -> None:
        super().__init__()
        self.live: Dict[int, Tuple[StorageWeakRef, int]] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for key, (ref, nbytes) in list(self.live.items()):
            if ref.expired():
                self.current -= nbytes
                del self.live[key]
        inputs = {_storage_key(t) for t in tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor)}
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor) and _storage_key(tensor) not in inputs:
                storage = tensor.untyped_storage()
                ref = StorageWeakRef(storage)
                if ref.cdata not in self.live:
                    self.live[ref.cdata] = (ref, storage.nbytes())
                    self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def _storage_key(tensor: torch.Tensor) -> int:
    """Identity of a tensor's storage (views and in-place results share their input's)."""
    return StorageWeakRef(tensor.untyped_storage()).cdata


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def snapshot(params: List[torch.Tensor]) -> Callable[[], None]:
    """A function that restores ``params`` to their current values."""
    saved = [p.detach().clone() for p in params]

    def restore() -> None:
        with torch.no_grad():
            for p, value in zip(params, saved):
                p.copy_(value)

    return restore
