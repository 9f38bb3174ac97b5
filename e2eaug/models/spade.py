"""SPADE-style mask-to-image generators (Park et al. 2019), searched or from a genotype.

SPADE ("spatially-adaptive denormalization") normalises features without learned affine
parameters and then scales and shifts them per pixel by maps predicted from the mask, resized
to the features' resolution. Here an encoder of ``depth`` down cells (the pix2pix ones) reduces
the mask to a bottleneck, and ``depth`` up cells each apply a transposed convolution, SPADE and
an activation; there are no skip connections: the mask reaches the decoder through its norms.
The convolutions are the search space of :mod:`e2eaug.models.search_space`: searched, each cell
mixes the candidates with ``softmax(alpha)``; built from a
:class:`~e2eaug.models.search_space.Genotype`, each keeps the one it names, so ``alpha``,
``derive`` and genotype files work as for the U-Net generators.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from e2eaug.models.generator import CellFactory, GenotypeLike, SearchCells, UNetSkeleton
from e2eaug.models.layers import check_image, make_activation
from e2eaug.registry import GENERATORS


class SPADE(nn.Module):
    """Parameter-free instance norm, then ``x * (1 + gamma(mask)) + beta(mask)`` per pixel.

    Args:
        channels: feature channels to normalise.
        mask_channels: channels of the conditioning mask.
        hidden: channels of the shared 3x3 conv that embeds the resized mask.

    Output contract:
        ``forward(x [N, channels, h, w], mask [N, mask_channels, H, W])`` returns
        ``[N, channels, h, w]``; the mask is resized to ``h x w`` by nearest neighbour.
    """

    def __init__(self, channels: int, *, mask_channels: int = 1, hidden: int = 16) -> None:
        super().__init__()
        if min(channels, mask_channels, hidden) < 1:
            raise ValueError("SPADE: channels, mask_channels and hidden must be positive")
        self.mask_channels = mask_channels
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.embed = nn.Sequential(nn.Conv2d(mask_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` and modulate it by the mask (see the class doc)."""
        check_image(mask, self.mask_channels, "mask")
        segmap = self.embed(F.interpolate(mask, size=x.shape[-2:], mode="nearest"))
        return self.norm(x) * (1 + self.gamma(segmap)) + self.beta(segmap)


class SPADECell(nn.Module):
    """One decoder cell: a (mixed or chosen) transposed conv, SPADE, an activation.

    Args:
        conv: the cell's convolution, a :class:`~e2eaug.models.generator.MixedCell` of
            candidates (called with its weights) or one candidate.
        channels: its output channels.
        mask_channels: channels of the conditioning mask.
        hidden: SPADE's hidden channels.
        activation: a name of :func:`~e2eaug.models.layers.make_activation`.
    """

    def __init__(self, conv: nn.Module, channels: int, *, mask_channels: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.conv = conv
        self.spade = SPADE(channels, mask_channels=mask_channels, hidden=hidden)
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``activation(SPADE(conv(x), mask))``; ``weights`` mix a mixed conv's candidates."""
        h = self.conv(x) if weights is None else self.conv(x, weights)
        return self.activation(self.spade(h, mask))


@GENERATORS.register("spade")
@GENERATORS.register("spade_fixed")
class SPADEGenerator(SearchCells, UNetSkeleton):
    """SPADE-style generator (see the module doc): its convolutions mix every candidate
    (``genotype=None``, searched by ``alpha``) or keep the ones a genotype chose.

    Registered as ``spade``; ``spade_fixed`` is another name of the same builder.

    Args:
        genotype: ``None`` for a searched generator, else a :class:`Genotype`, its dict form or
            the path of a saved genotype file.
        in_channels: mask channels.
        out_channels: image channels.
        depth: down (and up) cells (default 3; with a genotype, its depth); sizes must be
            divisible by ``2**depth``.
        base_width: channels of the outermost cell; doubled per level.
        max_width: cap on the channels (default ``8 * base_width``).
        image_size: if given, checked at build time for divisibility by ``2**depth``.
        activation: ``None`` for LeakyReLU(0.2) down / ReLU up, or one name for every cell.
        hidden: channels of each SPADE's mask embedding.

    Output contract:
        ``forward(mask [N, in_channels, H, W], alpha)`` returns an image ``[N, out_channels, H,
        W]`` in ``[0, 1]``; ``alpha`` as for :class:`~e2eaug.models.UNetGenerator`.
    """

    skips = False

    def __init__(
        self,
        *,
        genotype: Optional[GenotypeLike] = None,
        in_channels: int = 1,
        out_channels: int = 3,
        depth: Optional[int] = None,
        base_width: int = 16,
        max_width: Optional[int] = None,
        image_size: Optional[int] = None,
        activation: Optional[str] = None,
        hidden: int = 16,
    ) -> None:
        cells, depth = CellFactory.of(genotype, depth, activation, default_depth=3)
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            depth=depth,
            base_width=base_width,
            max_width=max_width,
            image_size=image_size,
            down_cell=cells.down,
            up_cell=lambda j, cin, cout: SPADECell(
                cells.up_conv(j, cin, cout),
                cout,
                mask_channels=in_channels,
                hidden=hidden,
                activation=cells.up_activation,
            ),
        )
        self.genotype, self.activation, self.hidden = cells.genotype, cells.activation, hidden

    def _up(self, module, h, mask, weights):
        return module(h, mask, weights)
