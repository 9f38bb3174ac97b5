"""Dice and Jaccard per image, for binary masks (the paper's per-patient metric is their mean).

Convention: when prediction and mask are both empty the image scores 1.0 on both metrics (a
correct "nothing here"); when exactly one is empty it scores 0.0.
"""

from __future__ import annotations

from typing import Tuple

import torch


def _flat_pair(pred: torch.Tensor, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {list(pred.shape)} and mask {list(target.shape)} differ in shape")
    if pred.dim() < 3:
        raise ValueError(f"expected [N,H,W] or [N,1,H,W] tensors, got {list(pred.shape)}")
    return (pred > 0.5).flatten(1).float(), (target > 0.5).flatten(1).float()


def dice_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Dice ``2|P&T| / (|P|+|T|)`` per image of binary ``pred``/``target`` ``[N,(1,)H,W]`` -> ``[N]``."""
    p, t = _flat_pair(pred, target)
    inter, total = (p * t).sum(1), p.sum(1) + t.sum(1)
    return torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.ones_like(total))


def jaccard_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Jaccard ``|P&T| / |P|T|`` per image of binary ``pred``/``target`` -> ``[N]``."""
    p, t = _flat_pair(pred, target)
    inter = (p * t).sum(1)
    union = p.sum(1) + t.sum(1) - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
