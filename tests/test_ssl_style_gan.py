"""Style generator shapes, style mixing and the mirrored discriminator."""

import pytest
import torch

from examples.ssl_gan.style_gan import (
    Discriminator,
    StyleGenerator,
    discriminator_loss,
    generator_loss,
    r1_penalty,
)


def tiny_generator(size=16):
    torch.manual_seed(0)
    return StyleGenerator(size=size, z_dim=8, w_dim=8, mapping_layers=8, channel_base=64,
                          max_channels=8)


def test_shapes_and_range():
    g = tiny_generator(16)
    assert len(g.mapping.layers) == 8
    assert g.num_layers == 2 * 3  # two style layers each at 4, 8, 16 px
    inputs = g.sample_inputs(3, torch.Generator().manual_seed(1))
    assert [tuple(n.shape) for n in inputs["noise"]] == [(3, 1, r, r) for r in (4, 4, 8, 8, 16, 16)]
    x = g(**inputs)
    assert x.shape == (3, 3, 16, 16) and x.abs().max() <= 1
    d = Discriminator(size=16, channel_base=64, max_channels=8)
    assert d(x).shape == (3,)
    with pytest.raises(ValueError):
        StyleGenerator(size=24)


def test_same_inputs_same_output_and_noise_matters():
    g = tiny_generator()
    with torch.no_grad():
        for layer in g.synthesis.layers:
            layer.noise_weight.fill_(0.5)
    a = g.sample_inputs(2, torch.Generator().manual_seed(3), mixing_prob=0.9)
    b = g.sample_inputs(2, torch.Generator().manual_seed(3), mixing_prob=0.9)
    assert torch.equal(g(**a), g(**b))
    other_noise = dict(a, noise=[torch.randn_like(n) for n in a["noise"]])
    assert not torch.allclose(g(**a), g(**other_noise))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_style_mixing_switches_w_at_layer_k(k):
    g = tiny_generator()
    gen = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(2, 8, generator=gen), torch.randn(2, 8, generator=gen)
    noise = [torch.randn(s, generator=gen) for s in g.synthesis.noise_shapes(2)]
    mixed = g(z1, noise, z_mix=z2, crossover=torch.full((2,), k))
    w1, w2 = g.mapping(z1), g.mapping(z2)
    ws = torch.stack([w1 if i < k else w2 for i in range(g.num_layers)], dim=1)
    assert torch.allclose(mixed, g.synthesis(ws, noise), atol=1e-6)
    assert not torch.allclose(mixed, g(z1, noise), atol=1e-4)
    assert not torch.allclose(mixed, g(z2, noise), atol=1e-4)


def test_style_mixing_extremes_and_per_sample_crossover():
    g = tiny_generator()
    z1, z2 = torch.randn(2, 8), torch.randn(2, 8)
    noise = [torch.zeros(s) for s in g.synthesis.noise_shapes(2)]
    n = g.num_layers
    assert torch.allclose(g(z1, noise, z_mix=z2, crossover=torch.full((2,), n)), g(z1, noise))
    assert torch.allclose(g(z1, noise, z_mix=z2, crossover=torch.zeros(2, dtype=torch.long)),
                          g(z2, noise), atol=1e-6)
    per_sample = g(z1, noise, z_mix=z2, crossover=torch.tensor([n, 0]))
    assert torch.allclose(per_sample[0], g(z1, noise)[0])
    assert torch.allclose(per_sample[1], g(z2, noise)[1], atol=1e-6)
    inputs = g.sample_inputs(64, torch.Generator().manual_seed(0), mixing_prob=0.5)
    mixed = inputs["crossover"] < n
    assert 0 < mixed.sum() < 64 and inputs["crossover"][mixed].min() >= 1


def test_gan_losses():
    logits = torch.tensor([0.0, 0.0])
    assert generator_loss(logits).item() == pytest.approx(0.6931, abs=1e-4)
    assert discriminator_loss(logits, logits).item() == pytest.approx(2 * 0.6931, abs=1e-4)
    d = Discriminator(size=8, channel_base=32, max_channels=4)
    real = torch.randn(4, 3, 8, 8, requires_grad=True)
    assert r1_penalty(real, d(real)).item() >= 0
