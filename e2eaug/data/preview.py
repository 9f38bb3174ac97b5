"""Preview grids: images with their mask outlines drawn on top."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from e2eaug.utils import PathLike, atomic_write  # noqa: E402


def save_pair_grid(out: PathLike, images: np.ndarray, masks: np.ndarray, title: str = "") -> Path:
    """Write a grid PNG of ``images [N,C,H,W]`` in [0,1] with ``masks [N,1,H,W]`` outlined."""
    images, masks = np.asarray(images), np.asarray(masks)
    n = len(images)
    if n == 0:
        raise ValueError("nothing to preview: no images")
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.8 * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, mask in zip(axes.flat, images, masks):
        if image.shape[0] == 1:
            ax.imshow(image[0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(np.transpose(image, (1, 2, 0)).clip(0, 1))
        if mask.any() and not mask.all():
            ax.contour(mask[0].astype(float), levels=[0.5], colors="lime", linewidths=0.8)
    if title:
        fig.suptitle(title, fontsize=9)
    out = Path(out)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(fig)
    return out


def save_preview(
    out: PathLike, task: str = "skin", domain: str = "id", n: int = 16, size: int = 64, seed: int = 0
) -> Path:
    """Write a preview grid of ``n`` synthetic ``task`` pairs from ``domain``."""
    from e2eaug.data.synthetic import make_synthetic

    images, masks = make_synthetic(task, domain, n, size, seed)
    return save_pair_grid(out, images, masks, title=f"synthetic {task}, domain {domain}, {size} px")
