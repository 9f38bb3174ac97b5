"""New appearance in the GAN augmenters' pairs: random appearance codes for the generator
(``augmenter.code_dim``, at the input or the bottleneck, ``augmenter.code_at``), the mode-seeking term that keeps G from ignoring them
(``augmenter.mode_seeking``), and a contrast and brightness jitter of the warped real images
(``augmenter.real_jitter``) and of the generated ones (``augmenter.gen_jitter``)."""

import pytest
import torch

from e2eaug.config import ConfigError
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.models.generator import FixedGenerator
from tests.core_helpers import tiny_config


def _augmenter(*extra):
    cfg = tiny_config(["augmenter.name=gan_joint", "augmenter.pretrain_steps=0", *extra])
    return build_engine(cfg, build_data(cfg.data)).augmenter


def test_no_code_means_the_code_zero_and_other_codes_change_the_image():
    aug = _augmenter("augmenter.code_dim=3")
    _, masks = aug.get_batch()
    codes = aug.sample_codes(len(masks), torch.Generator().manual_seed(0))
    assert codes.shape == (len(masks), 3)
    with torch.no_grad():
        plain = aug.generate(masks)
        assert torch.equal(plain, aug.generate(masks, torch.zeros_like(codes)))
        coded = aug.generate(masks, codes)
    assert coded.shape == plain.shape and not torch.allclose(coded, plain)


def test_a_deterministic_generator_has_no_codes_and_unchanged_draws():
    plain, coded = _augmenter(), _augmenter("augmenter.code_dim=2")
    assert plain.sample_codes(4, torch.Generator()) is None
    images, masks = plain.get_batch()
    before, after = plain.draw(images, masks, 3), coded.draw(images, masks, 3)
    assert len(after) == len(before) + 1 and after[-1].shape == (len(masks), 2)
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # the codes are drawn last


def test_pairs_use_the_drawn_codes():
    aug = _augmenter("augmenter.code_dim=2", "augmenter.real_warp.ops=[]")
    images, masks = aug.get_batch()
    drawn = aug.draw(images, masks, 0)
    with torch.no_grad():
        fake, warped = aug.pairs(images, masks, drawn)
        assert torch.equal(fake, aug.generate(drawn[0], drawn[-1]))
    assert torch.equal(warped, drawn[0])


def test_coded_losses_are_pure_functions_of_the_step():
    aug = _augmenter("augmenter.code_dim=2", "augmenter.mode_seeking=1")
    batch = aug.get_batch()
    loss = aug.training_step(batch)
    assert torch.isfinite(loss) and torch.equal(loss, aug.training_step(batch))  # Betty may re-run it
    aug.get_batch()  # the next draw brings other codes
    assert not torch.equal(loss, aug.training_step(batch))
    aug.fit_step()  # G's step, then D's on coded images too
    assert aug.disc_steps == 1 and torch.isfinite(torch.tensor(aug.last_disc_loss))


def _diversity(aug, masks, z1, z2):
    return (aug.generate(masks, z1) - aug.generate(masks, z2)).abs().mean()


def test_mode_seeking_step_makes_codes_render_more_differently():
    aug = _augmenter("augmenter.code_dim=4", "augmenter.mode_seeking=1")
    _, masks = aug.get_batch()
    z1, z2 = aug.sample_codes(2 * len(masks), torch.Generator().manual_seed(1)).chunk(2)
    params = list(aug.module.parameters())
    before = _diversity(aug, masks, z1, z2)
    ratio = before / (z1 - z2).abs().mean()
    grads = torch.autograd.grad(1 / (ratio + 1e-5), params)
    with torch.no_grad():
        norm = torch.sqrt(sum(g.square().sum() for g in grads))
        for p, g in zip(params, grads):
            p -= 1e-2 * g / norm  # a small normalised descent step on the term alone
        after = _diversity(aug, masks, z1, z2)
    assert after > 1.01 * before


def test_bottleneck_codes_leave_the_down_cells_to_the_mask_and_still_change_the_image():
    aug = _augmenter("augmenter.code_dim=3", "augmenter.code_at=bottleneck")
    _, masks = aug.get_batch()
    z1, z2 = aug.sample_codes(2 * len(masks), torch.Generator().manual_seed(2)).chunk(2)
    down = []
    hooks = [cell.register_forward_hook(lambda m, i, out: down.append(out)) for cell in aug.module.down]
    with torch.no_grad():
        first, second = aug.generate(masks, z1), aug.generate(masks, z2)
    for hook in hooks:
        hook.remove()
    half = len(down) // 2
    assert all(torch.equal(a, b) for a, b in zip(down[:half], down[half:]))  # the mask's features alone
    assert not torch.allclose(first, second)
    fixed = FixedGenerator.from_searchable(aug.module, aug.alpha())  # a derived generator keeps the design
    with torch.no_grad():
        planes = z1[:, :, None, None].expand(-1, -1, *masks.shape[-2:])
        out = fixed(torch.cat([masks, planes], dim=1))
    assert fixed.code_channels == 3 and out.shape == first.shape


@pytest.mark.parametrize("extra, key", [
    (["augmenter.code_dim=-1"], "augmenter.code_dim"),
    (["augmenter.mode_seeking=1"], "augmenter.mode_seeking"),
    (["augmenter.code_dim=2", "augmenter.code_at=middle"], "augmenter.code_at"),
    (["augmenter.code_dim=2", "augmenter.code_at=bottleneck", "augmenter.generator.name=spade"], "augmenter.code_at"),
])
def test_bad_code_settings_name_the_key(extra, key):
    with pytest.raises(ConfigError, match=key):
        _augmenter(*extra)


def test_real_jitter_changes_the_warped_real_images_only():
    plain, jittered = _augmenter(), _augmenter("augmenter.real_jitter=0.3")
    images, masks = plain.get_batch()
    before, after = plain.draw(images, masks, 2), jittered.draw(images, masks, 2)
    assert torch.equal(before[0], after[0]) and torch.equal(before[2], after[2])  # masks for G, warped masks
    assert not torch.allclose(before[1], after[1]) and 0 <= after[1].min() and after[1].max() <= 1
    with pytest.raises(ConfigError, match="augmenter.real_jitter"):
        _augmenter("augmenter.real_jitter=0.3", "augmenter.real_warp.ops=[]")


def test_gen_jitter_changes_the_generated_images_only_and_lets_gradients_through():
    plain, jittered = _augmenter("augmenter.code_dim=2"), _augmenter("augmenter.code_dim=2", "augmenter.gen_jitter=0.3")
    images, masks = plain.get_batch()
    before, after = plain.draw(images, masks, 1), jittered.draw(images, masks, 1)
    assert len(after) == len(before) + 1 and after[-1].shape == (len(masks), 2)
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # the factors are drawn last
    (fake_plain, masks_plain), (fake, masks_jittered) = plain.pairs(images, masks, before), jittered.pairs(images, masks, after)
    n = len(masks)
    assert torch.equal(masks_plain, masks_jittered) and torch.equal(fake_plain[n:], fake[n:])  # real warps as without
    assert not torch.allclose(fake_plain[:n], fake[:n]) and 0 <= fake.min() and fake.max() <= 1
    grads = torch.autograd.grad(fake[:n].sum(), list(jittered.module.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    with pytest.raises(ConfigError, match="augmenter.gen_jitter"):
        _augmenter("augmenter.gen_jitter=1")
