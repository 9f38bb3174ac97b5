"""Betty problems of e2eaug, one per level, and the augmenters (installed as ``e2eaug.problems``).

``ArchitectureProblem`` (alpha) -> ``SegmentationProblem`` (W) -> an augmenter: an
:class:`Augmenter` (no weights: ``none``, ``rotate``, ``flip``, ``translate``, ``combine``) or
an :class:`AugmenterProblem` (the Betty problem ``aug``: ``gan_joint``, ``e2eaug``; ``pix2pix``
trains only before the loop). New augmenters subclass one of the two and register in
:data:`e2eaug.registry.AUGMENTERS`.
"""

from . import names
from .architecture import ArchConfig, ArchitectureProblem
from .augmenter import Augmenter, AugmenterConfig, AugmenterProblem, Draw
from .base import BatchedProblem
from .classical import ClassicalAugmenter, ClassicalConfig, NoAugmentation, WarpDraw
from .gan import CoTrainedGAN, GANAugmenter, GANConfig, GANDraw, PretrainedGAN, SearchedGAN, WarpConfig
from .segmentation import SegConfig, SegmentationProblem

__all__ = [
    "names",
    "ArchConfig",
    "ArchitectureProblem",
    "Augmenter",
    "AugmenterConfig",
    "AugmenterProblem",
    "BatchedProblem",
    "ClassicalAugmenter",
    "ClassicalConfig",
    "CoTrainedGAN",
    "Draw",
    "GANAugmenter",
    "GANConfig",
    "GANDraw",
    "NoAugmentation",
    "PretrainedGAN",
    "SearchedGAN",
    "SegConfig",
    "SegmentationProblem",
    "WarpConfig",
    "WarpDraw",
]
