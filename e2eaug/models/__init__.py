"""Models: searchable/fixed mask-to-image generators, PatchGAN discriminator, segmenters.

Importing this package registers every model in :mod:`e2eaug.registry` (generators
``searchable``, ``fixed`` (pix2pix U-Net), ``spade``, ``spade_fixed``, ``asapnet``,
``asapnet_fixed``; discriminator ``patch``; segmenters ``unet``, ``deeplabv3``, and ``smp``,
which needs the ``smp`` extra only when it is built).
"""

from e2eaug.models.asapnet import FixedASAPNetGenerator, SearchableASAPNetGenerator
from e2eaug.models.deeplab import DeepLabV3
from e2eaug.models.discriminator import PatchDiscriminator
from e2eaug.models.generator import FixedGenerator, MixedCell, SearchableGenerator
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
from e2eaug.models.spade import SPADE, FixedSPADEGenerator, SearchableSPADEGenerator
from e2eaug.models.unet import UNet

__all__ = [
    "DOWN_OPS",
    "NUM_OPS",
    "UP_OPS",
    "ArchitectureParams",
    "ConvSpec",
    "DeepLabV3",
    "FixedASAPNetGenerator",
    "FixedGenerator",
    "FixedSPADEGenerator",
    "Genotype",
    "MixedCell",
    "PatchDiscriminator",
    "SMPSegmenter",
    "SPADE",
    "SearchableASAPNetGenerator",
    "SearchableGenerator",
    "SearchableSPADEGenerator",
    "UNet",
    "derive",
]
