"""Batched classical augmentations of image-mask pairs: affine warps and an intensity jitter.

A warp is one affine map per sample (rotation, flips, translation composed in a random order)
applied with ``grid_sample``: masks with nearest-neighbour sampling and re-binarised, images
bilinear. Pixels warped in from outside are 0. Rotation acts in pixel space (no shear on non-square
images); shifts are fractions of the shorter side. Randomness comes from a ``torch.Generator``,
so a transform is a deterministic function of the generator's state.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

OPS = ("rotate", "flip", "translate")
Params = torch.Tensor  # [B, 2, 3] affine maps of output to input coordinates


def _rotation(angle: torch.Tensor) -> torch.Tensor:
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(angle)
    return torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], -2)


def _flip(flip_x: torch.Tensor, flip_y: torch.Tensor) -> torch.Tensor:
    sx, sy = 1 - 2 * flip_x.float(), 1 - 2 * flip_y.float()
    zero = torch.zeros_like(sx)
    return torch.stack([torch.stack([sx, zero, zero], -1), torch.stack([zero, sy, zero], -1)], -2)


def _translation(shift: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(shift[:, 0]), torch.zeros_like(shift[:, 0])
    return torch.stack(
        [torch.stack([one, zero, shift[:, 0]], -1), torch.stack([zero, one, shift[:, 1]], -1)], -2
    )


def _compose(first: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """Matrix product ``first @ then`` of batched ``[B,2,3]`` affine maps."""
    pad = torch.tensor([0.0, 0.0, 1.0], device=first.device).expand(first.shape[0], 1, 3)
    return torch.cat([first, pad], 1).bmm(torch.cat([then, pad], 1))[:, :2]


def _warp(x: torch.Tensor, theta: Params, mode: str) -> torch.Tensor:
    """Warp ``x [B,C,H,W]``; ``theta`` acts on isotropic coordinates (half the shorter side = 1)."""
    h, w = x.shape[-2:]
    d = torch.tensor([w / min(h, w), h / min(h, w)], dtype=theta.dtype, device=theta.device)
    linear = theta[:, :, :2] * d[None, None, :] / d[None, :, None]
    theta = torch.cat([linear, theta[:, :, 2:] / d[None, :, None]], 2)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


class AffineWarp:
    """Random rotate/flip/translate of a batch of binary masks and, with the same maps, of their
    images (:meth:`apply_images`), on the batch's device.

    Each sample gets its own map, its ops composed in its own random order. The maps come from
    the ``generator`` passed in (drawn on its device), so a warp is a pure function of its
    state: draw once per batch and reuse (Betty re-runs training steps).

    Args:
        ops: subset of ``("rotate", "flip", "translate")``.
        max_degrees: rotation angle drawn from ``[-max_degrees, max_degrees]``.
        max_fraction: shifts drawn from ``[-max_fraction, max_fraction]`` of the shorter side.
        p_flip: probability of a horizontal flip and, independently, of a vertical flip.
    """

    def __init__(
        self, ops: Sequence[str] = OPS, max_degrees: float = 30.0, max_fraction: float = 0.1, p_flip: float = 0.5
    ) -> None:
        unknown = [op for op in ops if op not in OPS]
        if unknown:
            raise ValueError(f"unknown augmentation op(s) {unknown}; known ops: {', '.join(OPS)}")
        if max_degrees < 0 or not 0 <= max_fraction < 1 or not 0 <= p_flip <= 1:
            raise ValueError(
                "need max_degrees >= 0, 0 <= max_fraction < 1 and 0 <= p_flip <= 1; got "
                f"max_degrees={max_degrees}, max_fraction={max_fraction}, p_flip={p_flip}"
            )
        self.ops = tuple(op for op in OPS if op in ops)
        self.max_degrees, self.max_fraction, self.p_flip = max_degrees, max_fraction, p_flip

    def sample(self, n: int, generator: torch.Generator, device: Optional[torch.device] = None) -> Params:
        """``n`` affine maps ``[n, 2, 3]`` for :meth:`apply`, drawn on the generator's device and
        moved to ``device``."""
        return self._sample(n, generator).to(device or generator.device)

    def _sample(self, n: int, generator: torch.Generator) -> Params:
        device = generator.device
        angles, shifts = torch.zeros(n, device=device), torch.zeros(n, 2, device=device)
        flips = torch.zeros(n, 2, dtype=torch.bool, device=device)
        if "rotate" in self.ops:
            angles = 2 * torch.rand(n, generator=generator, device=device) - 1
        if "flip" in self.ops:
            flips = torch.rand(n, 2, generator=generator, device=device) < self.p_flip
        if "translate" in self.ops:
            shifts = 2 * torch.rand(n, 2, generator=generator, device=device) - 1
        theta = _translation(torch.zeros(n, 2, device=device))
        if not self.ops:
            return theta
        orders = torch.rand(n, len(self.ops), generator=generator, device=device).argsort(dim=1)
        mats = {
            "rotate": lambda: _rotation(math.radians(self.max_degrees) * angles),
            "flip": lambda: _flip(flips[:, 0], flips[:, 1]),
            # coordinates span 2 per side, so a shift of f sides is 2 f
            "translate": lambda: _translation(2 * self.max_fraction * shifts),
        }
        stack = torch.stack([mats[op]().to(theta.dtype) for op in self.ops], 1)  # [n, ops, 2, 3]
        rows = torch.arange(n, device=device)
        for position in range(len(self.ops)):
            theta = _compose(theta, stack[rows, orders[:, position]])
        return theta

    def apply(self, masks: torch.Tensor, params: Params) -> torch.Tensor:
        """Warp ``masks [B,1,H,W]`` with ``params``; the result is float in {0, 1}."""
        if masks.dim() != 4 or len(params) != len(masks):
            raise ValueError(
                f"need masks [B,1,H,W] and params [B,2,3], got {list(masks.shape)}, {list(params.shape)}"
            )
        return (_warp(masks.float(), params.to(masks.device), "nearest") > 0.5).float()

    def __call__(self, masks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``apply(masks, sample(len(masks), generator, masks.device))``."""
        return self.apply(masks, self.sample(masks.shape[0], generator, masks.device))

    def apply_images(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """Warp ``images [B,C,H,W]`` with the same ``params`` as their masks (bilinear, in [0,1])."""
        if images.dim() != 4 or len(params) != len(images):
            raise ValueError(
                f"need images [B,C,H,W] and params [B,2,3], got {list(images.shape)}, {list(params.shape)}"
            )
        return _warp(images.float(), params.to(images.device), "bilinear").clamp(0, 1)


def intensity_jitter(images: torch.Tensor, magnitude: float, generator: torch.Generator) -> torch.Tensor:
    """Per image ``[B,C,H,W]`` in [0, 1]: contrast scaled by ``1 + c`` about its mean and
    brightness shifted by ``b``, ``c`` and ``b`` uniform in ``[-magnitude, magnitude]`` (drawn
    from ``generator``, on the CPU), clipped to [0, 1]."""
    contrast, brightness = ((2 * torch.rand(2, len(images), generator=generator).T - 1) * magnitude).to(images).T[
        :, :, None, None, None
    ]
    mean = images.mean((1, 2, 3), keepdim=True)
    return ((images - mean) * (1 + contrast) + mean + brightness).clamp(0, 1)


def elastic_grid(noise: torch.Tensor, height: int, width: int, scale) -> torch.Tensor:
    """The ``grid_sample`` grid ``[B,H,W,2]`` of a smooth displacement: control-point noise
    ``[B,2,g,g]`` upsampled bicubically, times ``scale`` (a number or a tensor, differentiable;
    coordinates span 2 per side), added to the identity grid."""
    n = len(noise)
    field = F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=True)
    identity = torch.eye(2, 3, device=noise.device).expand(n, 2, 3)
    base = F.affine_grid(identity, [n, 1, height, width], align_corners=False)
    return base + scale * field.permute(0, 2, 3, 1)
