"""Betty's ``sama``: a finite difference preconditioned by the lower problem's Adam state
(Choe et al., 2023); it needs Adam as the lower optimizer."""

from __future__ import annotations

from dataclasses import dataclass

from e2eaug.config import FINITE_ABOVE_0

from .base import HypergradConfig, register


@register("sama")
@dataclass
class SamaConfig(HypergradConfig):
    type: str = "sama"
    adam_alpha: float = 1.0

    betty_fields = {"adam_alpha": "sama_adam_alpha"}
    limits = {"adam_alpha": FINITE_ABOVE_0}
    swept = "adam_alpha"
    sweep = tuple({"adam_alpha": a} for a in (0.01, 0.1, 1.0))
    representative = {"adam_alpha": 1.0}
