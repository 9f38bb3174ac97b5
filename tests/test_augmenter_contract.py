"""Every registered augmenter (shipped and the examples') keeps the augmenter contract.

The contract (``e2eaug.problems.augmenter``): randomness is drawn once per real step, the
pairs are a pure, deterministic function of the weights and that draw, side effects happen
once per real step, the state round-trips through a checkpoint, and ``derive`` works exactly
when the augmenter has an architecture. Also: each shipped augmenter trains end to end from
YAML, and the engine builds only the levels the augmenter needs.
"""

from __future__ import annotations

import pytest
import torch
import yaml

from e2eaug.cli import main
from e2eaug.config import ConfigError, to_dict
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import Draw, names
from e2eaug.registry import AUGMENTERS, GENERATORS
from tests.core_helpers import WARP_EXAMPLE, load_example, tiny_config

SHIPPED = ["none", "rotate", "flip", "translate", "combine", "nnunet", "pix2pix", "gan_joint", "e2eaug"]
WEIGHTLESS = ["none", "rotate", "flip", "translate", "combine", "nnunet"]
LEVELS = {"pix2pix": [names.SEG], "gan_joint": [names.AUG, names.SEG], "e2eaug": list(names.ALL)}

load_example()  # registers "shading"
load_example(WARP_EXAMPLE)  # registers "learned_warp"
ALL_AUGMENTERS = [name for name in AUGMENTERS if not name.endswith("_test")]
REAL_WARP = ["augmenter.real_warp={name: combine}"]
NNUNET_WARP = ["augmenter.real_warp={name: nnunet}", "augmenter.mask_aug={name: nnunet}"]
NO_WARP = ["augmenter.real_warp={name: none}"]
GENERATOR_FAMILIES = {
    "spade": ["augmenter.generator={name: spade, kwargs: {depth: 2, base_width: 4, hidden: 4}}"],
    "asapnet": ["augmenter.generator={name: asapnet, kwargs: {depth: 2, base_width: 4, scale: 1}}"],
}
CASES = (
    [(name, (), name) for name in ALL_AUGMENTERS]
    + [(name, NO_WARP, f"{name}-no_warp") for name in LEVELS]
    + [(name, NNUNET_WARP, f"{name}-nnunet_warp") for name in LEVELS]
    + [(name, tuple(extra), f"{name}-{family}") for family, extra in GENERATOR_FAMILIES.items() for name in LEVELS]
)


def _engine(name, extra=()):
    cfg = tiny_config([f"augmenter.name={name}", "augmenter.pretrain_steps=2", *extra])
    return build_engine(cfg, build_data(cfg.data)), cfg


def _tensors(state):
    """A copy of every tensor of a (nested) state dict or draw, in a fixed order."""
    if isinstance(state, torch.Tensor):
        return [state.detach().clone()]
    if isinstance(state, Draw):
        return [t.detach().clone() for t in state.tensors()]
    if isinstance(state, dict):
        return [t for key in sorted(state, key=str) for t in _tensors(state[key])]
    if isinstance(state, (list, tuple)):
        return [t for value in state for t in _tensors(value)]
    return []


def _same(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_every_shipped_augmenter_is_registered():
    assert set(SHIPPED) <= set(AUGMENTERS) and {"shading", "learned_warp"} <= set(AUGMENTERS)


@pytest.mark.parametrize("name, extra", [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_contract(name, extra):
    engine, cfg = _engine(name, extra)
    augmenter, seg = engine.augmenter, getattr(engine, names.SEG)
    engine.run()  # pretraining, if any, and 4 global steps
    images, masks, drawn = seg.cur_batch

    # the draw is a pure function of the step; the pairs of the weights and the draw
    assert isinstance(drawn, Draw), "draw must return a Draw"
    again = augmenter.draw(images, masks, seg.draws - 1)
    assert type(again) is type(drawn) and _same(_tensors(again), _tensors(drawn)), "draw is not a function of (batch, step)"
    before = _tensors(augmenter.state_dict())
    first, second = augmenter.pairs(images, masks, drawn), augmenter.pairs(images, masks, drawn)
    assert _same(_tensors(augmenter.state_dict()), before), "pairs changed the augmenter's state"
    if name == "none":
        assert first is None
    else:
        assert _same(first, second), "pairs are not deterministic"
        x, m = first
        assert len(x) == len(m) and len(x) % len(images) == 0
        assert x.shape[1:] == images.shape[1:] and m.shape[1:] == masks.shape[1:]
        assert 0 <= x.min() and x.max() <= 1 and set(m.unique().tolist()) <= {0.0, 1.0}

    # an augmenter's own training step is pure too (Betty re-runs it)
    if augmenter.trains_jointly:
        batch = augmenter.cur_batch
        loss = augmenter.training_step(batch).item()
        assert augmenter.training_step(batch).item() == loss
        assert _same(_tensors(augmenter.state_dict()), before), "training_step changed state"

    # the checkpoint carries the augmenter
    restored, _ = _engine(name, extra)
    restored.load_state_dict(engine.state_dict())
    assert _same(_tensors(restored.augmenter.state_dict()), before)
    if first is not None:
        assert _same(restored.augmenter.pairs(images, masks, drawn), first)

    # derive exactly when there is an architecture
    if augmenter.arch_parameters() is not None:
        assert set(augmenter.derive().to_dict()) == {"down", "up"}
    else:
        with pytest.raises(ValueError, match="no architecture"):
            augmenter.derive()


@pytest.mark.parametrize("name", [n for n in ALL_AUGMENTERS if AUGMENTERS.get(n).trains_jointly])
@pytest.mark.parametrize("method", ["darts", "neumann"])
def test_side_effects_once_per_real_step(name, method, monkeypatch):
    engine, _ = _engine(name, [f"{level}.hypergrad={{type: {method}}}" for level in ("seg", "augmenter")])
    augmenter = engine.augmenter
    calls = []
    callback = augmenter.param_callback
    monkeypatch.setattr(augmenter, "param_callback", lambda: (calls.append(augmenter.count), callback()))
    engine.pretrained = True
    for step in range(1, 4):
        engine.global_step += 1
        engine.train_step()
        assert augmenter.count == step and calls == list(range(1, step + 1))


@pytest.mark.parametrize("name", WEIGHTLESS)
def test_weightless_augmenters_train_the_segmenter_alone(name, monkeypatch):
    def no_generator(*args, **kwargs):
        raise AssertionError("built a generator")

    monkeypatch.setattr(GENERATORS, "build", no_generator)
    engine, _ = _engine(name)
    assert [p.name for p in engine.problems] == [names.SEG]
    assert engine.augmenter.modules() == [] and engine.augmenter.arch_parameters() is None
    assert not any(p.paths for p in engine.problems)  # no hypergradient anywhere
    engine.run()


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_gan_augmenters_build_the_levels_they_need(name):
    engine, _ = _engine(name)
    assert sorted(p.name for p in engine.problems) == sorted(LEVELS[name])
    has_paths = any(p.paths for p in engine.problems)
    assert has_paths == (name == "e2eaug")


def test_e2eaug_refuses_a_generator_with_nothing_to_search():
    """A fixed generator (no ``alpha``) under e2eaug is one clear error, not a silent two-level
    run; gan_joint trains it with the two levels it needs."""
    fixed = ["augmenter.generator={name: fixed, kwargs: {base_width: 4, "
             "genotype: {down: [conv_4_2_1, conv_4_2_1], up: [upconv_4_2_1, upconv_4_2_1]}}}"]
    with pytest.raises(ConfigError, match=r"augmenter.name=e2eaug searches .* generator 'fixed' has none"):
        _engine("e2eaug", fixed)
    engine, _ = _engine("gan_joint", fixed)
    assert sorted(p.name for p in engine.problems) == sorted(LEVELS["gan_joint"])
    assert engine.augmenter.module.genotype.down == ["conv_4_2_1"] * 2


def test_pix2pix_is_frozen_after_pretraining():
    engine, _ = _engine("pix2pix")
    augmenter = engine.augmenter
    initial = _tensors(augmenter.module.state_dict())
    engine.run()
    trained = _tensors(augmenter.module.state_dict())
    assert not _same(initial, trained)  # the GAN trained (pretraining) ...
    assert augmenter.count == 0 and augmenter.draws == 2  # ... only there: 2 pretraining steps
    images, masks, drawn = getattr(engine, names.SEG).cur_batch
    fake, _ = augmenter.pairs(images, masks, drawn)
    assert not fake.requires_grad  # the segmentation loss does not reach it


def test_real_warp_adds_warped_real_pairs_beside_the_generated_ones():
    plain, _ = _engine("gan_joint", NO_WARP)
    identity, _ = _engine("gan_joint", ["augmenter.real_warp={name: translate, max_fraction: 0.0}"])
    warped, _ = _engine("gan_joint", NNUNET_WARP[:1])
    images, masks = plain.augmenter.get_batch()
    fake, generated_masks = plain.augmenter.pairs(images, masks, plain.augmenter.draw(images, masks, 3))
    drawn = []
    for engine in (identity, warped):
        engine.augmenter.module.load_state_dict(plain.augmenter.module.state_dict())
        drawn.append(engine.augmenter.draw(images, masks, 3))
        x, m = engine.augmenter.pairs(images, masks, drawn[-1])
        n = len(images)
        assert len(x) == 2 * n
        # the generated half is what the augmenter makes without real_warp (same masks, same G)
        assert torch.equal(m[:n], generated_masks) and torch.allclose(x[:n], fake)
        if engine is identity:  # a zero shift: the real pairs themselves
            assert torch.allclose(x[n:], images, atol=1e-6) and torch.equal(m[n:], masks)
        else:
            assert not torch.allclose(x[n:], images, atol=1e-3)
            assert (x[n:].sum((1, 2, 3)) > 0).all()  # warped images, not blank ones
    # only the generated half reaches the generator
    x, _ = warped.augmenter.pairs(images, masks, drawn[1])
    weights = list(warped.augmenter.module.parameters())
    grads = torch.autograd.grad(x[len(images):].sum(), weights, allow_unused=True, retain_graph=True)
    assert all(g is None or not g.any() for g in grads)
    assert any(g is not None and g.any() for g in torch.autograd.grad(x[: len(images)].sum(), weights))


@pytest.mark.parametrize("name", SHIPPED)
def test_trains_end_to_end_from_yaml(name, tmp_path, capsys):
    cfg = tiny_config(["name=tiny", f"augmenter.name={name}", "augmenter.pretrain_steps=2"], out_dir=str(tmp_path))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(to_dict(cfg)))
    assert main(["run", "--config", str(path)]) == 0
    (run,) = tmp_path.glob("tiny-*")
    assert (run / "results.json").is_file() and (run / "best.pt").is_file()
    assert (run / "samples.png").is_file()  # the segmenter's predictions, and pairs where it makes them
    assert (run / "alpha.png").is_file() == (name == "e2eaug")
    assert yaml.safe_load((run / "config.yaml").read_text())["augmenter"]["name"] == name
    assert "test set" in capsys.readouterr().out
