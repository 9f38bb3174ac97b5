"""Classical augmentations: alignment of images and masks, binariness, determinism, geometry."""

import math

import pytest
import torch

from e2eaug.data import AffineWarp

def _blob(size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(1, size, size)
    top, left = torch.randint(4, size // 2, (2,), generator=g).tolist()
    mask[0, top : top + 10, left : left + 7] = 1
    mask[0, top + 2, left + 7 : left + 11] = 1  # asymmetric, so flips show
    return mask


def test_bilinear_images_stay_aligned_with_their_masks():
    warp = AffineWarp(max_degrees=40, max_fraction=0.2)
    masks = torch.stack([_blob(seed=s) for s in range(8)])
    params = warp.sample(8, torch.Generator().manual_seed(2))
    images, out_masks = warp.apply_images(masks.repeat(1, 3, 1, 1), params), warp.apply(masks, params)
    assert images.shape == (8, 3, 32, 32) and out_masks.shape == (8, 1, 32, 32)
    assert ((images.mean(1, keepdim=True) > 0.5).float() != out_masks).float().mean() < 0.02


def test_flips_are_exact_on_images_and_masks():
    images, masks = torch.rand(2, 3, 8, 12), torch.stack([_blob(seed=1)[:, :8, :12]] * 2)
    warp = AffineWarp(ops=("flip",), p_flip=1.0)
    params = warp.sample(2, torch.Generator().manual_seed(0))
    assert torch.allclose(warp.apply_images(images, params), images.flip(-1).flip(-2), atol=1e-6)
    assert torch.equal(warp.apply(masks, params), masks.flip(-1).flip(-2))


def test_rotation_does_not_shear_non_square_images():
    mask = torch.zeros(1, 1, 20, 40)
    mask[..., 7:13, 15:25] = 1  # 6 x 10 rectangle around the centre
    quarter = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])
    out = AffineWarp().apply(mask, quarter)
    rows, cols = out[0, 0].nonzero().unbind(1)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (10, 6)
    assert out.sum() == 60


def test_affine_warp_is_binary_deterministic_and_moves_masks():
    masks = torch.stack([_blob(seed=s) for s in range(8)])
    aug = AffineWarp(max_degrees=30, max_fraction=0.15)
    a = aug(masks, torch.Generator().manual_seed(0))
    b = aug(masks, torch.Generator().manual_seed(0))
    c = aug(masks, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and a.dtype == torch.float32
    assert a.shape == masks.shape
    assert sum(not torch.equal(x, y) for x, y in zip(a, masks)) >= 6
    params = aug.sample(8, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.equal(aug.apply(masks, params), a)  # sample + apply == __call__


def test_affine_warp_respects_its_ops():
    masks = torch.stack([_blob(seed=s) for s in range(6)])
    rotated = AffineWarp(ops=("rotate",), max_degrees=0)(masks, torch.Generator().manual_seed(0))
    assert torch.equal(rotated, masks)  # a zero-degree rotation is the identity
    flipped = AffineWarp(ops=("flip",), p_flip=1.0)(masks, torch.Generator().manual_seed(0))
    assert torch.equal(flipped, masks.flip(-1).flip(-2))


def test_rotation_angle_stays_within_the_limit():
    params = AffineWarp(ops=("rotate",), max_degrees=10).sample(200, torch.Generator().manual_seed(0))
    angles = torch.atan2(params[:, 1, 0], params[:, 0, 0]).abs()
    assert angles.max() <= math.radians(10) + 1e-6 and angles.max() > math.radians(8)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match=r"unknown augmentation op\(s\) \['shear'\]"):
        AffineWarp(ops=("shear",))
    with pytest.raises(ValueError, match="max_fraction=1.5"):
        AffineWarp(max_fraction=1.5)
    with pytest.raises(ValueError, match="need images"):
        AffineWarp().apply_images(torch.zeros(1, 8, 8), torch.zeros(1, 2, 3))


def test_intensity_jitter_scales_contrast_and_shifts_brightness_per_image_within_bounds():
    from e2eaug.data.transforms import intensity_jitter

    g = torch.Generator().manual_seed(0)
    images = 0.25 + 0.5 * torch.rand(64, 1, 8, 8, generator=g)
    out = intensity_jitter(images, 0.2, torch.Generator().manual_seed(1))
    assert 0 <= out.min() and out.max() <= 1
    mean, out_mean = images.mean((1, 2, 3)), out.mean((1, 2, 3))
    std, out_std = images.std((1, 2, 3)), out.std((1, 2, 3))
    assert ((out_mean - mean).abs() <= 0.2 + 1e-6).all() and (out_mean - mean).std() > 0.05
    assert ((out_std / std - 1).abs() <= 0.2 + 1e-4).all() and (out_std / std).std() > 0.05
    assert torch.equal(out, intensity_jitter(images, 0.2, torch.Generator().manual_seed(1)))
    assert torch.equal(intensity_jitter(images, 0.0, g).clamp(0, 1), images)


def test_classical_jitter_changes_the_images_only():
    from e2eaug.config import ConfigError
    from e2eaug.data import build_data
    from e2eaug.engines import build_engine
    from tests.core_helpers import tiny_config

    def augmenter(*extra):
        cfg = tiny_config(["augmenter.name=combine", *extra])
        return build_engine(cfg, build_data(cfg.data)).augmenter

    data = build_data(tiny_config().data)
    images, masks = data.train.images[:6], data.train.masks[:6]
    plain = augmenter().augment(images, masks, 3)
    jittered = augmenter("augmenter.jitter=0.3").augment(images, masks, 3)
    assert torch.equal(plain[1], jittered[1]) and not torch.allclose(plain[0], jittered[0])
    assert 0 <= jittered[0].min() and jittered[0].max() <= 1
    with pytest.raises(ConfigError, match="augmenter.jitter"):
        augmenter("augmenter.jitter=1.5")
