"""The hypergradient methods under test: a registered method (``e2eaug.hypergrad.METHODS``)
with its knobs set. The sweeps are read from the registry: each method's dataclass names its
``sweep`` and ``representative`` settings, so a newly registered method is measured too."""

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


def knob_sweep() -> Tuple[Method, ...]:
    """Every registered method at each setting of its ``sweep``."""
    return tuple(method(name, **knobs) for name in METHODS for knobs in METHODS.get(name).sweep)


def representatives() -> Tuple[Method, ...]:
    """Every registered method at its ``representative`` setting (the scaling study, tests)."""
    return tuple(method(name, **METHODS.get(name).representative) for name in METHODS)
