"""Models: mask-to-image generators (searched or from a genotype), PatchGAN discriminator,
segmenters.

Importing this package registers every model in :mod:`e2eaug.registry`: one builder per
generator family, ``unet`` (pix2pix U-Net; also named ``searchable`` and ``fixed``), ``spade``
(also ``spade_fixed``) and ``asapnet`` (also ``asapnet_fixed``), each searched unless given a
``genotype``; discriminator ``patch``; segmenters ``unet``, ``deeplabv3``, and ``smp``, which
needs the ``smp`` extra only when it is built.
"""

from e2eaug.models.asapnet import ASAPNetGenerator
from e2eaug.models.deeplab import DeepLabV3
from e2eaug.models.discriminator import PatchDiscriminator
from e2eaug.models.generator import MixedCell, UNetGenerator, is_searchable
from e2eaug.models.search_space import (
    DOWN_OPS,
    NUM_OPS,
    UP_OPS,
    ArchitectureParams,
    ConvSpec,
    Genotype,
    derive,
)
from e2eaug.models.smp import SMPSegmenter
from e2eaug.models.spade import SPADE, SPADEGenerator
from e2eaug.models.unet import UNet

__all__ = [
    "DOWN_OPS",
    "NUM_OPS",
    "UP_OPS",
    "ASAPNetGenerator",
    "ArchitectureParams",
    "ConvSpec",
    "DeepLabV3",
    "Genotype",
    "MixedCell",
    "PatchDiscriminator",
    "SMPSegmenter",
    "SPADE",
    "SPADEGenerator",
    "UNet",
    "UNetGenerator",
    "derive",
    "is_searchable",
]
