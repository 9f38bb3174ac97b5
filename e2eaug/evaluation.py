"""Dice and Jaccard (and on request HD95 and NSD) of a segmenter on a dataset, per image, then averaged."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
import torch

from e2eaug.losses import segmentation_loss
from e2eaug.metrics import NSD_TOLERANCE, at_size, binarize, dice_per_image, jaccard_per_image

#: Per-image metrics, in the order of the ``"per_image"`` entries.
METRICS = ("dice", "jaccard")
BOUNDARY_METRICS = ("hd95", "nsd")


def _boundary_scores(pred: torch.Tensor, masks: torch.Tensor, tolerance: float) -> Dict[str, torch.Tensor]:
    # MONAI takes seconds to import, and validation during training never asks for these.
    from e2eaug.boundary import hd95_per_image, nsd_per_image

    return {"hd95": hd95_per_image(pred, masks), "nsd": nsd_per_image(pred, masks, tolerance)}


def _own_size_scores(
    probability: torch.Tensor, mask: np.ndarray, boundary: bool, tolerance: float
) -> Dict[str, torch.Tensor]:
    """One image's scores at its own size: ``probability [1, h, w]`` resized to ``mask``'s."""
    pred = at_size(probability, *mask.shape)[None, None].float()
    target = torch.from_numpy(mask)[None, None].float()
    scores = {"dice": dice_per_image(pred, target), "jaccard": jaccard_per_image(pred, target)}
    if boundary:
        scores.update(_boundary_scores(pred, target, tolerance))
    return {name: value[0] for name, value in scores.items()}


@torch.no_grad()
def evaluate_segmenter(
    model: torch.nn.Module,
    dataset,
    device: torch.device | str,
    batch_size: int = 32,
    per_image: bool = False,
    boundary: bool = False,
    nsd_tolerance: Optional[float] = None,
    own_size: bool = False,
) -> Dict[str, Any]:
    """Mean per-image Dice and Jaccard of ``model`` (sigmoid > 0.5) on ``dataset``, plus BCE loss.

    ``dataset`` has ``images [N,C,H,W]`` and ``masks [N,1,H,W]`` tensors (and ``names``). The
    model is put in eval mode and restored to its previous mode afterwards. With ``boundary``
    the result also holds the boundary metrics ``hd95`` (pixels) and ``nsd`` at
    ``nsd_tolerance`` pixels (``None``: :data:`~e2eaug.metrics.NSD_TOLERANCE`;
    :mod:`e2eaug.boundary` has the empty-mask conventions), and ``nsd_tolerance``; without it
    they are not computed (validation during training, where they would cost time). With
    ``per_image`` the result also holds ``"per_image"``: one dict per image in dataset order,
    ``{"image": name, "dice": ..., "jaccard": ...[, "hd95": ..., "nsd": ...]}``.

    With ``own_size``, a dataset that keeps its masks at their images' own size
    (``native_masks``) is scored there: each probability map resized bilinear to its mask's size
    and thresholded, as ``predict`` does, so HD95 and NSD are in the image's pixels. The
    result's ``scored_at`` says where: ``"own size"`` or ``"HxW"``, the size of the tensors.
    ``foreground`` is the mean share of pixels predicted foreground (0: the model predicts
    background everywhere).
    """
    was_training = model.training
    model.eval()
    n = len(dataset.images)
    if n == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    names = METRICS + (BOUNDARY_METRICS if boundary else ())
    tolerance = NSD_TOLERANCE if nsd_tolerance is None else float(nsd_tolerance)
    native = getattr(dataset, "native_masks", None) if own_size else None
    scores: Dict[str, List[torch.Tensor]] = {name: [] for name in names}
    loss_sum, foreground = 0.0, 0.0
    for start in range(0, n, batch_size):
        images = dataset.images[start : start + batch_size].to(device)
        masks = dataset.masks[start : start + batch_size].to(device)
        logits = model(images)
        loss_sum += segmentation_loss(logits, masks).item() * len(images)
        pred = binarize(logits)
        foreground += pred.mean((1, 2, 3)).sum().item()
        if native is None:
            batch = {"dice": dice_per_image(pred, masks), "jaccard": jaccard_per_image(pred, masks)}
            if boundary:
                batch.update(_boundary_scores(pred, masks, tolerance))
        else:
            probabilities = torch.sigmoid(logits.float()).cpu()
            own = native[start : start + len(images)]
            rows = [_own_size_scores(p, m, boundary, tolerance) for p, m in zip(probabilities, own)]
            batch = {name: torch.stack([row[name] for row in rows]) for name in names}
        for name in names:
            scores[name].append(batch[name].cpu())
    model.train(was_training)
    columns = {name: torch.cat(values) for name, values in scores.items()}
    out: Dict[str, Any] = {name: values.mean().item() for name, values in columns.items()}
    size = "own size" if native is not None else "x".join(str(side) for side in dataset.images.shape[-2:])
    out.update(loss=loss_sum / n, n=n, scored_at=size, foreground=foreground / n)
    if boundary:
        out["nsd_tolerance"] = tolerance
    if per_image:
        values = zip(*(columns[name].tolist() for name in names))
        out["per_image"] = [{"image": image, **dict(zip(names, row))} for image, row in zip(dataset.names, values)]
    return out
