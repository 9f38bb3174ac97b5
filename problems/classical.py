"""Augmenters without weights: real pairs only, and the classical joint image-mask warps.

These are the paper's classical baselines. ``rotate``, ``flip``, ``translate`` and ``combine``
(all three, in a random order per sample) warp each real pair with one random affine map and
add the warped pairs to the segmentation loss with weight ``lam``, as generated pairs are.
With no weights the engine trains the segmenter alone. ``jitter`` adds a classical appearance
change to any of them: a random contrast and brightness of each warped image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

import torch

from e2eaug.config import ConfigError
from e2eaug.data.transforms import OPS, AffineWarp, intensity_jitter
from e2eaug.registry import AUGMENTERS

from .augmenter import Augmenter, AugmenterConfig, Draw, Pairs


@dataclass
class WarpDraw(Draw):
    """Real pairs warped (and jittered) for one step."""

    images: torch.Tensor
    masks: torch.Tensor


@dataclass
class NoAugmentationConfig(AugmenterConfig):
    """``augmenter: {name: none}``: nothing but the real pairs (``lam`` is not used)."""

    name: str = "none"


@AUGMENTERS.register("none")
class NoAugmentation(Augmenter):
    """The segmenter trains on the real pairs alone."""

    config_class = NoAugmentationConfig


@dataclass
class ClassicalConfig(AugmenterConfig):
    """A classical warp: rotation angle in ``[-max_degrees, max_degrees]``, shifts up to
    ``max_fraction`` of the side, each flip axis with probability ``p_flip``; with ``jitter``
    ``m`` > 0, each warped image's contrast is also scaled by up to ``1 +- m`` and its
    brightness shifted by up to ``+- m`` (``e2eaug.data.transforms.intensity_jitter``)."""

    name: str = "combine"
    max_degrees: float = 30.0
    max_fraction: float = 0.1
    p_flip: float = 0.5
    jitter: float = 0.0


class ClassicalAugmenter(Augmenter):
    """Warps each real pair with one random affine map of the ops in :attr:`ops`."""

    config_class = ClassicalConfig
    ops: Tuple[str, ...] = OPS

    def __init__(self, cfg: ClassicalConfig, data: Any, seed: int) -> None:
        super().__init__(cfg, data, seed)
        if not 0 <= cfg.jitter < 1:  # at 1 the contrast could vanish
            raise ConfigError(f"augmenter.jitter must be in [0, 1), got {cfg.jitter}")
        self.warp = AffineWarp(self.ops, cfg.max_degrees, cfg.max_fraction, cfg.p_flip)

    def draw(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> WarpDraw:
        generator = self.generator(step)
        params = self.warp.sample(len(masks), generator, masks.device)
        warped = self.warp.apply_images(images, params)
        if self.settings.jitter:  # drawn last: the warps stay as without it
            warped = intensity_jitter(warped, self.settings.jitter, generator)
        return WarpDraw(warped, self.warp.apply(masks, params))

    def pairs(self, images: torch.Tensor, masks: torch.Tensor, drawn: WarpDraw) -> Optional[Pairs]:
        return drawn.images, drawn.masks


@AUGMENTERS.register("rotate")
class RotateAugmenter(ClassicalAugmenter):
    """Rotations of the real pairs."""

    ops = ("rotate",)


@AUGMENTERS.register("flip")
class FlipAugmenter(ClassicalAugmenter):
    """Horizontal and vertical flips of the real pairs."""

    ops = ("flip",)


@AUGMENTERS.register("translate")
class TranslateAugmenter(ClassicalAugmenter):
    """Translations of the real pairs."""

    ops = ("translate",)


@AUGMENTERS.register("combine")
class CombineAugmenter(ClassicalAugmenter):
    """Rotation, flips and translation of the real pairs, in a random order per sample."""

    ops = OPS
