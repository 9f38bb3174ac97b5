"""Common interface and registry of self-supervised methods.

A method is an ``nn.Module`` holding a ``backbone`` (the encoder later probed) and heads, with

* ``loss(view1, view2)``: a deterministic function of its parameters and the two view batches;
* ``online_parameters()``: the parameters a gradient step updates (BYOL's target excluded);
* ``momentum_update(progress)``: state updated once per real optimiser step (BYOL's EMA),
  ``progress`` in ``[0, 1]`` being the fraction of training done.

Methods register in :data:`SSL_METHODS` and are built with ``build_method(name, ...)``.
"""

from __future__ import annotations

from typing import List

import torch
from torch import nn

from e2eaug.registry import Registry

SSL_METHODS = Registry("ssl method")


class SSLMethod(nn.Module):
    """Base of the SSL methods (see the module docstring for the contract)."""

    backbone: nn.Module

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        """Scalar loss of two augmented views of the same images."""
        raise NotImplementedError(f"{type(self).__name__} must implement loss()")

    def online_parameters(self) -> List[nn.Parameter]:
        """Parameters trained by gradient descent."""
        return [p for p in self.parameters() if p.requires_grad]

    def momentum_update(self, progress: float) -> None:
        """Per-step state update after the optimiser step; nothing by default."""


def mlp(in_dim: int, hidden_dim: int, out_dim: int, batch_norm: bool) -> nn.Sequential:
    """Linear -> [BatchNorm] -> ReLU -> Linear head."""
    layers: List[nn.Module] = [nn.Linear(in_dim, hidden_dim)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(hidden_dim))
    layers += [nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim)]
    return nn.Sequential(*layers)


def build_method(name: str, **kwargs) -> SSLMethod:
    """Build the registered SSL method ``name`` (``simclr``, ``byol``) with keyword arguments."""
    return SSL_METHODS.build(name, **kwargs)


__all__ = ["SSL_METHODS", "SSLMethod", "build_method", "mlp"]
