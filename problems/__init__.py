"""Betty problems of e2eaug, one per level (installed as ``e2eaug.problems``).

``ArchitectureProblem`` (alpha) -> ``SegmentationProblem`` (W) -> an ``AugmenterProblem``
(G; ``GANProblem`` by default). New augmenters subclass :class:`AugmenterProblem` and register
in :data:`e2eaug.registry.AUGMENTERS`.
"""

from . import names
from .architecture import ArchitectureProblem
from .augmenter import AugmenterProblem
from .base import BatchedProblem, betty_config
from .gan import GANProblem
from .segmentation import SegmentationProblem

__all__ = [
    "names",
    "ArchitectureProblem",
    "AugmenterProblem",
    "BatchedProblem",
    "GANProblem",
    "SegmentationProblem",
    "betty_config",
]
