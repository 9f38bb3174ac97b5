"""Data for the SSL example: unlabelled image pools and labelled probe sets.

* :func:`load_image_folder`: an unlabelled folder of images (e.g. HAM10000 dermoscopy).
* :func:`load_labelled_folder`: ``images/`` plus ``labels.csv`` (``id,diagnosis``), e.g. PH2.
* :func:`make_synthetic_lesions`: a procedural, labelled skin-lesion classification set whose
  classes differ by lesion shape, colour and texture statistics; deterministic per seed.
* :class:`ImagePool`: an in-memory ``(N, 3, H, W)`` tensor in ``[0, 1]`` sampled by batch.

All images are float tensors in ``[0, 1]``, square, RGB.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SYNTHETIC_CLASSES = ("common_nevus", "atypical_nevus", "melanoma")


def default_data_root() -> Path:
    """``<repo>/../shared/data``, where the evaluation folders live."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _to_tensor(img: Image.Image, size: int) -> torch.Tensor:
    """Centre-crop to a square, resize (bicubic) to ``size`` and scale to ``[0, 1]``."""
    img = img.convert("RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    img = img.resize((size, size), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def _image_files(folder: Path) -> List[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def load_image_folder(folder: Path, size: int, n: Optional[int] = None,
                      seed: int = 0) -> torch.Tensor:
    """Read ``n`` images (a seeded random subset; all when ``None``) from ``folder``.

    Returns:
        ``(n, 3, size, size)`` float tensor in ``[0, 1]``.

    Raises:
        FileNotFoundError: missing or empty folder.
        ValueError: ``n`` larger than the number of images.
    """
    files = _image_files(Path(folder))
    if n is not None:
        if n > len(files):
            raise ValueError(f"asked for {n} images but {folder} holds only {len(files)}")
        order = np.random.default_rng(seed).permutation(len(files))[:n]
        files = [files[i] for i in sorted(order)]
    return torch.stack([_to_tensor(Image.open(f), size) for f in files])


@dataclass
class LabelledSet:
    """Images ``(N, 3, H, W)`` in ``[0, 1]``, integer labels ``(N,)``, the class names and, where
    known, each image's group (HAM10000's lesion id: images of one lesion)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: Tuple[str, ...]
    groups: Optional[Tuple[str, ...]] = None


def load_labelled_folder(root: Path, size: int) -> LabelledSet:
    """Read ``root/images/<id>.*`` with labels from ``root/labels.csv`` (columns ``id,diagnosis``,
    and ``lesion_id`` for the groups where the file has it).

    Classes are the sorted distinct diagnoses.

    Raises:
        FileNotFoundError: missing folder, csv or image.
        ValueError: csv without the ``id`` and ``diagnosis`` columns, or with no rows.
    """
    root = Path(root)
    csv_path = root / "labels.csv"
    if not csv_path.is_file():
        raise FileNotFoundError(f"labels file not found: {csv_path}")
    by_stem = {p.stem: p for p in _image_files(root / "images")}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"id", "diagnosis"} <= set(reader.fieldnames):
            raise ValueError(f"{csv_path} must have columns id,diagnosis; got {reader.fieldnames}")
        grouped = "lesion_id" in reader.fieldnames
        records = list(reader)
        rows = [(r["id"].strip(), r["diagnosis"].strip()) for r in records]
    if not rows:
        raise ValueError(f"{csv_path} has no rows")
    missing = [i for i, _ in rows if i not in by_stem]
    if missing:
        raise FileNotFoundError(f"{len(missing)} ids of {csv_path} have no image, e.g. {missing[:3]}")
    classes = tuple(sorted({d for _, d in rows}))
    images = torch.stack([_to_tensor(Image.open(by_stem[i]), size) for i, _ in rows])
    labels = torch.tensor([classes.index(d) for _, d in rows])
    groups = tuple(r["lesion_id"].strip() for r in records) if grouped else None
    return LabelledSet(images, labels, classes, groups)


# ----------------------------------------------------------------------------- synthetic lesions

# Per class: border irregularity, radius range, colour mixture (RGB of light and dark
# pigment), dark-pigment fraction range, texture amplitude, number of globules, blue-grey veil.
_CLASS_STATS = {
    "common_nevus": dict(irregular=0.05, radius=(0.22, 0.32), dark=(0.0, 0.25), texture=0.03,
                         globules=(0, 2), veil=0.0),
    "atypical_nevus": dict(irregular=0.14, radius=(0.26, 0.38), dark=(0.2, 0.55), texture=0.08,
                           globules=(2, 6), veil=0.0),
    "melanoma": dict(irregular=0.26, radius=(0.3, 0.42), dark=(0.45, 0.85), texture=0.14,
                     globules=(5, 12), veil=0.35),
}
_LIGHT_PIGMENT = np.array([0.62, 0.42, 0.28])
_DARK_PIGMENT = np.array([0.25, 0.14, 0.09])
_VEIL = np.array([0.35, 0.40, 0.50])


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma)
    return field / (field.std() + 1e-8)


def _lesion(rng: np.random.Generator, size: int, stats: dict) -> np.ndarray:
    """One ``(size, size, 3)`` image in ``[0, 1]``."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
    cx, cy = rng.uniform(-0.08, 0.08, size=2)
    theta = np.arctan2(yy - cy, xx - cx)
    dist = np.hypot(xx - cx, yy - cy)
    radius = rng.uniform(*stats["radius"]) * np.ones_like(theta)
    for k in range(2, 7):  # border: random low-frequency harmonics
        radius *= 1 + stats["irregular"] * rng.uniform(0.3, 1.0) / k ** 0.5 * np.cos(
            k * theta + rng.uniform(0, 2 * np.pi))
    edge = 1.0 / (1.0 + np.exp(-(radius - dist) / (0.015 + 0.01 * rng.random())))

    skin = np.array([0.86, 0.68, 0.58]) * rng.uniform(0.85, 1.05) + rng.normal(0, 0.02, 3)
    dark_frac = rng.uniform(*stats["dark"])
    texture = stats["texture"] * _smooth_noise(rng, size, size / 16)
    mix = np.clip(dark_frac + 0.25 * _smooth_noise(rng, size, size / 8) * stats["irregular"] * 4
                  + 2 * texture, 0, 1)[..., None]
    lesion = (1 - mix) * _LIGHT_PIGMENT + mix * _DARK_PIGMENT
    if stats["veil"] > 0:
        veil = np.clip(_smooth_noise(rng, size, size / 10), 0, None)[..., None] * stats["veil"]
        lesion = (1 - np.clip(veil, 0, 1)) * lesion + np.clip(veil, 0, 1) * _VEIL
    for _ in range(rng.integers(*stats["globules"], endpoint=True)):  # dots/globules
        r = rng.uniform(0.2, 0.9) * radius.mean()
        a = rng.uniform(0, 2 * np.pi)
        gx, gy = cx + r * np.cos(a), cy + r * np.sin(a)
        blob = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.012 + 0.01 * rng.random()) ** 2))
        lesion = lesion * (1 - 0.8 * blob[..., None]) + 0.8 * blob[..., None] * _DARK_PIGMENT * 0.6
    img = (1 - edge[..., None]) * skin + edge[..., None] * lesion
    vignette = 1 - 0.25 * (dist / 0.7) ** 2
    img = img * vignette[..., None] + rng.normal(0, 0.015, img.shape)
    return np.clip(img, 0, 1)


def make_synthetic_lesions(n: int, size: int, seed: int,
                           class_weights: Sequence[float] = (0.4, 0.4, 0.2)) -> LabelledSet:
    """Procedural dermoscopy-like lesions in three classes (``SYNTHETIC_CLASSES``).

    Common nevi are small, round, light and smooth; atypical nevi are larger, irregular,
    two-toned and mottled; melanomas are the largest, most irregular and darkest, with globules
    and a blue-grey veil. Parameters overlap, so the task is not trivially separable.

    Args:
        n: number of images.
        size: side in pixels.
        seed: seed of the whole set (same seed, same images and labels).
        class_weights: class proportions (PH2's 80/80/40 by default).

    Returns:
        A :class:`LabelledSet` with images in ``[0, 1]``.
    """
    if n < 0 or size < 8:
        raise ValueError(f"need n >= 0 and size >= 8, got n={n}, size={size}")
    weights = np.asarray(class_weights, dtype=float)
    if weights.shape != (len(SYNTHETIC_CLASSES),) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"class_weights must be {len(SYNTHETIC_CLASSES)} non-negative numbers")
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(SYNTHETIC_CLASSES), size=n, p=weights / weights.sum())
    images = [_lesion(rng, size, _CLASS_STATS[SYNTHETIC_CLASSES[c]]) for c in labels]
    tensor = (torch.from_numpy(np.stack(images)).float().permute(0, 3, 1, 2).contiguous()
              if n else torch.empty(0, 3, size, size))
    return LabelledSet(tensor, torch.from_numpy(labels).long(), SYNTHETIC_CLASSES)


class ImagePool:
    """An in-memory set of images sampled uniformly with replacement.

    Args:
        images: ``(N, 3, H, W)`` in ``[0, 1]`` (kept on its device).
    """

    def __init__(self, images: torch.Tensor) -> None:
        if images.dim() != 4 or images.shape[0] == 0:
            raise ValueError(f"need a non-empty (N, C, H, W) tensor, got {tuple(images.shape)}")
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def size(self) -> int:
        """Image side in pixels."""
        return self.images.shape[-1]

    def sample(self, batch: int, generator: torch.Generator, flip: bool = False) -> torch.Tensor:
        """``batch`` random images (CPU ``generator``), optionally mirrored at random."""
        idx = torch.randint(len(self), (batch,), generator=generator)
        out = self.images[idx.to(self.images.device)]
        if flip:
            mirror = (torch.rand(batch, generator=generator) < 0.5).to(out.device)
            out = torch.where(mirror.view(-1, 1, 1, 1), out.flip(-1), out)
        return out


__all__ = [
    "ImagePool",
    "LabelledSet",
    "SYNTHETIC_CLASSES",
    "default_data_root",
    "load_image_folder",
    "load_labelled_folder",
    "make_synthetic_lesions",
]
