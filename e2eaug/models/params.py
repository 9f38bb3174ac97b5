"""Parameter counts of the model presets; ``python -m e2eaug.models.params`` prints the table.

Models are built on the ``meta`` device, so even the paper preset costs no memory. Importing
this module imports :mod:`e2eaug.models`, whose ``__init__`` registers every model.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch
from torch import nn

from e2eaug.models.search_space import DOWN_OPS, UP_OPS
from e2eaug.registry import DISCRIMINATORS, GENERATORS, SEGMENTERS, Registry


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameter elements of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _pix2pix_genotype(depth: int) -> Dict[str, List[str]]:
    """The genotype using the 4x4 convs everywhere, i.e. pix2pix's layers."""
    return {"down": [next(iter(DOWN_OPS))] * depth, "up": [next(iter(UP_OPS))] * depth}


# preset -> rows of (registry, name, kwargs); the paper preset is sized for 256 px images.
PRESETS: Dict[str, List[Tuple[Registry, str, Dict[str, Any]]]] = {
    "tiny": [
        (GENERATORS, "unet", {"depth": 3, "base_width": 16}),
        (GENERATORS, "unet", {"genotype": _pix2pix_genotype(3), "base_width": 16}),
        (DISCRIMINATORS, "patch", {"base_width": 16, "n_layers": 2}),
        (SEGMENTERS, "unet", {"depth": 3, "base_width": 16}),
        (SEGMENTERS, "deeplabv3", {"backbone": "resnet18"}),
    ],
    "paper": [
        (GENERATORS, "unet", {"depth": 8, "base_width": 64}),
        (GENERATORS, "unet", {"genotype": _pix2pix_genotype(8), "base_width": 64}),
        (DISCRIMINATORS, "patch", {"base_width": 64, "n_layers": 3}),
        (SEGMENTERS, "unet", {"depth": 4, "base_width": 64}),
        (SEGMENTERS, "deeplabv3", {"backbone": "resnet50"}),
    ],
}


def _describe(kwargs: Dict[str, Any]) -> str:
    shown = {k: ("pix2pix (all 4-2-1)" if k == "genotype" else v) for k, v in kwargs.items()}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def parameter_table() -> str:
    """Markdown table of parameter counts for every preset row (and alpha for searched generators)."""
    lines = ["| preset | kind | name | kwargs | parameters |", "|---|---|---|---|---:|"]
    for preset, rows in PRESETS.items():
        for registry, name, kwargs in rows:
            with torch.device("meta"):
                model = registry.build(name, **kwargs)
            count = f"{count_parameters(model):,}"
            if getattr(model, "searchable", False):
                count += f" (+ alpha {model.num_cells}x{model.num_ops})"
            lines.append(f"| {preset} | {registry.kind} | {name} | {_describe(kwargs)} | {count} |")
    return "\n".join(lines)


def main() -> None:
    """Print :func:`parameter_table`."""
    print(parameter_table())


if __name__ == "__main__":
    main()
