"""Betty problems of e2eaug, one per level, and the augmenters (installed as ``e2eaug.problems``).

``ArchitectureProblem`` (alpha) -> ``SegmentationProblem`` (W) -> an augmenter: an
:class:`Augmenter` (no weights: ``none``, ``rotate``, ``flip``, ``translate``, ``combine``;
``pix2pix``, trained before the loop) or an :class:`AugmenterProblem` (the Betty problem
``aug``: ``gan_joint``, ``e2eaug``). New augmenters subclass one of the two and register in
:data:`e2eaug.registry.AUGMENTERS`.
"""

from . import names
from .architecture import ArchConfig, ArchitectureProblem
from .augmenter import Augmenter, AugmenterConfig, AugmenterProblem
from .base import BatchedProblem
from .classical import ClassicalAugmenter, ClassicalConfig, NoAugmentation
from .gan import E2EAugAugmenter, GANAugmenter, GANConfig, JointGANAugmenter, MaskAugConfig, Pix2PixAugmenter
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
    "E2EAugAugmenter",
    "GANAugmenter",
    "GANConfig",
    "JointGANAugmenter",
    "MaskAugConfig",
    "NoAugmentation",
    "Pix2PixAugmenter",
    "SegConfig",
    "SegmentationProblem",
]
