"""Betty 0.2.1's ``cg``: conjugate gradients on the Hessian, ``alpha``-rescaled steps. Its next
search direction uses the old residual, so more than one iteration is wrong: prefer
``cg_fixed``."""

from __future__ import annotations

from dataclasses import dataclass

from e2eaug.config import AT_LEAST_1, FINITE_ABOVE_0

from .base import HypergradConfig, register


@register("cg")
@dataclass
class CGConfig(HypergradConfig):
    type: str = "cg"
    iterations: int = 1
    alpha: float = 1.0

    betty_fields = {"iterations": "cg_iterations", "alpha": "cg_alpha"}
    limits = {"iterations": AT_LEAST_1, "alpha": FINITE_ABOVE_0}
    swept = "iterations"
    sweep = (*({"iterations": k} for k in (1, 2, 5, 10, 20)), *({"iterations": 5, "alpha": a} for a in (0.5, 2.0)))
    representative = {"iterations": 10}
