"""Dice and Jaccard of a segmenter on a dataset (per image, then averaged)."""

from __future__ import annotations

from typing import Any, Dict

import torch

from e2eaug.losses import segmentation_loss
from e2eaug.metrics import binarize, dice_per_image, jaccard_per_image


@torch.no_grad()
def evaluate_segmenter(
    model: torch.nn.Module, dataset, device: torch.device | str, batch_size: int = 32, per_image: bool = False
) -> Dict[str, Any]:
    """Mean per-image Dice and Jaccard of ``model`` (sigmoid > 0.5) on ``dataset``, plus BCE loss.

    ``dataset`` has ``images [N,C,H,W]`` and ``masks [N,1,H,W]`` tensors (and ``names``). The
    model is put in eval mode and restored to its previous mode afterwards. With ``per_image``
    the result also holds ``"per_image"``: ``[(name, dice, jaccard), ...]`` in dataset order.
    """
    was_training = model.training
    model.eval()
    dice, jaccard, loss_sum = [], [], 0.0
    n = len(dataset.images)
    if n == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    for start in range(0, n, batch_size):
        images = dataset.images[start : start + batch_size].to(device)
        masks = dataset.masks[start : start + batch_size].to(device)
        logits = model(images)
        loss_sum += segmentation_loss(logits, masks).item() * len(images)
        pred = binarize(logits)
        dice.append(dice_per_image(pred, masks).cpu())
        jaccard.append(jaccard_per_image(pred, masks).cpu())
    model.train(was_training)
    dice, jaccard = torch.cat(dice), torch.cat(jaccard)
    out: Dict[str, Any] = {"dice": dice.mean().item(), "jaccard": jaccard.mean().item(), "loss": loss_sum / n, "n": n}
    if per_image:
        out["per_image"] = list(zip(dataset.names, dice.tolist(), jaccard.tolist()))
    return out
