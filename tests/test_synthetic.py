"""Synthetic generators (shapes, determinism, anatomy, domains) and preview grids."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from e2eaug.data import DOMAINS, SYNTHETIC_TASKS, make_synthetic, save_pair_grid, save_preview


@pytest.mark.parametrize("task,channels,cover", [("skin", 3, (0.03, 0.8)), ("lung", 1, (0.15, 0.45))])
def test_shapes_ranges_and_binary_masks(task, channels, cover):
    images, masks = make_synthetic(task, "id", 6, 32, seed=0)
    assert images.shape == (6, channels, 32, 32) and images.dtype == np.float32
    assert masks.shape == (6, 1, 32, 32) and masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1}
    assert images.min() >= 0 and images.max() <= 1
    coverage = masks.mean(axis=(1, 2, 3))
    assert np.all(coverage > cover[0]) and np.all(coverage < cover[1])


@pytest.mark.parametrize("task", sorted(SYNTHETIC_TASKS))
def test_deterministic_per_seed_and_extensible(task):
    a_img, a_mask = make_synthetic(task, "id", 3, 32, seed=5)
    b_img, b_mask = make_synthetic(task, "id", 5, 32, seed=5)
    assert np.array_equal(a_img, b_img[:3]) and np.array_equal(a_mask, b_mask[:3])
    assert not np.array_equal(a_img, make_synthetic(task, "id", 3, 32, seed=6)[0])
    assert not np.array_equal(a_img[0], b_img[1])
    assert not np.array_equal(a_img, make_synthetic(task, "ood_noise", 3, 32, seed=5)[0])


def test_skin_lesion_is_darker_than_its_surroundings():
    images, masks = make_synthetic("skin", "id", 20, 32, seed=0)
    grey, lesion = images.mean(1), masks[:, 0].astype(bool)
    for g, m in zip(grey, lesion):
        ring = ndimage.binary_dilation(m, iterations=2) & ~m
        assert g[m].mean() < g[ring].mean() - 0.05


def test_lung_mask_is_two_dark_fields():
    images, masks = make_synthetic("lung", "id", 20, 32, seed=0)
    for image, mask in zip(images[:, 0], masks[:, 0].astype(bool)):
        labels, count = ndimage.label(mask)
        sizes = np.sort(np.bincount(labels.ravel())[1:])[::-1]
        assert count >= 2 and sizes[:2].sum() >= 0.95 * mask.sum()
        assert image[mask].mean() < image[~mask].mean() - 0.1
        left, right = mask[:, :16].sum(), mask[:, 16:].sum()
        assert min(left, right) > 0.4 * max(left, right)  # one lung per side


@pytest.mark.parametrize("task", sorted(SYNTHETIC_TASKS))
def test_every_domain_renders_and_shifts_the_statistics(task):
    assert set(SYNTHETIC_TASKS[task].domains) == set(DOMAINS)
    stats = {}
    for domain in DOMAINS:
        images, masks = make_synthetic(task, domain, 12, 32, seed=1)
        assert np.isfinite(images).all() and masks.reshape(12, -1).any(1).all()
        grey = images.mean(1)
        sharpness = np.mean([np.abs(ndimage.laplace(g)).mean() for g in grey])
        stats[domain] = (grey.mean(), sharpness, masks.mean())
    assert stats["ood_noise"][1] > 1.3 * stats["id"][1]
    assert stats["ood_blur"][1] < 0.9 * stats["id"][1]
    assert abs(stats["ood_tone"][0] - stats["id"][0]) > 0.1
    assert stats["ood_shape"][2] < 0.6 * stats["id"][2]
    assert abs(stats["ood"][0] - stats["id"][0]) > 0.03 or stats["ood"][1] > 1.2 * stats["id"][1]


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="unknown synthetic task 'brain'.*lung, skin"):
        make_synthetic("brain", "id", 1, 32, 0)
    with pytest.raises(ValueError, match="unknown domain 'mars'.*id, ood"):
        make_synthetic("skin", "mars", 1, 32, 0)
    with pytest.raises(ValueError, match="n must be a non-negative integer, got -1"):
        make_synthetic("skin", "id", -1, 32, 0)
    with pytest.raises(ValueError, match="size must be an integer >= 8, got 4"):
        make_synthetic("lung", "id", 1, 4, 0)


def test_preview_draws_green_outlines(tmp_path):
    out = save_preview(tmp_path / "p.png", task="lung", domain="ood", n=4, size=32)
    grid = np.asarray(Image.open(out).convert("RGB"))
    assert grid.shape == (2 * (128 + 2) + 2,) * 2 + (3,)
    assert np.all(grid == (0, 255, 0), axis=-1).sum() > 100
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_pair_grid_takes_tensors_and_checks_shapes(tmp_path):
    images, masks = torch.rand(3, 3, 16, 24), torch.zeros(3, 16, 24)
    masks[:, 4:12, 6:18] = 1
    out = save_pair_grid(tmp_path / "g.png", images, masks, ncols=3)
    assert Image.open(out).size == (3 * (24 * 5 + 2) + 2, 16 * 5 + 4)
    with pytest.raises(ValueError, match="masks shape .* does not match images shape"):
        save_pair_grid(tmp_path / "bad.png", images, masks[:2])
    with pytest.raises(ValueError, match="non-empty"):
        save_pair_grid(tmp_path / "bad.png", images[:0], masks[:0])
