"""Linear probe on frozen features."""

import torch
from torch import nn

from e2eaug.ssl.probe import extract_features, linear_probe, stratified_split


def test_probe_separates_a_separable_toy_set():
    g = torch.Generator().manual_seed(0)
    centers = 2 * torch.randn(3, 64, generator=g)
    labels = torch.arange(3).repeat_interleave(40)
    feats = centers[labels] + torch.randn(120, 64, generator=g)
    result = linear_probe(feats, labels, seeds=[0, 1, 2], lr=1e-4, epochs=300,
                          report_epochs=[100, 999])
    assert len(result.accuracies) == 3
    assert list(result.curve) == [100] and 0 <= result.curve[100] <= 1
    assert result.mean >= 0.9
    assert result.std >= 0


def test_stratified_split_keeps_class_shares():
    labels = torch.tensor([0] * 10 + [1] * 5)
    tr, te = stratified_split(labels, 0.8, seed=0)
    assert len(tr) == 12 and len(te) == 3
    assert set(tr.tolist()).isdisjoint(te.tolist())
    assert (labels[te] == 1).sum() == 1


def test_extract_features_restores_mode():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1))
    net.train()
    feats = extract_features(net, torch.rand(5, 3, 8, 8), batch_size=2)
    assert feats.shape == (5, 4) and net.training
