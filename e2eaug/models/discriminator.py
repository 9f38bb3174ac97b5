"""Conditional PatchGAN discriminator (pix2pix, Isola et al. 2017)."""

from __future__ import annotations

from typing import List

import torch
from torch import nn

from e2eaug.models.layers import check_image, make_activation, make_norm
from e2eaug.registry import DISCRIMINATORS


@DISCRIMINATORS.register("patch")
class PatchDiscriminator(nn.Module):
    """PatchGAN judging (mask, image) pairs concatenated on channels.

    ``n_layers`` stride-2 4x4 convs, then two stride-1 4x4 convs (the last to one channel), as
    pix2pix's ``NLayerDiscriminator``. Each output logit sees one patch of the pair: 70x70 px for
    ``n_layers=3`` (pix2pix at 256 px); use ``n_layers=2`` at 32 px.

    The discriminator is stepped once per real step, outside Betty's hypergradient re-runs, so
    BatchNorm is fine here.

    Args:
        mask_channels: channels of the conditioning mask.
        image_channels: channels of the judged image.
        base_width: channels of the first conv; doubled per layer up to ``8 * base_width``.
        n_layers: number of stride-2 convs, >= 1.
        norm: ``"batch"`` (pix2pix default) or ``"instance"``.
        activation: a name of :func:`~e2eaug.models.layers.make_activation` (pix2pix:
            ``leaky_relu``; ``silu`` is smooth).

    Output contract:
        ``forward(mask [N, mask_channels, H, W], image [N, image_channels, H, W])`` returns
        real/fake logits ``[N, 1, h, w]`` with ``h = H // 2**n_layers - 2`` (for sizes divisible
        by ``2**n_layers``). Inputs giving ``h < 1`` raise ``ValueError``.
    """

    def __init__(
        self,
        *,
        mask_channels: int = 1,
        image_channels: int = 3,
        base_width: int = 16,
        n_layers: int = 2,
        norm: str = "batch",
        activation: str = "leaky_relu",
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if norm not in ("batch", "instance"):
            raise ValueError(f"norm must be 'batch' or 'instance', got {norm!r}")
        self.mask_channels, self.image_channels = mask_channels, image_channels
        self.n_layers = n_layers
        widths = [min(base_width * 2**i, 8 * base_width) for i in range(n_layers + 1)]
        layers: List[nn.Module] = [
            nn.Conv2d(mask_channels + image_channels, widths[0], 4, 2, 1),
            make_activation(activation),
        ]
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(widths[i - 1], widths[i], 4, stride, 1, bias=False),
                make_norm(norm, widths[i]),
                make_activation(activation),
            ]
        layers.append(nn.Conv2d(widths[n_layers], 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def output_size(self, size: int) -> int:
        """Side of the logit map for an input side of ``size``."""
        for _ in range(self.n_layers):
            size //= 2
        return size - 2

    def forward(self, mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Patch logits of the pairs (see class doc)."""
        check_image(mask, self.mask_channels, "mask")
        check_image(image, self.image_channels, "image")
        if mask.shape[0] != image.shape[0] or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(f"mask {list(mask.shape)} and image {list(image.shape)} do not match")
        for size in image.shape[-2:]:
            if self.output_size(size) < 1:
                raise ValueError(
                    f"PatchDiscriminator with n_layers={self.n_layers} is too deep for size "
                    f"{size}: needs size >= {3 * 2**self.n_layers}; use fewer layers or larger "
                    f"images"
                )
        return self.net(torch.cat([mask, image], dim=1))
