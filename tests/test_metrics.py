"""Dice and Jaccard on hand-made cases."""

import pytest
import torch

from e2eaug.metrics import dice_per_image, jaccard_per_image


def _square(top, left, side, size=10):
    m = torch.zeros(1, size, size)
    m[0, top : top + side, left : left + side] = 1
    return m


def test_overlapping_squares_by_hand():
    # 4x4 squares shifted by 2 columns: overlap 4x2 = 8, sizes 16 + 16
    pred, target = _square(0, 0, 4)[None], _square(0, 2, 4)[None]
    assert dice_per_image(pred, target).item() == pytest.approx(2 * 8 / 32)
    assert jaccard_per_image(pred, target).item() == pytest.approx(8 / 24)


def test_perfect_disjoint_and_empty_conventions():
    a, empty = _square(1, 1, 3), torch.zeros(1, 10, 10)
    pred = torch.stack([a, a, empty, empty, a])
    target = torch.stack([a, _square(6, 6, 3), empty, a, empty])
    assert dice_per_image(pred, target).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert jaccard_per_image(pred, target).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]


def test_per_image_then_mean_differs_from_pooled():
    big, small = _square(0, 0, 8), _square(0, 0, 2)
    pred = torch.stack([big, torch.zeros_like(small)])
    target = torch.stack([big, small])
    assert dice_per_image(pred, target).mean().item() == pytest.approx(0.5)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        dice_per_image(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))
