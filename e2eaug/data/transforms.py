"""Geometric augmentations: joint image-mask ones (baselines) and batched mask-only ones.

Every transform is one affine warp (rotation, flips, translation composed in a random order)
applied with ``grid_sample``: masks with nearest-neighbour sampling and re-binarised, images
bilinear by default (``image_mode="nearest"`` keeps image and mask pixel-aligned exactly).
Pixels warped in from outside are 0. Rotation acts in pixel space (no shear on non-square
images); shifts are fractions of the shorter side. Randomness comes from a ``torch.Generator``,
so a transform is a deterministic function of the generator's state.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple, Type

import torch
import torch.nn.functional as F

OPS = ("rotate", "flip", "translate")
Params = torch.Tensor  # [B, 2, 3] affine maps of output to input coordinates
#: A warp's random draw before its magnitudes: unit angles ``[B]`` and shifts ``[B,2]`` in
#: [-1, 1], flips ``[B,2]`` and the ops' order per sample ``[B,ops]`` (see ``_Sampler.draw``).
Draw = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


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


class _Sampler:
    """Draws per-sample affine maps of the configured ops, each sample in its own random order."""

    def __init__(
        self,
        ops: Sequence[str],
        max_degrees: float = 0.0,
        max_fraction: float = 0.0,
        p_flip: float = 0.5,
        flip_axes: Tuple[bool, bool] = (True, True),
    ) -> None:
        unknown = [op for op in ops if op not in OPS]
        if unknown:
            raise ValueError(f"unknown augmentation op(s) {unknown}; known ops: {', '.join(OPS)}")
        if max_degrees < 0 or not 0 <= max_fraction < 1 or not 0 <= p_flip <= 1:
            raise ValueError(
                "need max_degrees >= 0, 0 <= max_fraction < 1 and 0 <= p_flip <= 1; got "
                f"max_degrees={max_degrees}, max_fraction={max_fraction}, p_flip={p_flip}"
            )
        self.ops = tuple(op for op in OPS if op in ops)  # composed in a random order per sample
        self.max_degrees, self.max_fraction = max_degrees, max_fraction
        self.p_flip, self.flip_axes = p_flip, flip_axes

    def sample(self, n: int, generator: torch.Generator) -> Params:
        """``[n, 2, 3]`` maps on the generator's device."""
        return self.maps(self.draw(n, generator))

    def draw(self, n: int, generator: torch.Generator) -> Draw:
        """The random part of ``n`` maps, on the generator's device (zeros for absent ops)."""
        device = generator.device
        angles, shifts = torch.zeros(n, device=device), torch.zeros(n, 2, device=device)
        flips = torch.zeros(n, 2, dtype=torch.bool, device=device)
        if "rotate" in self.ops:
            angles = 2 * torch.rand(n, generator=generator, device=device) - 1
        if "flip" in self.ops:
            flips = torch.rand(n, 2, generator=generator, device=device) < self.p_flip
            flips &= torch.tensor(self.flip_axes, device=device)
        if "translate" in self.ops:
            shifts = 2 * torch.rand(n, 2, generator=generator, device=device) - 1
        orders = torch.zeros(n, 0, dtype=torch.long, device=device)
        if self.ops:
            orders = torch.rand(n, len(self.ops), generator=generator, device=device).argsort(dim=1)
        return angles, flips, shifts, orders

    def maps(self, draw: Draw, scales: Optional[torch.Tensor] = None) -> Params:
        """The maps of ``draw``, with the rotation and shift magnitudes multiplied by ``scales``
        ``[2]`` (differentiably; ``None``: as configured)."""
        angles, flips, shifts, orders = draw
        n, device = len(angles), angles.device
        rotate_scale, shift_scale = (1.0, 1.0) if scales is None else (scales[0], scales[1])
        mats = {
            "rotate": lambda: _rotation(math.radians(self.max_degrees) * rotate_scale * angles),
            "flip": lambda: _flip(flips[:, 0], flips[:, 1]),
            # coordinates span 2 per side, so a shift of f sides is 2 f
            "translate": lambda: _translation(2 * self.max_fraction * shift_scale * shifts),
        }
        theta = _translation(torch.zeros(n, 2, device=device))
        if not self.ops:
            return theta
        stack = torch.stack([mats[op]().to(theta.dtype) for op in self.ops], 1)  # [n, ops, 2, 3]
        rows = torch.arange(n, device=device)
        for position in range(len(self.ops)):
            theta = _compose(theta, stack[rows, orders[:, position]])
        return theta


def jitter_factors(n: int, magnitude: float, generator: torch.Generator) -> torch.Tensor:
    """``[n, 2]``: per image a contrast change and a brightness shift in ``[-m, m]`` (``m =
    magnitude``) for ``apply_jitter``, drawn from ``generator`` (CPU)."""
    return (2 * torch.rand(2, n, generator=generator).T - 1) * magnitude


def apply_jitter(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Per image ``[B,C,H,W]`` in [0, 1]: contrast scaled by ``1 + factors[0]`` about its mean,
    brightness shifted by ``factors[1]``, clipped to [0, 1]; differentiable in the images."""
    contrast, brightness = factors.to(images).T[:, :, None, None, None]
    mean = images.mean((1, 2, 3), keepdim=True)
    return ((images - mean) * (1 + contrast) + mean + brightness).clamp(0, 1)


def intensity_jitter(images: torch.Tensor, magnitude: float, generator: torch.Generator) -> torch.Tensor:
    """``apply_jitter`` with factors of magnitude ``magnitude`` drawn from ``generator``."""
    return apply_jitter(images, jitter_factors(len(images), magnitude, generator))


def elastic_grid(noise: torch.Tensor, height: int, width: int, scale) -> torch.Tensor:
    """The ``grid_sample`` grid ``[B,H,W,2]`` of a smooth displacement: control-point noise
    ``[B,2,g,g]`` upsampled bicubically, times ``scale`` (a number or a tensor, differentiable;
    coordinates span 2 per side), added to the identity grid."""
    n = len(noise)
    field = F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=True)
    identity = torch.eye(2, 3, device=noise.device).expand(n, 2, 3)
    base = F.affine_grid(identity, [n, 1, height, width], align_corners=False)
    return base + scale * field.permute(0, 2, 3, 1)


def elastic_masks(masks: torch.Tensor, magnitude: float, generator: torch.Generator, grid: int = 4) -> torch.Tensor:
    """Elastically deform binary masks ``[B,1,H,W]``: each sample's displacement field is a
    ``grid x grid`` field of control points ~ N(0, magnitude^2) (in fractions of the side),
    upsampled bicubically; nearest-neighbour sampling, background outside. Draws its noise from
    ``generator`` (on the generator's device, then moved)."""
    n, _, height, width = masks.shape
    noise = torch.randn(n, 2, grid, grid, generator=generator, device=generator.device).to(masks.device)
    coords = elastic_grid(noise, height, width, 2 * magnitude)  # a displacement of f sides is 2 f
    warped = F.grid_sample(masks.float(), coords, mode="nearest", padding_mode="zeros", align_corners=False)
    return (warped > 0.5).float()


class MaskAugmenter:
    """Random rotate/flip/translate of a batch of binary masks (and, by :meth:`apply_images`
    with the same parameters, of their images), on the masks' device.

    Each sample gets its own parameters and its own random order of the ops. Parameters come
    from the ``generator`` passed in (drawn on its device, then moved), so the output is a pure
    function of its state: draw once per batch and reuse (Betty re-runs training steps).

    Args:
        ops: subset of ``("rotate", "flip", "translate")``.
        max_degrees: rotation angle drawn from ``[-max_degrees, max_degrees]``.
        max_fraction: shifts drawn from ``[-max_fraction, max_fraction]`` of the side.
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

    def sample(self, batch_size: int, generator: torch.Generator, device=None) -> Params:
        """Affine parameters ``[batch_size, 2, 3]`` for :meth:`apply`, on ``device``."""
        return self.sampler.sample(batch_size, generator).to(device or generator.device)

    def draw(self, batch_size: int, generator: torch.Generator, device=None) -> Draw:
        """The random part of :meth:`sample` (the same numbers), on ``device``, for :meth:`maps`."""
        return tuple(t.to(device or generator.device) for t in self.sampler.draw(batch_size, generator))

    def maps(self, draw: Draw, scales: Optional[torch.Tensor] = None) -> Params:
        """Affine parameters of ``draw`` with the rotation and shift magnitudes times ``scales``."""
        return self.sampler.maps(draw, scales)

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


class JointTransform:
    """Base of the joint image-mask augmentations: one random warp applied to both.

    Args:
        sampler: draws the warps.
        image_mode: ``"bilinear"`` (default) or ``"nearest"`` sampling of the image.
        seed: seeds the transform's own generator, used when ``__call__`` gets none. (With
            DataLoader workers each worker holds a copy of it: pass ``generator`` explicitly, or
            reseed per worker, to avoid repeated augmentations.)
    """

    def __init__(self, sampler: _Sampler, image_mode: str = "bilinear", seed: int = 0) -> None:
        if image_mode not in ("bilinear", "nearest"):
            raise ValueError(f"image_mode must be 'bilinear' or 'nearest', got {image_mode!r}")
        self.sampler = sampler
        self.image_mode = image_mode
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(
        self, image: torch.Tensor, mask: torch.Tensor, generator: Optional[torch.Generator] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Transform ``image [C,H,W]`` and ``mask [1,H,W]`` with the same random warp."""
        if image.dim() != 3 or mask.dim() != 3 or image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(
                f"need image [C,H,W] and mask [1,H,W] of one size, got {list(image.shape)}, {list(mask.shape)}"
            )
        theta = self.sampler.sample(1, generator or self.generator).to(image.device)
        image_out = _warp(image[None].float(), theta, self.image_mode)[0]
        mask_out = (_warp(mask[None].float(), theta, "nearest")[0] > 0.5).float()
        return image_out.clamp(0, 1), mask_out


class JointIdentity(JointTransform):
    """No augmentation (the ``none`` baseline)."""

    def __init__(self, image_mode: str = "bilinear", seed: int = 0) -> None:
        super().__init__(_Sampler(()), image_mode, seed)

    def __call__(self, image, mask, generator=None):
        return image, mask


class JointRotate(JointTransform):
    """Rotation by an angle drawn from ``[-max_degrees, max_degrees]``."""

    def __init__(self, max_degrees: float = 30.0, image_mode: str = "bilinear", seed: int = 0) -> None:
        super().__init__(_Sampler(("rotate",), max_degrees=max_degrees), image_mode, seed)


class JointFlip(JointTransform):
    """Horizontal and vertical flips, each with probability ``p`` (either axis can be disabled)."""

    def __init__(
        self,
        p: float = 0.5,
        horizontal: bool = True,
        vertical: bool = True,
        image_mode: str = "bilinear",
        seed: int = 0,
    ) -> None:
        super().__init__(_Sampler(("flip",), p_flip=p, flip_axes=(horizontal, vertical)), image_mode, seed)


class JointTranslate(JointTransform):
    """Translation by up to ``max_fraction`` of the side along each axis."""

    def __init__(self, max_fraction: float = 0.1, image_mode: str = "bilinear", seed: int = 0) -> None:
        super().__init__(_Sampler(("translate",), max_fraction=max_fraction), image_mode, seed)


class JointCombined(JointTransform):
    """Rotation, flips and translation, in a random order per call."""

    def __init__(
        self,
        max_degrees: float = 30.0,
        max_fraction: float = 0.1,
        p_flip: float = 0.5,
        image_mode: str = "bilinear",
        seed: int = 0,
    ) -> None:
        super().__init__(_Sampler(OPS, max_degrees, max_fraction, p_flip), image_mode, seed)


JOINT_AUGMENTATIONS: Dict[str, Type[JointTransform]] = {
    "none": JointIdentity,
    "rotate": JointRotate,
    "flip": JointFlip,
    "translate": JointTranslate,
    "combined": JointCombined,
}


def build_joint_augmentation(name: str, **kwargs) -> JointTransform:
    """The joint augmentation ``name`` (none | rotate | flip | translate | combined) with ``kwargs``.

    Raises:
        ValueError: unknown name. TypeError: a keyword the class does not take.
    """
    if name not in JOINT_AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(JOINT_AUGMENTATIONS)}")
    cls = JOINT_AUGMENTATIONS[name]
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise TypeError(
            f"augmentation {name!r} ({cls.__name__}) does not take {sorted(kwargs)}: {err}"
        ) from err
