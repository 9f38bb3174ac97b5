"""ResNet-18 encoder for small inputs (as in SimCLR's CIFAR setting; Chen et al., 2020).

torchvision's ResNet-18 (He et al., 2016) with random weights (``weights=None``), the 7x7/2 stem
replaced by a 3x3 conv of stride ``stem_stride`` (1 by default) and the max-pool removed unless
``stem_maxpool``, so 32 px images keep a 4x4 map at the last stage by default (2x2 with stride 2,
1x1 with stride 2 and the max-pool: 4x and 16x fewer convolution FLOPs). The classifier is dropped.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn


class SmallResNet18(nn.Module):
    """Images ``(B, C, H, W)`` in ``[0, 1]`` -> features ``(B, 512)`` (after global pooling).

    Inputs are mapped to ``[-1, 1]`` first. ``feature_dim`` is 512.

    Args:
        in_channels: image channels.
        stem_stride: stride of the 3x3 stem conv.
        stem_maxpool: keep torchvision's 3x3/2 max-pool after the stem.
    """

    feature_dim = 512

    def __init__(self, in_channels: int = 3, stem_stride: int = 1, stem_maxpool: bool = False) -> None:
        super().__init__()
        if stem_stride < 1:
            raise ValueError(f"stem_stride must be >= 1, got {stem_stride}")
        net = torchvision.models.resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=stem_stride, padding=1, bias=False)
        if not stem_maxpool:
            net.maxpool = nn.Identity()
        net.fc = nn.Identity()
        self.net = net
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W) images, got {tuple(x.shape)}")
        return self.net(x * 2 - 1)


__all__ = ["SmallResNet18"]
