"""Linear probe on frozen features."""

import pytest
import torch
from torch import nn

from examples.ssl_gan.backbone import SmallResNet18
from examples.ssl_gan.probe import balanced_accuracy, extract_features, grouped_split, linear_probe, stratified_split


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


def test_grouped_split_keeps_every_group_on_one_side():
    # 30 lesions of class 0 (1-3 images each), 6 of class 1, one of class 2
    groups, labels = [], []
    for lesion in range(37):
        cls = 0 if lesion < 30 else (1 if lesion < 36 else 2)
        for _ in range(1 + lesion % 3):
            groups.append(f"L{lesion}")
            labels.append(cls)
    labels = torch.tensor(labels)
    for seed in (0, 1):
        tr, te = grouped_split(labels, groups, 0.8, seed)
        assert sorted(tr.tolist() + te.tolist()) == list(range(len(labels)))
        train_groups, test_groups = {groups[i] for i in tr.tolist()}, {groups[i] for i in te.tolist()}
        assert train_groups.isdisjoint(test_groups)
        for cls in (0, 1):  # classes of several lesions are on both sides, near 80/20 (whole lesions)
            share = (labels[tr] == cls).sum().item() / (labels == cls).sum().item()
            assert 0.6 <= share <= 0.95 and (labels[te] == cls).any()
        assert (labels[tr] == 2).any() and not (labels[te] == 2).any()  # one lesion: training only
    assert torch.equal(grouped_split(labels, groups, 0.8, 0)[0], grouped_split(labels, groups, 0.8, 0)[0])
    assert not torch.equal(grouped_split(labels, groups, 0.8, 0)[0], grouped_split(labels, groups, 0.8, 1)[0])


def test_balanced_accuracy_and_majority_rate():
    labels = torch.tensor([0, 0, 0, 0, 1, 1])
    assert balanced_accuracy(torch.tensor([0, 0, 0, 0, 0, 0]), labels) == 0.5  # accuracy 4/6
    assert balanced_accuracy(torch.tensor([0, 0, 1, 1, 1, 1]), labels) == 0.75
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 60 + [1] * 20)
    feats = torch.randn(80, 8, generator=g)
    groups = [f"L{i // 2}" for i in range(80)]
    result = linear_probe(feats, labels, seeds=[0, 1], epochs=5, groups=groups)
    assert len(result.balanced_accuracies) == len(result.majority_rates) == 2
    tr, te = grouped_split(labels, groups, 0.8, 0)
    assert result.majority_rates[0] == pytest.approx((labels[te] == 0).float().mean().item())
    summary = result.to_dict()
    assert 0 <= summary["balanced_mean"] <= 1 and summary["majority_rate"] == pytest.approx(0.75, abs=0.05)


def test_validation_figure_never_sees_the_test_items():
    g = torch.Generator().manual_seed(1)
    labels = torch.tensor([0] * 60 + [1] * 40)
    groups = [f"L{i // 2}" for i in range(100)]
    feats = torch.randn(100, 8, generator=g) + labels[:, None].float()
    a = linear_probe(feats, labels, seeds=[0], lr=0.01, epochs=30, groups=groups, validation=True)
    _, te = grouped_split(labels, groups, 0.8, 0)
    scrambled = feats.clone()
    scrambled[te] = torch.randn(len(te), 8, generator=g) * 5
    b = linear_probe(scrambled, labels, seeds=[0], lr=0.01, epochs=30, groups=groups, validation=True)
    assert a.val_accuracies == b.val_accuracies and a.val_balanced_accuracies == b.val_balanced_accuracies
    assert a.accuracies != b.accuracies
    assert 0.5 < a.val_accuracies[0] <= 1 and set(a.to_dict()) >= {"val_mean", "val_balanced_mean"}
    assert "val_mean" not in linear_probe(feats, labels, seeds=[0], epochs=2).to_dict()


@pytest.mark.parametrize("stride,maxpool", [(1, False), (2, False), (2, True)])
def test_encoder_stems_give_512_features(stride, maxpool):
    net = SmallResNet18(stem_stride=stride, stem_maxpool=maxpool)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 512)
    assert net.net.conv1.stride == (stride, stride)
    with pytest.raises(ValueError, match="stem_stride"):
        SmallResNet18(stem_stride=0)
