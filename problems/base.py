"""Shared machinery of e2eaug's Betty problems: deterministic batches, step counters, and
updates skipped when a loss or gradient is not finite."""

from __future__ import annotations

import contextlib
import math
from typing import Any, ContextManager, Dict, Iterable, Optional, Tuple

import torch
from betty.configs import Config
from betty.problems import ImplicitProblem

from e2eaug import distributed
from e2eaug.batching import StepBatcher


class BatchedProblem(ImplicitProblem):
    """An ``ImplicitProblem`` whose batches come from a :class:`StepBatcher`.

    Batch ``k`` is a pure function of the draw count ``k``, and the count is saved in
    :meth:`state_dict`, so a resumed run continues with the same batches. ``last_loss`` holds
    the loss of the latest real step, for progress output. A real step whose loss or gradient
    (hypergradient included) is not finite leaves the weights and optimizer as they were and
    counts in ``skipped``; the engine decides when too many in a row stop the run. In a run of
    several processes the gradients are averaged over the ranks first, and all ranks skip or
    update together (:mod:`e2eaug.distributed`).

    ``forward_dtype`` (set by the engine from ``engine.precision``) is the autocast dtype of
    the forwards of real steps (:meth:`autocast`); weights, gradients and optimizer states stay
    float32, and the re-evaluations a hypergradient method makes run outside it, in float32.
    """

    forward_dtype: Optional[torch.dtype] = None

    def __init__(
        self,
        name: str,
        config: Config,
        module: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batcher: StepBatcher,
    ) -> None:
        super().__init__(name, config, module=module, optimizer=optimizer)
        self.batcher = batcher
        self.draws = 0
        self.skipped = 0
        self.last_loss = float("nan")

    def get_batch(self) -> Tuple[torch.Tensor, ...]:
        """The next batch of the deterministic stream, on this problem's device."""
        batch = self.batcher.batch(self.draws, self.device)
        self.draws += 1
        return batch

    def autocast(self) -> ContextManager:
        """The context of a real step's forward: autocast to ``forward_dtype`` on this
        problem's device, or nothing in float32."""
        if self.forward_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=self.forward_dtype)

    def get_loss(self, batch: Any):
        """Betty's ``get_loss`` (real steps only) under :meth:`autocast`, remembering the loss
        value. Betty's own ``precision`` stays fp32: it would also autocast the hypergradient's
        re-evaluations (finite differences in bf16) and does nothing on a CPU."""
        with self.autocast():
            loss, loss_dict = super().get_loss(batch)
        self.last_loss = loss_dict["loss"]
        return loss.float(), loss_dict

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """Betty's update on the rank-averaged gradients, skipped when this step's loss (on any
        rank) or a gradient is not finite."""
        params = list(self.trainable_parameters())
        loss = distributed.average_gradients(params, self.last_loss)
        if math.isfinite(loss) and _finite_grads(params):
            super().optimizer_step(*args, **kwargs)
        else:
            self.skipped += 1

    def state_dict(self) -> Dict[str, Any]:
        """Module, optimizer and the step counters Betty and the batcher need."""
        state = super().state_dict()
        state["draws"] = self.draws
        state["count"] = self._count
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        super().load_state_dict(state_dict)
        self.draws = int(state_dict["draws"])
        self._count = int(state_dict["count"])


def _finite_grads(params: Iterable[torch.Tensor]) -> bool:
    """Whether every gradient of ``params`` is finite (one device sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())
