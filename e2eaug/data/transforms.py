"""Batched random augmentations of image-mask pairs, on kornia.

Every transform draws its parameters from the ``torch.Generator`` it is given (on the
generator's device) and applies them with kornia's functional API on the batch's device, so a
transform is a pure function of the generator's state, as the augmenter contract needs (Betty
re-runs training steps). Images are ``[B,C,H,W]`` in [0, 1], masks ``[B,1,H,W]`` in {0, 1}.

- :class:`AffineWarp`: the classical rotate, flip and translate (and an optional contrast and
  brightness jitter).
- :class:`NNUNetTransform`: nnU-Net v2's default 2D training augmentation.

Geometric warps resample images bilinearly and masks by nearest neighbour; what is warped in
from outside the image is 0 (in nnU-Net's transform, the image's mean) and background.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from kornia.enhance import adjust_brightness, adjust_contrast_with_mean_subtraction, adjust_gamma
from kornia.filters import gaussian_blur2d
from kornia.geometry.transform import get_affine_matrix2d, warp_affine

OPS = ("rotate", "flip", "translate")
#: The warps a GAN augmenter's ``mask_aug`` and ``real_warp`` and the weightless augmenters name.
WARPS = ("none", "rotate", "flip", "translate", "combine", "nnunet")
Pair = Tuple[torch.Tensor, torch.Tensor]


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=generator.device)


def _chance(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device) < p


def warp(
    images: Optional[torch.Tensor], masks: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """Warp each pair about its centre: scale ``[B,2]`` per axis (negative flips), then rotate by
    ``angle [B]`` degrees (clockwise as displayed, rows downward), then shift by ``shift [B,2]`` pixels (x, y).
    ``images`` may be ``None`` (masks only)."""
    n, (h, w), device = len(masks), masks.shape[-2:], masks.device
    center = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=device).expand(n, 2)
    matrices = get_affine_matrix2d(shift.to(device), center, scale.to(device), angle.to(device))[:, :2]
    warped = warp_affine(masks.float(), matrices, (h, w), mode="nearest", align_corners=True)
    if images is not None:
        images = warp_affine(images.float(), matrices, (h, w), mode="bilinear", align_corners=True)
    return images, (warped > 0.5).float()


class Transform:
    """A random augmentation of image-mask pairs; subclasses define :meth:`__call__` and
    :meth:`geometry`."""

    def __call__(self, images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator) -> Pair:
        """Augmented ``(images, masks)``."""
        raise NotImplementedError

    def geometry(self, masks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The masks under the transform's geometric part alone (for masks with no image)."""
        raise NotImplementedError


class AffineWarp(Transform):
    """Random flips, rotation and translation of each pair (in that order), and with ``jitter``
    ``m`` > 0 a random contrast and brightness of each warped image.

    Args:
        ops: subset of ``("rotate", "flip", "translate")``.
        max_degrees: rotation angle drawn from ``[-max_degrees, max_degrees]``.
        max_fraction: shifts drawn from ``[-max_fraction, max_fraction]`` of the shorter side.
        p_flip: probability of a horizontal flip and, independently, of a vertical flip.
        jitter: contrast factor (about the image's mean, ``kornia.enhance``) drawn from
            ``[1 - m, 1 + m]`` and brightness shift from ``[-m, m]``, per image.
    """

    def __init__(
        self,
        ops: Sequence[str] = OPS,
        max_degrees: float = 30.0,
        max_fraction: float = 0.1,
        p_flip: float = 0.5,
        jitter: float = 0.0,
    ) -> None:
        unknown = [op for op in ops if op not in OPS]
        if unknown:
            raise ValueError(f"unknown augmentation op(s) {unknown}; known ops: {', '.join(OPS)}")
        if max_degrees < 0 or not 0 <= max_fraction < 1 or not 0 <= p_flip <= 1 or not 0 <= jitter < 1:
            raise ValueError(
                "need max_degrees >= 0, 0 <= max_fraction < 1, 0 <= p_flip <= 1 and 0 <= jitter < 1; got "
                f"max_degrees={max_degrees}, max_fraction={max_fraction}, p_flip={p_flip}, jitter={jitter}"
            )
        self.ops = tuple(op for op in OPS if op in ops)
        self.max_degrees, self.max_fraction, self.p_flip, self.jitter = max_degrees, max_fraction, p_flip, jitter

    def _draw(self, masks: torch.Tensor, generator: torch.Generator):
        n, side = len(masks), min(masks.shape[-2:])
        angle, scale, shift = torch.zeros(n), torch.ones(n, 2), torch.zeros(n, 2)
        if "rotate" in self.ops:
            angle = _uniform(n, -self.max_degrees, self.max_degrees, generator)
        if "flip" in self.ops:
            scale = 1 - 2 * _chance(2 * n, self.p_flip, generator).view(n, 2).float()
        if "translate" in self.ops:
            shift = _uniform(2 * n, -self.max_fraction, self.max_fraction, generator).view(n, 2) * side
        return angle, scale, shift

    def geometry(self, masks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return warp(None, masks, *self._draw(masks, generator))[1]

    def __call__(self, images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator) -> Pair:
        images, masks = warp(images, masks, *self._draw(masks, generator))
        if self.jitter:  # drawn after the warps: they stay as without it
            n, m = len(images), self.jitter
            contrast = _uniform(n, 1 - m, 1 + m, generator).to(images)
            brightness = _uniform(n, -m, m, generator).to(images)
            images = adjust_brightness(adjust_contrast_with_mean_subtraction(images, contrast), brightness)
        return images.clamp(0, 1), masks


def _bg_contrast(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """nnU-Net's ``BGContrast``: half the draws uniform in ``[low, 1]``, half in ``[1, high]``."""
    below = _uniform(n, low, 1.0, generator)
    return torch.where(_chance(n, 0.5, generator), below, _uniform(n, 1.0, high, generator))


class NNUNetTransform(Transform):
    """nnU-Net v2's default 2D training augmentation (nnunetv2 2.8.1,
    ``nnUNetTrainer.get_training_transforms`` with the rotation and mirror axes of
    ``configure_rotation_dummyDA_mirroring_and_inital_patch_size``; the transforms'
    semantics as in batchgeneratorsv2). Per sample, in this order:

    ============================  ======  ==========================================================
    transform                     p       parameters
    ============================  ======  ==========================================================
    rotation                      0.2     angle in [-180, 180] degrees (+-15 when a side is 1.5x the other)
    scaling                       0.2     zoom-out factor in [0.7, 1.4], one for both axes
    Gaussian noise                0.1     std in [0, 0.1]
    Gaussian blur                 0.2     per channel with p 0.5, sigma per axis in [0.5, 1]
    multiplicative brightness     0.15    per channel, factor in [0.75, 1.25]
    contrast (range kept)         0.15    per channel, factor in [0.75, 1.25]
    low resolution                0.25    per channel with p 0.5, down to [0.5, 1] of the size
    gamma of the inverted image   0.1     per channel, gamma in [0.7, 1.5], mean and std kept
    gamma                         0.3     per channel, gamma in [0.7, 1.5], mean and std kept
    mirror                        0.5     each axis
    ============================  ======  ==========================================================

    Factor ranges around 1 are drawn as nnU-Net's ``BGContrast`` draws them. As in nnU-Net, the
    intensity transforms act on the z-scored image (per sample and channel); the result is
    mapped back with the same mean and std and clipped to [0, 1]. The warps and blur are
    kornia's; noise, brightness, contrast, low resolution and gamma with nnU-Net's range and
    statistics handling have no kornia equivalent and are written here in a few lines each.
    nnU-Net crops its patch from a larger region; trained on whole images, pixels warped in from
    outside are the image's mean and background.
    """

    def _geometry(self, masks: torch.Tensor, generator: torch.Generator):
        n, (h, w) = len(masks), masks.shape[-2:]
        limit = 15.0 if max(h, w) / min(h, w) > 1.5 else 180.0
        angle = _uniform(n, -limit, limit, generator) * _chance(n, 0.2, generator)
        zoom_out = torch.where(_chance(n, 0.2, generator), _uniform(n, 0.7, 1.4, generator), torch.ones(n, device=generator.device))
        mirror = 1 - 2 * _chance(2 * n, 0.5, generator).view(n, 2).float()
        return angle, (mirror / zoom_out[:, None]), torch.zeros(n, 2)

    def geometry(self, masks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return warp(None, masks, *self._geometry(masks, generator))[1]

    def __call__(self, images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator) -> Pair:
        mean = images.mean((-2, -1), keepdim=True)
        std = images.std((-2, -1), keepdim=True).clamp_min(1e-6)
        z, masks = warp((images - mean) / std, masks, *self._geometry(masks, generator))
        n, c = z.shape[:2]
        picked = lambda p, p_channel=1.0: _picked(n, c, p, p_channel, generator).to(z.device)  # noqa: E731
        sel = picked(0.1)
        sigma = _uniform(n, 0.0, 0.1, generator)
        noise = torch.randn(z.shape, generator=generator, device=generator.device)
        z = z + sel * (sigma.view(n, 1, 1, 1) * noise).to(z)
        z = torch.where(picked(0.2, 0.5), _blur(z, _uniform(2 * n * c, 0.5, 1.0, generator).view(n * c, 2)), z)
        z = z * torch.where(picked(0.15), _factor(n, c, 0.75, 1.25, generator).to(z), 1.0)
        z = torch.where(picked(0.15), _contrast(z, _factor(n, c, 0.75, 1.25, generator).to(z)), z)
        z = _low_resolution(z, picked(0.25, 0.5), _uniform(n * c, 0.5, 1.0, generator).view(n, c))
        z = torch.where(picked(0.1), -_gamma(-z, _factor(n, c, 0.7, 1.5, generator).to(z)), z)
        z = torch.where(picked(0.3), _gamma(z, _factor(n, c, 0.7, 1.5, generator).to(z)), z)
        return (z * std + mean).clamp(0, 1), masks


def _picked(n: int, c: int, p: float, p_channel: float, generator: torch.Generator) -> torch.Tensor:
    """``[n, c, 1, 1]``: whether each sample (with probability ``p``) and each of its channels
    (with ``p_channel``) is transformed."""
    return (_chance(n, p, generator)[:, None] & _chance(n * c, p_channel, generator).view(n, c))[..., None, None]


def _factor(n: int, c: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return _bg_contrast(n * c, low, high, generator).view(n, c, 1, 1)


def _blur(z: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Each channel blurred with its own ``sigma [n*c, 2]`` (a 7-pixel window, reflected edges)."""
    n, c, h, w = z.shape
    return gaussian_blur2d(z.reshape(n * c, 1, h, w), 7, sigma.to(z), border_type="reflect").view(n, c, h, w)


def _contrast(z: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Contrast scaled by ``factor`` about each channel's mean, clipped to the channel's range."""
    mean, low, high = z.mean((-2, -1), keepdim=True), z.amin((-2, -1), keepdim=True), z.amax((-2, -1), keepdim=True)
    return torch.minimum(torch.maximum((z - mean) * factor + mean, low), high)


def _low_resolution(z: torch.Tensor, picked: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Each picked channel downsampled by ``scale`` (nearest) and upsampled back (bilinear)."""
    out, (h, w) = z.clone(), z.shape[-2:]
    for i, j in picked[..., 0, 0].nonzero().tolist():
        size = (round(h * float(scale[i, j])), round(w * float(scale[i, j])))
        small = F.interpolate(z[i, j][None, None], size, mode="nearest-exact")
        out[i, j] = F.interpolate(small, (h, w), mode="bilinear")[0, 0]
    return out


def _gamma(z: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Gamma of each channel rescaled to [0, 1] (kornia), mapped back to its range, with the
    channel's mean and std restored."""
    mean, std = z.mean((-2, -1), keepdim=True), z.std((-2, -1), keepdim=True)
    low, high = z.amin((-2, -1), keepdim=True), z.amax((-2, -1), keepdim=True)
    span = (high - low).clamp_min(1e-7)
    n, c, h, w = z.shape
    unit = ((z - low) / span).reshape(n * c, 1, h, w)
    out = adjust_gamma(unit, gamma.reshape(n * c)).view(n, c, h, w) * span + low
    return (out - out.mean((-2, -1), keepdim=True)) * (std / out.std((-2, -1), keepdim=True).clamp_min(1e-7)) + mean


def build_warp(
    name: str, max_degrees: float = 30.0, max_fraction: float = 0.1, p_flip: float = 0.5, jitter: float = 0.0
) -> Optional[Transform]:
    """The transform a name in :data:`WARPS` stands for (``None`` for ``none``); the classical
    ones read the other arguments, ``nnunet`` has its own fixed settings."""
    if name not in WARPS:
        raise ValueError(f"unknown warp {name!r}; known: {', '.join(WARPS)}")
    if name == "none":
        return None
    if name == "nnunet":
        return NNUNetTransform()
    return AffineWarp(OPS if name == "combine" else (name,), max_degrees, max_fraction, p_flip, jitter)


def elastic_grid(noise: torch.Tensor, height: int, width: int, scale) -> torch.Tensor:
    """The ``grid_sample`` grid ``[B,H,W,2]`` of a smooth displacement: control-point noise
    ``[B,2,g,g]`` upsampled bicubically, times ``scale`` (a number or a tensor, differentiable;
    coordinates span 2 per side), added to the identity grid."""
    n = len(noise)
    field = F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=True)
    identity = torch.eye(2, 3, device=noise.device).expand(n, 2, 3)
    base = F.affine_grid(identity, [n, 1, height, width], align_corners=False)
    return base + scale * field.permute(0, 2, 3, 1)
