"""Deterministic, disjoint train/val/test splits."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def split_indices(
    n: int, n_train: int, n_val: int, seed: int, n_test: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into train, val and test indices.

    Args:
        n: number of items.
        n_train: training items (> 0).
        n_val: validation items (>= 0).
        seed: shuffling seed; the same seed gives the same split.
        n_test: test items; ``None`` takes all the rest.

    Returns:
        Three disjoint index arrays ``(train, val, test)``; a larger ``n_train`` with the same
        seed extends the training set.

    Raises:
        ValueError: ``n_train <= 0``, ``n_val < 0``, ``n_test <= 0``, more items asked for than
            ``n`` holds, or an empty test split.
    """
    if n_train <= 0:
        raise ValueError(f"n_train must be > 0, got {n_train}")
    if n_val < 0 or (n_test is not None and n_test <= 0):
        raise ValueError(f"n_val must be >= 0 and n_test > 0, got n_val={n_val}, n_test={n_test}")
    wanted = n_train + n_val + (n_test or 0)
    if wanted > n:
        raise ValueError(
            f"split of n_train={n_train} + n_val={n_val}"
            + (f" + n_test={n_test}" if n_test else "")
            + f" = {wanted} is larger than the {n} pairs available"
        )
    if n_test is None and wanted == n:
        raise ValueError(f"n_train={n_train} + n_val={n_val} uses all {n} pairs: the test split is empty")
    order = np.random.default_rng(seed).permutation(n)
    train, val = order[:n_train], order[n_train : n_train + n_val]
    rest = order[n_train + n_val :]
    test = rest if n_test is None else rest[:n_test]
    return train, val, test
