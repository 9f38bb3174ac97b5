"""SimCLR's NT-Xent and BYOL's loss and EMA update against hand computations."""

import math

import pytest
import torch
from torch import nn

from examples.ssl_gan.byol import BYOL, cosine_tau, ema_update, regression_loss
from examples.ssl_gan.simclr import nt_xent_loss


class TinyBackbone(nn.Module):
    feature_dim = 4

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(x.flatten(1))


def reference_nt_xent(z1, z2, t):
    """Chen et al. (2020), eq. (1), one anchor at a time, in plain Python."""
    rows = z1.tolist() + z2.tolist()
    z = [[c / math.sqrt(sum(c * c for c in v)) for c in v] for v in rows]
    n = len(z1)

    def sim(a, b):
        return sum(x * y for x, y in zip(z[a], z[b])) / t

    total = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        denom = sum(math.exp(sim(i, k)) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(sim(i, pos)) / denom)
    return total / (2 * n)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_nt_xent_matches_hand_computation(t):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    assert nt_xent_loss(z1, z2, t).item() == pytest.approx(reference_nt_xent(z1, z2, t), rel=1e-5)


def test_nt_xent_prefers_matching_views_and_checks_input():
    z = torch.eye(4)
    assert nt_xent_loss(z, z, 0.1) < nt_xent_loss(z, z.roll(1, 0), 0.1)
    with pytest.raises(ValueError):
        nt_xent_loss(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError):
        nt_xent_loss(z, z, 0.0)


def test_byol_regression_loss_values():
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert regression_loss(p, p).item() == pytest.approx(0.0, abs=1e-6)
    assert regression_loss(p, -p).item() == pytest.approx(4.0)
    assert regression_loss(p, torch.tensor([[0.0, 1.0], [3.0, 0.0]])).item() == pytest.approx(2.0)


def test_ema_update_exact_values():
    online, target = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([[1.0, 2.0]]))
        online.bias.fill_(-1.0)
        target.weight.copy_(torch.tensor([[3.0, -2.0]]))
        target.bias.fill_(0.5)
    ema_update(target, online, tau=0.75)
    # 0.75 * target + 0.25 * online
    assert torch.equal(target.weight, torch.tensor([[2.5, -1.0]]))
    assert torch.equal(target.bias, torch.tensor([0.125]))
    assert torch.equal(online.weight, torch.tensor([[1.0, 2.0]]))  # online untouched
    with pytest.raises(ValueError):
        ema_update(target, online, tau=1.5)


def test_cosine_tau_schedule():
    assert cosine_tau(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_tau(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_tau(0.99, 1.0) == pytest.approx(1.0)


def test_byol_target_follows_online_by_ema_only():
    torch.manual_seed(0)
    byol = BYOL(backbone=TinyBackbone(), hidden_dim=8, proj_dim=4, base_tau=0.5)
    online_ids = {id(p) for p in byol.online_parameters()}
    target = list(byol.target_backbone.parameters()) + list(byol.target_projector.parameters())
    assert not online_ids & {id(p) for p in target}
    assert all(not p.requires_grad for p in target)
    x1, x2 = torch.rand(6, 3, 4, 4), torch.rand(6, 3, 4, 4)
    loss = byol.loss(x1, x2)
    loss.backward()
    assert all(p.grad is None for p in target)
    with torch.no_grad():
        byol.backbone.fc.weight.add_(1.0)
    before = byol.target_backbone.fc.weight.clone()
    byol.momentum_update(progress=0.0)  # tau = 0.5
    expected = 0.5 * before + 0.5 * byol.backbone.fc.weight
    assert torch.allclose(byol.target_backbone.fc.weight, expected)
