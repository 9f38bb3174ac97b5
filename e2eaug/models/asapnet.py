"""ASAPNet-style mask-to-image generators (Rott Shaham et al. 2021), searched or from a genotype.

A-Spatially-Adaptive-Pixelwise network: a convolutional network that runs at low resolution
predicts, for every low-resolution pixel, the weights and biases of a small MLP; the parameter
maps are bilinearly upsampled and each full-resolution pixel is mapped by its own MLP, whose
input is the full-resolution mask value and sinusoidal encodings of the pixel's coordinates.
The low-resolution network is the U-Net skeleton of :mod:`e2eaug.models.generator` on the mask
average-pooled by ``2**scale``, so its cells are the same search space: ``alpha`` rows are its
down cells then its up cells, and :meth:`derive` and genotype files work as for the U-Net.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from e2eaug.models.generator import CellFactory, GenotypeLike, SearchCells, UNetSkeleton
from e2eaug.models.layers import check_divisible, check_image
from e2eaug.registry import GENERATORS


def positional_encoding(height: int, width: int, frequencies: int, like: torch.Tensor) -> torch.Tensor:
    """``sin`` and ``cos`` of ``2**k * pi * y`` and ``* x`` for ``k < frequencies``, with ``x, y``
    the pixel centres in ``[-1, 1]``: ``[1, 4 * frequencies, height, width]`` (dtype and device
    of ``like``)."""
    ys = (torch.arange(height, dtype=like.dtype, device=like.device) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=like.dtype, device=like.device) + 0.5) / width * 2 - 1
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    bands = []
    for k in range(frequencies):
        for coordinate in (y, x):
            angle = (2**k * math.pi) * coordinate
            bands += [torch.sin(angle), torch.cos(angle)]
    return torch.stack(bands).unsqueeze(0) if bands else like.new_zeros(1, 0, height, width)


@GENERATORS.register("asapnet")
@GENERATORS.register("asapnet_fixed")
class ASAPNetGenerator(SearchCells, nn.Module):
    """ASAPNet-style generator (see the module doc): the low-resolution trunk's cells mix every
    candidate (``genotype=None``, searched by ``alpha``) or keep the ones a genotype chose.

    Registered as ``asapnet``; ``asapnet_fixed`` is another name of the same builder.

    Args:
        genotype: ``None`` for a searched generator, else a :class:`Genotype`, its dict form or
            the path of a saved genotype file.
        in_channels: mask channels.
        out_channels: image channels.
        depth: down (and up) cells of the low-resolution trunk (default 2; with a genotype, its
            depth).
        base_width: channels of the trunk's outermost cell; doubled per level.
        max_width: cap on the trunk's channels (default ``8 * base_width``).
        image_size: if given, checked at build time for divisibility by ``2**(scale + depth)``.
        activation: ``None`` for LeakyReLU(0.2) down / ReLU up, or one name for every cell.
        scale: the trunk runs at ``1 / 2**scale`` of the input resolution.
        mlp_width: hidden features of the pixelwise MLP.
        mlp_layers: its layers (ReLU between them).
        frequencies: octaves of the coordinates' sinusoidal encoding (``4 * frequencies`` inputs).

    Output contract:
        ``forward(mask [N, in_channels, H, W], alpha)`` returns an image ``[N, out_channels, H,
        W]`` in ``[0, 1]``, ``H, W`` divisible by ``2**(scale + depth)``; ``alpha`` as for
        :class:`~e2eaug.models.UNetGenerator`, over the trunk's cells.
    """

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
        scale: int = 2,
        mlp_width: int = 8,
        mlp_layers: int = 3,
        frequencies: int = 3,
    ) -> None:
        super().__init__()
        cells, depth = CellFactory.of(genotype, depth, activation, default_depth=2)
        bounds = {"scale": (scale, 0), "frequencies": (frequencies, 0), "mlp_width": (mlp_width, 1),
                  "mlp_layers": (mlp_layers, 1)}
        for key, (value, least) in bounds.items():
            if value < least:
                raise ValueError(f"{type(self).__name__}: {key} must be >= {least}, got {value}")
        widths = [in_channels + 4 * frequencies] + [mlp_width] * (mlp_layers - 1) + [out_channels]
        #: (in, out) features of each MLP layer
        self.layers: List[Tuple[int, int]] = list(zip(widths[:-1], widths[1:]))
        self.trunk = UNetSkeleton(
            in_channels=in_channels,
            out_channels=sum(cout * cin + cout for cin, cout in self.layers),
            depth=depth,
            base_width=base_width,
            max_width=max_width,
            image_size=None,
            down_cell=cells.down,
            up_cell=cells.up,
        )
        if image_size is not None:
            check_divisible([image_size], scale + depth, type(self).__name__ + " (2**(scale + depth))")
        self.in_channels, self.out_channels, self.depth = in_channels, out_channels, depth
        self.base_width, self.max_width, self.image_size = base_width, self.trunk.max_width, image_size
        self.genotype, self.activation, self.scale = cells.genotype, cells.activation, scale
        self.mlp_width, self.mlp_layers, self.frequencies = mlp_width, mlp_layers, frequencies

    @property
    def num_cells(self) -> int:
        """Cells of the low-resolution trunk: ``depth`` down, then ``depth`` up."""
        return self.trunk.num_cells

    def _run(self, mask: torch.Tensor, weights: Optional[torch.Tensor]) -> torch.Tensor:
        check_image(mask, self.in_channels, "mask")
        check_divisible(mask.shape[-2:], self.scale + self.depth, type(self).__name__ + " (2**(scale + depth))")
        n, _, height, width = mask.shape
        params = self.trunk.logits(F.avg_pool2d(mask, 2**self.scale) if self.scale else mask, weights)
        params = F.interpolate(params, size=(height, width), mode="bilinear", align_corners=False)
        coords = positional_encoding(height, width, self.frequencies, mask).expand(n, -1, -1, -1)
        h = torch.cat([mask, coords], dim=1)
        offset = 0
        for index, (cin, cout) in enumerate(self.layers):
            weight = params[:, offset : offset + cout * cin].reshape(n, cout, cin, height, width)
            bias = params[:, offset + cout * cin : offset + cout * cin + cout]
            offset += cout * cin + cout
            # fan-in scaling keeps the initial MLP's outputs of order one
            h = torch.einsum("noihw,nihw->nohw", weight, h) / math.sqrt(cin) + bias
            if index < len(self.layers) - 1:
                h = F.relu(h)
        return (torch.tanh(h) + 1) / 2
