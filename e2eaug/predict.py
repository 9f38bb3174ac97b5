"""Masks for new images with no masks, at each image's own size (``e2eaug predict``)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import binary_erosion

from e2eaug.data.folder import HIGH_BIT_MODES, open_image, read_images
from e2eaug.jobs import load_run
from e2eaug.metrics import at_size
from e2eaug.problems import names
from e2eaug.rundir import RunDir
from e2eaug.utils import atomic_write

TINT = np.array([255.0, 40.0, 40.0])  # overlay colour (red)
TINT_ALPHA = 0.35


def _display(path: Path) -> np.ndarray:
    """The image file as 8-bit RGB ``[H, W, 3]`` for the overlay (high-bit images by their maximum)."""
    img = open_image(path)
    if img.mode in HIGH_BIT_MODES:
        raw = np.asarray(img, dtype=np.float64)
        grey = np.round(255.0 * raw / max(float(raw.max()), 1.0)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"))


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` (8-bit RGB ``[H, W, 3]``) with ``mask`` (bool ``[H, W]``) tinted and outlined."""
    out = image.astype(np.float64)
    out[mask] = (1 - TINT_ALPHA) * out[mask] + TINT_ALPHA * TINT
    out[mask & ~binary_erosion(mask, border_value=0)] = TINT
    return np.round(out).astype(np.uint8)


@torch.no_grad()
def predict_masks(model: torch.nn.Module, images: torch.Tensor, sizes: List[Tuple[int, int]], device,
                  batch_size: int = 16) -> List[np.ndarray]:
    """Binary masks (bool ``[height, width]``) of ``images [N, C, h, w]`` at each (width, height).

    The sigmoid probability is resized to the image's size and thresholded
    (:func:`~e2eaug.metrics.at_size`).
    """
    model.eval()
    masks = []
    for start in range(0, len(images), batch_size):
        probs = torch.sigmoid(model(images[start : start + batch_size].to(device))).cpu()
        for prob, (width, height) in zip(probs, sizes[start : start + batch_size]):
            masks.append(at_size(prob, height, width).numpy())
    return masks


def _save_png(path: Path, pixels: np.ndarray) -> None:
    atomic_write(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))


def predict_folder(
    run: RunDir, images_dir: Path, out: Path, which: str = "best", trust_plugins: bool = False
) -> int:
    """Segment every image file in ``images_dir`` with the run's segmenter.

    Each image is read and resized to the training size as the run's data loader does
    (:func:`~e2eaug.data.folder.read_images`, the run's channels and ``data.bit_depth``),
    segmented, and its mask brought back to the image's own size (:func:`predict_masks`).
    Writes ``out/masks/<stem>.png`` (0 / 255) and ``out/overlays/<stem>.png`` (the image with
    the mask tinted and outlined), atomically; returns the number of images.

    Raises:
        FileNotFoundError: ``images_dir`` is missing or holds no image files. ValueError: an
            unreadable image file.
    """
    cfg, engine, data = load_run(run, which, trust_plugins)
    images, paths, sizes = read_images(images_dir, cfg.data.image_size, data.channels, cfg.data.bit_depth)
    seg = getattr(engine, names.SEG)
    masks = predict_masks(seg.module, images, sizes, seg.device)
    out = Path(out)
    for path, mask in zip(paths, masks):
        _save_png(out / "masks" / f"{path.stem}.png", mask.astype(np.uint8) * 255)
        _save_png(out / "overlays" / f"{path.stem}.png", overlay(_display(path), mask))
    return len(paths)
