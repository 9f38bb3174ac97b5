"""Augmentations on kornia: warps against exact references, alignment of images and masks,
binariness, determinism, and nnU-Net's transform's probabilities."""

import pytest
import torch

from e2eaug.data import AffineWarp, NNUNetTransform, build_warp
from e2eaug.data.transforms import warp


def _blob(size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(1, size, size)
    top, left = torch.randint(4, size // 2, (2,), generator=g).tolist()
    mask[0, top : top + 10, left : left + 7] = 1
    mask[0, top + 2, left + 7 : left + 11] = 1  # asymmetric, so flips show
    return mask


def _blobs(n, size=32):
    return torch.stack([_blob(size, seed=s) for s in range(n)])


def test_the_warp_is_exact_for_flips_quarter_turns_and_whole_pixel_shifts():
    images, masks = torch.rand(3, 2, 8, 12), torch.stack([_blob(seed=1)[:, :8, :12]] * 3)
    out, out_masks = warp(images, masks, torch.zeros(3), torch.tensor([[-1.0, 1], [1, -1], [-1, -1]]), torch.zeros(3, 2))
    for i, dims in enumerate([(-1,), (-2,), (-1, -2)]):
        assert torch.allclose(out[i], images[i].flip(dims), atol=1e-5) and torch.equal(out_masks[i], masks[i].flip(dims))
    square, square_masks = torch.rand(2, 1, 9, 9), (torch.rand(2, 1, 9, 9) > 0.5).float()
    out, out_masks = warp(square, square_masks, torch.full((2,), 90.0), torch.ones(2, 2), torch.zeros(2, 2))
    assert torch.allclose(out, square.rot90(-1, (-2, -1)), atol=1e-5)
    assert torch.equal(out_masks, square_masks.rot90(-1, (-2, -1)))
    out, out_masks = warp(images, masks, torch.zeros(3), torch.ones(3, 2), torch.tensor([[3.0, -2.0]] * 3))
    assert torch.allclose(out[..., :6, 3:], images[..., 2:, :9], atol=1e-5) and not out[..., :3].any()
    assert torch.equal(out_masks[..., :6, 3:], masks[..., 2:, :9])


def test_rotation_does_not_shear_non_square_images():
    mask = torch.zeros(1, 1, 20, 40)
    mask[..., 7:13, 15:25] = 1  # 6 x 10 rectangle around the centre
    _, out = warp(None, mask, torch.tensor([90.0]), torch.ones(1, 2), torch.zeros(1, 2))
    rows, cols = out[0, 0].nonzero().unbind(1)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (10, 6)
    assert out.sum() == 60


@pytest.mark.parametrize("transform", [AffineWarp(max_degrees=40, max_fraction=0.2), NNUNetTransform()], ids=["affine", "nnunet"])
def test_images_stay_aligned_with_their_masks_and_the_draw_is_pure(transform):
    masks = _blobs(16)
    images = 0.2 + 0.6 * masks.repeat(1, 3, 1, 1)
    out, out_masks = transform(images, masks, torch.Generator().manual_seed(2))
    assert out.shape == images.shape and out_masks.shape == masks.shape
    assert 0 <= out.min() and out.max() <= 1 and set(out_masks.unique().tolist()) <= {0.0, 1.0}
    midpoint = (out.amax((-2, -1), keepdim=True) + out.amin((-2, -1), keepdim=True)) / 2
    assert ((out.mean(1, keepdim=True) > midpoint.mean(1, keepdim=True)).float() != out_masks).float().mean() < 0.03
    again = transform(images, masks, torch.Generator().manual_seed(2))
    other = transform(images, masks, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], out) and torch.equal(again[1], out_masks) and not torch.equal(other[1], out_masks)
    # a mask-only draw is the same geometry as the pair's
    assert torch.equal(transform.geometry(masks, torch.Generator().manual_seed(2)), out_masks)
    assert sum(not torch.equal(a, b) for a, b in zip(out_masks, masks)) >= 10


def test_affine_warp_respects_its_ops():
    masks = _blobs(6)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(AffineWarp(ops=("rotate",), max_degrees=0).geometry(masks, generator), masks)
    assert torch.equal(AffineWarp(ops=("flip",), p_flip=1.0).geometry(masks, generator), masks.flip(-1).flip(-2))
    assert torch.equal(AffineWarp(ops=()).geometry(masks, generator), masks)


def test_nnunet_leaves_the_geometry_alone_for_about_64_percent_of_samples():
    """Rotation and scaling each with p 0.2, so (0.8)^2 of the masks are the original up to
    mirroring, and each mirror axis is taken half the time."""
    masks = _blob().expand(1000, 1, 32, 32)
    out = NNUNetTransform().geometry(masks, torch.Generator().manual_seed(0))
    mirrors = [masks[0].flip(dims) if dims else masks[0] for dims in [(), (-1,), (-2,), (-1, -2)]]
    which = torch.tensor([[torch.equal(m, ref) for ref in mirrors] for m in out])
    kept = which.any(1).float().mean().item()
    assert abs(kept - 0.64) < 0.05, kept
    shares = which[which.any(1)].float().mean(0)
    assert ((shares - 0.25).abs() < 0.06).all(), shares


def test_nnunet_changes_intensities_with_its_probabilities():
    """A blank geometry's image changes when any intensity transform fires: 1 - (0.9 * 0.8 *
    0.85 * 0.85 * 0.75 * 0.9 * 0.7) of the samples, blur and low resolution taken for one channel
    at p 0.5 each (one channel here)."""
    n = 2000
    images = torch.rand(1, 1, 16, 16).expand(n, 1, 16, 16)
    masks = torch.zeros(n, 1, 16, 16)
    out, _ = NNUNetTransform()(images, masks, torch.Generator().manual_seed(0))
    same = [any(torch.allclose(o, images[0].flip(d) if d else images[0], atol=1e-5) for d in [(), (-1,), (-2,), (-1, -2)]) for o in out]
    # rotation/scaling of a random image also change it: kept = P(no geometry) * P(no intensity)
    expected = 0.64 * 0.9 * 0.9 * 0.85 * 0.85 * 0.875 * 0.9 * 0.7
    assert abs(sum(same) / n - expected) < 0.04, sum(same) / n


def test_jitter_scales_contrast_and_shifts_brightness_per_image_within_bounds():
    g = torch.Generator().manual_seed(0)
    images = 0.35 + 0.3 * torch.rand(64, 1, 8, 8, generator=g)
    masks = torch.zeros(64, 1, 8, 8)
    jitter = AffineWarp(ops=(), jitter=0.2)
    out, _ = jitter(images, masks, torch.Generator().manual_seed(1))
    mean, out_mean = images.mean((1, 2, 3)), out.mean((1, 2, 3))
    std, out_std = images.std((1, 2, 3)), out.std((1, 2, 3))
    assert ((out_mean - mean).abs() <= 0.2 + 1e-6).all() and (out_mean - mean).std() > 0.05
    assert ((out_std / std - 1).abs() <= 0.2 + 1e-4).all() and (out_std / std).std() > 0.05
    assert torch.equal(out, jitter(images, masks, torch.Generator().manual_seed(1))[0])
    assert torch.allclose(AffineWarp(ops=())(images, masks, g)[0], images)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match=r"unknown augmentation op\(s\) \['shear'\]"):
        AffineWarp(ops=("shear",))
    with pytest.raises(ValueError, match="max_fraction=1.5"):
        AffineWarp(max_fraction=1.5)
    with pytest.raises(ValueError, match="unknown warp 'elastic'"):
        build_warp("elastic")


def test_gan_warps_are_named_transforms_and_old_ops_lists_still_load():
    from e2eaug.config import ConfigError
    from e2eaug.run_config import load_config

    cfg = load_config("skin_synthetic", ["augmenter.name=e2eaug", "augmenter.real_warp={ops: []}", "augmenter.mask_aug={ops: [translate, rotate, flip]}"])
    assert cfg.augmenter.real_warp.name == "none" and cfg.augmenter.mask_aug.name == "combine"
    with pytest.raises(ConfigError, match="augmenter.real_warp.ops"):
        load_config("skin_synthetic", ["augmenter.name=e2eaug", "augmenter.real_warp={ops: [rotate, flip]}"])
    from e2eaug.data import build_data
    from e2eaug.engines import build_engine
    from tests.core_helpers import tiny_config

    cfg = tiny_config(["augmenter.name=gan_joint", "augmenter.real_warp={name: elastic}"])
    with pytest.raises(ConfigError, match="augmenter.real_warp: unknown warp 'elastic'"):
        build_engine(cfg, build_data(cfg.data))


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
