"""Dice and Jaccard per image, for binary masks (the paper's per-patient metric is their mean).

Convention: when prediction and mask are both empty the image scores 1.0 on both metrics (a
correct "nothing here"); when exactly one is empty it scores 0.0. The boundary metrics (HD95,
NSD) are in :mod:`e2eaug.boundary`.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F

#: Probability above which a pixel is foreground, in evaluation, export and prediction.
THRESHOLD = 0.5
#: Default tolerance of the normalised surface Dice (:mod:`e2eaug.boundary`), in pixels.
NSD_TOLERANCE = 2.0


def binarize(x: torch.Tensor, threshold: float = THRESHOLD, from_logits: bool = True) -> torch.Tensor:
    """Hard 0/1 float mask from logits (``sigmoid(x) > threshold``) or probabilities (``x > threshold``)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    if from_logits:
        return (x > torch.logit(torch.tensor(threshold, dtype=torch.float64)).item()).float()
    return (x > threshold).float()


def at_size(probability: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A probability map ``[1, h, w]`` resized bilinear (``align_corners=False``) to ``height x
    width`` and thresholded at :data:`THRESHOLD`: a bool ``[height, width]`` mask."""
    full = F.interpolate(probability[None], size=(height, width), mode="bilinear", align_corners=False)
    return full[0, 0] > THRESHOLD


def binary_pair(pred: torch.Tensor, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Boolean ``[N,1,H,W]`` masks (values > 0.5) of a prediction and a mask of one shape,
    ``[N,H,W]`` or ``[N,1,H,W]``; other shapes raise ``ValueError``."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {list(pred.shape)} and mask {list(target.shape)} differ in shape")
    if pred.dim() not in (3, 4) or (pred.dim() == 4 and pred.shape[1] != 1):
        raise ValueError(f"expected [N,H,W] or [N,1,H,W] tensors, got {list(pred.shape)}")
    if pred.dim() == 3:
        pred, target = pred.unsqueeze(1), target.unsqueeze(1)
    return pred > 0.5, target > 0.5


def _flat_pair(pred: torch.Tensor, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    p, t = binary_pair(pred, target)
    return p.flatten(1).float(), t.flatten(1).float()


def dice_per_image(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Dice ``2|P&T| / (|P|+|T|)`` per image.

    Args:
        pred: binary prediction ``[N,1,H,W]`` or ``[N,H,W]`` (values > 0.5 count as foreground).
        target: binary mask of the same shape.
        eps: sums at or below ``eps`` count as empty (see the module's empty-mask convention).

    Returns:
        ``[N]`` float scores in [0, 1].
    """
    p, t = _flat_pair(pred, target)
    inter, total = (p * t).sum(1), p.sum(1) + t.sum(1)
    return torch.where(total > eps, 2 * inter / total.clamp_min(eps), torch.ones_like(total))


def jaccard_per_image(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Jaccard (IoU) ``|P&T| / |P|T|`` per image; arguments and return as :func:`dice_per_image`."""
    p, t = _flat_pair(pred, target)
    inter = (p * t).sum(1)
    union = p.sum(1) + t.sum(1) - inter
    return torch.where(union > eps, inter / union.clamp_min(eps), torch.ones_like(union))


def segmentation_scores(
    outputs: torch.Tensor, target: torch.Tensor, threshold: float = THRESHOLD, from_logits: bool = True
) -> Dict[str, float]:
    """Mean per-image Dice and Jaccard of a segmenter's outputs.

    Args:
        outputs: logits (``from_logits=True``) or probabilities, ``[N,1,H,W]`` or ``[N,H,W]``.
        target: binary masks of the same shape.
        threshold: probability above which a pixel is foreground (see :func:`binarize`).
        from_logits: whether ``outputs`` are logits.

    Returns:
        ``{"dice": mean, "jaccard": mean}`` over the N images.
    """
    if len(outputs) == 0:
        raise ValueError("cannot score an empty batch")
    pred = binarize(outputs, threshold, from_logits)
    return {
        "dice": dice_per_image(pred, target).mean().item(),
        "jaccard": jaccard_per_image(pred, target).mean().item(),
    }
