"""Data: synthetic generators, folder datasets, splits, augmentations, previews."""

from e2eaug.data.build import DataBundle, build_data
from e2eaug.data.dataset import PairDataset, to_channels
from e2eaug.data.folder import LAYOUTS, load_folder
from e2eaug.data.preview import save_pair_grid, save_preview
from e2eaug.data.splits import split_indices
from e2eaug.data.synthetic import DOMAINS, SYNTHETIC_TASKS, make_synthetic
from e2eaug.data.transforms import WARPS, AffineWarp, NNUNetTransform, Transform, build_warp

__all__ = [
    "DOMAINS",
    "LAYOUTS",
    "NNUNetTransform",
    "SYNTHETIC_TASKS",
    "Transform",
    "WARPS",
    "AffineWarp",
    "DataBundle",
    "PairDataset",
    "build_data",
    "build_warp",
    "load_folder",
    "make_synthetic",
    "save_pair_grid",
    "save_preview",
    "split_indices",
    "to_channels",
]
