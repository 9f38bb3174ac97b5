"""Betty's ``darts``: the best-response Jacobian by a central finite difference (identity
inverse Hessian; Liu et al., "DARTS", 2019). ``alpha`` is the radius relative to the
incoming vector's norm (``eps = alpha / ||v||``)."""

from __future__ import annotations

from dataclasses import dataclass

from e2eaug.config import FINITE_ABOVE_0

from .base import HypergradConfig, register


@register("darts")
@dataclass
class DartsConfig(HypergradConfig):
    type: str = "darts"
    alpha: float = 0.01

    betty_fields = {"alpha": "darts_alpha"}
    limits = {"alpha": FINITE_ABOVE_0}
    swept = "alpha"
    sweep = tuple({"alpha": a} for a in (1e-4, 1e-3, 1e-2, 1e-1, 1.0))
    representative = {"alpha": 0.01}
