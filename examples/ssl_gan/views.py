"""SimCLR view augmentations on image tensors (Chen et al., "A Simple Framework for Contrastive
Learning of Visual Representations", ICML 2020): random resized crop, horizontal flip, colour
jitter (brightness, contrast, saturation, hue; applied with probability 0.8) and random grayscale.

Randomness and computation are split: :func:`sample_view_params` draws every random number once
for a batch, and :func:`apply_view` is a pure, differentiable function of (images, params). A
Betty problem can therefore re-run its loss on the same views, and gradients reach the images
(e.g. a generator's output). Gaussian blur is left out, as in SimCLR's CIFAR setting. Jitter
is applied in a fixed order (brightness, contrast, saturation, hue) rather than a random one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

_GRAY = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class ViewConfig:
    """Augmentation strengths; ``jitter_strength`` s scales (0.8s, 0.8s, 0.8s, 0.2s) jitter."""

    crop_scale: Tuple[float, float] = (0.2, 1.0)
    crop_ratio: Tuple[float, float] = (3 / 4, 4 / 3)
    flip_prob: float = 0.5
    jitter_prob: float = 0.8
    jitter_strength: float = 0.5
    gray_prob: float = 0.2

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < lo <= hi <= 1, got {self.crop_scale}")
        for name in ("flip_prob", "jitter_prob", "gray_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def sample_view_params(n: int, cfg: ViewConfig, generator: Optional[torch.Generator] = None,
                       device: Optional[torch.device] = None) -> Dict[str, torch.Tensor]:
    """Draw the random parameters of ``n`` views on the CPU ``generator``.

    Returns:
        ``theta`` ``(n, 2, 3)`` crop/flip affine maps, jitter factors ``brightness``,
        ``contrast``, ``saturation`` ``(n,)``, hue shift ``hue`` (turns) and ``gray`` mask ``(n,)``.
    """

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    area = uniform(*cfg.crop_scale)
    log_ratio = uniform(math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]))
    w = (area * log_ratio.exp()).sqrt().clamp(max=1.0)
    h = (area / log_ratio.exp()).sqrt().clamp(max=1.0)
    cx = (1 - w) * uniform(-1, 1)
    cy = (1 - h) * uniform(-1, 1)
    flip = torch.where(torch.rand(n, generator=generator) < cfg.flip_prob, -1.0, 1.0)
    zeros = torch.zeros(n)
    theta = torch.stack([torch.stack([w * flip, zeros, cx], 1), torch.stack([zeros, h, cy], 1)], 1)

    s = cfg.jitter_strength
    jitter = torch.rand(n, generator=generator) < cfg.jitter_prob

    def factor(amount: float) -> torch.Tensor:
        return torch.where(jitter, uniform(max(0.0, 1 - amount), 1 + amount), torch.ones(n))

    params = {
        "theta": theta,
        "brightness": factor(0.8 * s),
        "contrast": factor(0.8 * s),
        "saturation": factor(0.8 * s),
        "hue": torch.where(jitter, uniform(-0.2 * s, 0.2 * s), zeros),
        "gray": (torch.rand(n, generator=generator) < cfg.gray_prob).float(),
    }
    return {k: v.to(device) if device is not None else v for k, v in params.items()}


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    return (_GRAY[0] * r + _GRAY[1] * g + _GRAY[2] * b).unsqueeze(1)


def _rotate_hue(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate chroma in YIQ space by ``turns * 2 pi`` (a differentiable hue shift)."""
    to_yiq = x.new_tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, x)
    angle = 2 * math.pi * turns.view(-1, 1, 1)
    cos, sin = angle.cos(), angle.sin()
    i = yiq[:, 1] * cos - yiq[:, 2] * sin
    q = yiq[:, 1] * sin + yiq[:, 2] * cos
    yiq = torch.stack([yiq[:, 0], i, q], 1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_yiq), yiq)


def apply_view(images: torch.Tensor, params: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Apply sampled view parameters to ``images`` ``(n, 3, H, W)`` in ``[0, 1]``.

    Deterministic and differentiable in ``images``; output has the input's shape, in ``[0, 1]``.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (n, 3, H, W), got {tuple(images.shape)}")
    if params["theta"].shape[0] != images.shape[0]:
        raise ValueError(f"{params['theta'].shape[0]} view parameters for {images.shape[0]} images")
    grid = F.affine_grid(params["theta"].to(images.dtype), list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def per_image(name: str) -> torch.Tensor:
        return params[name].to(x.dtype).view(-1, 1, 1, 1)

    x = (x * per_image("brightness")).clamp(0, 1)
    mean = _gray(x).mean(dim=(2, 3), keepdim=True)
    x = (mean + per_image("contrast") * (x - mean)).clamp(0, 1)
    gray = _gray(x)
    x = (gray + per_image("saturation") * (x - gray)).clamp(0, 1)
    x = _rotate_hue(x, params["hue"].to(x.dtype)).clamp(0, 1)
    g = per_image("gray")
    return g * _gray(x).expand_as(x) + (1 - g) * x


__all__ = ["ViewConfig", "apply_view", "sample_view_params"]
