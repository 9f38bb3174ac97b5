"""Build a run's train/val/test datasets from its :class:`~e2eaug.config.DataConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import torch

from e2eaug.batching import stream_seed
from e2eaug.config import DataConfig, TestSetConfig
from e2eaug.data.dataset import PairDataset, to_channels
from e2eaug.data.folder import load_folder
from e2eaug.data.splits import split_indices
from e2eaug.data.synthetic import make_synthetic

SOURCES = ("synthetic", "folder")


@dataclass
class DataBundle:
    """The splits of a run: ``tests`` maps test-set names to datasets; ``channels`` is C."""

    train: PairDataset
    val: PairDataset
    tests: Dict[str, PairDataset]
    channels: int


def _synthetic(cfg: DataConfig, domain: str, n: int, stream: str) -> PairDataset:
    seed = stream_seed(cfg.test_seed if stream == "test" else cfg.seed, f"data.{stream}")
    images, masks = make_synthetic(cfg.task, domain, n, cfg.image_size, seed)
    images = torch.from_numpy(images)
    if cfg.channels is not None:
        images = to_channels(images, cfg.channels)
    names = [f"{cfg.task}_{domain}_{stream}_{i:05d}" for i in range(n)]
    return PairDataset(images, torch.from_numpy(masks), names)


def _check_names(names: Sequence[str], taken: List[str], key: str) -> None:
    for name in names:
        if not name:
            raise ValueError(f"{key}: a test set has an empty name")
        if name in taken:
            raise ValueError(f"{key}: test set name {name!r} is used twice (taken: {', '.join(taken)})")
        taken.append(name)


def load_test_sets(
    cfg: DataConfig, extras: Sequence[TestSetConfig], channels: int, taken: List[str], key: str
) -> Dict[str, PairDataset]:
    """Folder test sets ``{name: pairs}`` at ``cfg``'s size and bit depth and ``channels``.

    Args:
        cfg: the run's data section.
        extras: the test sets (``data.extra_tests``, or ``evaluate --test NAME=DIR``).
        channels: the run's image channels.
        taken: test-set names already used (extended with the new ones).
        key: the config key or option the sets come from, for error messages.

    Raises:
        ValueError: an empty or repeated name, or an empty root. FileNotFoundError and
            ValueError of :func:`load_folder`, prefixed with ``key`` and the name, for a folder
            that is missing or not a dataset.
    """
    _check_names([extra.name for extra in extras], taken, key)
    tests = {}
    for i, extra in enumerate(extras):
        if not extra.root:
            raise ValueError(f"{key}[{i}] ({extra.name!r}): root must name a folder")
        try:
            tests[extra.name] = load_folder(extra.root, extra.layout, cfg.image_size, channels, cfg.bit_depth)
        except (OSError, ValueError) as err:
            raise type(err)(f"{key} {extra.name!r}: {err}") from err
    return tests


def build_data(cfg: DataConfig) -> DataBundle:
    """Train/val/test splits as ``cfg`` describes.

    ``synthetic``: validation then training pairs of domain ``id`` from the stream of ``seed``
    (item ``i`` is the same whatever ``n_train``), and tests ``{"id": ..., <domain>: ...}`` with
    ``n_test`` pairs each from the stream of ``test_seed``. ``folder``: :func:`load_folder` of
    ``cfg.root`` cut by :func:`split_indices`; the test split is ``tests["test"]``, and each
    ``cfg.extra_tests`` entry adds a folder test set at the same size and channels.

    Raises:
        ValueError: unknown source/task/domain/layout, bad split sizes, missing root, or a
            test-set name used twice. FileNotFoundError: missing folders.
    """
    taken: List[str] = []
    if cfg.source == "synthetic":
        if cfg.n_train <= 0 or cfg.n_val < 0 or cfg.n_test <= 0:
            raise ValueError(
                f"need data.n_train > 0, n_val >= 0, n_test > 0; got {cfg.n_train}, {cfg.n_val}, {cfg.n_test}"
            )
        _check_names(["id", *cfg.shifted_domains], taken, "data.shifted_domains")
        pool = _synthetic(cfg, "id", cfg.n_val + cfg.n_train, "trainval")
        val, train = torch.arange(cfg.n_val), torch.arange(cfg.n_val, cfg.n_val + cfg.n_train)
        tests = {domain: _synthetic(cfg, domain, cfg.n_test, "test") for domain in ["id", *cfg.shifted_domains]}
    elif cfg.source == "folder":
        if not cfg.root:
            raise ValueError("data.root must name a folder when data.source is 'folder'")
        pool = load_folder(cfg.root, cfg.layout, cfg.image_size, cfg.channels, cfg.bit_depth)
        train, val, test = split_indices(len(pool), cfg.n_train, cfg.n_val, cfg.n_test, cfg.seed, cfg.test_seed)
        tests = {"test": pool.subset(test)}
        tests.update(load_test_sets(cfg, cfg.extra_tests, pool.channels, ["test"], "data.extra_tests"))
    else:
        raise ValueError(f"unknown data.source {cfg.source!r}; known: {', '.join(SOURCES)}")
    return DataBundle(pool.subset(train), pool.subset(val), tests, pool.channels)
