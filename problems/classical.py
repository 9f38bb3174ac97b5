"""Augmenters without weights: real pairs only, the classical joint image-mask warps, and
nnU-Net's default augmentation.

``rotate``, ``flip``, ``translate`` and ``combine`` (all three) warp each real pair with one
random affine map (the paper's classical baselines); ``nnunet`` applies nnU-Net v2's default 2D
training augmentation (``e2eaug.data.transforms.NNUNetTransform``). The augmented pairs join
the real ones in the segmentation loss with weight ``lam``, as generated pairs do. With no
weights the engine trains the segmenter alone. ``jitter`` adds a classical appearance change
to the affine warps: a random contrast and brightness of each warped image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import torch

from e2eaug.config import ConfigError
from e2eaug.data.transforms import build_warp
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
    ``max_fraction`` of the shorter side, each flip axis with probability ``p_flip``; with
    ``jitter`` ``m`` > 0, each warped image's contrast is also scaled by a factor in
    ``[1 - m, 1 + m]`` about its mean and its brightness shifted by up to ``+- m``. ``nnunet``
    reads none of them: its settings are nnU-Net's."""

    name: str = "combine"
    max_degrees: float = 30.0
    max_fraction: float = 0.1
    p_flip: float = 0.5
    jitter: float = 0.0


class ClassicalAugmenter(Augmenter):
    """Augments each real pair with the transform its name stands for
    (``e2eaug.data.transforms.build_warp``)."""

    config_class = ClassicalConfig
    #: The transform's name in ``e2eaug.data.transforms.WARPS``.
    warp: ClassVar[str] = "combine"

    def __init__(self, cfg: ClassicalConfig, data: Any, seed: int) -> None:
        super().__init__(cfg, data, seed)
        if not 0 <= cfg.jitter < 1:  # at 1 the contrast could vanish
            raise ConfigError(f"augmenter.jitter must be in [0, 1), got {cfg.jitter}")
        self.transform = build_warp(self.warp, cfg.max_degrees, cfg.max_fraction, cfg.p_flip, cfg.jitter)

    def draw(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> WarpDraw:
        return WarpDraw(*self.transform(images, masks, self.generator(step)))

    def pairs(self, images: torch.Tensor, masks: torch.Tensor, drawn: WarpDraw) -> Optional[Pairs]:
        return drawn.images, drawn.masks


@AUGMENTERS.register("rotate")
class RotateAugmenter(ClassicalAugmenter):
    """Rotations of the real pairs."""

    warp = "rotate"


@AUGMENTERS.register("flip")
class FlipAugmenter(ClassicalAugmenter):
    """Horizontal and vertical flips of the real pairs."""

    warp = "flip"


@AUGMENTERS.register("translate")
class TranslateAugmenter(ClassicalAugmenter):
    """Translations of the real pairs."""

    warp = "translate"


@AUGMENTERS.register("combine")
class CombineAugmenter(ClassicalAugmenter):
    """Flips, rotation and translation of the real pairs."""

    warp = "combine"


@AUGMENTERS.register("nnunet")
class NNUNetAugmenter(ClassicalAugmenter):
    """nnU-Net v2's default 2D training augmentation of the real pairs: rotation, scaling,
    noise, blur, brightness, contrast, low resolution, gamma and mirroring, each with nnU-Net's
    probability and range."""

    warp = "nnunet"
