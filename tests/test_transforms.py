"""Joint and mask-only augmentations: alignment, binariness, determinism."""

import pytest
import torch

from e2eaug.data import JOINT_AUGMENTATIONS, MaskAugmenter, build_joint_augmentation


def _blob(size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(1, size, size)
    top, left = torch.randint(4, size // 2, (2,), generator=g).tolist()
    mask[0, top : top + 10, left : left + 7] = 1
    return mask


@pytest.mark.parametrize("name", sorted(JOINT_AUGMENTATIONS))
def test_image_equal_to_mask_stays_equal(name):
    aug = build_joint_augmentation(name, image_mode="nearest", max_degrees=40, max_fraction=0.2, p_flip=0.5, seed=1)
    for seed in range(6):
        mask = _blob(seed=seed)
        image, out_mask = aug(mask.clone(), mask.clone())
        assert torch.equal(image, out_mask)
        assert set(out_mask.unique().tolist()) <= {0.0, 1.0}


def test_bilinear_image_stays_aligned_with_mask():
    aug = build_joint_augmentation("combined", max_degrees=40, max_fraction=0.2, seed=2)
    mask = _blob()
    image, out_mask = aug(mask.repeat(3, 1, 1), mask)
    assert image.shape == (3, 32, 32)
    assert (image.mean(0) - out_mask).abs().mean() < 0.05


def test_joint_ops_change_something_and_are_seeded():
    mask = _blob()
    for name in ("rotate", "flip", "translate", "combined"):
        outs = [build_joint_augmentation(name, p_flip=1.0, max_degrees=60, max_fraction=0.2, seed=7)(mask, mask)[1] for _ in range(2)]
        assert torch.equal(outs[0], outs[1])
        assert not torch.equal(outs[0], mask), name


def test_mask_augmenter_is_binary_deterministic_and_moves_masks():
    masks = torch.stack([_blob(seed=s) for s in range(8)])
    aug = MaskAugmenter(max_degrees=30, max_fraction=0.15)
    a = aug(masks, torch.Generator().manual_seed(0))
    b = aug(masks, torch.Generator().manual_seed(0))
    c = aug(masks, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert a.shape == masks.shape
    assert sum(not torch.equal(x, y) for x, y in zip(a, masks)) >= 6


def test_unknown_names_are_errors():
    with pytest.raises(ValueError, match="unknown augmentation 'zoom'"):
        build_joint_augmentation("zoom")
    with pytest.raises(ValueError, match="unknown augmentation op"):
        MaskAugmenter(ops=("shear",))
