"""Architecture level: the generator's operator weights ``alpha`` (DARTS, Liu et al. 2019)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from betty.configs import Config

from e2eaug.batching import StepBatcher, stream_seed
from e2eaug.config import OptimConfig
from e2eaug.losses import segmentation_loss
from e2eaug.optim import build_optimizer

from . import names
from .base import BatchedProblem


@dataclass
class ArchConfig:
    """The architecture level: ``alpha`` minimises the segmentation loss on validation pairs."""

    optimizer: OptimConfig = field(
        default_factory=lambda: OptimConfig("adam", 3e-3, [0.5, 0.999], 0.0, 1e-3)
    )
    batch_size: int = 8


class ArchitectureProblem(BatchedProblem):
    """Minimises the segmenter's loss on validation pairs over ``alpha``.

    ``alpha`` does not enter this loss directly: its whole gradient is the hypergradient Betty
    returns along the paths arch -> seg -> arch and arch -> seg -> aug -> arch, with the
    methods configured on the seg and augmenter levels.

    Args:
        cfg: the ``arch`` config section.
        alpha_module: the module holding ``alpha`` (from the augmenter).
        batcher: serves ``(images, masks)`` validation batches.
        loss: segmentation loss kind, the same as the segmentation level's.
    """

    def __init__(
        self, cfg: ArchConfig, alpha_module: torch.nn.Module, batcher: StepBatcher, loss: str
    ) -> None:
        super().__init__(
            names.ARCH,
            Config(type="darts", first_order=True),
            module=alpha_module,
            optimizer=build_optimizer(cfg.optimizer, alpha_module.parameters()),
            batcher=batcher,
        )
        self.loss_kind = loss

    @classmethod
    def from_config(
        cls, cfg: ArchConfig, alpha_module: torch.nn.Module, data: Any, seed: int, loss: str
    ) -> "ArchitectureProblem":
        """Build the problem over the validation split."""
        batcher = StepBatcher(
            [data.val.images, data.val.masks], cfg.batch_size, stream_seed(seed, "arch.batches")
        )
        return cls(cfg, alpha_module, batcher, loss)

    def training_step(self, batch):
        images, masks = batch
        segmenter = getattr(self, names.SEG).module
        return segmentation_loss(segmenter(images), masks, self.loss_kind)
