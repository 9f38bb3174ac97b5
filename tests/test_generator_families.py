"""SPADE- and ASAPNet-style generators: their pieces against hand-written references, the shared
search space (alpha, derive, genotype files, fixed generators), and training inside e2eaug."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.models import NUM_OPS, SPADE, ArchitectureParams, ASAPNetGenerator, Genotype, SPADEGenerator
from e2eaug.models.asapnet import positional_encoding
from e2eaug.registry import GENERATORS
from tests.core_helpers import tiny_config

FAMILIES = {
    "spade": (SPADEGenerator, {"depth": 2, "base_width": 4, "hidden": 4}),
    "asapnet": (ASAPNetGenerator, {"depth": 2, "base_width": 4, "scale": 1}),
}
CELL_OP = re.compile(r"(?:^|\.)(down|up)\.(\d+)\.(?:.*\.)?ops\.(\d+)\.")


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def _masks(n: int = 2, size: int = 16) -> torch.Tensor:
    torch.manual_seed(1)
    return (torch.rand(n, 1, size, size) > 0.5).float()


def test_spade_is_a_parameter_free_norm_modulated_per_pixel_by_the_mask():
    torch.manual_seed(0)
    spade = SPADE(3, hidden=4)
    x, mask = torch.randn(2, 3, 4, 4), _masks(2, 8)
    small = mask[:, :, ::2, ::2]  # nearest-neighbour resize to 4x4
    embedded = F.relu(spade.embed[0](small))
    normed = (x - x.mean((2, 3), keepdim=True)) / (x.var((2, 3), unbiased=False, keepdim=True) + 1e-5).sqrt()
    expected = normed * (1 + spade.gamma(embedded)) + spade.beta(embedded)
    assert _relative(spade(x, mask), expected) < 1e-5
    assert not any("norm" in name for name, _ in spade.named_parameters())  # no affine norm weights


def test_asapnet_applies_each_pixels_own_mlp():
    torch.manual_seed(0)
    model = ASAPNetGenerator(depth=1, base_width=4, scale=1, mlp_width=3, mlp_layers=2, frequencies=1)
    mask, alpha = _masks(1, 8), torch.zeros(2, NUM_OPS)
    params = model.trunk.logits(F.avg_pool2d(mask, 2), F.softmax(alpha, dim=-1))
    params = F.interpolate(params, size=(8, 8), mode="bilinear", align_corners=False)
    features = torch.cat([mask, positional_encoding(8, 8, 1, mask)], dim=1)  # 1 + 4 inputs
    out = model(mask, alpha)
    y, x = 5, 2
    p, h = params[0, :, y, x], features[0, :, y, x]
    w1, b1, w2, b2 = p[:15].view(3, 5), p[15:18], p[18:27].view(3, 3), p[27:30]
    hidden = F.relu(w1 @ h / math.sqrt(5) + b1)
    expected = (torch.tanh(w2 @ hidden / math.sqrt(3) + b2) + 1) / 2
    assert _relative(out[0, :, y, x], expected) < 1e-5


def test_positional_encoding_bands():
    enc = positional_encoding(4, 6, 2, torch.zeros(1))
    assert enc.shape == (1, 8, 4, 6)
    centre_x = (torch.arange(6) + 0.5) / 6 * 2 - 1
    assert _relative(enc[0, 6, 0], torch.sin(2 * math.pi * centre_x)) < 1e-5


@pytest.mark.parametrize("family", FAMILIES)
def test_alpha_and_weights_receive_gradients_and_alpha_changes_the_output(family):
    family_class, kwargs = FAMILIES[family]
    torch.manual_seed(0)
    model = family_class(**kwargs)
    alpha = ArchitectureParams.for_generator(model).alpha
    assert alpha.shape == (4, NUM_OPS)
    out = model(_masks(), alpha)
    assert out.shape == (2, 3, 16, 16) and 0 <= out.min() and out.max() <= 1
    out.mean().backward()
    assert alpha.grad.abs().sum() > 0 and all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        assert _relative(model(_masks(), alpha + torch.randn_like(alpha)), out) > 1e-4
    with pytest.raises(ValueError, match="alpha must have shape"):
        model(_masks(), torch.zeros(3, NUM_OPS))


@pytest.mark.parametrize("family", FAMILIES)
def test_derive_save_load_fixed_equals_searchable_at_peaked_alpha(family, tmp_path):
    family_class, kwargs = FAMILIES[family]
    torch.manual_seed(0)
    model = family_class(**kwargs)
    assert model.searchable
    choice = [2, 0, 1, 2]
    alpha = torch.zeros(4, NUM_OPS)
    alpha[torch.arange(4), torch.tensor(choice)] = 100.0  # softmax is one-hot in float32
    path = tmp_path / "genotype.yaml"
    model.derive(alpha).save(path)
    assert Genotype.load(path).to_dict() == {"down": ["conv_8_2_3", "conv_4_2_1"], "up": ["upconv_6_2_2", "upconv_8_2_3"]}
    fixed = GENERATORS.build(f"{family}_fixed", genotype=str(path), **{k: v for k, v in kwargs.items() if k != "depth"})
    assert type(fixed) is family_class and not fixed.searchable  # the old name builds the family
    assert family_class(genotype=str(path), **{k: v for k, v in kwargs.items() if k != "depth"}).genotype == fixed.genotype
    # the chosen candidate's weights, everything else as is
    state = {}
    for key, value in model.state_dict().items():
        found = CELL_OP.search(key)
        if found is None:
            state[key] = value
            continue
        side, index, op = found.group(1), int(found.group(2)), int(found.group(3))
        if op == choice[index + (2 if side == "up" else 0)]:
            state[key.replace(f"ops.{op}.", "", 1)] = value
    fixed.load_state_dict(state)
    with torch.no_grad():
        assert _relative(fixed(_masks()), model(_masks(), alpha)) < 1e-5
    with pytest.raises(ValueError, match="built from a genotype and has no alpha"):
        fixed(_masks(), alpha)
    with pytest.raises(ValueError, match="is searched: call it with alpha"):
        model(_masks())
    with pytest.raises(ValueError, match="built from a genotype already"):
        fixed.derive(alpha)
    with pytest.raises(ValueError, match="does not match"):
        family_class(genotype=path, depth=3)


def test_asapnet_size_checks_name_scale_and_depth():
    with pytest.raises(ValueError, match=r"2\*\*\(scale \+ depth\).*not divisible by 2\*\*depth = 16"):
        ASAPNetGenerator(depth=2, scale=2, image_size=24)
    with pytest.raises(ValueError, match="mlp_layers must be >= 1, got 0"):
        ASAPNetGenerator(mlp_layers=0)


GENERATOR_SETS = {
    "spade": "augmenter.generator={name: spade, kwargs: {depth: 2, base_width: 4, hidden: 4}}",
    "asapnet": "augmenter.generator={name: asapnet, kwargs: {depth: 2, base_width: 4, scale: 1}}",
}


@pytest.mark.parametrize("family", GENERATOR_SETS)
def test_e2eaug_searches_derives_and_the_fixed_generator_trains_from_the_genotype(family, tmp_path):
    """Train e2eaug with the family's searched generator, derive its genotype, then train
    gan_joint with the same family built from the genotype file."""
    common = ["augmenter.pretrain_steps=1", f"out_dir={tmp_path}", "engine.train_iters=2", "engine.valid_every=2"]
    cfg = tiny_config([GENERATOR_SETS[family], "name=search", *common])
    engine = build_engine(cfg, build_data(cfg.data))
    alpha_before = engine.augmenter.alpha().detach().clone()
    engine.run()
    assert not torch.equal(engine.augmenter.alpha().detach(), alpha_before)  # the arch level moved alpha
    genotype = engine.augmenter.derive()
    path = tmp_path / "genotype.yaml"
    genotype.save(path)
    kwargs = "{hidden: 4}" if family == "spade" else "{scale: 1}"
    fixed = [f"augmenter.generator.name={family}",
             f"augmenter.generator.kwargs={{genotype: '{path}', base_width: 4, {kwargs[1:-1]}}}"]
    cfg = tiny_config(["augmenter.name=gan_joint", "name=fixed", *fixed, *common])
    engine = build_engine(cfg, build_data(cfg.data))
    assert engine.augmenter.module.genotype == genotype and engine.augmenter.arch_parameters() is None
    engine.run()
