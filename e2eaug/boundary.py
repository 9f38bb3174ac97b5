"""Boundary metrics per image: 95th-percentile Hausdorff distance (HD95) and normalised surface
Dice (NSD; Nikolov et al. 2021, "Clinically applicable segmentation of head and neck anatomy
for radiotherapy"), computed by MONAI.

Both are in pixels of the masks they compare (at the training size, or at each image's own
size for test sets read from files: :func:`e2eaug.evaluation.evaluate_segmenter`), with unit
spacing.
A mask's boundary is its foreground pixels with a background 4-neighbour (pixels on the image
border count as boundary), as MONAI finds it. HD95 is the larger of the two directed 95th
percentiles of boundary-to-boundary distances; NSD is the fraction of both boundaries lying
within ``tolerance`` pixels (inclusive) of the other.

MONAI gives NaN when a mask is empty; e2eaug's conventions keep every score finite, so means
over a test set and strict JSON need no special case:

- prediction and mask both empty: HD95 0, NSD 1 (a correct "nothing here", as Dice 1);
- exactly one empty: HD95 = the image diagonal ``sqrt(H**2 + W**2)`` (larger than any distance
  between two pixels of the image), NSD 0.

Importing this module imports MONAI, which takes seconds: :mod:`e2eaug.evaluation` imports it
only when boundary metrics are asked for.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Tuple

import torch
from monai.metrics import compute_hausdorff_distance, compute_surface_dice

from e2eaug.metrics import NSD_TOLERANCE, binary_pair


def _both_present(
    pred: torch.Tensor, target: torch.Tensor, metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``metric`` ([N] floats) on the images where both masks are non-empty, NaN elsewhere, and
    the flags of the other images: both empty, exactly one empty (the callers' conventions).

    The masks go to the CPU first: MONAI computes the distances there, with SciPy.
    """
    p, t = (mask.cpu() for mask in binary_pair(pred, target))
    p_any, t_any = p.flatten(1).any(1), t.flatten(1).any(1)
    none, one = ~p_any & ~t_any, p_any ^ t_any
    out = torch.full((len(p),), math.nan, dtype=torch.float64)
    both = p_any & t_any
    if both.any():
        with warnings.catch_warnings():  # MONAI warns about its own deprecated internals
            warnings.simplefilter("ignore", FutureWarning)
            out[both] = metric(p[both].float(), t[both].float()).flatten().double()
    return out, none, one


def hd95_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """95th-percentile symmetric Hausdorff distance per image, in pixels.

    Args:
        pred: binary prediction ``[N,1,H,W]`` or ``[N,H,W]`` (values > 0.5 are foreground).
        target: binary mask of the same shape.

    Returns:
        ``[N]`` float64 distances >= 0; empty masks as the module docstring says.
    """
    out, none, one = _both_present(
        pred, target, lambda p, t: compute_hausdorff_distance(p, t, include_background=True, percentile=95)
    )
    h, w = pred.shape[-2:]
    out[none] = 0.0
    out[one] = math.hypot(h, w)
    return out


def nsd_per_image(pred: torch.Tensor, target: torch.Tensor, tolerance: float = NSD_TOLERANCE) -> torch.Tensor:
    """Normalised surface Dice per image at ``tolerance`` pixels.

    Args:
        pred: binary prediction ``[N,1,H,W]`` or ``[N,H,W]`` (values > 0.5 are foreground).
        target: binary mask of the same shape.
        tolerance: largest boundary distance, in pixels, that still counts as agreement.

    Returns:
        ``[N]`` float64 scores in [0, 1]; empty masks as the module docstring says.

    Raises:
        ValueError: ``tolerance`` is negative or not finite.
    """
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"the NSD tolerance (--nsd-tolerance) must be a finite number >= 0 pixels, got {tolerance}")
    out, none, one = _both_present(
        pred, target, lambda p, t: compute_surface_dice(p, t, [float(tolerance)], include_background=True)
    )
    out[none] = 1.0
    out[one] = 0.0
    return out
