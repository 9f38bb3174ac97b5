"""Figures of a run: training curves and generated samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from e2eaug.utils import atomic_write  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(fig)
    return Path(path)


def save_curves(path: Path, records: List[Dict[str, Any]]) -> Path:
    """Validation Dice/Jaccard and each level's training loss against the global step."""
    steps = [r["step"] for r in records]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(steps, [r["val_dice"] for r in records], marker="o", label="val Dice")
    ax1.plot(steps, [r["val_jaccard"] for r in records], marker="s", label="val Jaccard")
    ax1.set_xlabel("global step")
    ax1.set_ylim(0, 1)
    ax1.legend()
    ax1.set_title("validation")
    names = sorted({k for r in records for k in r["train_loss"]})
    for name in names:
        ax2.plot(steps, [r["train_loss"].get(name, float("nan")) for r in records], marker=".", label=name)
    ax2.set_xlabel("global step")
    ax2.set_yscale("log")
    ax2.legend()
    ax2.set_title("training loss (latest step)")
    return _save(fig, path)


def _show(ax: plt.Axes, image: torch.Tensor) -> None:
    image = image.detach().float().cpu().clamp(0, 1)
    if image.shape[0] == 1:
        ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(image.permute(1, 2, 0).numpy())
    ax.axis("off")


def save_samples(
    path: Path, masks: torch.Tensor, images: torch.Tensor, real: torch.Tensor
) -> Path:
    """Rows: the augmenter's masks, its images for them, real training images."""
    n = min(len(masks), len(images), len(real), 8)
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.2), squeeze=False)
    rows = [("augmented mask", masks), ("augmented image", images), ("real", real)]
    for r, (title, batch) in enumerate(rows):
        for c in range(n):
            _show(axes[r][c], batch[c])
        axes[r][0].set_title(title, fontsize=8, loc="left")
    return _save(fig, path)
