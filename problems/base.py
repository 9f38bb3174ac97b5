"""Shared machinery of e2eaug's Betty problems: deterministic batches, step counters, and
updates skipped when a loss or gradient is not finite."""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Tuple

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
    """

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

    def get_loss(self, batch: Any):
        """Betty's ``get_loss`` (real steps only), remembering the loss value."""
        loss, loss_dict = super().get_loss(batch)
        self.last_loss = loss_dict["loss"]
        return loss, loss_dict

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
