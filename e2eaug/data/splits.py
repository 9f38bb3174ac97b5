"""Deterministic, disjoint train/val/test splits with a test set fixed per dataset."""

from __future__ import annotations

from typing import Tuple

import numpy as np


def split_indices(
    n: int, n_train: int, n_val: int, n_test: int, seed: int, test_seed: int = 0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut ``range(n)`` into train, val and test indices.

    The test split (``n_test`` items) is drawn first, from ``test_seed`` alone, so it is the
    same whatever ``n_train``, ``n_val`` and ``seed`` are: runs of every training size and seed
    are scored on the same images. Validation and training items come from the rest, shuffled
    by ``seed``: validation first, then training, so a larger ``n_train`` with the same seed
    extends the training set and keeps the validation set.

    Args:
        n: number of items.
        n_train: training items (> 0).
        n_val: validation items (>= 0).
        n_test: test items (> 0).
        seed: shuffles the non-test items.
        test_seed: chooses the test items.

    Returns:
        Three disjoint index arrays ``(train, val, test)``.

    Raises:
        ValueError: ``n_train <= 0``, ``n_val < 0``, ``n_test <= 0``, or more items asked for
            than ``n`` holds.
    """
    if n_train <= 0:
        raise ValueError(f"n_train must be > 0, got {n_train}")
    if n_val < 0 or n_test <= 0:
        raise ValueError(f"n_val must be >= 0 and n_test > 0, got n_val={n_val}, n_test={n_test}")
    wanted = n_train + n_val + n_test
    if wanted > n:
        raise ValueError(
            f"split of n_train={n_train} + n_val={n_val} + n_test={n_test} = {wanted} "
            f"is larger than the {n} pairs available"
        )
    test = np.random.default_rng(test_seed).permutation(n)[:n_test]
    rest = np.setdiff1d(np.arange(n), test)
    rest = rest[np.random.default_rng(seed).permutation(len(rest))]
    return rest[n_val : n_val + n_train], rest[:n_val], test
