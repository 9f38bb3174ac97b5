"""Dice and Jaccard (and on request HD95 and NSD) of a segmenter on a dataset, per image, then averaged."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from e2eaug.losses import segmentation_loss
from e2eaug.metrics import NSD_TOLERANCE, binarize, dice_per_image, jaccard_per_image

#: Per-image metrics, in the order of the ``"per_image"`` entries.
METRICS = ("dice", "jaccard")
BOUNDARY_METRICS = ("hd95", "nsd")


def _boundary_scores(pred: torch.Tensor, masks: torch.Tensor, tolerance: float) -> Dict[str, torch.Tensor]:
    # MONAI takes seconds to import, and validation during training never asks for these.
    from e2eaug.boundary import hd95_per_image, nsd_per_image

    return {"hd95": hd95_per_image(pred, masks), "nsd": nsd_per_image(pred, masks, tolerance)}


@torch.no_grad()
def evaluate_segmenter(
    model: torch.nn.Module,
    dataset,
    device: torch.device | str,
    batch_size: int = 32,
    per_image: bool = False,
    boundary: bool = False,
    nsd_tolerance: Optional[float] = None,
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
    """
    was_training = model.training
    model.eval()
    n = len(dataset.images)
    if n == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    names = METRICS + (BOUNDARY_METRICS if boundary else ())
    tolerance = NSD_TOLERANCE if nsd_tolerance is None else float(nsd_tolerance)
    scores: Dict[str, List[torch.Tensor]] = {name: [] for name in names}
    loss_sum = 0.0
    for start in range(0, n, batch_size):
        images = dataset.images[start : start + batch_size].to(device)
        masks = dataset.masks[start : start + batch_size].to(device)
        logits = model(images)
        loss_sum += segmentation_loss(logits, masks).item() * len(images)
        pred = binarize(logits)
        batch = {"dice": dice_per_image(pred, masks), "jaccard": jaccard_per_image(pred, masks)}
        if boundary:
            batch.update(_boundary_scores(pred, masks, tolerance))
        for name in names:
            scores[name].append(batch[name].cpu())
    model.train(was_training)
    columns = {name: torch.cat(values) for name, values in scores.items()}
    out: Dict[str, Any] = {name: values.mean().item() for name, values in columns.items()}
    out.update(loss=loss_sum / n, n=n)
    if boundary:
        out["nsd_tolerance"] = tolerance
    if per_image:
        values = zip(*(columns[name].tolist() for name in names))
        out["per_image"] = [{"image": image, **dict(zip(names, row))} for image, row in zip(dataset.names, values)]
    return out
