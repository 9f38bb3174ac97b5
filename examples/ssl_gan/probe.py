"""Linear evaluation of a frozen encoder (the protocol of SimCLR, Chen et al., 2020, and BYOL,
Grill et al., 2020, at small scale).

The encoder is frozen, so features are computed once (:func:`extract_features`). Per seed,
:func:`linear_probe` draws a stratified ``train_fraction`` split (by group, e.g. HAM10000's
lesion ids, when groups are given: no lesion on both sides), standardises features with the
training split's statistics, trains one linear layer with Adam (full epochs of mini-batches)
and reports accuracy, balanced accuracy (mean recall over the test split's classes) and the
majority-class rate (the accuracy of always answering the training split's largest class) on
the rest. The summary is mean and sample standard deviation over seeds; the mean accuracy at
intermediate epochs shows whether the probe has converged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def extract_features(encoder: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Encoder outputs ``(N, D)`` in eval mode (the encoder's mode is restored afterwards)."""
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    try:
        feats = [encoder(images[i:i + batch_size].to(device)).flatten(1).cpu()
                 for i in range(0, images.shape[0], batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(feats)


def stratified_split(labels: torch.Tensor, train_fraction: float,
                     seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Indices of a per-class ``train_fraction`` / rest split (each class keeps >= 1 test item
    when it has >= 2 items)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in torch.unique(labels).tolist():
        idx = rng.permutation(torch.nonzero(labels == c).flatten().numpy())
        k = int(round(train_fraction * len(idx)))
        k = min(max(k, 1), len(idx) - 1) if len(idx) > 1 else len(idx)
        train.extend(idx[:k].tolist())
        test.extend(idx[k:].tolist())
    return torch.tensor(sorted(train)), torch.tensor(sorted(test))


def grouped_split(labels: torch.Tensor, groups: Sequence[str], train_fraction: float,
                  seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Indices of a ``train_fraction`` / rest split that keeps every group on one side.

    Each group belongs to the class most of its items have; per class, its groups are shuffled
    and go to training until they hold ``train_fraction`` of the class's items (a class of two
    or more groups keeps at least one on each side).
    """
    if len(groups) != len(labels):
        raise ValueError(f"need one group per label, got {len(groups)} groups for {len(labels)} labels")
    rng = np.random.default_rng(seed)
    members: Dict[str, List[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    labels_np = labels.numpy()
    by_class: Dict[int, List[str]] = {}
    for g in sorted(members):
        by_class.setdefault(int(np.bincount(labels_np[members[g]]).argmax()), []).append(g)
    train, test = [], []
    for c in sorted(by_class):
        names = [by_class[c][i] for i in rng.permutation(len(by_class[c]))]
        target = train_fraction * sum(len(members[g]) for g in names)
        taken = 0
        for position, g in enumerate(names):
            last = position == len(names) - 1
            if len(names) == 1 or (not last and (position == 0 or taken + len(members[g]) / 2 <= target)):
                train.extend(members[g])
                taken += len(members[g])
            else:
                test.extend(members[g])
    return torch.tensor(sorted(train)), torch.tensor(sorted(test))


def balanced_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of the share of their items predicted right."""
    recalls = [(predicted[labels == c] == c).float().mean().item() for c in torch.unique(labels).tolist()]
    return float(np.mean(recalls))


@dataclass
class ProbeResult:
    """Test accuracy per seed, their mean and sample std, the final training loss per seed, as a
    convergence check the mean test accuracy after each of the ``report_epochs`` and, where
    asked for, the validation figures (a probe fitted on part of the training split, scored on
    the rest of it: for choosing settings without looking at the test split)."""

    accuracies: List[float]
    final_train_losses: List[float] = field(default_factory=list)
    curve: Dict[int, float] = field(default_factory=dict)
    balanced_accuracies: List[float] = field(default_factory=list)
    majority_rates: List[float] = field(default_factory=list)
    val_accuracies: List[float] = field(default_factory=list)
    val_balanced_accuracies: List[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return _std(self.accuracies)

    def to_dict(self) -> Dict[str, object]:
        out = {"mean": self.mean, "std": self.std, "accuracies": self.accuracies,
               "balanced_mean": float(np.mean(self.balanced_accuracies)),
               "balanced_std": _std(self.balanced_accuracies),
               "balanced_accuracies": self.balanced_accuracies,
               "majority_rate": float(np.mean(self.majority_rates)),
               "final_train_losses": self.final_train_losses,
               "mean_accuracy_by_epoch": {str(e): a for e, a in self.curve.items()}}
        if self.val_accuracies:
            out.update({"val_mean": float(np.mean(self.val_accuracies)), "val_std": _std(self.val_accuracies),
                        "val_balanced_mean": float(np.mean(self.val_balanced_accuracies)),
                        "val_balanced_std": _std(self.val_balanced_accuracies),
                        "val_accuracies": self.val_accuracies,
                        "val_balanced_accuracies": self.val_balanced_accuracies})
        return out


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _train_epoch(layer: nn.Linear, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                 batch_size: int, generator: torch.Generator) -> float:
    """One shuffled pass of mini-batch cross-entropy training; returns the mean loss."""
    order = torch.randperm(x.shape[0], generator=generator)
    total = 0.0
    for i in range(0, x.shape[0], batch_size):
        idx = order[i:i + batch_size]
        loss = F.cross_entropy(layer(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    return total / x.shape[0]


@torch.no_grad()
def _predict(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return layer(x).argmax(1)


def _fit(features: torch.Tensor, labels: torch.Tensor, train: torch.Tensor, seed: int,
         num_classes: int, lr: float, epochs: int, batch_size: int,
         score: Callable[[int, nn.Linear, torch.Tensor], None]) -> Tuple[nn.Linear, torch.Tensor, float]:
    """Standardise with the ``train`` items' statistics and train one linear layer on them.

    ``score(epoch, layer, x)`` runs after every epoch. Returns the layer, the standardised
    features and the last epoch's mean training loss.
    """
    mean, std = features[train].mean(0), features[train].std(0) + 1e-6
    x = (features - mean) / std
    torch.manual_seed(seed)
    layer = nn.Linear(x.shape[1], num_classes)
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    loss = float("nan")
    for epoch in range(1, epochs + 1):
        loss = _train_epoch(layer, opt, x[train], labels[train], batch_size, gen)
        score(epoch, layer, x)
    return layer, x, loss


def linear_probe(features: torch.Tensor, labels: torch.Tensor, *, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                 train_fraction: float = 0.8, lr: float = 1e-4, epochs: int = 500,
                 batch_size: int = 32, report_epochs: Sequence[int] = (),
                 groups: Optional[Sequence[str]] = None, validation: bool = False) -> ProbeResult:
    """Linear-probe accuracy over ``seeds`` (one split and one initialisation per seed).

    Args:
        features: ``(N, D)`` frozen features.
        labels: ``(N,)`` integer classes.
        seeds: one run per seed.
        train_fraction: stratified training share; the rest is the test set.
        lr, epochs, batch_size: Adam settings of the linear layer ``nn.Linear(D, classes)``.
        report_epochs: epochs after which the test accuracy is also recorded (``curve``).
        groups: one group name per item (e.g. a lesion id): the split keeps each group on one
            side (:func:`grouped_split`); ``None`` splits items (:func:`stratified_split`).
        validation: also split each seed's training items the same way (``train_fraction``
            of them to fit, the rest to score) and record the validation accuracies; the test
            items play no part in them.
    """
    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"need features (N, D) and labels (N,), got {tuple(features.shape)}, "
                         f"{tuple(labels.shape)}")
    features = features.float().cpu()
    labels = labels.long().cpu()
    num_classes = int(labels.max()) + 1
    result = ProbeResult([])
    by_epoch: Dict[int, List[float]] = {e: [] for e in report_epochs if 0 < e <= epochs}

    def split(idx: torch.Tensor, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
        if groups is None:
            tr, te = stratified_split(labels[idx], train_fraction, seed)
        else:
            tr, te = grouped_split(labels[idx], [groups[i] for i in idx.tolist()], train_fraction, seed)
        return idx[tr], idx[te]

    def no_score(epoch: int, layer: nn.Linear, x: torch.Tensor) -> None:
        pass

    for seed in seeds:
        tr, te = split(torch.arange(len(labels)), seed)
        if validation:
            fit, val = split(tr, seed)
            layer, x, _ = _fit(features, labels, fit, seed, num_classes, lr, epochs, batch_size, no_score)
            predicted = _predict(layer, x[val])
            result.val_accuracies.append((predicted == labels[val]).float().mean().item())
            result.val_balanced_accuracies.append(balanced_accuracy(predicted, labels[val]))

        def curve(epoch: int, layer: nn.Linear, x: torch.Tensor) -> None:
            if epoch in by_epoch:
                by_epoch[epoch].append((_predict(layer, x[te]) == labels[te]).float().mean().item())

        layer, x, loss = _fit(features, labels, tr, seed, num_classes, lr, epochs, batch_size, curve)
        predicted = _predict(layer, x[te])
        result.accuracies.append((predicted == labels[te]).float().mean().item())
        result.balanced_accuracies.append(balanced_accuracy(predicted, labels[te]))
        majority = int(torch.bincount(labels[tr], minlength=num_classes).argmax())
        result.majority_rates.append((labels[te] == majority).float().mean().item())
        result.final_train_losses.append(loss)
    result.curve = {e: float(np.mean(a)) for e, a in by_epoch.items()}
    return result


__all__ = ["ProbeResult", "balanced_accuracy", "extract_features", "grouped_split", "linear_probe",
           "stratified_split"]
