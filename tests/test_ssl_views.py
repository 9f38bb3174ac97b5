"""SimCLR views: sampled once, applied deterministically and differentiably."""

import torch

from examples.ssl_gan.views import ViewConfig, apply_view, sample_view_params


def identity_params(n):
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).repeat(n, 1, 1)
    ones, zeros = torch.ones(n), torch.zeros(n)
    return {"theta": theta, "brightness": ones, "contrast": ones, "saturation": ones,
            "hue": zeros, "gray": zeros}


def test_identity_view_returns_the_image():
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(apply_view(x, identity_params(2)), x, atol=1e-5)


def test_views_deterministic_in_range_and_differentiable():
    cfg = ViewConfig()
    p = sample_view_params(5, cfg, torch.Generator().manual_seed(0))
    q = sample_view_params(5, cfg, torch.Generator().manual_seed(0))
    assert all(torch.equal(p[k], q[k]) for k in p)
    x = torch.rand(5, 3, 16, 16, requires_grad=True)
    a, b = apply_view(x, p), apply_view(x, p)
    assert torch.equal(a, b) and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 1
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_grayscale_view_has_equal_channels():
    p = identity_params(1)
    p["gray"] = torch.ones(1)
    out = apply_view(torch.rand(1, 3, 8, 8), p)
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])
