"""Splits: deterministic, disjoint, sized, nested, and bad sizes refused."""

import numpy as np
import pytest

from e2eaug.data import split_indices


@pytest.mark.parametrize("n,n_train,n_val", [(247, 9, 20), (247, 35, 20), (247, 175, 20), (200, 40, 100)])
def test_disjoint_sized_and_deterministic(n, n_train, n_val):
    train, val, test = split_indices(n, n_train, n_val, seed=3)
    assert (len(train), len(val), len(test)) == (n_train, n_val, n - n_train - n_val)
    assert len(set(train) | set(val) | set(test)) == n
    again = split_indices(n, n_train, n_val, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    other = split_indices(n, n_train, n_val, seed=4)
    assert not np.array_equal(train, other[0])


def test_n_test_takes_part_of_the_rest_and_train_sets_nest():
    train, val, test = split_indices(50, 10, 5, seed=0, n_test=7)
    assert len(test) == 7 and not set(test) & (set(train) | set(val))
    assert set(split_indices(50, 5, 5, seed=0)[0]) <= set(train)
    assert len(split_indices(12, 10, 0, seed=0, n_test=2)[2]) == 2  # uses all pairs exactly


def test_bad_sizes_name_the_numbers():
    with pytest.raises(ValueError, match="n_train must be > 0, got 0"):
        split_indices(10, 0, 2, seed=0)
    with pytest.raises(ValueError, match="n_val=-1"):
        split_indices(10, 2, -1, seed=0)
    with pytest.raises(ValueError, match="n_test=0"):
        split_indices(10, 2, 2, seed=0, n_test=0)
    with pytest.raises(ValueError, match="n_train=8 \\+ n_val=5 = 13 is larger than the 10 pairs"):
        split_indices(10, 8, 5, seed=0)
    with pytest.raises(ValueError, match="\\+ n_test=3 = 11 is larger than the 10 pairs"):
        split_indices(10, 6, 2, seed=0, n_test=3)
    with pytest.raises(ValueError, match="test split is empty"):
        split_indices(10, 8, 2, seed=0)
