"""Splits: deterministic, disjoint, sized, a test set fixed per dataset, nested training sets."""

import numpy as np
import pytest

from e2eaug.data import split_indices


@pytest.mark.parametrize("n,n_train,n_val,n_test", [(247, 9, 20, 192), (247, 35, 20, 192), (247, 175, 20, 52), (200, 40, 20, 140)])
def test_disjoint_sized_and_deterministic(n, n_train, n_val, n_test):
    train, val, test = split_indices(n, n_train, n_val, n_test, seed=3)
    assert (len(train), len(val), len(test)) == (n_train, n_val, n_test)
    assert len(set(train) | set(val) | set(test)) == n_train + n_val + n_test
    again = split_indices(n, n_train, n_val, n_test, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    other = split_indices(n, n_train, n_val, n_test, seed=4)
    assert not np.array_equal(train, other[0])


def test_the_test_set_depends_on_test_seed_alone():
    tests = {tuple(sorted(split_indices(247, k, 20, 192, seed=s)[2])) for k in (9, 35) for s in (0, 1, 2)}
    assert len(tests) == 1
    assert tuple(sorted(split_indices(247, 9, 20, 192, seed=0, test_seed=1)[2])) not in tests


def test_larger_training_sets_extend_smaller_ones_and_keep_validation():
    small, val_small, _ = split_indices(247, 9, 20, 192, seed=5)
    large, val_large, _ = split_indices(247, 35, 20, 192, seed=5)
    assert set(small) <= set(large) and np.array_equal(val_small, val_large)
    assert len(split_indices(12, 10, 0, 2, seed=0)[2]) == 2  # uses all pairs exactly


def test_bad_sizes_name_the_numbers():
    with pytest.raises(ValueError, match="n_train must be > 0, got 0"):
        split_indices(10, 0, 2, 2, seed=0)
    with pytest.raises(ValueError, match="n_val=-1"):
        split_indices(10, 2, -1, 2, seed=0)
    with pytest.raises(ValueError, match="n_test=0"):
        split_indices(10, 2, 2, 0, seed=0)
    with pytest.raises(ValueError, match="n_train=6 \\+ n_val=2 \\+ n_test=3 = 11 is larger than the 10 pairs"):
        split_indices(10, 6, 2, 3, seed=0)
