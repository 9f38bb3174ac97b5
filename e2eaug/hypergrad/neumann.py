"""Betty's ``neumann``: the inverse Hessian by ``iterations`` terms of its Neumann series with
step ``alpha`` (Lorraine et al., 2020)."""

from __future__ import annotations

from dataclasses import dataclass

from e2eaug.config import AT_LEAST_1, FINITE_ABOVE_0

from .base import HypergradConfig, register


@register("neumann")
@dataclass
class NeumannConfig(HypergradConfig):
    type: str = "neumann"
    iterations: int = 1
    alpha: float = 1.0

    betty_fields = {"iterations": "neumann_iterations", "alpha": "neumann_alpha"}
    limits = {"iterations": AT_LEAST_1, "alpha": FINITE_ABOVE_0}
    swept = "iterations"
    sweep = tuple({"iterations": k, "alpha": a} for a in (0.1, 0.3, 1.0) for k in (1, 3, 10, 30, 100))
    representative = {"iterations": 30, "alpha": 0.3}
