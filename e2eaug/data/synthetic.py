"""Procedural medical-like image-mask pairs (numpy/scipy only), deterministic per seed.

Two tasks:

* ``skin``: RGB dermoscopy-like images. An irregular pigmented lesion (radial Fourier-perturbed
  contour plus a smooth random warp) with a darker centre, colour variegation and dark globules,
  on a textured skin tone, crossed by a few dark hairs, inside the dark circular vignette of a
  dermoscope. The mask is the lesion only (hairs do not change it).
* ``lung``: grayscale chest-radiograph-like images in the usual display polarity (air dark, bone
  and soft tissue bright): body and shoulders, two dark lung fields with vessel texture, ribs as
  curved bright bands, clavicles, spine, a bright mediastinum and heart, the diaphragm and
  abdomen, sometimes a burnt-in label box. The mask is the union of both lungs.

Domains (:data:`DOMAINS`, the same names for both tasks): ``id`` is the in-distribution style;
``ood`` combines several shifts; ``ood_tone`` (other skin tones / radiograph exposure and gamma),
``ood_contrast``, ``ood_blur``, ``ood_noise`` and ``ood_shape`` (other lesion size and
irregularity / narrower, shorter lungs) apply one shift each. Item ``i`` is drawn from
its own generator seeded by ``(seed, i, task, domain)``, so growing ``n`` only extends a set and
different domains never share an image.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import numpy as np
from scipy import ndimage

Range = Tuple[float, float]

DOMAINS = ("id", "ood", "ood_tone", "ood_contrast", "ood_blur", "ood_noise", "ood_shape")


# ----------------------------------------------------------------------------- helpers


def _grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(y, x)`` in [-1, 1], y growing downwards."""
    c = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    return np.meshgrid(c, c, indexing="ij")


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth N(0, 1)-like noise with about ``cells`` bumps per side, independent of ``size``."""
    coarse = rng.standard_normal((cells + 3, cells + 3))
    c = (np.arange(size) + 0.5) / size * cells + 1.0
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return ndimage.map_coordinates(coarse, [yy, xx], order=3, mode="nearest")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1]))


def _blur_noise(img: np.ndarray, rng: np.random.Generator, blur: Range, noise: Range) -> np.ndarray:
    """Gaussian blur (sigma as a fraction of the side) then additive sensor noise, ``[C,H,W]``."""
    size = img.shape[-1]
    sigma = _u(rng, blur) * size
    if sigma > 0.3:
        img = ndimage.gaussian_filter(img, sigma=(0, sigma, sigma), mode="nearest")
    std = _u(rng, noise)
    if std > 0:
        img = img + rng.normal(0.0, std, img.shape)
    return img


def _stable_id(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


# ----------------------------------------------------------------------------- skin


@dataclass(frozen=True)
class SkinStyle:
    """Sampling ranges of one skin domain (lengths are fractions of the image side)."""

    tones: Tuple[Tuple[float, float, float], ...] = (
        (0.93, 0.72, 0.68),
        (0.90, 0.68, 0.60),
        (0.95, 0.80, 0.74),
        (0.86, 0.64, 0.56),
    )
    radius: Range = (0.40, 0.95)
    irregularity: float = 0.10
    opacity: Range = (0.75, 0.95)
    border_softness: Range = (0.03, 0.12)
    hairs: Tuple[int, int] = (0, 6)
    vignette: Range = (1.02, 1.30)
    blur: Range = (0.0, 0.004)
    noise: Range = (0.005, 0.015)


_LIGHT_BROWN = np.array([0.68, 0.47, 0.35])
_DARK_BROWN = np.array([0.34, 0.20, 0.14])
_VERY_DARK = np.array([0.16, 0.10, 0.08])
_BLUE_GREY = np.array([0.42, 0.39, 0.47])
_HAIR = np.array([0.10, 0.08, 0.07])


def _mix(base: np.ndarray, colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Blend ``base [3,H,W]`` towards ``colour [3]`` by ``weight [H,W]``."""
    return base * (1 - weight) + colour[:, None, None] * weight


def _hair_cover(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """Coverage in [0, 1] of ``count`` thin dark hairs (quadratic Bezier curves)."""
    trace = np.zeros((size, size), dtype=bool)
    t = np.linspace(0.0, 1.0, 4 * size)[:, None]
    for _ in range(count):
        p0 = rng.uniform(-1.2, 1.2, 2)
        p2 = p0 + rng.normal(0, 1.0, 2)
        p1 = (p0 + p2) / 2 + rng.normal(0, 0.4, 2)
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
        idx = np.round((pts + 1.0) / 2.0 * size - 0.5).astype(int)
        ok = np.all((idx >= 0) & (idx < size), axis=1)
        trace[idx[ok, 0], idx[ok, 1]] = True
    if not trace.any():
        return np.zeros((size, size))
    dist = ndimage.distance_transform_edt(~trace)
    width = max(0.5, size * rng.uniform(0.003, 0.006))
    return np.exp(-((dist / width) ** 2)) * rng.uniform(0.7, 0.95)


def _render_skin(rng: np.random.Generator, size: int, style: SkinStyle) -> Tuple[np.ndarray, np.ndarray]:
    y, x = _grid(size)

    # skin: tone, blotches, redness, grain
    tone = np.array(style.tones[rng.integers(len(style.tones))]) * rng.uniform(0.96, 1.04, 3)
    skin = tone[:, None, None] * (1.0 + 0.05 * _smooth_field(rng, size, 4))[None]
    skin[0] += 0.025 * _smooth_field(rng, size, 6)
    skin = skin + 0.012 * rng.standard_normal((3, size, size))

    # lesion outline: rotated ellipse, Fourier-perturbed radius, smooth warp
    cy, cx = rng.normal(0.0, 0.1, 2)
    ang = rng.uniform(0, np.pi)
    ca, sa = np.cos(ang), np.sin(ang)
    u = ((x - cx) * ca + (y - cy) * sa) / rng.uniform(0.8, 1.0)
    v = (-(x - cx) * sa + (y - cy) * ca) / rng.uniform(0.65, 0.9)
    rho, theta = np.hypot(u, v), np.arctan2(v, u)
    r = np.full_like(rho, _u(rng, style.radius))
    for k in range(2, 9):
        amp = style.irregularity * rng.standard_normal() / k**0.7
        r = r * (1.0 + amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi)))
    depth = 1.0 - rho / np.maximum(r, 1e-3) + 0.08 * _smooth_field(rng, size, 6)
    mask = depth > 0

    # pigment: light rim, darker centre, dark blotches, blue-grey veil, network, globules
    inner = np.clip(depth, 0.0, 1.0)
    core = np.clip(inner * rng.uniform(1.0, 3.0), 0.0, 1.0) ** rng.uniform(0.7, 1.5)
    rim = np.broadcast_to(_LIGHT_BROWN[:, None, None], skin.shape)
    lesion = _mix(rim, _DARK_BROWN, core * rng.uniform(0.5, 1.0))
    blotch = _sigmoid((_smooth_field(rng, size, 5) - rng.uniform(0.4, 1.6)) / 0.2)
    darkest = np.maximum(blotch, core * rng.uniform(0.0, 0.6))
    lesion = _mix(lesion, _VERY_DARK, darkest * rng.uniform(0.3, 0.9))
    veil = _sigmoid((_smooth_field(rng, size, 4) - rng.uniform(0.8, 2.5)) / 0.2)
    lesion = _mix(lesion, _BLUE_GREY, veil * rng.uniform(0.4, 0.9))
    net = np.exp(-((_smooth_field(rng, size, 20) / 0.3) ** 2))
    lesion = lesion * (1.0 - rng.uniform(0.0, 0.2) * net * _sigmoid((0.6 - inner) / 0.15))[None]
    lesion = lesion * (1.0 + 0.08 * _smooth_field(rng, size, 12))[None]
    lesion = lesion * (tone / tone.mean())[:, None, None] ** 0.5
    opacity = _u(rng, style.opacity)
    alpha = _sigmoid(depth / _u(rng, style.border_softness)) * opacity
    img = skin * (1 - alpha) + lesion * alpha
    speck = ndimage.gaussian_filter(rng.random((size, size)), max(0.5, size / 200))
    near = _sigmoid((depth + 0.08) / 0.03) * _sigmoid((0.7 - depth) / 0.1)
    dots = np.clip((speck - np.quantile(speck, rng.uniform(0.95, 0.995))) * 60.0, 0.0, 1.0)
    dots = dots * near * opacity * rng.uniform(0.0, 0.7)
    img = _mix(img, _VERY_DARK, dots)

    # hairs cross skin and lesion alike (the mask stays the lesion)
    n_hair = int(rng.integers(style.hairs[0], style.hairs[1] + 1))
    if n_hair:
        img = _mix(img, _HAIR, _hair_cover(rng, size, n_hair))

    # uneven illumination and the dermoscope's circular field of view
    img = img * (1.0 + 0.05 * _smooth_field(rng, size, 2))[None]
    vy, vx = rng.normal(0.0, 0.05, 2)
    ring = _sigmoid((_u(rng, style.vignette) - np.hypot(x - vx, y - vy)) / 0.05)
    img = img * (0.05 + 0.95 * ring)[None]
    return _blur_noise(img, rng, style.blur, style.noise), mask


# ----------------------------------------------------------------------------- lung


@dataclass(frozen=True)
class LungStyle:
    """Sampling ranges of one chest-radiograph domain (lengths in [-1, 1] image units)."""

    lung_width: Range = (0.52, 0.64)
    lung_top: Range = (-0.88, -0.78)
    lung_bottom: Range = (0.52, 0.70)
    lung_density: Range = (0.10, 0.18)
    gamma: Range = (0.85, 1.15)
    exposure: Range = (0.92, 1.08)
    contrast: Range = (0.9, 1.1)
    blur: Range = (0.002, 0.005)
    noise: Range = (0.005, 0.02)
    label_box: float = 0.5


def _band(dist: np.ndarray, half: float, soft: float) -> np.ndarray:
    """Soft indicator of ``|dist| < half``."""
    return _sigmoid((half - np.abs(dist)) / soft)


def _lung_fields(rng: np.random.Generator, wy: np.ndarray, wx: np.ndarray, style: LungStyle):
    """Signed inside-distance of the two lungs (> 0 inside) and the heart's elliptic radius."""
    top, bottom = _u(rng, style.lung_top), _u(rng, style.lung_bottom)
    hcx, hcy = rng.uniform(0.14, 0.22), bottom - rng.uniform(0.08, 0.16)
    heart_d = np.hypot((wx - hcx) / rng.uniform(0.34, 0.42), (wy - hcy) / rng.uniform(0.32, 0.40))
    lung_sd = np.full_like(wx, -np.inf)
    for side in (-1.0, 1.0):  # image left = patient's right lung
        s_top = top + rng.normal(0.0, 0.02)
        s_bottom = bottom + rng.normal(0.0, 0.02) + (0.04 if side > 0 else 0.0)
        width = _u(rng, style.lung_width)
        uu = side * wx - rng.uniform(0.07, 0.11)  # outward from the mediastinum
        t = np.clip((wy - s_top) / (s_bottom - s_top), 0.0, 1.0)
        half = 0.5 * width * np.sqrt(np.sin(np.pi / 2 * np.clip(1.5 * t, 0.0, 1.0)))
        centre = width * (0.5 + 0.04 * t)
        dome = s_bottom - rng.uniform(0.12, 0.2) * (1.0 - np.clip(uu / width, 0.0, 1.0) ** 1.5)
        sd = np.minimum.reduce([half - np.abs(uu - centre), dome - wy, wy - s_top])
        lung_sd = np.maximum(lung_sd, sd)
    return np.minimum(lung_sd, 0.3 * (heart_d - 1.0)), heart_d, top, bottom


def _render_lung(rng: np.random.Generator, size: int, style: LungStyle) -> Tuple[np.ndarray, np.ndarray]:
    y, x = _grid(size)
    soft = 1.0 / size  # about half a pixel, in grid units
    wy = y + 0.025 * _smooth_field(rng, size, 3)
    wx = x + 0.025 * _smooth_field(rng, size, 3) + rng.normal(0.0, 0.03)
    ax = np.abs(wx)

    # body: torso with shoulders, neck; air outside is dark
    shoulder = -0.98 + 0.22 * (ax / 0.95) ** 2
    body = _sigmoid((rng.uniform(0.9, 1.0) - ax) / 0.04) * np.maximum(
        _sigmoid((wy - shoulder) / 0.04), _band(wx, 0.22, 0.04)
    )
    lung_sd, heart_d, top, bottom = _lung_fields(rng, wy, wx, style)
    mask = lung_sd > 0
    lung = _sigmoid(lung_sd / soft)

    # soft tissue, brighter towards the edges of the torso and in the abdomen
    tissue = 0.50 + 0.10 * _sigmoid((ax - 0.75) / 0.08) + 0.12 * _sigmoid((wy - bottom + 0.1) / 0.1)
    img = 0.04 + body * tissue
    # mediastinum and heart
    media = _band(wx - 0.02, 0.14 + 0.04 * _sigmoid((wy + 0.3) / 0.1), 0.03) * _sigmoid((wy - top) / 0.05)
    img = img + 0.14 * np.maximum(media, _sigmoid((1.0 - heart_d) / 0.05))
    # lungs: dark, lighter towards the hila and the bases, vessel markings
    hila = np.exp(-(((ax - 0.22) / 0.22) ** 2 + ((wy + 0.05) / 0.45) ** 2))
    vessels = np.exp(-((_smooth_field(rng, size, 16) / 0.3) ** 2)) * (0.3 + 0.7 * hila)
    air = _u(rng, style.lung_density) + 0.12 * hila + 0.05 * np.clip((wy - top) / (bottom - top), 0, 1)
    air = air + 0.05 * vessels + 0.02 * _smooth_field(rng, size, 8)
    img = img * (1 - lung) + air * lung
    # spine (seen through the mediastinum), ribs, clavicles
    vertebrae = 0.5 + 0.5 * np.cos(2 * np.pi * wy / rng.uniform(0.11, 0.14))
    img = img + _band(wx, rng.uniform(0.06, 0.08), 0.015) * (0.06 + 0.04 * vertebrae) * body
    ribs = np.zeros_like(x)
    spacing = (bottom - top + 0.1) / rng.uniform(8.5, 9.5)
    droop = rng.uniform(0.5, 0.7)
    for k in range(11):
        curve = top - 0.06 + k * spacing - 0.15 * ax + droop * ax**2
        ribs = np.maximum(ribs, _band(wy - curve, rng.uniform(0.024, 0.034), 0.01))
    ribs = ribs * _sigmoid((ax - 0.08) / 0.02) * body * _sigmoid((bottom + 0.05 - wy) / 0.05)
    img = img + rng.uniform(0.07, 0.11) * ribs * (0.35 + 0.65 * lung)
    clav_y = top + 0.08 - 0.22 * ax + rng.normal(0, 0.02)
    clavicle = _band(wy - clav_y, 0.035, 0.012) * _sigmoid((0.62 - ax) / 0.04) * _sigmoid((ax - 0.06) / 0.02)
    img = img + 0.13 * clavicle

    # exposure, burnt-in label, acquisition blur and noise
    img = np.clip(img * _u(rng, style.exposure), 0.0, 1.0) ** _u(rng, style.gamma)
    img = 0.5 + (img - 0.5) * _u(rng, style.contrast)
    if rng.random() < style.label_box:
        box = _band(x - rng.choice([-0.8, 0.8]), 0.1, soft) * _band(y + 0.93, 0.05, soft)
        img = np.maximum(img, 0.97 * box)
    return _blur_noise(img[None], rng, style.blur, style.noise), mask


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class SyntheticTask:
    """A synthetic task: channels, its domains' styles and the renderer."""

    channels: int
    domains: Dict[str, object]
    render: Callable[[np.random.Generator, int, object], Tuple[np.ndarray, np.ndarray]]


_SKIN = SkinStyle()
_LUNG = LungStyle()

SYNTHETIC_TASKS: Dict[str, SyntheticTask] = {
    "skin": SyntheticTask(
        channels=3,
        render=_render_skin,
        domains={
            "id": _SKIN,
            "ood": dataclasses.replace(
                _SKIN,
                tones=((0.62, 0.45, 0.33), (0.78, 0.62, 0.45), (0.55, 0.38, 0.27), (0.96, 0.87, 0.86)),
                radius=(0.20, 1.20),
                irregularity=0.18,
                opacity=(0.45, 1.0),
                blur=(0.004, 0.012),
                noise=(0.02, 0.05),
                hairs=(2, 8),
            ),
            "ood_tone": dataclasses.replace(
                _SKIN, tones=((0.62, 0.45, 0.33), (0.78, 0.62, 0.45), (0.55, 0.38, 0.27))
            ),
            "ood_contrast": dataclasses.replace(_SKIN, opacity=(0.35, 0.55), border_softness=(0.10, 0.25)),
            "ood_blur": dataclasses.replace(_SKIN, blur=(0.010, 0.020)),
            "ood_noise": dataclasses.replace(_SKIN, noise=(0.05, 0.09)),
            "ood_shape": dataclasses.replace(_SKIN, radius=(0.18, 0.32), irregularity=0.25),
        },
    ),
    "lung": SyntheticTask(
        channels=1,
        render=_render_lung,
        domains={
            "id": _LUNG,
            "ood": dataclasses.replace(
                _LUNG,
                lung_width=(0.40, 0.50),
                lung_top=(-0.75, -0.62),
                lung_bottom=(0.30, 0.45),
                gamma=(0.6, 1.6),
                exposure=(0.7, 1.3),
                blur=(0.006, 0.012),
                noise=(0.03, 0.06),
            ),
            "ood_tone": dataclasses.replace(_LUNG, gamma=(0.5, 0.7), exposure=(1.15, 1.35)),
            "ood_contrast": dataclasses.replace(_LUNG, contrast=(0.5, 0.65)),
            "ood_noise": dataclasses.replace(_LUNG, noise=(0.05, 0.09)),
            "ood_blur": dataclasses.replace(_LUNG, blur=(0.012, 0.020)),
            "ood_shape": dataclasses.replace(
                _LUNG, lung_width=(0.38, 0.46), lung_top=(-0.72, -0.6), lung_bottom=(0.25, 0.4)
            ),
        },
    ),
}


def make_synthetic(task: str, domain: str, n: int, size: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` image-mask pairs of ``task`` in ``domain``.

    Args:
        task: ``"skin"`` (RGB) or ``"lung"`` (grayscale); see :data:`SYNTHETIC_TASKS`.
        domain: one of :data:`DOMAINS` (``"id"``, ``"ood"``, ``"ood_tone"``, ...).
        n: number of pairs (>= 0).
        size: image side in pixels (>= 8).
        seed: base seed; item ``i`` depends only on ``(seed, i, task, domain)`` and ``size``.

    Returns:
        ``(images, masks)``: float32 ``[n, C, size, size]`` in [0, 1] and uint8
        ``[n, 1, size, size]`` in {0, 1}.

    Raises:
        ValueError: unknown task or domain, or a bad ``n``/``size``.
    """
    if task not in SYNTHETIC_TASKS:
        known = ", ".join(sorted(SYNTHETIC_TASKS))
        raise ValueError(f"unknown synthetic task {task!r}; known tasks: {known}")
    spec = SYNTHETIC_TASKS[task]
    if domain not in spec.domains:
        raise ValueError(
            f"unknown domain {domain!r} for synthetic task {task!r}; known domains: {', '.join(spec.domains)}"
        )
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if int(size) != size or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    n, size = int(n), int(size)
    images = np.empty((n, spec.channels, size, size), dtype=np.float32)
    masks = np.empty((n, 1, size, size), dtype=np.uint8)
    style = spec.domains[domain]
    for i in range(n):
        entropy = [int(seed) % 2**64, i, _stable_id(task), _stable_id(domain)]
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        img, mask = spec.render(rng, size, style)
        images[i] = np.clip(img, 0.0, 1.0)
        masks[i, 0] = mask
    return images, masks
