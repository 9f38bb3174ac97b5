"""Grid previews of image-mask pairs: each image with its mask outline drawn in green."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from e2eaug.data.synthetic import make_synthetic
from e2eaug.utils import PathLike, atomic_write

ArrayLike = Union[np.ndarray, torch.Tensor]
OUTLINE_RGB = (0, 255, 0)


def _as_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def save_pair_grid(
    out: PathLike, images: ArrayLike, masks: ArrayLike, ncols: Optional[int] = None, tile: int = 128
) -> Path:
    """Write a PNG grid of images with their mask outlines.

    Args:
        out: PNG path (written atomically).
        images: ``[N, C, H, W]`` (C = 1 or 3) in [0, 1], numpy or torch.
        masks: ``[N, 1, H, W]`` or ``[N, H, W]``; values > 0.5 are foreground.
        ncols: tiles per row (default about sqrt(N)).
        tile: small images are enlarged (nearest) until their longer side reaches ``tile``.

    Returns:
        The written path.

    Raises:
        ValueError: empty input or shapes that do not match.
    """
    imgs, msks = _as_numpy(images).astype(np.float32), _as_numpy(masks)
    if msks.ndim == 3:
        msks = msks[:, None]
    if imgs.ndim != 4 or imgs.shape[1] not in (1, 3) or len(imgs) == 0:
        raise ValueError(f"images must be a non-empty [N, 1|3, H, W] array, got shape {imgs.shape}")
    if msks.shape != (imgs.shape[0], 1) + imgs.shape[2:]:
        raise ValueError(f"masks shape {msks.shape} does not match images shape {imgs.shape}")
    n, _, h, w = imgs.shape
    scale = max(1, tile // max(h, w))
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    pad = 2
    th, tw = h * scale + pad, w * scale + pad
    grid = np.full((nrows * th + pad, ncols * tw + pad, 3), 255, dtype=np.uint8)
    for i in range(n):
        rgb = np.repeat(imgs[i], 3, axis=0) if imgs.shape[1] == 1 else imgs[i]
        rgb = (np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)
        rgb = rgb.repeat(scale, 0).repeat(scale, 1)
        m = (msks[i, 0] > 0.5).repeat(scale, 0).repeat(scale, 1)
        edge = m & ~ndimage.binary_erosion(m, iterations=max(1, scale // 3), border_value=0)
        rgb[edge] = OUTLINE_RGB
        r, c = divmod(i, ncols)
        grid[pad + r * th : pad + r * th + h * scale, pad + c * tw : pad + c * tw + w * scale] = rgb
    return atomic_write(out, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"))


def save_preview(
    out: PathLike, task: str = "skin", domain: str = "id", n: int = 16, size: int = 64, seed: int = 0
) -> Path:
    """Write a grid PNG of ``n`` synthetic pairs (see :func:`make_synthetic`) with mask outlines.

    Returns:
        The written path.
    """
    images, masks = make_synthetic(task, domain, n, size, seed)
    return save_pair_grid(out, images, masks)
