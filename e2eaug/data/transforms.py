"""Geometric augmentations: joint image-mask ones (baselines) and batched mask-only ones.

Every transform is an affine warp (rotation, flip, translation) in normalised coordinates,
applied with ``grid_sample``: masks with nearest-neighbour sampling so they stay binary, images
bilinear by default (``image_mode="nearest"`` keeps image and mask pixel-aligned exactly).
Pixels warped in from outside are 0. Randomness comes from a ``torch.Generator`` passed in, so
a transform is a deterministic function of the generator's state.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple, Type

import torch
import torch.nn.functional as F

OPS = ("rotate", "flip", "translate")


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
    """Affine ``then o first`` of batched ``[B,2,3]`` matrices (as maps of output coordinates)."""
    pad = torch.tensor([0.0, 0.0, 1.0], device=first.device).expand(first.shape[0], 1, 3)
    return torch.cat([first, pad], 1).bmm(torch.cat([then, pad], 1))[:, :2]


def _warp(x: torch.Tensor, theta: torch.Tensor, mode: str) -> torch.Tensor:
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


class _Sampler:
    """Draws per-sample affine matrices of the configured ops, each sample in its own order."""

    def __init__(self, ops: Sequence[str], max_degrees: float, max_fraction: float, p_flip: float) -> None:
        unknown = [op for op in ops if op not in OPS]
        if unknown:
            raise ValueError(f"unknown augmentation op(s) {unknown}; known: {', '.join(OPS)}")
        if max_degrees < 0 or not 0 <= max_fraction < 1 or not 0 <= p_flip <= 1:
            raise ValueError(
                f"need max_degrees >= 0, 0 <= max_fraction < 1, 0 <= p_flip <= 1; got "
                f"{max_degrees}, {max_fraction}, {p_flip}"
            )
        self.ops, self.max_degrees, self.max_fraction, self.p_flip = tuple(ops), max_degrees, max_fraction, p_flip

    def sample(self, n: int, generator: torch.Generator, device) -> torch.Tensor:
        """``[n, 2, 3]`` affine matrices (the ops composed in a random order per sample)."""
        mats: Dict[str, torch.Tensor] = {}
        if "rotate" in self.ops:
            limit = math.radians(self.max_degrees)
            mats["rotate"] = _rotation(_uniform(n, -limit, limit, generator, device))
        if "flip" in self.ops:
            flips = torch.rand(n, 2, generator=generator, device=device) < self.p_flip
            mats["flip"] = _flip(flips[:, 0], flips[:, 1])
        if "translate" in self.ops:
            # normalised coordinates span 2 per image side
            shift = 2 * self.max_fraction * (2 * torch.rand(n, 2, generator=generator, device=device) - 1)
            mats["translate"] = _translation(shift)
        theta = _translation(torch.zeros(n, 2, device=device))
        if not mats:
            return theta
        names = list(mats)
        keys = torch.rand(n, len(names), generator=generator, device=device)
        orders = keys.argsort(dim=1)
        stack = torch.stack([mats[name] for name in names], 1)  # [n, ops, 2, 3]
        for position in range(len(names)):
            chosen = stack[torch.arange(n, device=device), orders[:, position]]
            theta = _compose(theta, chosen)
        return theta


class MaskAugmenter:
    """Random rotate/flip/translate of a batch of binary masks, on the masks' device.

    Each sample gets its own parameters and its own random order of the ops. Parameters come
    from the ``generator`` passed in, so the output is a pure function of its state: draw once
    per batch and reuse it (Betty re-runs training steps for hypergradients).

    Args:
        ops: subset of ``("rotate", "flip", "translate")``.
        max_degrees: rotation angle drawn from ``[-max_degrees, max_degrees]``.
        max_fraction: translation drawn from ``[-max_fraction, max_fraction]`` of the side.
        p_flip: probability of a horizontal flip and, independently, of a vertical flip.
    """

    def __init__(
        self,
        ops: Sequence[str] = OPS,
        max_degrees: float = 30.0,
        max_fraction: float = 0.1,
        p_flip: float = 0.5,
    ) -> None:
        self.sampler = _Sampler(ops, max_degrees, max_fraction, p_flip)

    def sample(self, batch_size: int, generator: torch.Generator, device=None) -> torch.Tensor:
        """Affine parameters ``[batch_size, 2, 3]`` for :meth:`apply`."""
        return self.sampler.sample(batch_size, generator, device or generator.device)

    def apply(self, masks: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Warp ``masks [B,1,H,W]`` with ``params``; the result is binary float."""
        return (_warp(masks.float(), params, "nearest") > 0.5).float()

    def __call__(self, masks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(masks, self.sample(masks.shape[0], generator, masks.device))


class JointTransform:
    """Base of the joint image-mask augmentations: one random warp applied to both.

    Args:
        image_mode: ``"bilinear"`` (default) or ``"nearest"`` sampling of the image.
        seed: seeds the transform's own generator when none is passed to ``__call__``.
    """

    ops: Tuple[str, ...] = ()

    def __init__(
        self,
        *,
        max_degrees: float = 30.0,
        max_fraction: float = 0.1,
        p_flip: float = 0.5,
        image_mode: str = "bilinear",
        seed: int = 0,
    ) -> None:
        if image_mode not in ("bilinear", "nearest"):
            raise ValueError(f"image_mode must be 'bilinear' or 'nearest', got {image_mode!r}")
        self.sampler = _Sampler(self.ops, max_degrees, max_fraction, p_flip)
        self.image_mode = image_mode
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(
        self, image: torch.Tensor, mask: torch.Tensor, generator: Optional[torch.Generator] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Transform ``image [C,H,W]`` and ``mask [1,H,W]`` with the same random warp."""
        if image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(f"image {list(image.shape)} and mask {list(mask.shape)} sizes differ")
        theta = self.sampler.sample(1, generator or self.generator, "cpu").to(image.device)
        image_out = _warp(image[None].float(), theta, self.image_mode)[0]
        mask_out = (_warp(mask[None].float(), theta, "nearest")[0] > 0.5).float()
        return image_out.clamp(0, 1), mask_out


class JointIdentity(JointTransform):
    """No augmentation (the ``none`` baseline)."""

    def __call__(self, image, mask, generator=None):
        return image, mask


class JointRotate(JointTransform):
    """Rotation by an angle in ``[-max_degrees, max_degrees]``."""

    ops = ("rotate",)


class JointFlip(JointTransform):
    """Horizontal and vertical flips, each with probability ``p_flip``."""

    ops = ("flip",)


class JointTranslate(JointTransform):
    """Translation by up to ``max_fraction`` of the side in each direction."""

    ops = ("translate",)


class JointCombined(JointTransform):
    """Rotation, flips and translation, in a random order per call."""

    ops = OPS


JOINT_AUGMENTATIONS: Dict[str, Type[JointTransform]] = {
    "none": JointIdentity,
    "rotate": JointRotate,
    "flip": JointFlip,
    "translate": JointTranslate,
    "combined": JointCombined,
}


def build_joint_augmentation(name: str, **kwargs) -> JointTransform:
    """The joint augmentation ``name`` (none | rotate | flip | translate | combined)."""
    if name not in JOINT_AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(JOINT_AUGMENTATIONS)}")
    return JOINT_AUGMENTATIONS[name](**kwargs)
