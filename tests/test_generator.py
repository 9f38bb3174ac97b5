"""Search space, genotype files and the U-Net generator, searched or built from a genotype."""

from __future__ import annotations

import pytest
import torch
import yaml

from e2eaug.models import (
    DOWN_OPS,
    NUM_OPS,
    UP_OPS,
    ArchitectureParams,
    Genotype,
    UNetGenerator,
    derive,
)
from e2eaug.models.params import count_parameters
from e2eaug.models.search_space import down_op, up_op

TINY = {"depth": 3, "base_width": 4}


@pytest.fixture
def generator() -> UNetGenerator:
    torch.manual_seed(0)
    return UNetGenerator(**TINY)


def peaked_alpha(num_cells: int, choice: list) -> torch.Tensor:
    alpha = torch.zeros(num_cells, NUM_OPS)
    alpha[torch.arange(num_cells), torch.tensor(choice)] = 100.0
    return alpha


# ----------------------------------------------------------------------------- search space


def test_tables_have_matching_sizes():
    assert list(DOWN_OPS) == ["conv_4_2_1", "conv_6_2_2", "conv_8_2_3"]
    assert list(UP_OPS) == ["upconv_4_2_1", "upconv_6_2_2", "upconv_8_2_3"]
    assert len(UP_OPS) == NUM_OPS


@pytest.mark.parametrize("size", [2, 8, 32])
def test_every_candidate_halves_or_doubles(size):
    x = torch.rand(2, 3, size, size)
    for name in DOWN_OPS:
        assert down_op(name, 3, 5, norm=size > 2)(x).shape == (2, 5, size // 2, size // 2)
    for name in UP_OPS:
        assert up_op(name, 3, 5)(x).shape == (2, 5, 2 * size, 2 * size)


# ----------------------------------------------------------------------------- searchable


@pytest.mark.parametrize("size", [32, 64, 128])
def test_searchable_shapes_and_range(generator, size):
    alpha = ArchitectureParams.for_generator(generator).alpha
    out = generator(torch.rand(2, 1, size, size), alpha)
    assert out.shape == (2, 3, size, size)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_searchable_256px_full_depth():
    gen = UNetGenerator(depth=8, base_width=4)  # pix2pix unet_256 layout: 1x1 bottleneck
    out = gen(torch.rand(1, 1, 256, 256), ArchitectureParams.for_generator(gen).alpha)
    assert out.shape == (1, 3, 256, 256)


def test_alpha_and_weights_receive_gradients(generator):
    arch = ArchitectureParams.for_generator(generator)
    assert arch.alpha.shape == (generator.num_cells, generator.num_ops) == (6, 3)
    generator(torch.rand(2, 1, 32, 32), arch.alpha).square().mean().backward()
    assert arch.alpha.grad is not None and arch.alpha.grad.abs().sum(dim=1).min() > 0
    assert all(p.grad is not None for p in generator.parameters())


def test_forward_is_deterministic_and_stateless(generator):
    mask, alpha = torch.rand(2, 1, 32, 32), torch.randn(6, 3)
    generator.train()
    assert torch.equal(generator(mask, alpha), generator(mask, alpha))
    assert list(generator.buffers()) == []


def test_wrong_alpha_shape_fails(generator):
    with pytest.raises(ValueError, match=r"\[6, 3\]"):
        generator(torch.rand(1, 1, 32, 32), torch.zeros(4, 3))


def test_bad_sizes_fail_clearly(generator):
    alpha = torch.zeros(6, 3)
    with pytest.raises(ValueError, match=r"size 30 .*2\*\*depth = 8 \(depth=3\).*24, 32"):
        generator(torch.rand(1, 1, 30, 30), alpha)
    with pytest.raises(ValueError, match=r"size 36 .*32, 40"):
        generator(torch.rand(1, 1, 32, 36), alpha)
    with pytest.raises(ValueError, match=r"size 50 .*48, 56"):
        UNetGenerator(depth=3, image_size=50)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        UNetGenerator(depth=0)
    with pytest.raises(ValueError, match=r"mask must have shape \[N, 1, H, W\]"):
        generator(torch.rand(1, 3, 32, 32), alpha)


# ----------------------------------------------------------------------------- genotype / fixed


def test_derive_save_load_fixed_round_trip(generator, tmp_path):
    alpha = peaked_alpha(6, [0, 1, 2, 2, 1, 0])
    genotype = generator.derive(alpha)
    assert genotype == Genotype(
        down=["conv_4_2_1", "conv_6_2_2", "conv_8_2_3"],
        up=["upconv_8_2_3", "upconv_6_2_2", "upconv_4_2_1"],
    )
    path = tmp_path / "arch" / "genotype.yaml"
    genotype.save(path)
    assert yaml.safe_load(path.read_text()) == genotype.to_dict()
    loaded = Genotype.load(path)
    assert loaded == genotype == Genotype.from_dict(genotype.to_dict())
    fixed = UNetGenerator(genotype=loaded, base_width=4)
    assert fixed(torch.rand(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    assert UNetGenerator(genotype=loaded.to_dict(), depth=3, base_width=4).genotype == loaded
    assert UNetGenerator(genotype=str(path), base_width=4).genotype == loaded


def test_depth_one_and_width_cap():
    gen = UNetGenerator(depth=1, base_width=4)
    assert gen(torch.rand(1, 1, 8, 8), torch.zeros(2, 3)).shape == (1, 3, 8, 8)
    capped = UNetGenerator(depth=4, base_width=4, max_width=8)
    assert [cell.ops[0][0].out_channels for cell in capped.down] == [4, 8, 8, 8]
    assert capped(torch.rand(1, 1, 16, 16), torch.zeros(8, 3)).shape == (1, 3, 16, 16)


def test_peaked_alpha_matches_fixed_generator(generator):
    alpha = peaked_alpha(6, [2, 0, 1, 1, 2, 0])
    fixed = UNetGenerator.from_searchable(generator, alpha)
    mask = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(generator(mask, alpha), fixed(mask))
    assert count_parameters(fixed) < count_parameters(generator)


def test_derive_function_and_shape_check():
    assert derive(torch.tensor([[0.0, 1.0, 0.0], [3.0, 0.0, 0.0]])).to_dict() == {
        "down": ["conv_6_2_2"],
        "up": ["upconv_4_2_1"],
    }
    with pytest.raises(ValueError, match="alpha must have shape"):
        derive(torch.zeros(3, 3))


def test_fixed_generator_rejects_alpha_and_depth_mismatch():
    genotype = Genotype(down=["conv_4_2_1"] * 2, up=["upconv_4_2_1"] * 2)
    fixed = UNetGenerator(genotype=genotype, base_width=4)
    with pytest.raises(ValueError, match="alpha=None"):
        fixed(torch.rand(1, 1, 32, 32), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="depth=3 does not match"):
        UNetGenerator(genotype=genotype, depth=3)


def test_unknown_op_in_genotype_file_fails_clearly(tmp_path):
    path = tmp_path / "genotype.yaml"
    path.write_text("down: [conv_4_2_1, conv_5_2_1]\nup: [upconv_4_2_1, upconv_4_2_1]\n")
    message = r"genotype\.yaml.*unknown down op 'conv_5_2_1'; known: conv_4_2_1"
    with pytest.raises(ValueError, match=message):
        Genotype.load(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("down: [conv_4_2_1\n", "genotype.yaml"),
        ("- conv_4_2_1\n", "must be a mapping"),
        ("down: [conv_4_2_1]\nup: [upconv_4_2_1]\nextra: 1\n", "exactly the keys down, up"),
        ("down: [conv_4_2_1]\nup: []\n", "as many up as down"),
        ("down: conv_4_2_1\nup: [upconv_4_2_1]\n", "list of op names"),
    ],
)
def test_malformed_genotype_file_names_the_file(tmp_path, text, message):
    path = tmp_path / "genotype.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="genotype.yaml") as info:
        Genotype.load(path)
    assert message in str(info.value)
