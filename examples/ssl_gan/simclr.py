"""SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020): encoder + MLP projection head trained with NT-Xent."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from examples.ssl_gan.methods import SSL_METHODS, SSLMethod, mlp


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Normalised temperature-scaled cross entropy over 2N embeddings.

    For each of the 2N embeddings the positive is the other view of the same image and the
    negatives are the other 2N - 2 embeddings; cosine similarities are divided by
    ``temperature``; the loss is the mean over all 2N anchors.

    Args:
        z1, z2: ``(N, D)`` projections of the two views (row i of each from image i).
        temperature: softmax temperature (> 0).
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be (N, D); got {tuple(z1.shape)}, {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)


@SSL_METHODS.register("simclr")
class SimCLR(SSLMethod):
    """Backbone + projection head ``Linear-ReLU-Linear``; loss :func:`nt_xent_loss`.

    Args:
        backbone: encoder with a ``feature_dim`` attribute.
        hidden_dim, proj_dim: head sizes.
        temperature: NT-Xent temperature.
    """

    def __init__(self, *, backbone: nn.Module, hidden_dim: int = 512, proj_dim: int = 128,
                 temperature: float = 0.5) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = mlp(backbone.feature_dim, hidden_dim, proj_dim, batch_norm=False)
        self.temperature = temperature

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.projector(self.backbone(torch.cat([view1, view2]))).chunk(2)
        return nt_xent_loss(z1, z2, self.temperature)


__all__ = ["SimCLR", "nt_xent_loss"]
