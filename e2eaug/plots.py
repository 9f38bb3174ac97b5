"""Figures of a run: training curves, architecture weights and samples."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from e2eaug.models.search_space import DOWN_OPS, UP_OPS  # noqa: E402
from e2eaug.utils import atomic_write  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(fig)
    return Path(path)


def smooth(values: List[float], weight: float = 0.9) -> List[float]:
    """Exponential moving average with TensorBoard's debiasing; NaN entries are skipped."""
    out, mean, norm = [], 0.0, 0.0
    for v in values:
        if math.isfinite(v):
            mean, norm = weight * mean + (1 - weight) * v, weight * norm + (1 - weight)
        out.append(mean / norm if norm else float("nan"))
    return out


def save_curves(path: Path, records: List[Dict[str, Any]], steps: List[Dict[str, Any]]) -> Path:
    """Validation Dice/Jaccard (points) and each level's training loss per step (faint: raw,
    solid: smoothed) with the validation loss as points on top."""
    val_steps = [r["step"] for r in records]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(val_steps, [r["val_dice"] for r in records], marker="o", label="val Dice")
    ax1.plot(val_steps, [r["val_jaccard"] for r in records], marker="s", label="val Jaccard")
    ax1.set_xlabel("global step")
    ax1.set_ylim(0, 1)
    ax1.legend()
    ax1.set_title("validation")
    for name in sorted({k for s in steps for k in s["loss"]}):
        points = [(s["step"], s["loss"][name]) for s in steps if name in s["loss"]]
        x, y = zip(*points)
        (line,) = ax2.plot(x, smooth(list(y)), label=name)
        ax2.plot(x, y, color=line.get_color(), alpha=0.25, linewidth=0.8)
    ax2.plot(val_steps, [r["val_loss"] for r in records], "ko", markersize=4, label="val loss (seg)")
    ax2.set_xlabel("global step")
    ax2.set_yscale("log")
    ax2.legend(fontsize=8)
    ax2.set_title("training loss per step")
    return _save(fig, path)


def cell_labels(cells: int, ops: int) -> List[Tuple[str, List[str]]]:
    """``(title, operator names)`` of each row of a generator's ``alpha``: the down cells
    (outermost first), then the up cells (innermost first), as the search space orders them;
    plain numbers for a shape that is not the search space's."""
    if cells % 2 or ops != len(DOWN_OPS):
        return [(f"cell {i}", [f"op {j}" for j in range(ops)]) for i in range(cells)]
    depth = cells // 2
    down = [(f"down cell {i}" + (" (outermost)" if i == 0 else ""), list(DOWN_OPS)) for i in range(depth)]
    up = [(f"up cell {i}" + (" (innermost)" if i == 0 else ""), list(UP_OPS)) for i in range(depth)]
    return down + up


def save_alpha(path: Path, steps: List[Dict[str, Any]], param: str = "alpha") -> Path:
    """``softmax(alpha)`` of each generator cell against the global step, one panel a cell,
    each line an operator by name (:func:`cell_labels`)."""
    history = [(s["step"], s["arch"][param]) for s in steps if param in s.get("arch", {})]
    x = [step for step, _ in history]
    weights = torch.tensor([rows for _, rows in history])  # [steps, cells, ops]
    cells, ops = weights.shape[1:]
    labels = cell_labels(cells, ops)
    cols = cells // 2 if labels[0][0].startswith("down") else min(cells, 4)  # a row of down, a row of up cells
    rows = -(-cells // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False, sharey=True, layout="constrained"
    )
    for cell, ax in enumerate(axes.flat):
        if cell >= cells:
            ax.axis("off")
            continue
        title, names = labels[cell]
        for op, name in enumerate(names):
            ax.plot(x, weights[:, cell, op].tolist(), label=name)
        ax.set_title(title, fontsize=9)
        if cell % cols == 0:
            ax.legend(fontsize=7)
    fig.supxlabel("global step")
    fig.supylabel(f"softmax({param})")
    return _save(fig, path)


def save_samples(path: Path, rows: List[Tuple[str, torch.Tensor]]) -> Path:
    """One row of images a ``(title, [N,3,H,W] tensor)`` (:func:`e2eaug.samples.sample_rows`)."""
    n = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.6 * n, 1.75 * len(rows)), squeeze=False)
    for r, (title, images) in enumerate(rows):
        for c in range(n):
            axes[r][c].axis("off")
            if c < len(images):
                axes[r][c].imshow(images[c].permute(1, 2, 0).numpy())
        axes[r][0].set_title(title, fontsize=8, loc="left")
    return _save(fig, path)
