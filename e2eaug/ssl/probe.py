"""Linear evaluation of a frozen encoder (the protocol of SimCLR, Chen et al., 2020, and BYOL,
Grill et al., 2020, at small scale).

The encoder is frozen, so features are computed once (:func:`extract_features`). Per seed,
:func:`linear_probe` draws a stratified ``train_fraction`` split, standardises features with the
training split's statistics, trains one linear layer with Adam (full epochs of mini-batches)
and reports accuracy on the rest. The summary is mean and sample standard deviation over seeds;
the mean accuracy at intermediate epochs shows whether the probe has converged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

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


@dataclass
class ProbeResult:
    """Test accuracy per seed, their mean and sample std, the final training loss per seed and,
    as a convergence check, the mean test accuracy after each of the ``report_epochs``."""

    accuracies: List[float]
    final_train_losses: List[float] = field(default_factory=list)
    curve: Dict[int, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0

    def to_dict(self) -> Dict[str, object]:
        return {"mean": self.mean, "std": self.std, "accuracies": self.accuracies,
                "final_train_losses": self.final_train_losses,
                "mean_accuracy_by_epoch": {str(e): a for e, a in self.curve.items()}}


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
def _accuracy(layer: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    return (layer(x).argmax(1) == y).float().mean().item()


def linear_probe(features: torch.Tensor, labels: torch.Tensor, *, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                 train_fraction: float = 0.8, lr: float = 1e-4, epochs: int = 500,
                 batch_size: int = 32, report_epochs: Sequence[int] = ()) -> ProbeResult:
    """Linear-probe accuracy over ``seeds`` (one split and one initialisation per seed).

    Args:
        features: ``(N, D)`` frozen features.
        labels: ``(N,)`` integer classes.
        seeds: one run per seed.
        train_fraction: stratified training share; the rest is the test set.
        lr, epochs, batch_size: Adam settings of the linear layer ``nn.Linear(D, classes)``.
        report_epochs: epochs after which the test accuracy is also recorded (``curve``).
    """
    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"need features (N, D) and labels (N,), got {tuple(features.shape)}, "
                         f"{tuple(labels.shape)}")
    features = features.float().cpu()
    labels = labels.long().cpu()
    num_classes = int(labels.max()) + 1
    result = ProbeResult([])
    by_epoch: Dict[int, List[float]] = {e: [] for e in report_epochs if 0 < e <= epochs}
    for seed in seeds:
        tr, te = stratified_split(labels, train_fraction, seed)
        mean, std = features[tr].mean(0), features[tr].std(0) + 1e-6
        x = (features - mean) / std
        torch.manual_seed(seed)
        layer = nn.Linear(x.shape[1], num_classes)
        opt = torch.optim.Adam(layer.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        loss = float("nan")
        for epoch in range(1, epochs + 1):
            loss = _train_epoch(layer, opt, x[tr], labels[tr], batch_size, gen)
            if epoch in by_epoch:
                by_epoch[epoch].append(_accuracy(layer, x[te], labels[te]))
        result.accuracies.append(_accuracy(layer, x[te], labels[te]))
        result.final_train_losses.append(loss)
    result.curve = {e: float(np.mean(a)) for e, a in by_epoch.items()}
    return result


__all__ = ["ProbeResult", "extract_features", "linear_probe", "stratified_split"]
