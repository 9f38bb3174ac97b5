"""Differentiable augmentation of a conditional discriminator's inputs (DiffAugment idea,
Zhao et al. 2020), for GANs trained on a handful of pairs.

The discriminator sees every ``(mask, image)`` pair, real and generated alike, through random
transforms that are differentiable in the image, so the generator's adversarial loss passes
through them too and D cannot simply memorise the few real pairs:

- ``color``: a brightness shift and a contrast scale of the image (and, with 3 channels, a
  saturation scale);
- ``translation``: an integer shift of mask and image together, zero fill;
- ``cutout``: a square of mask and image together set to 0.

Randomness comes from a CPU ``torch.Generator``, so a view is a pure function of its state.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F

DIFFAUG_OPS = ("color", "translation", "cutout")


def _uniform(n: int, low: float, high: float, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    u = torch.rand(n, 1, 1, 1, generator=generator)
    return (low + (high - low) * u).to(device=like.device, dtype=like.dtype)


class DiscriminatorAugment:
    """Random differentiable views of ``(masks [B,1,H,W], images [B,C,H,W])`` pairs.

    Args:
        ops: a subset of :data:`DIFFAUG_OPS`, applied in that order.
        translation: the largest shift, as a fraction of each side.
        cutout: the square's side, as a fraction of the shorter side.
    """

    def __init__(self, ops: Sequence[str], translation: float = 0.125, cutout: float = 0.5) -> None:
        unknown = [op for op in ops if op not in DIFFAUG_OPS]
        if unknown:
            raise ValueError(f"unknown discriminator augmentation {unknown[0]!r}; known: {', '.join(DIFFAUG_OPS)}")
        self.ops = tuple(op for op in DIFFAUG_OPS if op in ops)
        self.translation = translation
        self.cutout = cutout

    def __call__(
        self, masks: torch.Tensor, images: torch.Tensor, generator: torch.Generator
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """One random view of each pair; differentiable in ``images``."""
        if "color" in self.ops:
            images = self._color(images, generator)
        if "translation" in self.ops or "cutout" in self.ops:
            both = torch.cat([masks.to(images.dtype), images], 1)
            if "translation" in self.ops:
                both = self._translate(both, generator)
            if "cutout" in self.ops:
                both = self._cutout(both, generator)
            masks, images = both[:, :1], both[:, 1:]
        return masks, images

    @staticmethod
    def _color(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = len(x)
        x = x + _uniform(n, -0.25, 0.25, generator, x)
        if x.shape[1] == 3:
            gray = x.mean(1, keepdim=True)
            x = (x - gray) * _uniform(n, 0.0, 2.0, generator, x) + gray
        mean = x.mean((1, 2, 3), keepdim=True)
        return (x - mean) * _uniform(n, 0.5, 1.5, generator, x) + mean

    def _translate(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        limit = torch.tensor([int(self.translation * w + 0.5), int(self.translation * h + 0.5)])
        shift = torch.round((2 * torch.rand(n, 2, generator=generator) - 1) * limit)  # pixels
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, :, 2] = -2 * shift / torch.tensor([w, h])  # sample input at output - shift
        grid = F.affine_grid(theta.to(device=x.device, dtype=x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)

    def _cutout(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        side = max(1, int(self.cutout * min(h, w) + 0.5))
        top = torch.randint(0, h - side + 1, (n, 1, 1), generator=generator)
        left = torch.randint(0, w - side + 1, (n, 1, 1), generator=generator)
        rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
        inside = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
        return x * (~inside)[:, None].to(device=x.device, dtype=x.dtype)
