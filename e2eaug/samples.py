"""What a run shows of itself: the augmenter's pairs and the segmenter's predictions."""

from __future__ import annotations

from typing import Any, Iterator, List, Tuple

import torch
import torch.nn.functional as F
from torchvision.utils import make_grid

from e2eaug.metrics import binarize
from e2eaug.problems import names

Row = Tuple[str, torch.Tensor]

_PREDICTED = torch.tensor([1.0, 0.2, 0.2])  # red tint: the segmenter's mask
_TRUE = torch.tensor([0.1, 1.0, 0.1])  # green outline: the reference mask


def augmented_batches(engine: Any) -> Iterator[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(real images, augmented images, augmented masks)`` per training batch, step 0, 1, ...

    Raises ``ValueError`` for an augmenter that makes no pairs of its own (``none``).
    """
    seg = getattr(engine, names.SEG)
    step = 0
    while True:
        images, masks = seg.batcher.batch(step, seg.device)
        pairs = engine.augmenter.augment(images, masks, step)
        if pairs is None:
            raise ValueError(f"augmenter {engine.augmenter.settings.name!r} makes no pairs of its own")
        yield images, *pairs
        step += 1


def rgb(images: torch.Tensor) -> torch.Tensor:
    """Images in [0,1] as RGB ``[B,3,H,W]`` on the CPU, for figures."""
    images = images.detach().float().cpu().clamp(0, 1)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]


def outline(masks: torch.Tensor) -> torch.Tensor:
    """The one-pixel inner boundary of binary ``masks [B,1,H,W]``."""
    eroded = 1 - F.max_pool2d(1 - masks, kernel_size=3, stride=1, padding=1)
    return (masks - eroded).clamp(0, 1)


def overlay(images: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """RGB ``[B,3,H,W]``: ``images`` tinted red where ``predicted``, the outline of ``true`` green."""
    out = rgb(images)
    predicted, true = predicted.float().cpu(), true.float().cpu()
    out = out * (1 - 0.45 * predicted) + 0.45 * predicted * _PREDICTED.view(1, 3, 1, 1)
    edge = outline(true)
    return out * (1 - edge) + edge * _TRUE.view(1, 3, 1, 1)


@torch.no_grad()
def sample_rows(engine: Any, n: int = 8) -> List[Row]:
    """Rows of ``n`` RGB images in [0,1]: the augmenter's masks and images with real training
    images beside them (for an augmenter that makes pairs), then validation images with the
    segmenter's prediction (red) and the reference outline (green). The engine is left in
    eval mode."""
    engine.eval()
    rows: List[Row] = []
    try:
        real, images, masks = next(augmented_batches(engine))
        rows += [("augmented mask", rgb(masks[:n])), ("augmented image", rgb(images[:n])), ("real", rgb(real[:n]))]
    except ValueError:
        pass  # `none`: no pairs to show
    seg = getattr(engine, names.SEG)
    val_images, val_masks = engine.val_data.images[:n], engine.val_data.masks[:n]
    predicted = binarize(seg.module(val_images.to(seg.device)))
    rows.append(("validation: predicted (red), reference (green)", overlay(val_images, predicted, val_masks)))
    return rows


def grid(rows: List[Row]) -> torch.Tensor:
    """The rows as one ``[3,H,W]`` image (short rows filled with black)."""
    width = max(len(images) for _, images in rows)
    tiles = [torch.cat([t, t.new_zeros(width - len(t), *t.shape[1:])]) for _, t in rows]
    return make_grid(torch.cat(tiles), nrow=width, padding=2)
