"""Synthetic generators: shapes, ranges, determinism, domains."""

import numpy as np
import pytest

from e2eaug.data import DOMAINS, SYNTHETIC_TASKS, make_synthetic
from e2eaug.data.preview import save_preview


@pytest.mark.parametrize("task,channels", [("skin", 3), ("lung", 1)])
def test_shapes_ranges_and_binary_masks(task, channels):
    images, masks = make_synthetic(task, "id", 4, 32, seed=0)
    assert images.shape == (4, channels, 32, 32) and images.dtype == np.float32
    assert masks.shape == (4, 1, 32, 32) and set(np.unique(masks)) <= {0, 1}
    assert images.min() >= 0 and images.max() <= 1
    coverage = masks.mean(axis=(1, 2, 3))
    assert np.all(coverage > 0.03) and np.all(coverage < 0.7)


@pytest.mark.parametrize("task", sorted(SYNTHETIC_TASKS))
def test_deterministic_per_seed_and_extensible(task):
    a_img, a_mask = make_synthetic(task, "id", 3, 32, seed=5)
    b_img, b_mask = make_synthetic(task, "id", 5, 32, seed=5)
    assert np.array_equal(a_img, b_img[:3]) and np.array_equal(a_mask, b_mask[:3])
    c_img, _ = make_synthetic(task, "id", 3, 32, seed=6)
    assert not np.array_equal(a_img, c_img)


@pytest.mark.parametrize("task", sorted(SYNTHETIC_TASKS))
def test_shifted_domain_differs_in_statistics(task):
    id_img, _ = make_synthetic(task, "id", 16, 32, seed=0)
    ood_img, _ = make_synthetic(task, "ood", 16, 32, seed=0)
    assert abs(float(id_img.mean()) - float(ood_img.mean())) > 0.03
    for domain in DOMAINS:
        images, masks = make_synthetic(task, domain, 2, 32, seed=1)
        assert np.isfinite(images).all() and masks.any()


def test_unknown_task_or_domain_lists_known():
    with pytest.raises(ValueError, match="unknown synthetic task 'brain'.*skin"):
        make_synthetic("brain", "id", 1, 32, 0)
    with pytest.raises(ValueError, match="unknown domain 'mars'.*ood"):
        make_synthetic("skin", "mars", 1, 32, 0)


def test_preview_writes_png(tmp_path):
    out = save_preview(tmp_path / "p.png", task="lung", domain="ood", n=4, size=32)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
