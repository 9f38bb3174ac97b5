"""Build a run's train/val/test datasets from its :class:`~e2eaug.config.DataConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np
import torch

from e2eaug.config import DataConfig
from e2eaug.data.dataset import PairDataset
from e2eaug.data.folder import load_folder
from e2eaug.data.splits import split_indices
from e2eaug.data.synthetic import make_synthetic

SOURCES = ("synthetic", "folder")


@dataclass
class DataBundle:
    """The splits of a run: ``tests`` maps test-set names to datasets."""

    train: PairDataset
    val: PairDataset
    tests: Dict[str, PairDataset]
    channels: int


def _synthetic(task: str, domain: str, n: int, size: int, seed: int, prefix: str) -> PairDataset:
    images, masks = make_synthetic(task, domain, n, size, seed)
    names = [f"{prefix}_{i:05d}" for i in range(n)]
    return PairDataset(torch.from_numpy(images), torch.from_numpy(masks.astype(np.float32)), names)


def build_data(cfg: DataConfig) -> DataBundle:
    """Train/val/test splits as ``cfg`` describes (see :class:`~e2eaug.config.DataConfig`)."""
    if cfg.source == "synthetic":
        n = cfg.n_train + cfg.n_val + cfg.n_test
        pool = _synthetic(cfg.task, "id", n, cfg.image_size, cfg.seed, f"{cfg.task}_id")
        train, val, test = split_indices(n, cfg.n_train, cfg.n_val, cfg.seed, cfg.n_test)
        tests = {"id": pool.subset(test)}
        for domain in cfg.shifted_domains:
            # another seed stream: no shifted image is a transformed copy of a training image
            tests[domain] = _synthetic(cfg.task, domain, cfg.n_test, cfg.image_size, cfg.seed + 1, f"{cfg.task}_{domain}")
    elif cfg.source == "folder":
        if not cfg.root:
            raise ValueError("data.root must name a folder when data.source is 'folder'")
        pool = load_folder(cfg.root, cfg.layout, cfg.image_size, cfg.channels)
        train, val, test = split_indices(len(pool), cfg.n_train, cfg.n_val, cfg.seed)
        tests = {"test": pool.subset(test)}
        for extra in cfg.extra_tests:
            if extra.name in tests:
                raise ValueError(f"data.extra_tests: duplicate test set name {extra.name!r}")
            tests[extra.name] = load_folder(extra.root, extra.layout, cfg.image_size, pool.channels)
    else:
        raise ValueError(f"unknown data.source {cfg.source!r}; known: {', '.join(SOURCES)}")
    return DataBundle(pool.subset(train), pool.subset(val), tests, pool.channels)
