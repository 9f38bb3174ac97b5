"""HD95 and NSD (e2eaug.boundary, through MONAI) on hand-made masks, and in evaluation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from e2eaug.boundary import hd95_per_image, nsd_per_image
from e2eaug.data import PairDataset
from e2eaug.evaluation import evaluate_segmenter


def _square(top: int, left: int, side: int = 10, size: int = 32) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., top : top + side, left : left + side] = 1
    return mask


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_squares_shifted_by_k_pixels_are_k_apart(k):
    a = _square(5, 5)
    for b in (_square(5, 5 + k), _square(5 + k, 5)):
        assert hd95_per_image(a, b).item() == pytest.approx(k, abs=1e-6)
        assert hd95_per_image(b, a).item() == pytest.approx(k, abs=1e-6)
        assert nsd_per_image(a, b, tolerance=k).item() == pytest.approx(1.0, abs=1e-6)


def test_nsd_of_squares_shifted_beyond_the_tolerance_is_the_hand_count():
    # 10 x 10 squares, the second 3 px to the right; boundary = 36 pixels each. Of the first's,
    # the left column (10) is 3 px from the other boundary; the top and bottom rows (9 each
    # beyond the corner) lie within 2 px (on it from column 3, 2 and 1 px before); of the right
    # column's 8 inner pixels the 4 within 2 rows of the top or bottom are within 2 px.
    # By symmetry the same holds for the second: NSD = 2 * (9 + 9 + 4) / (2 * 36). At tolerance
    # 0 only the 7 + 7 shared pixels of the top and bottom rows count: 2 * 14 / 72.
    a, b = _square(5, 5), _square(5, 8)
    assert nsd_per_image(a, b, tolerance=2).item() == pytest.approx(22 / 36, abs=1e-6)
    assert nsd_per_image(a, b, tolerance=0).item() == pytest.approx(28 / 72, abs=1e-6)


def _edges(mask: np.ndarray) -> np.ndarray:
    """Foreground pixels with a background 4-neighbour (outside the image counts as background)."""
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return np.argwhere(mask & ~inner)


def test_against_a_brute_force_reference_on_blobs():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    masks = []
    for _ in range(4):
        cy, cx, r = rng.uniform(10, 22), rng.uniform(10, 22), rng.uniform(4, 9)
        masks.append(((yy - cy) ** 2 + ((xx - cx) * rng.uniform(0.7, 1.3)) ** 2) < r**2)
    pred, target = np.stack(masks[:2]), np.stack(masks[2:])
    hd = hd95_per_image(torch.from_numpy(pred), torch.from_numpy(target))
    nsd = nsd_per_image(torch.from_numpy(pred), torch.from_numpy(target), tolerance=1.5)
    for i in range(2):
        ep, et = _edges(pred[i]), _edges(target[i])
        d = np.sqrt(((ep[:, None, :] - et[None, :, :]) ** 2).sum(-1))
        pt, tp = d.min(1), d.min(0)
        ref_hd = max(np.percentile(pt, 95), np.percentile(tp, 95))
        ref_nsd = ((pt <= 1.5).sum() + (tp <= 1.5).sum()) / (len(pt) + len(tp))
        assert hd[i].item() == pytest.approx(ref_hd, rel=1e-6)
        assert nsd[i].item() == pytest.approx(ref_nsd, rel=1e-6)


def test_empty_mask_conventions_are_finite():
    empty, square = torch.zeros(1, 1, 32, 24), torch.zeros(1, 1, 32, 24)
    square[..., 4:12, 4:12] = 1
    pred = torch.cat([empty, square, empty])
    target = torch.cat([empty, empty, square])
    assert hd95_per_image(pred, target).tolist() == pytest.approx([0.0, math.hypot(32, 24), math.hypot(32, 24)])
    assert nsd_per_image(pred, target).tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="NSD tolerance"):
        nsd_per_image(pred, target, tolerance=-1)


class _Constant(torch.nn.Module):
    """Predicts a fixed mask whatever the image (logits +-10)."""

    def __init__(self, masks: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("logits", masks * 20 - 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.logits[: len(image)]


def test_evaluation_reports_boundary_metrics_only_when_asked():
    target = torch.cat([_square(5, 5), torch.zeros(1, 1, 32, 32)])
    pred = torch.cat([_square(5, 8), torch.zeros(1, 1, 32, 32)])
    data = PairDataset(torch.rand(2, 1, 32, 32), target, ["shifted", "empty"])
    plain = evaluate_segmenter(_Constant(pred), data, "cpu")
    assert "hd95" not in plain and "nsd" not in plain
    out = evaluate_segmenter(_Constant(pred), data, "cpu", per_image=True, boundary=True)
    assert out["hd95"] == pytest.approx(1.5) and out["nsd"] == pytest.approx((22 / 36 + 1) / 2)
    assert out["nsd_tolerance"] == 2.0
    assert out["per_image"][1] == {"image": "empty", "dice": 1.0, "jaccard": 1.0, "hd95": 0.0, "nsd": 1.0}
    json.dumps(out, allow_nan=False)  # strict JSON
