"""Segmentation level: the segmenter W trained on real pairs plus the augmenter's pairs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Tuple

import torch

from e2eaug.batching import StepBatcher, stream_seed
from e2eaug.config import ComponentConfig, OptimConfig, component
from e2eaug.hypergrad import HypergradConfig, IdentityConfig
from e2eaug.losses import segmentation_loss
from e2eaug.optim import build_optimizer
from e2eaug.registry import SEGMENTERS

from . import names
from .augmenter import Augmenter, Draw
from .base import BatchedProblem


@dataclass
class SegConfig:
    """The segmentation level: its model, optimizer, loss and learning-rate schedule.

    ``loss`` is ``bce_dice`` (BCE + soft Dice, chosen in ``benchmarks/results/seg_loss``) or
    ``bce``.

    ``hypergrad`` is how hypergradients pass through this level when there is an ``arch``
    level; the weight of the augmented pairs is the augmenter's ``lam``.
    """

    segmenter: ComponentConfig = component("segmenter", "unet", depth=3, base_width=16, norm="group")
    optimizer: OptimConfig = field(default_factory=lambda: OptimConfig("adam", 1e-3))
    loss: str = "bce_dice"
    batch_size: int = 8
    unroll_steps: int = 1
    plateau_patience: int = 0
    plateau_factor: float = 0.5
    hypergrad: HypergradConfig = field(default_factory=IdentityConfig)


def build_segmenter(cfg: SegConfig, channels: int) -> torch.nn.Module:
    """The segmenter ``cfg`` names, for images of ``channels`` channels (one output class)."""
    return SEGMENTERS.build(cfg.segmenter.name, in_channels=channels, num_classes=1, **cfg.segmenter.kwargs)


class SegmentationProblem(BatchedProblem):
    """Loss = ``L(S(image), mask) + lam * L(S(x), m)`` with ``(x, m)`` the augmenter's pairs.

    Each real step draws a batch of real pairs and, in :meth:`get_batch`, the augmenter's
    randomness for it (:meth:`Augmenter.draw`), which rides along in the batch, so Betty's
    hypergradient re-runs of :meth:`training_step` see the same draw. The augmenter's pairs keep
    their graph to its weights and to ``alpha``: that is how the segmentation loss reaches both.

    Args:
        cfg: the ``seg`` config section.
        segmenter: maps images ``[B,C,H,W]`` to logits ``[B,1,H,W]``.
        batcher: serves ``(images, masks)`` training batches.
        augmenter: makes the extra pairs (a Betty problem or a plain :class:`Augmenter`).
    """

    def __init__(
        self, cfg: SegConfig, segmenter: torch.nn.Module, batcher: StepBatcher, augmenter: Augmenter
    ) -> None:
        super().__init__(
            names.SEG,
            cfg.hypergrad.betty_config(cfg.unroll_steps),
            module=segmenter,
            optimizer=build_optimizer(cfg.optimizer, segmenter.parameters()),
            batcher=batcher,
        )
        self.settings = cfg
        self.augmenter = augmenter

    @classmethod
    def from_config(cls, cfg: SegConfig, data: Any, seed: int, augmenter: Augmenter) -> "SegmentationProblem":
        """Build the segmenter named in ``cfg`` for the data's channels."""
        segmenter = build_segmenter(cfg, data.channels)
        batcher = StepBatcher(
            [data.train.images, data.train.masks], cfg.batch_size, stream_seed(seed, "seg.batches")
        )
        return cls(cfg, segmenter, batcher, augmenter)

    def get_batch(self) -> Tuple[torch.Tensor, torch.Tensor, Draw]:
        """Real images and masks plus the augmenter's draw for them, once per real step."""
        step = self.draws
        images, masks = super().get_batch()
        return images, masks, self.augmenter.draw(images, masks, step)

    def training_step(self, batch):
        images, masks, drawn = batch
        loss = segmentation_loss(self.module(images), masks, self.settings.loss)
        lam = self.augmenter.settings.lam
        if lam > 0:
            pairs = self.augmenter.pairs(images, masks, drawn)
            if pairs is not None:
                extra_images, extra_masks = pairs
                loss = loss + lam * segmentation_loss(self.module(extra_images), extra_masks, self.settings.loss)
        return loss
