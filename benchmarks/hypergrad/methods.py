"""The hypergradient methods under test: a registered method (``e2eaug.hypergrad.METHODS``)
with its knobs set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Type

import torch
from betty.configs import Config

from e2eaug.hypergrad import METHODS

SAMA_WARMUP_STEPS = 10
"""Adam steps each lower problem takes before ``sama`` is measured (it reads Adam's state)."""


@dataclass(frozen=True)
class Method:
    """One hypergradient method with its knobs set.

    Attributes:
        name: the method's name in :data:`e2eaug.hypergrad.METHODS` (and Betty's table).
        knobs: ``(knob, value)`` pairs of its config dataclass, e.g. ``(("iterations", 10),)``.
    """

    name: str
    knobs: Tuple[Tuple[str, float], ...] = ()

    @property
    def config(self) -> Config:
        """Betty ``Config`` of every lower problem when this method is measured."""
        return METHODS.get(self.name)(**dict(self.knobs)).betty_config()

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
        """The knobs, e.g. ``iterations=10 alpha=0.3``."""
        return " ".join(f"{key}={value:g}" for key, value in self.knobs)

    @property
    def series(self) -> str:
        """Name of the curve this method lies on: its knobs but the one its family varies."""
        swept = METHODS.get(self.name).swept
        fixed = [f"{key}={value:g}" for key, value in self.knobs if key != swept]
        return " ".join([self.name, *fixed])


def method(name: str, **knobs: float) -> Method:
    """``name`` with ``knobs`` (checked against the method's dataclass)."""
    METHODS.get(name)(**knobs)  # unknown method or knob: an error now
    return Method(name, tuple(knobs.items()))


def darts(alpha: float) -> Method:
    """Betty's finite-difference ``darts`` with radius ``alpha``."""
    return method("darts", alpha=alpha)


def darts_shared(alpha: float) -> Method:
    """The plugin's ``darts`` evaluated once for all paths through a level."""
    return method("darts_shared", alpha=alpha)


def neumann(iterations: int, alpha: float) -> Method:
    """Betty's Neumann-series ``neumann``."""
    return method("neumann", iterations=iterations, alpha=alpha)


def cg(iterations: int, alpha: float = 1.0) -> Method:
    """Betty 0.2.1's conjugate-gradient ``cg`` (buggy beyond one iteration)."""
    return method("cg", iterations=iterations, alpha=alpha)


def cg_fixed(iterations: int) -> Method:
    """The plugin's corrected conjugate gradients (``e2eaug.hypergrad.cg_fixed``)."""
    return method("cg_fixed", iterations=iterations)


def sama(alpha: float) -> Method:
    """Betty's Adam-preconditioned finite difference ``sama``."""
    return method("sama", adam_alpha=alpha)


def knob_sweep() -> Tuple[Method, ...]:
    """Every method over its knobs."""
    iterations = (1, 2, 5, 10, 20)
    return (
        *(darts(a) for a in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)),
        darts_shared(0.01),
        *(neumann(k, a) for a in (0.1, 0.3, 1.0) for k in (1, 3, 10, 30, 100)),
        *(cg(k) for k in iterations),
        *(cg(5, a) for a in (0.5, 2.0)),
        *(cg_fixed(k) for k in iterations),
        *(sama(a) for a in (0.01, 0.1, 1.0)),
    )


def representatives() -> Tuple[Method, ...]:
    """One setting per method for the scaling study (Betty's defaults where they work)."""
    return (darts(0.01), darts_shared(0.01), neumann(30, 0.3), cg(10), cg_fixed(10), sama(1.0))


def smoke() -> Tuple[Method, ...]:
    """One cheap setting per method, for tests."""
    return (darts(0.01), darts_shared(0.01), neumann(50, 0.3), cg(2), cg_fixed(10), sama(1.0))
