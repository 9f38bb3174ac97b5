"""The hypergradient methods under test: Betty's ``Config(type=...)`` plus fixed knobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Type

import torch
from betty.configs import Config

import e2eaug.hypergradients  # noqa: F401  (registers "cg_fixed" in Betty's table)

SAMA_WARMUP_STEPS = 10
"""Adam steps each lower problem takes before ``sama`` is measured (it reads Adam's state)."""


@dataclass(frozen=True)
class Method:
    """One Betty hypergradient method with its knobs set.

    Attributes:
        name: the method's name in ``betty.hypergradient.jvp_fn_mapping``.
        knobs: ``(Config field, value)`` pairs, e.g. ``(("neumann_iterations", 10),)``.
    """

    name: str
    knobs: Tuple[Tuple[str, float], ...] = ()

    @property
    def config(self) -> Config:
        """Config of every lower problem when this method is measured."""
        return Config(type=self.name, **dict(self.knobs))

    @property
    def optimizer(self) -> Type[torch.optim.Optimizer]:
        """Lower-problem optimizer: ``sama`` preconditions with Adam's state."""
        return torch.optim.Adam if self.name == "sama" else torch.optim.SGD

    @property
    def warmup_steps(self) -> int:
        """Real optimizer steps of each lower problem before measuring."""
        return SAMA_WARMUP_STEPS if self.name == "sama" else 0

    @property
    def label(self) -> str:
        """Knobs without their method prefix, e.g. ``iterations=10 alpha=0.3``."""
        return " ".join(f"{key.split('_', 1)[1]}={value:g}" for key, value in self.knobs)

    def series(self, swept: str) -> str:
        """Name of the curve this method lies on when knob ``swept`` varies."""
        fixed = [f"{key.split('_', 1)[1]}={value:g}" for key, value in self.knobs if key != swept]
        return " ".join([self.name, *fixed])


def darts(alpha: float) -> Method:
    """Betty's finite-difference ``darts`` with radius ``darts_alpha``."""
    return Method("darts", (("darts_alpha", alpha),))


def neumann(iterations: int, alpha: float) -> Method:
    """Betty's Neumann-series ``neumann``."""
    return Method("neumann", (("neumann_iterations", iterations), ("neumann_alpha", alpha)))


def cg(iterations: int, alpha: float = 1.0) -> Method:
    """Betty 0.2.1's conjugate-gradient ``cg`` (buggy beyond one iteration)."""
    return Method("cg", (("cg_iterations", iterations), ("cg_alpha", alpha)))


def cg_fixed(iterations: int) -> Method:
    """The plugin's corrected conjugate gradients (``e2eaug.hypergradients``)."""
    return Method("cg_fixed", (("cg_iterations", iterations),))


def sama(alpha: float) -> Method:
    """Betty's Adam-preconditioned finite difference ``sama``."""
    return Method("sama", (("sama_adam_alpha", alpha),))


SWEPT_KNOB = {
    "darts": "darts_alpha",
    "neumann": "neumann_iterations",
    "cg": "cg_iterations",
    "cg_fixed": "cg_iterations",
    "sama": "sama_adam_alpha",
}
"""The knob each method's error-vs-cost curve varies."""


def knob_sweep() -> Tuple[Method, ...]:
    """Every method over its knobs."""
    iterations = (1, 2, 5, 10, 20)
    return (
        *(darts(a) for a in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)),
        *(neumann(k, a) for a in (0.1, 0.3, 1.0) for k in (1, 3, 10, 30, 100)),
        *(cg(k) for k in iterations),
        *(cg(5, a) for a in (0.5, 2.0)),
        *(cg_fixed(k) for k in iterations),
        *(sama(a) for a in (0.01, 0.1, 1.0)),
    )


def representatives() -> Tuple[Method, ...]:
    """One setting per method for the scaling study (Betty's defaults where they work)."""
    return (darts(0.01), neumann(30, 0.3), cg(10), cg_fixed(10), sama(1.0))


def smoke() -> Tuple[Method, ...]:
    """One cheap setting per method, for tests."""
    return (darts(0.01), neumann(50, 0.3), cg(2), cg_fixed(10), sama(1.0))
