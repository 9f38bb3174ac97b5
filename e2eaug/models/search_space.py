"""The generator's architecture search space, as data (after DARTS, Liu et al. 2019).

Every down-sampling cell of :class:`~e2eaug.models.generator.UNetGenerator` mixes the
candidates of :data:`DOWN_OPS`, every up-sampling cell those of :data:`UP_OPS`. All candidates
exactly halve (down) or double (up) an even spatial size, so their outputs can be summed.
A :class:`Genotype` records the operator chosen per cell and saves to YAML.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Union

import torch
import yaml
from torch import nn

from e2eaug.models.layers import make_activation
from e2eaug.utils import PathLike, atomic_write_text


@dataclass(frozen=True)
class ConvSpec:
    """Kernel size, stride and padding of one candidate (transposed) convolution."""

    kernel_size: int
    stride: int
    padding: int


def _table(prefix: str, specs: List[ConvSpec]) -> Dict[str, ConvSpec]:
    return {f"{prefix}_{s.kernel_size}_{s.stride}_{s.padding}": s for s in specs}


_SPECS = [ConvSpec(4, 2, 1), ConvSpec(6, 2, 2), ConvSpec(8, 2, 3)]

#: Down-sampling candidates, in the order of the columns of ``alpha``: Conv2d (k, s, p).
DOWN_OPS: Dict[str, ConvSpec] = _table("conv", _SPECS)
#: Up-sampling candidates, in the order of the columns of ``alpha``: ConvTranspose2d (k, s, p).
UP_OPS: Dict[str, ConvSpec] = _table("upconv", _SPECS)
#: Number of candidates per cell (the same for down and up cells).
NUM_OPS = len(DOWN_OPS)


def down_conv(name: str, in_channels: int, out_channels: int, *, bias: bool = True) -> nn.Conv2d:
    """The bare convolution of candidate ``name`` of :data:`DOWN_OPS`: ``[N, in, H, W]`` ->
    ``[N, out, H/2, W/2]``."""
    spec = _lookup(DOWN_OPS, name, "down")
    return nn.Conv2d(in_channels, out_channels, spec.kernel_size, spec.stride, spec.padding, bias=bias)


def up_conv(name: str, in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    """The bare transposed convolution (no bias: a norm follows) of candidate ``name`` of
    :data:`UP_OPS`: ``[N, in, H, W]`` -> ``[N, out, 2H, 2W]``."""
    spec = _lookup(UP_OPS, name, "up")
    return nn.ConvTranspose2d(
        in_channels, out_channels, spec.kernel_size, spec.stride, spec.padding, bias=False
    )


def down_op(
    name: str, in_channels: int, out_channels: int, *, norm: bool, activation: str = "leaky_relu"
) -> nn.Sequential:
    """Candidate ``name`` of :data:`DOWN_OPS`: conv (+ instance norm) + activation.

    Args:
        name: a key of :data:`DOWN_OPS`.
        in_channels: input channels.
        out_channels: output channels.
        norm: add an affine InstanceNorm (no running statistics) after the conv.
        activation: a name of :func:`~e2eaug.models.layers.make_activation` (pix2pix: leaky_relu).

    Returns:
        nn.Sequential: maps ``[N, in, H, W]`` to ``[N, out, H/2, W/2]``.
    """
    layers: List[nn.Module] = [down_conv(name, in_channels, out_channels, bias=not norm)]
    if norm:
        layers.append(nn.InstanceNorm2d(out_channels, affine=True))
    layers.append(make_activation(activation))
    return nn.Sequential(*layers)


def up_op(name: str, in_channels: int, out_channels: int, *, activation: str = "relu") -> nn.Sequential:
    """Candidate ``name`` of :data:`UP_OPS`: transposed conv + affine InstanceNorm + activation
    (pix2pix: relu).

    Returns:
        nn.Sequential: maps ``[N, in, H, W]`` to ``[N, out, 2H, 2W]``.
    """
    return nn.Sequential(
        up_conv(name, in_channels, out_channels),
        nn.InstanceNorm2d(out_channels, affine=True),
        make_activation(activation),
    )


def _lookup(table: Mapping[str, ConvSpec], name: str, kind: str) -> ConvSpec:
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {kind} op {name!r}; known: {', '.join(table)}") from None


@dataclass
class Genotype:
    """The operator chosen in each cell of the generator.

    Attributes:
        down: one :data:`DOWN_OPS` name per down-sampling cell, outermost first.
        up: one :data:`UP_OPS` name per up-sampling cell, innermost first.
    """

    down: List[str]
    up: List[str]

    def __post_init__(self) -> None:
        self.down, self.up = list(self.down), list(self.up)
        if not self.down or len(self.down) != len(self.up):
            raise ValueError(
                f"a genotype needs as many up as down cells (at least one); "
                f"got {len(self.down)} down and {len(self.up)} up"
            )
        for name in self.down:
            _lookup(DOWN_OPS, name, "down")
        for name in self.up:
            _lookup(UP_OPS, name, "up")

    @property
    def depth(self) -> int:
        """Number of down (= up) cells."""
        return len(self.down)

    def to_dict(self) -> Dict[str, List[str]]:
        """Plain-data form ``{"down": [...], "up": [...]}``."""
        return {"down": list(self.down), "up": list(self.up)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Genotype":
        """Inverse of :meth:`to_dict`; unknown keys or op names raise ``ValueError``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a genotype must be a mapping with keys down, up; got {data!r}")
        if set(data) != {"down", "up"}:
            raise ValueError(f"a genotype has exactly the keys down, up; got {sorted(data)}")
        for key in ("down", "up"):
            if not isinstance(data[key], list) or not all(isinstance(n, str) for n in data[key]):
                raise ValueError(f"genotype {key!r} must be a list of op names, got {data[key]!r}")
        return cls(down=data["down"], up=data["up"])

    @classmethod
    def of(cls, value: Union["Genotype", Mapping[str, Any], PathLike]) -> "Genotype":
        """A genotype, its dict form, or the path of a saved genotype file, as a genotype."""
        if isinstance(value, Genotype):
            return value
        if isinstance(value, (str, os.PathLike)):
            return cls.load(value)
        return cls.from_dict(value)

    def save(self, path: PathLike) -> None:
        """Write the genotype to ``path`` as YAML, atomically."""
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: PathLike) -> "Genotype":
        """Read a genotype saved by :meth:`save`; errors name the file."""
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            return cls.from_dict(yaml.safe_load(text))
        except (yaml.YAMLError, ValueError) as err:
            raise ValueError(f"invalid genotype file {str(path)!r}: {err}") from err


def derive(alpha: torch.Tensor) -> Genotype:
    """The genotype with the strongest candidate (argmax) in each cell.

    Args:
        alpha: architecture weights ``[num_cells, NUM_OPS]``, down cells first, then up cells
            (``num_cells`` even).

    Returns:
        Genotype: the discrete architecture.
    """
    if alpha.dim() != 2 or alpha.shape[1] != NUM_OPS or alpha.shape[0] % 2 or alpha.shape[0] == 0:
        raise ValueError(f"alpha must have shape [2 * depth, {NUM_OPS}], got {list(alpha.shape)}")
    best = alpha.detach().argmax(dim=1).tolist()
    depth = len(best) // 2
    down_names, up_names = list(DOWN_OPS), list(UP_OPS)
    return Genotype(
        down=[down_names[i] for i in best[:depth]], up=[up_names[i] for i in best[depth:]]
    )


class ArchitectureParams(nn.Module):
    """Holds the architecture weights ``alpha``, outside the generator.

    The Betty architecture problem owns this module; the generator reads ``alpha`` as an input
    of its forward. Initialised as ``1e-3 * randn`` (DARTS).

    Args:
        num_cells: number of cells (rows of ``alpha``).
        num_ops: candidates per cell (columns of ``alpha``).
    """

    def __init__(self, num_cells: int, num_ops: int = NUM_OPS) -> None:
        super().__init__()
        self.alpha = nn.Parameter(1e-3 * torch.randn(num_cells, num_ops))

    @classmethod
    def for_generator(cls, generator: nn.Module) -> "ArchitectureParams":
        """Architecture weights sized for ``generator`` (which has ``num_cells``, ``num_ops``)."""
        return cls(generator.num_cells, generator.num_ops)
