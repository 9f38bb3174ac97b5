"""Differentiable views of a conditional discriminator's inputs (``e2eaug.diffaug``), and the
GAN augmenters' use of them (``augmenter.disc_aug``)."""

import pytest
import torch

from e2eaug.config import ConfigError
from e2eaug.data import build_data
from e2eaug.diffaug import DIFFAUG_OPS, DiscriminatorAugment
from e2eaug.engines import build_engine
from tests.core_helpers import tiny_config


def _pairs(n=4, size=24, channels=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    masks = (torch.rand(n, 1, size, size, generator=g) > 0.5).float()
    return masks, torch.rand(n, channels, size, size, generator=g)


def _view(ops, masks, images, seed=0):
    return DiscriminatorAugment(ops)(masks, images, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("ops", [["translation"], ["cutout"], ["translation", "cutout"]])
def test_geometric_views_move_mask_and_image_alike(ops):
    masks, _ = _pairs()
    m, x = _view(ops, masks, masks.clone())  # an image equal to its mask stays equal
    assert torch.equal(m, x) and not torch.equal(m, masks)
    assert set(m.unique().tolist()) <= {0.0, 1.0}


def test_translation_is_an_integer_shift_with_zero_fill():
    masks, images = _pairs(n=8, channels=1)
    _, x = _view(["translation"], masks, images, seed=3)
    for src, out in zip(images[:, 0], x[:, 0]):  # find each sample's shift among all within 1/8
        matches = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if torch.equal(out, _shifted(src, dy, dx))
        ]
        assert len(matches) == 1


def _shifted(x, dy, dx):
    h, w = x.shape
    out = torch.zeros_like(x)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_cutout_zeroes_one_square_of_half_the_side():
    masks, images = torch.ones(5, 1, 20, 20), torch.ones(5, 1, 20, 20)
    m, x = _view(["cutout"], masks, images)
    assert torch.equal((x == 0).flatten(1).sum(1), torch.full((5,), 100))
    assert torch.equal(m, x)


def test_color_changes_the_image_only_and_differs_per_sample():
    masks, images = _pairs()
    m, x = _view(["color"], masks, images)
    assert torch.equal(m, masks)
    change = (x - images).flatten(1).norm(dim=1)
    assert (change > 0.01).all() and change.std() > 0


def test_views_are_differentiable_and_a_pure_function_of_the_generator():
    masks, images = _pairs()
    images.requires_grad_(True)
    m, x = _view(list(DIFFAUG_OPS), masks, images, seed=5)
    (grad,) = torch.autograd.grad(x.square().sum(), images)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    again = _view(list(DIFFAUG_OPS), masks, images, seed=5)
    other = _view(list(DIFFAUG_OPS), masks, images, seed=6)
    assert torch.equal(m, again[0]) and torch.equal(x, again[1])
    assert not torch.equal(x, other[1])


def test_unknown_op_names_the_key():
    with pytest.raises(ValueError, match="colour"):
        DiscriminatorAugment(["colour"])
    cfg = tiny_config(["augmenter.name=gan_joint", "augmenter.disc_aug=[colour]"])
    with pytest.raises(ConfigError, match="augmenter.disc_aug"):
        build_engine(cfg, build_data(cfg.data))


def test_gan_losses_see_the_views_and_stay_pure_functions_of_the_step():
    cfg = tiny_config(["augmenter.name=gan_joint", "augmenter.pretrain_steps=0", "augmenter.disc_aug=[color, translation, cutout]"])
    aug = build_engine(cfg, build_data(cfg.data)).augmenter
    batch = aug.get_batch()
    images, masks = batch
    loss = aug.training_step(batch)
    assert torch.equal(loss, aug.training_step(batch))  # Betty may re-run it
    assert not torch.equal(aug.judge(masks, images, "real"), aug.discriminator(masks, images))
    assert not torch.equal(aug.judge(masks, images, "real"), aug.judge(masks, images, "fake"))
    aug.get_batch()  # the next draw views the same pairs differently
    assert not torch.equal(loss, aug.training_step(batch))
