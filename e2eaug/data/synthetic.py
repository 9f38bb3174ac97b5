"""Procedural medical-like image-mask pairs (numpy/scipy only), deterministic per seed.

Two tasks, each with an in-distribution domain ``id`` and shifted domains for measuring
out-of-distribution generalisation (as ISIC -> PH2, JSRT -> Montgomery in the paper):

- ``skin``: RGB dermoscopy-like images: an irregular lesion with darker, mottled centre and
  speckles on textured skin, hairs crossing it, dark vignette corners. Mask = lesion.
- ``lung``: grayscale chest-radiograph-like images: bright body, two dark lung fields with vessel
  texture, ribs and clavicles, spine and heart. Mask = union of both lungs.

Shifted domains (``ood`` and the single-factor ones ``ood_tone``/``ood_blur``/``ood_noise``/
``ood_shape``) change tone or exposure, contrast, blur, noise and shape statistics.
Item ``i`` depends only on ``(task, domain, seed, i, size)``, so a larger ``n`` extends a set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import numpy as np
from scipy import ndimage

DOMAINS = ("id", "ood", "ood_tone", "ood_blur", "ood_noise", "ood_shape")


@dataclass(frozen=True)
class Shift:
    """How a domain departs from ``id``: each field is 0 (or False) in ``id``."""

    tone: bool = False  # other skin tones / radiograph exposure
    contrast: float = 0.0  # signed change of lesion/lung contrast
    blur: float = 0.0  # gaussian blur sigma, in units of 1/64 of the image side
    noise: float = 0.0  # sensor noise std
    shape: bool = False  # other lesion size/irregularity, narrower/shorter lungs


_SHIFTS: Dict[str, Shift] = {
    "id": Shift(),
    "ood": Shift(tone=True, contrast=-0.2, blur=0.7, noise=0.03, shape=True),
    "ood_tone": Shift(tone=True, contrast=-0.2),
    "ood_blur": Shift(blur=1.5),
    "ood_noise": Shift(noise=0.08),
    "ood_shape": Shift(shape=True),
}


def _rng(task: str, domain: str, seed: int, index: int) -> np.random.Generator:
    """An independent stream per item (seed, task, domain, index)."""
    tag = sum(ord(c) * 31**k for k, c in enumerate(f"{task}/{domain}")) % 2**31
    return np.random.default_rng([seed, tag, index])


def _grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [0, 1]: (y, x), each ``[size, size]``."""
    c = (np.arange(size) + 0.5) / size
    return np.meshgrid(c, c, indexing="ij")


def _smooth_noise(rng: np.random.Generator, size: int, scale: float) -> np.ndarray:
    """Gaussian-smoothed white noise normalised to zero mean, unit std."""
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma=max(scale * size, 0.5))
    return (field - field.mean()) / (field.std() + 1e-8)


def _soft(mask: np.ndarray, size: int, width: float = 0.012) -> np.ndarray:
    """Soft-edged version of a boolean mask (for blending)."""
    return np.clip(ndimage.gaussian_filter(mask.astype(np.float64), sigma=max(width * size, 0.3)), 0, 1)


def _finish(image: np.ndarray, shift: Shift, rng: np.random.Generator, size: int) -> np.ndarray:
    """Blur and noise of the domain; image is ``[C, H, W]``."""
    if shift.blur > 0:
        image = np.stack([ndimage.gaussian_filter(ch, sigma=shift.blur * size / 64) for ch in image])
    if shift.noise > 0:
        image = image + rng.normal(0.0, shift.noise, size=image.shape)
    return np.clip(image, 0.0, 1.0)


# ----------------------------------------------------------------------------- skin


def _lesion_mask(rng: np.random.Generator, y: np.ndarray, x: np.ndarray, shape_shift: bool) -> np.ndarray:
    """Irregular blob: a radius perturbed by a few random Fourier modes."""
    cy, cx = 0.5 + rng.uniform(-0.08, 0.08, size=2)
    base = rng.uniform(0.26, 0.36) if shape_shift else rng.uniform(0.16, 0.27)
    dy, dx = y - cy, x - cx
    theta = np.arctan2(dy, dx)
    r = np.hypot(dy, dx)
    radius = np.ones_like(theta)
    strength = 0.16 if shape_shift else 0.09
    for k in range(2, 7):
        radius += rng.uniform(0, strength) / (k**0.6) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    elong = rng.uniform(0.75, 1.0)
    angle = rng.uniform(0, np.pi)
    stretch = 1 + (1 / elong - 1) * np.cos(theta - angle) ** 2
    return r * stretch < base * radius


def _hairs(rng: np.random.Generator, y: np.ndarray, x: np.ndarray, size: int) -> np.ndarray:
    """Coverage map in [0, 1] of 0-4 thin curved dark hairs."""
    cover = np.zeros_like(x)
    for _ in range(rng.integers(0, 5)):
        p0, p2 = rng.uniform(-0.1, 1.1, size=2), rng.uniform(-0.1, 1.1, size=2)
        p1 = (p0 + p2) / 2 + rng.normal(0, 0.25, size=2)
        t = np.linspace(0, 1, 4 * size)[:, None]
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2  # [T, 2] as (y, x)
        iy = np.clip((curve[:, 0] * size).astype(int), 0, size - 1)
        ix = np.clip((curve[:, 1] * size).astype(int), 0, size - 1)
        inside = (curve[:, 0] >= 0) & (curve[:, 0] < 1) & (curve[:, 1] >= 0) & (curve[:, 1] < 1)
        line = np.zeros((size, size))
        line[iy[inside], ix[inside]] = 1.0
        width = rng.uniform(0.25, 0.6) * size / 64
        cover = np.maximum(cover, np.clip(ndimage.gaussian_filter(line, width) * 2.5 / max(width, 0.5), 0, 1))
    return cover


def _skin(rng: np.random.Generator, size: int, shift: Shift) -> Tuple[np.ndarray, np.ndarray]:
    y, x = _grid(size)
    if shift.tone:  # darker or sallower skin, lesion closer in tone
        skin = np.array([0.60, 0.42, 0.32]) + rng.uniform(-0.06, 0.06, 3)
    else:
        skin = np.array([0.88, 0.68, 0.60]) + rng.uniform(-0.05, 0.05, 3)
    lesion_dark = np.array([0.38, 0.22, 0.16]) + rng.uniform(-0.05, 0.05, 3)
    lesion_light = np.array([0.62, 0.42, 0.32]) + rng.uniform(-0.05, 0.05, 3)
    if shift.contrast:
        mix = -shift.contrast
        lesion_dark = lesion_dark + mix * (skin - lesion_dark)
        lesion_light = lesion_light + mix * (skin - lesion_light)

    background = skin[:, None, None] * (1 + 0.04 * _smooth_noise(rng, size, 0.05))
    mask = _lesion_mask(rng, y, x, shift.shape)
    # darker towards the centre: distance from the border, normalised
    depth = ndimage.distance_transform_edt(mask)
    depth = depth / (depth.max() + 1e-8)
    mottling = 0.5 + 0.5 * np.tanh(1.5 * _smooth_noise(rng, size, 0.04))
    shade = np.clip(0.55 * depth + 0.45 * mottling, 0, 1)
    lesion = lesion_light[:, None, None] * (1 - shade) + lesion_dark[:, None, None] * shade
    speckle = (rng.random((size, size)) < 0.02) & mask
    lesion = lesion * (1 - 0.35 * _soft(speckle, size, 0.006))
    alpha = _soft(mask, size)
    image = background * (1 - alpha) + lesion * alpha

    hair = _hairs(rng, y, x, size)
    hair_colour = np.array([0.20, 0.13, 0.10])[:, None, None]
    image = image * (1 - 0.85 * hair) + hair_colour * 0.85 * hair

    r = np.hypot(y - 0.5, x - 0.5) / np.sqrt(0.5)
    vignette = 1 - rng.uniform(0.5, 0.9) * np.clip((r - 0.72) / 0.28, 0, 1) ** 1.5
    image = image * vignette
    return _finish(image, shift, rng, size), mask


# ----------------------------------------------------------------------------- lung


def _lung_field(y, x, cx, top, bottom, half_width, medial_sign, rng) -> np.ndarray:
    """One lung: rounded apex, widening downwards, flat medial border, pointed costophrenic angle."""
    t = np.clip((y - top) / (bottom - top), 0, 1)
    wobble = 1 + 0.05 * np.sin(6 * t + rng.uniform(0, 6))
    lateral = half_width * (0.1 + 0.9 * t**0.35) * wobble  # rounded apex, convex outer border
    medial = half_width * (0.55 + 0.25 * t)  # nearly straight border along the mediastinum
    offset = medial_sign * (x - cx)  # > 0 towards the midline
    inside = (offset < medial) & (-offset < lateral) & (y > top) & (y < bottom)
    inside &= ~((offset > 0) & (t < 0.25) & (offset > medial * (0.3 + 2.8 * t)))
    # the diaphragm dome: bottom edge rises towards the medial side
    dome = bottom - 0.08 * np.clip(medial_sign * (x - cx) / half_width + 1, 0, 2)
    return inside & (y < dome)


def _lung(rng: np.random.Generator, size: int, shift: Shift) -> Tuple[np.ndarray, np.ndarray]:
    y, x = _grid(size)
    narrow = rng.uniform(0.75, 0.85) if shift.shape else 1.0
    short = rng.uniform(0.8, 0.9) if shift.shape else 1.0
    top = 0.16 + rng.uniform(-0.03, 0.03)
    bottom = top + (0.62 + rng.uniform(-0.04, 0.04)) * short
    half = (0.15 + rng.uniform(-0.015, 0.015)) * narrow
    gap = 0.17 + rng.uniform(-0.02, 0.02)
    right = _lung_field(y, x, 0.5 - gap, top, bottom, half, +1, rng)  # image left
    left = _lung_field(y, x, 0.5 + gap, top + 0.02, bottom + 0.03, half, -1, rng)
    heart = ((x - 0.55) / 0.15) ** 2 + ((y - (bottom - 0.08)) / 0.14) ** 2 < 1
    left &= ~heart
    mask = right | left

    body = ((x - 0.5) / 0.46) ** 2 + ((y - 0.55) / 0.6) ** 4 < 1
    image = 0.06 + 0.52 * _soft(body, size, 0.03)
    image += 0.06 * ((y - 0.3) * 0.5)  # brighter towards the abdomen
    spine = np.exp(-(((x - 0.5) / 0.045) ** 2)) * (y > 0.05)
    image += 0.2 * spine
    image += 0.18 * _soft(heart, size, 0.02)
    lung_alpha = _soft(mask, size, 0.01)
    vessels = 0.04 * _smooth_noise(rng, size, 0.02) + 0.05 * (1 - np.abs(x - 0.5) / 0.5)
    contrast = 0.36 * (1 + shift.contrast)
    image = image * (1 - lung_alpha) + (image - contrast + vessels) * lung_alpha

    ribs = np.zeros_like(x)
    spacing = (bottom - top) / 8
    for k in range(9):
        for side in (-1, 1):
            arc = top - 0.04 + k * spacing + 0.9 * (x - 0.5) ** 2
            band = np.exp(-(((y - arc) / (0.012 + 0.002 * k)) ** 2)) * (side * (x - 0.5) > 0.03)
            ribs = np.maximum(ribs, band)
    image += 0.09 * ribs * _soft(body, size, 0.03)
    for side in (-1, 1):
        clavicle = top - 0.03 + 0.25 * side * (x - 0.5) - 0.02
        image += 0.12 * np.exp(-(((y - clavicle) / 0.015) ** 2)) * (np.abs(x - 0.5 - side * 0.2) < 0.18)

    if shift.tone:  # other exposure: gamma and gain
        image = np.clip(image, 0, 1) ** rng.uniform(0.55, 0.7) * rng.uniform(0.9, 1.05)
    image = image[None] * (1 + 0.03 * _smooth_noise(rng, size, 0.1))
    return _finish(image, shift, rng, size), mask


SYNTHETIC_TASKS: Dict[str, Callable[[np.random.Generator, int, Shift], Tuple[np.ndarray, np.ndarray]]] = {
    "skin": _skin,
    "lung": _lung,
}

CHANNELS = {"skin": 3, "lung": 1}


def make_synthetic(task: str, domain: str, n: int, size: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` image-mask pairs of a synthetic ``task`` in ``domain``.

    Args:
        task: ``"skin"`` (RGB) or ``"lung"`` (grayscale).
        domain: ``"id"`` or a shifted domain (``"ood"``, ``"ood_tone"``, ``"ood_blur"``,
            ``"ood_noise"``, ``"ood_shape"``).
        n: number of pairs (>= 0).
        size: image side in pixels (>= 8).
        seed: base seed; item ``i`` depends only on (task, domain, seed, i, size).

    Returns:
        images float32 ``[n, C, size, size]`` in [0, 1] and masks uint8 ``[n, 1, size, size]``
        in {0, 1}.
    """
    if task not in SYNTHETIC_TASKS:
        raise ValueError(f"unknown synthetic task {task!r}; known: {', '.join(SYNTHETIC_TASKS)}")
    if domain not in _SHIFTS:
        raise ValueError(f"unknown domain {domain!r}; known: {', '.join(DOMAINS)}")
    if n < 0 or size < 8:
        raise ValueError(f"need n >= 0 and size >= 8, got n={n}, size={size}")
    render = SYNTHETIC_TASKS[task]
    shift = _SHIFTS[domain]
    images = np.zeros((n, CHANNELS[task], size, size), dtype=np.float32)
    masks = np.zeros((n, 1, size, size), dtype=np.uint8)
    for i in range(n):
        image, mask = render(_rng(task, domain, seed, i), size, shift)
        images[i], masks[i, 0] = image, mask
    return images, masks
