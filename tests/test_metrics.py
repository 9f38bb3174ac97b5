"""Dice and Jaccard on hand-made cases, conventions, thresholds and errors."""

import pytest
import torch

from e2eaug.metrics import binarize, dice_per_image, jaccard_per_image, segmentation_scores


def _square(top, left, side, size=10):
    m = torch.zeros(1, size, size)
    m[0, top : top + side, left : left + side] = 1
    return m


def test_overlapping_squares_by_hand():
    # 4x4 squares shifted by 2 columns: overlap 4x2 = 8, sizes 16 + 16, union 24
    pred, target = _square(0, 0, 4)[None], _square(0, 2, 4)[None]
    assert dice_per_image(pred, target).item() == pytest.approx(16 / 32)
    assert jaccard_per_image(pred, target).item() == pytest.approx(8 / 24)
    # 3x3 inside a 4x4: overlap 9, sizes 9 + 16, union 16; [N,H,W] input works too
    pred, target = _square(0, 0, 3), _square(0, 0, 4)
    assert dice_per_image(pred, target).item() == pytest.approx(18 / 25)
    assert jaccard_per_image(pred, target).item() == pytest.approx(9 / 16)


def test_perfect_disjoint_and_empty_conventions():
    a, empty = _square(1, 1, 3), torch.zeros(1, 10, 10)
    pred = torch.stack([a, a, empty, empty, a])
    target = torch.stack([a, _square(6, 6, 3), empty, a, empty])
    expected = [1.0, 0.0, 1.0, 0.0, 0.0]  # same, disjoint, both empty, one empty, one empty
    assert dice_per_image(pred, target).tolist() == expected
    assert jaccard_per_image(pred, target).tolist() == expected


def test_per_image_then_mean_differs_from_pooled():
    big, small = _square(0, 0, 8), _square(0, 0, 2)
    pred = torch.stack([big, torch.zeros_like(small)])
    target = torch.stack([big, small])
    assert dice_per_image(pred, target).mean().item() == pytest.approx(0.5)  # pooled: 128/132


def test_binarize_logits_and_probabilities():
    x = torch.tensor([-2.0, -0.1, 0.1, 0.6, 2.0])
    assert binarize(x).tolist() == [0, 0, 1, 1, 1]
    assert binarize(x, threshold=0.7).tolist() == [0, 0, 0, 0, 1]  # logit(0.7) = 0.847
    assert binarize(x, from_logits=False).tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="threshold must lie in \\(0, 1\\), got 1.5"):
        binarize(x, threshold=1.5)


def test_segmentation_scores_from_logits_and_probs():
    target = torch.stack([_square(0, 0, 4), _square(0, 0, 4)])
    logits = torch.full_like(target, -5.0)
    logits[0, 0, 0:4, 2:6] = 5.0  # half-overlapping square: dice 0.5, jaccard 1/3
    logits[1] = torch.where(target[1] > 0, 5.0, -5.0)  # perfect
    scores = segmentation_scores(logits, target)
    assert scores == pytest.approx({"dice": 0.75, "jaccard": (1 / 3 + 1) / 2})
    probs = torch.sigmoid(logits)
    assert segmentation_scores(probs, target, from_logits=False) == pytest.approx(scores)


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        dice_per_image(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))
    with pytest.raises(ValueError, match=r"expected \[N,H,W\] or \[N,1,H,W\]"):
        jaccard_per_image(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="empty batch"):
        segmentation_scores(torch.zeros(0, 1, 4, 4), torch.zeros(0, 1, 4, 4))
