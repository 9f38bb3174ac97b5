"""Segmentation level: the segmenter W trained on real pairs plus generated pairs."""

from __future__ import annotations

from typing import Any, Tuple

import torch

from e2eaug.batching import StepBatcher
from e2eaug.config import SegConfig
from e2eaug.data.transforms import MaskAugmenter
from e2eaug.losses import segmentation_loss
from e2eaug.optim import build_optimizer
from e2eaug.registry import SEGMENTERS

from . import names
from .base import BatchedProblem, betty_config


class SegmentationProblem(BatchedProblem):
    """Loss = ``L(S(image), mask) + lam * L(S(G(aug(mask))), aug(mask))``.

    Each real step draws a batch of real pairs and augments its masks (rotate, flip, translate
    in random order) once, in :meth:`get_batch`, from a generator seeded by the draw count. The
    augmented masks ride along in the batch, so Betty's hypergradient re-runs of
    :meth:`training_step` see the same masks. The generated images keep their graph to the
    augmenter's weights and to ``alpha``, which is how the segmentation loss reaches both.

    Args:
        cfg: the ``seg`` config section.
        segmenter: maps images ``[B,C,H,W]`` to logits ``[B,1,H,W]``.
        batcher: serves ``(images, masks)`` training batches.
        seed: seeds the per-step mask augmentations.
    """

    def __init__(
        self, cfg: SegConfig, segmenter: torch.nn.Module, batcher: StepBatcher, seed: int
    ) -> None:
        super().__init__(
            names.SEG,
            betty_config(cfg.hypergrad, cfg.unroll_steps),
            module=segmenter,
            optimizer=build_optimizer(cfg.optimizer, segmenter.parameters()),
            batcher=batcher,
        )
        self.settings = cfg
        self.seed = seed
        self.mask_aug = MaskAugmenter(
            ops=tuple(cfg.mask_aug.ops),
            max_degrees=cfg.mask_aug.max_degrees,
            max_fraction=cfg.mask_aug.max_fraction,
            p_flip=cfg.mask_aug.p_flip,
        )

    @classmethod
    def from_config(cls, cfg: SegConfig, data: Any, seed: int) -> "SegmentationProblem":
        """Build the segmenter named in ``cfg`` for the data's channels."""
        kwargs = {"in_channels": data.channels, "num_classes": 1, **cfg.segmenter.kwargs}
        segmenter = SEGMENTERS.build(cfg.segmenter.name, **kwargs)
        batcher = StepBatcher([data.train.images, data.train.masks], cfg.batch_size, seed + 2)
        return cls(cfg, segmenter, batcher, seed)

    def get_batch(self) -> Tuple[torch.Tensor, ...]:
        """Real images and masks plus their augmented masks, drawn once per real step."""
        images, masks = super().get_batch()
        generator = torch.Generator(device=masks.device)
        generator.manual_seed(self.seed * 1_000_003 + self.draws)
        return images, masks, self.mask_aug(masks, generator)

    def generated_pairs(self, aug_masks: torch.Tensor) -> torch.Tensor:
        """Images the augmenter makes from the augmented masks (graph kept)."""
        return getattr(self, names.GAN).generate(aug_masks)

    def training_step(self, batch):
        images, masks, aug_masks = batch
        loss = segmentation_loss(self.module(images), masks, self.settings.loss)
        if self.settings.lam > 0:
            fake = self.generated_pairs(aug_masks)
            loss = loss + self.settings.lam * segmentation_loss(
                self.module(fake), aug_masks, self.settings.loss
            )
        return loss
