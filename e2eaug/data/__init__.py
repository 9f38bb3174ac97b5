"""Data: synthetic generators, folder datasets, splits, augmentations, previews."""

from e2eaug.data.build import DataBundle, build_data
from e2eaug.data.dataset import PairDataset, to_channels
from e2eaug.data.folder import LAYOUTS, load_folder
from e2eaug.data.preview import save_pair_grid, save_preview
from e2eaug.data.splits import split_indices
from e2eaug.data.synthetic import DOMAINS, SYNTHETIC_TASKS, make_synthetic
from e2eaug.data.transforms import AffineWarp, intensity_jitter

__all__ = [
    "DOMAINS",
    "LAYOUTS",
    "SYNTHETIC_TASKS",
    "AffineWarp",
    "DataBundle",
    "PairDataset",
    "build_data",
    "intensity_jitter",
    "load_folder",
    "make_synthetic",
    "save_pair_grid",
    "save_preview",
    "split_indices",
    "to_channels",
]
