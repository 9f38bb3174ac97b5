"""BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020): an online network
(encoder, projector, predictor) regresses a slowly moving target network (encoder, projector)
whose weights are an exponential moving average of the online ones."""

from __future__ import annotations

import copy
import math
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from examples.ssl_gan.methods import SSL_METHODS, SSLMethod, mlp


def regression_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``2 - 2 cos(p, z)`` averaged over the batch; ``z`` (the target) gets no gradient."""
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1)).mean()


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """``target <- tau * target + (1 - tau) * online`` for every parameter (buffers untouched)."""
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must be in [0, 1], got {tau}")
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(tau).add_(o.detach(), alpha=1.0 - tau)


def cosine_tau(base_tau: float, progress: float) -> float:
    """BYOL's schedule ``1 - (1 - base_tau) (cos(pi progress) + 1) / 2`` (base -> 1)."""
    return 1.0 - (1.0 - base_tau) * (math.cos(math.pi * min(max(progress, 0.0), 1.0)) + 1) / 2


@SSL_METHODS.register("byol")
class BYOL(SSLMethod):
    """Online ``backbone -> projector -> predictor`` and EMA target ``backbone -> projector``.

    The loss is symmetric: ``l(p1, z2') + l(p2, z1')`` with :func:`regression_loss`, where
    ``z'`` are target projections (computed without gradient, target in train mode). Call
    :meth:`momentum_update` after each optimiser step.

    Args:
        backbone: encoder with a ``feature_dim`` attribute.
        hidden_dim, proj_dim: MLP sizes (``Linear-BN-ReLU-Linear``).
        base_tau: starting EMA decay, raised to 1 by :func:`cosine_tau`.
    """

    def __init__(self, *, backbone: nn.Module, hidden_dim: int = 512, proj_dim: int = 128,
                 base_tau: float = 0.99) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = mlp(backbone.feature_dim, hidden_dim, proj_dim, batch_norm=True)
        self.predictor = mlp(proj_dim, hidden_dim, proj_dim, batch_norm=True)
        self.target_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.base_tau = base_tau

    def online_parameters(self) -> List[nn.Parameter]:
        return [*self.backbone.parameters(), *self.projector.parameters(),
                *self.predictor.parameters()]

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        x = torch.cat([view1, view2])
        p1, p2 = self.predictor(self.projector(self.backbone(x))).chunk(2)
        with torch.no_grad():
            t1, t2 = self.target_projector(self.target_backbone(x)).chunk(2)
        return regression_loss(p1, t2) + regression_loss(p2, t1)

    def momentum_update(self, progress: float) -> None:
        tau = cosine_tau(self.base_tau, progress)
        ema_update(self.target_backbone, self.backbone, tau)
        ema_update(self.target_projector, self.projector, tau)


__all__ = ["BYOL", "cosine_tau", "ema_update", "regression_loss"]
