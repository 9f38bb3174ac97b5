"""Shared machinery of e2eaug's Betty problems: deterministic batches and Betty configs."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import torch
from betty.configs import Config
from betty.hypergradient import jvp_fn_mapping
from betty.problems import ImplicitProblem

from e2eaug.batching import StepBatcher
from e2eaug.config import ConfigError, HypergradConfig


def betty_config(hypergrad: HypergradConfig, unroll_steps: int = 1) -> Config:
    """Betty's per-problem ``Config`` from e2eaug's hypergradient settings.

    ``hypergrad.type`` is how hypergradients pass *through* this problem to the problems below
    it: it matters for intermediate problems (seg, aug), not for the top one.
    """
    import e2eaug.hypergradients  # noqa: F401  (registers e2eaug's own methods in Betty's map)

    if hypergrad.type not in jvp_fn_mapping:
        known = ", ".join(sorted(jvp_fn_mapping))
        raise ConfigError(f"hypergrad.type: unknown method {hypergrad.type!r}; known: {known}")
    if unroll_steps < 1:
        raise ConfigError(f"unroll_steps must be >= 1, got {unroll_steps}")
    return Config(
        type=hypergrad.type,
        unroll_steps=unroll_steps,
        darts_alpha=hypergrad.darts_alpha,
        neumann_iterations=hypergrad.neumann_iterations,
        neumann_alpha=hypergrad.neumann_alpha,
        cg_iterations=hypergrad.cg_iterations,
        cg_alpha=hypergrad.cg_alpha,
        sama_adam_alpha=hypergrad.sama_adam_alpha,
    )


class BatchedProblem(ImplicitProblem):
    """An ``ImplicitProblem`` whose batches come from a :class:`StepBatcher`.

    Batch ``k`` is a pure function of the draw count ``k``, and the count is saved in
    :meth:`state_dict`, so a resumed run continues with the same batches. ``last_loss`` holds
    the loss of the latest real step, for progress output.
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
