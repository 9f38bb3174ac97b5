"""U-Net segmenter (Ronneberger et al. 2015), with padded convs and a choice of norm."""

from __future__ import annotations

import torch
from torch import nn

from e2eaug.models.layers import NORMS, check_divisible, check_image, make_activation, make_norm
from e2eaug.registry import SEGMENTERS


def _double_conv(in_channels: int, out_channels: int, norm: str, activation: str) -> nn.Sequential:
    """Two 3x3 conv + norm + activation layers keeping the spatial size."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        make_norm(norm, out_channels),
        make_activation(activation),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        make_norm(norm, out_channels),
        make_activation(activation),
    )


@SEGMENTERS.register("unet")
class UNet(nn.Module):
    """U-Net: ``depth`` max-pool levels down, 2x2 transposed convs up, skip concatenation.

    Args:
        in_channels: image channels.
        num_classes: output channels (1 for binary segmentation, C for C classes).
        depth: number of down-sampling levels, >= 1; sizes must be divisible by ``2**depth``.
        base_width: channels at full resolution; doubled per level.
        norm: ``"batch"``, ``"group"`` or ``"instance"`` (see :func:`make_norm`). BatchNorm
            updates running statistics on every forward, including Betty's hypergradient re-runs.
        activation: ``"relu"`` (U-Net) or another name of
            :func:`~e2eaug.models.layers.make_activation` (``silu`` is smooth).
        pool: ``"max"`` (U-Net) or ``"avg"`` down-sampling; max-pooling switches its argmax under
            small weight changes, which finite-difference hypergradients see as jumps.

    Output contract:
        ``forward(image [N, in_channels, H, W])`` returns logits ``[N, num_classes, H, W]``
        (apply sigmoid for one class, softmax over classes otherwise).
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        num_classes: int = 1,
        depth: int = 3,
        base_width: int = 16,
        norm: str = "batch",
        activation: str = "relu",
        pool: str = "max",
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; expected one of {', '.join(NORMS)}")
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        self.in_channels, self.depth = in_channels, depth
        widths = [base_width * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList(
            _double_conv(widths[i - 1] if i else in_channels, widths[i], norm, activation)
            for i in range(depth + 1)
        )
        self.pool = nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)
        levels = list(reversed(range(depth)))
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in levels
        )
        self.decoder = nn.ModuleList(
            _double_conv(2 * widths[i], widths[i], norm, activation) for i in levels
        )
        self.head = nn.Conv2d(base_width, num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Segmentation logits of ``image`` (see class doc)."""
        check_image(image, self.in_channels, "image")
        check_divisible(image.shape[-2:], self.depth, "UNet")
        skips = []
        h = image
        for i, block in enumerate(self.encoder):
            h = block(h if i == 0 else self.pool(h))
            skips.append(h)
        skips.pop()
        for up, block in zip(self.upsample, self.decoder):
            h = block(torch.cat([skips.pop(), up(h)], dim=1))
        return self.head(h)
