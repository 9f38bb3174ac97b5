"""Small building blocks shared by the models: norm layers and input-size checks."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

NORMS = ("batch", "group", "instance")
ACTIVATIONS = ("relu", "leaky_relu", "silu")


def make_activation(kind: str) -> nn.Module:
    """A non-linearity by name.

    ``relu`` and ``leaky_relu`` (slope 0.2, pix2pix) are piecewise linear: their second
    derivative is zero almost everywhere, so finite-difference hypergradients (Betty's ``darts``)
    also pick up jumps at the kinks that autograd's Hessian-vector products never see. ``silu``
    is smooth, for checks that compare the two.
    """
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if kind == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation {kind!r}; expected one of {', '.join(ACTIVATIONS)}")


def make_norm(kind: str, channels: int) -> nn.Module:
    """A 2-d norm layer over ``channels``.

    Args:
        kind: ``"batch"`` (running statistics), ``"group"`` (up to 8 groups, no running state)
            or ``"instance"`` (affine, no running state).
        channels: number of feature channels.

    Returns:
        nn.Module: the norm layer.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {kind!r}; expected one of {', '.join(NORMS)}")


def check_image(x: torch.Tensor, channels: int, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a ``[N, channels, H, W]`` tensor."""
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape [N, {channels}, H, W], got {list(x.shape)}")


def check_divisible(sizes: Sequence[int], depth: int, model: str) -> None:
    """Raise ``ValueError`` unless every size is divisible by ``2**depth``.

    The message names the size, the depth and the nearest valid sizes.
    """
    factor = 2**depth
    for size in sizes:
        if size % factor:
            below = (size // factor) * factor
            nearest = [s for s in (below, below + factor) if s > 0]
            raise ValueError(
                f"{model}: image size {size} is not divisible by 2**depth = {factor} "
                f"(depth={depth}); nearest valid sizes: {', '.join(map(str, nearest))}"
            )
