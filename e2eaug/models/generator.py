"""Mask-to-image U-Net generators, searched (DARTS cells) or built from a genotype.

The skeleton is the pix2pix U-Net generator (Isola et al. 2017): ``depth`` down-sampling cells,
``depth`` up-sampling cells with skip concatenation, and a 3x3 conv to the output channels.
:class:`UNetGenerator` is one builder for both forms, as every generator family here: with
``genotype=None`` each cell is a softmax-weighted sum of the candidates of
:mod:`e2eaug.models.search_space` (DARTS, Liu et al. 2019), the weights ``alpha`` an input of
``forward`` so that another Betty problem can own them; with a
:class:`~e2eaug.models.search_space.Genotype` each cell keeps the operator it names. The pieces
(:class:`CellFactory`, :class:`SearchCells`, :class:`UNetSkeleton`) also build the SPADE- and
ASAPNet-style families (:mod:`e2eaug.models.spade`, :mod:`e2eaug.models.asapnet`).

Norms carry no running statistics and there is no dropout: Betty re-runs forwards to compute
hypergradients, which must be deterministic functions of parameters and batch.
"""

from __future__ import annotations

from typing import Any, Callable, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from e2eaug.models.layers import check_divisible, check_image
from e2eaug.models.search_space import (
    DOWN_OPS,
    NUM_OPS,
    UP_OPS,
    Genotype,
    derive,
    down_op,
    up_conv,
    up_op,
)
from e2eaug.registry import GENERATORS
from e2eaug.utils import PathLike

#: A genotype, its dict form, or the path of a saved genotype file.
GenotypeLike = Union[Genotype, Mapping[str, Any], PathLike]
# (cell index, in_channels, out_channels, norm) -> down cell
DownFactory = Callable[[int, int, int, bool], nn.Module]
# (up-cell index, in_channels, out_channels) -> up cell
UpFactory = Callable[[int, int, int], nn.Module]


class MixedCell(nn.Module):
    """``sum_k w_k * op_k(x)`` over a list of candidate operators (DARTS mixed op)."""

    def __init__(self, ops: List[nn.Module]) -> None:
        super().__init__()
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Mix the candidates of ``x`` with ``weights`` ``[num_ops]``."""
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class CellFactory:
    """Builds a generator's cells from the search space: every candidate mixed, or one chosen.

    Args:
        genotype: ``None`` for a searchable generator (each cell a :class:`MixedCell` of all
            candidates), else the genotype whose operator each cell keeps.
        activation: ``None`` for pix2pix's LeakyReLU(0.2) down / ReLU up, or one name of
            :func:`~e2eaug.models.layers.make_activation` for every cell (``silu`` is smooth).
    """

    def __init__(self, genotype: Optional[Genotype], activation: Optional[str]) -> None:
        self.genotype = genotype
        self.activation = activation
        self.down_activation, self.up_activation = (
            ("leaky_relu", "relu") if activation is None else (activation, activation)
        )

    @classmethod
    def of(
        cls, genotype: Optional[GenotypeLike], depth: Optional[int], activation: Optional[str], default_depth: int
    ) -> Tuple["CellFactory", int]:
        """The cells of a generator family's builder and its depth: searched (``genotype`` None;
        ``depth`` or else ``default_depth``) or those of ``genotype`` (a genotype, its dict form
        or file; ``depth``, if given, must match it)."""
        if genotype is None:
            return cls(None, activation), default_depth if depth is None else depth
        genotype = Genotype.of(genotype)
        if depth is not None and depth != genotype.depth:
            raise ValueError(f"depth={depth} does not match the genotype's {genotype.depth} cells per side")
        return cls(genotype, activation), genotype.depth

    def _pick(self, side: str, index: int, build: Callable[[str], nn.Module]) -> nn.Module:
        if self.genotype is None:
            return MixedCell([build(name) for name in (DOWN_OPS if side == "down" else UP_OPS)])
        return build(getattr(self.genotype, side)[index])

    def down(self, index: int, in_channels: int, out_channels: int, norm: bool) -> nn.Module:
        """Down cell ``index``: conv (+ norm) + activation, halving the size."""
        return self._pick("down", index, lambda name: down_op(
            name, in_channels, out_channels, norm=norm, activation=self.down_activation
        ))

    def up(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        """Up cell ``index`` (innermost first): transposed conv + norm + activation."""
        return self._pick("up", index, lambda name: up_op(
            name, in_channels, out_channels, activation=self.up_activation
        ))

    def up_conv(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        """Up cell ``index``'s bare transposed convolution, for cells that add their own norm."""
        return self._pick("up", index, lambda name: up_conv(name, in_channels, out_channels))


class SearchCells:
    """What every generator family built from :class:`CellFactory` cells adds: searched (no
    ``genotype``), ``forward(mask, alpha)`` mixes each cell's candidates by ``softmax(alpha)``
    and :meth:`derive` gives the genotype; built from a genotype, ``forward(mask)`` runs the
    operators it chose. Rows of ``alpha`` are the down cells, then the up cells; columns the
    candidates."""

    #: Candidates per cell (columns of ``alpha``).
    num_ops = NUM_OPS
    num_cells: int
    genotype: Optional[Genotype]

    @property
    def searchable(self) -> bool:
        """Whether the architecture is searched (``alpha`` mixes the candidates)."""
        return self.genotype is None

    def _check_alpha(self, alpha: torch.Tensor) -> None:
        if alpha.shape != (self.num_cells, self.num_ops):
            raise ValueError(
                f"alpha must have shape [{self.num_cells}, {self.num_ops}] (num_cells, num_ops), "
                f"got {list(alpha.shape)}"
            )

    def cell_weights(self, alpha: torch.Tensor) -> torch.Tensor:
        """``softmax(alpha)`` per cell, after checking its shape."""
        self._check_alpha(alpha)
        return F.softmax(alpha, dim=-1)

    def derive(self, alpha: torch.Tensor) -> Genotype:
        """The genotype keeping the argmax candidate of each cell (a searched generator's)."""
        if not self.searchable:
            raise ValueError(f"{type(self).__name__} is built from a genotype already; it has no alpha to derive from")
        self._check_alpha(alpha)
        return derive(alpha)

    def forward(self, mask: torch.Tensor, alpha: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Images in ``[0, 1]`` for masks: under ``alpha`` when searched, else with ``alpha=None``."""
        if self.searchable:
            if alpha is None:
                raise ValueError(f"{type(self).__name__} is searched: call it with alpha [num_cells, num_ops]")
            return self._run(mask, self.cell_weights(alpha))
        if alpha is not None:
            raise ValueError(f"{type(self).__name__} is built from a genotype and has no alpha; call it with alpha=None")
        return self._run(mask, None)


def is_searchable(generator: nn.Module) -> bool:
    """Whether ``generator`` takes architecture weights ``alpha`` (a searched generator, or a
    plug-in with ``derive`` and no ``genotype``)."""
    return hasattr(generator, "derive") and getattr(generator, "genotype", None) is None


class UNetSkeleton(nn.Module):
    """pix2pix U-Net skeleton whose cells come from factories; see the module docstring.

    Down cell ``i`` maps width ``w[i]`` (``in_channels`` for ``i = 0``) to ``w[i + 1]`` at half
    the size; it has a norm except in the outermost and innermost cells (as pix2pix: the
    innermost map may be 1x1). Up cell ``j`` maps the previous output, concatenated with the
    matching skip (``j > 0``, when :attr:`skips`), to ``w[depth - 1 - j]`` at twice the size.
    A 3x3 conv maps ``w[0]`` to ``out_channels`` (:meth:`logits`).
    """

    #: Concatenate each down cell's output to the input of the matching up cell (pix2pix).
    skips = True

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        depth: int,
        base_width: int,
        max_width: Optional[int],
        image_size: Optional[int],
        down_cell: DownFactory,
        up_cell: UpFactory,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if min(in_channels, out_channels, base_width) < 1:
            raise ValueError("in_channels, out_channels and base_width must be positive")
        max_width = 8 * base_width if max_width is None else max_width
        if max_width < base_width:
            raise ValueError(f"max_width ({max_width}) must be >= base_width ({base_width})")
        if image_size is not None:
            check_divisible([image_size], depth, type(self).__name__)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.depth, self.image_size = depth, image_size
        self.base_width, self.max_width = base_width, max_width
        # widths[i + 1]: output of down cell i; widths[0]: output of the last up cell
        widths = [base_width] + [min(base_width * 2**i, max_width) for i in range(depth)]
        down_in = [in_channels] + widths[1:depth]
        skip = 2 if self.skips else 1
        up_in = [widths[depth]] + [skip * widths[depth - j] for j in range(1, depth)]
        self.down = nn.ModuleList(
            down_cell(i, down_in[i], widths[i + 1], 0 < i < depth - 1) for i in range(depth)
        )
        self.up = nn.ModuleList(up_cell(j, up_in[j], widths[depth - 1 - j]) for j in range(depth))
        self.head = nn.Conv2d(base_width, out_channels, 3, padding=1)

    @property
    def num_cells(self) -> int:
        """Number of cells: ``depth`` down cells, then ``depth`` up cells."""
        return 2 * self.depth

    def _up(
        self, module: nn.Module, h: torch.Tensor, mask: torch.Tensor, weights: Optional[torch.Tensor]
    ) -> torch.Tensor:
        """Run one up cell (subclasses may feed it the mask too)."""
        return module(h) if weights is None else module(h, weights)

    def logits(self, mask: torch.Tensor, weights: Optional[torch.Tensor]) -> torch.Tensor:
        """The head's output ``[N, out_channels, H, W]`` before any squashing; ``weights``
        ``[num_cells, num_ops]`` mix the candidates of mixed cells (``None`` for fixed cells)."""
        check_image(mask, self.in_channels, "mask")
        check_divisible(mask.shape[-2:], self.depth, type(self).__name__)

        skips = []
        h = mask
        for i, module in enumerate(self.down):
            h = module(h) if weights is None else module(h, weights[i])
            skips.append(h)
        skips.pop()
        for j, module in enumerate(self.up):
            if j > 0 and self.skips:
                h = torch.cat([skips.pop(), h], dim=1)
            h = self._up(module, h, mask, None if weights is None else weights[self.depth + j])
        return self.head(h)

    def _run(self, mask: torch.Tensor, weights: Optional[torch.Tensor]) -> torch.Tensor:
        """The image in ``[0, 1]``: ``(tanh(logits) + 1) / 2``."""
        return (torch.tanh(self.logits(mask, weights)) + 1) / 2


@GENERATORS.register("unet")
@GENERATORS.register("searchable")
@GENERATORS.register("fixed")
class UNetGenerator(SearchCells, UNetSkeleton):
    """Mask-to-image U-Net (the pix2pix skeleton): its cells mix every candidate operator
    (``genotype=None``, searched by ``alpha``, DARTS) or keep the ones a genotype chose.

    Registered as ``unet``; ``searchable`` and ``fixed`` are other names of the same builder.

    Args:
        genotype: ``None`` for a searched generator, else a :class:`Genotype`, its dict form or
            the path of a saved genotype file.
        in_channels: mask channels.
        out_channels: image channels.
        depth: number of down (and of up) cells (default 3; with a genotype, its depth);
            sizes must be divisible by ``2**depth``.
        base_width: channels of the outermost cell; doubled per level.
        max_width: cap on the channels (default ``8 * base_width``).
        image_size: if given, checked at build time for divisibility by ``2**depth``.
        activation: ``None`` for pix2pix's LeakyReLU(0.2) down / ReLU up, or one name of
            :func:`~e2eaug.models.layers.make_activation` for every cell (``silu`` is smooth).

    Output contract:
        ``forward(mask [N, in_channels, H, W], alpha)`` returns an image ``[N, out_channels, H,
        W]`` in ``[0, 1]`` (``(tanh(x) + 1) / 2``). Searched, ``alpha [num_cells, num_ops]``
        weighs each cell's candidates by ``softmax(alpha[cell])``, rows ``0..depth-1`` the down
        cells, ``depth..2*depth-1`` the up cells; from a genotype, ``alpha`` is ``None``.
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
            up_cell=cells.up,
        )
        self.genotype = cells.genotype
        self.activation = activation

    @classmethod
    def from_searchable(cls, generator: "UNetGenerator", alpha: torch.Tensor) -> "UNetGenerator":
        """The derived generator of ``generator`` under ``alpha``, with the chosen ops' weights.

        Args:
            generator: the trained searchable generator.
            alpha: its architecture weights ``[num_cells, num_ops]``.

        Returns:
            UNetGenerator: keeps the argmax op per cell, with that op's (and the head's)
            weights copied; with a strongly peaked ``alpha`` both compute the same function.
        """
        genotype = generator.derive(alpha)
        fixed = cls(
            genotype=genotype,
            in_channels=generator.in_channels,
            out_channels=generator.out_channels,
            base_width=generator.base_width,
            max_width=generator.max_width,
            image_size=generator.image_size,
            activation=generator.activation,
        )
        chosen = alpha.detach().argmax(dim=1).tolist()
        cells = zip([*generator.down, *generator.up], [*fixed.down, *fixed.up])
        for index, (mixed, single) in enumerate(cells):
            single.load_state_dict(mixed.ops[chosen[index]].state_dict())
        fixed.head.load_state_dict(generator.head.state_dict())
        return fixed.to(generator.head.weight.device)
