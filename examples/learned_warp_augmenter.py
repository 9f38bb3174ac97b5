"""A learnable elastic-deformation and intensity augmenter, plugged into e2eaug from outside.

Not a GAN: every extra pair is a real pair warped by a smooth random displacement field and
given a random brightness, contrast and gamma change. Four strengths set how far each goes
(``max_* * sigmoid(raw)``); they are the weights of the Betty problem ``aug``, trained in the
same loop as the segmenter, adversarially as in AdvChain (Chen et al., MICCAI 2020): the
augmenter's loss is minus the segmenter's loss on its pairs plus ``budget`` times the squared
strengths, so it makes the pairs as hard as the budget allows, and the segmenter trains on
them. The random part of each step (control-point displacements, intensity draws) comes from
the augmenter's named seed streams; the masks are warped with the images and re-binarised
(threshold 0.5), so the segmenter always sees {0, 1} masks. Run it::

    python examples/learned_warp_augmenter.py --iters 100

or from any config: ``plugins: [learned_warp_augmenter]`` (with ``examples/`` on
``PYTHONPATH``) and ``augmenter: {name: learned_warp}``. It uses e2eaug's public API only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from e2eaug import jobs
from e2eaug.config import ConfigError
from e2eaug.data.transforms import elastic_grid
from e2eaug.losses import segmentation_loss
from e2eaug.problems import AugmenterConfig, AugmenterProblem, Draw, names
from e2eaug.registry import AUGMENTERS
from e2eaug.run_config import load_config

STRENGTHS = ("displacement", "brightness", "contrast", "gamma")


@dataclass
class LearnedWarpConfig(AugmenterConfig):
    """The ``augmenter:`` section: the largest value of each strength, the field's control
    grid, and the weight of the strengths' penalty in the augmenter's loss."""

    name: str = "learned_warp"
    pretrain_steps: int = 0  # adversarial to an untrained segmenter would teach nothing
    grid: int = 4  # control points per side of the displacement field
    max_displacement: float = 0.05  # largest shift per control point, as a fraction of the side
    max_brightness: float = 0.2  # largest added offset
    max_contrast: float = 0.3  # largest relative change of the contrast
    max_gamma: float = 0.5  # largest |log gamma|
    budget: float = 0.1

    def __post_init__(self) -> None:
        if self.grid < 2:
            raise ConfigError(f"augmenter.grid must be an integer >= 2, got {self.grid!r}")
        for key in ("max_displacement", "max_brightness", "max_contrast", "max_gamma", "budget"):
            if not getattr(self, key) >= 0:
                raise ConfigError(f"augmenter.{key} must be a number >= 0, got {getattr(self, key)!r}")


@dataclass
class ElasticDraw(Draw):
    """One step's randomness: control-point displacements ``[n, 2, grid, grid]`` ~ N(0, 1) and
    intensity draws ``[n, 3]`` ~ U(-1, 1) (brightness, contrast, gamma)."""

    noise: torch.Tensor
    signs: torch.Tensor


class Strengths(nn.Module):
    """The four learnable strengths, ``maxima * sigmoid(raw)``, starting at half the maxima."""

    def __init__(self, maxima: Tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("maxima", torch.tensor(maxima))
        self.raw = nn.Parameter(torch.zeros(len(maxima)))

    def forward(self) -> torch.Tensor:
        return self.maxima * torch.sigmoid(self.raw)


@AUGMENTERS.register("learned_warp")
class LearnedWarpAugmenter(AugmenterProblem):
    """Real pairs, elastically warped and re-lit by learnable strengths (see the module doc)."""

    config_class = LearnedWarpConfig

    def __init__(self, cfg: LearnedWarpConfig, data, seed: int) -> None:
        maxima = (2 * cfg.max_displacement, cfg.max_brightness, cfg.max_contrast, cfg.max_gamma)
        super().__init__(cfg, Strengths(maxima), data, seed)  # 2 *: grid_sample spans [-1, 1]

    def sample(self, n: int, generator: torch.Generator, device) -> ElasticDraw:
        """The randomness of ``n`` augmented pairs, drawn on the CPU and moved to ``device``."""
        grid = self.settings.grid
        noise = torch.randn(n, 2, grid, grid, generator=generator)
        signs = torch.rand(n, 3, generator=generator) * 2 - 1
        return ElasticDraw(noise.to(device), signs.to(device))

    def warp(self, images, masks, drawn: ElasticDraw):
        """The augmented pair for one draw; differentiable in the strengths, pure."""
        noise, signs = drawn.noise, drawn.signs
        displacement, brightness, contrast, gamma = self.module()
        n, _, height, width = images.shape
        grid = elastic_grid(noise, height, width, displacement)
        warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
        warped_masks = F.grid_sample(masks, grid.detach(), mode="bilinear", padding_mode="border", align_corners=False)
        b, c, g = (signs[:, i].view(n, 1, 1, 1) for i in range(3))
        x = warped.clamp(1e-4, 1) ** torch.exp(gamma * g)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (1 + contrast * c) + mean + brightness * b
        return x.clamp(0, 1), (warped_masks > 0.5).to(masks.dtype)

    # ------------------------------------------------------------------ the contract
    def draw(self, images, masks, step):
        return self.sample(len(images), self.generator(step), images.device)

    def pairs(self, images, masks, drawn):
        return self.warp(images, masks, drawn)

    # ------------------------------------------------------------------ its own training
    def get_batch(self):
        """Its real batch plus a draw from its own stream (each rank its own), so Betty's re-runs
        see the same one."""
        step = self.draws
        images, masks = super().get_batch()
        generator = self.stream_generator(f"augmenter.{self.settings.name}.own_draws", step)
        return images, masks, self.sample(len(images), generator, images.device)

    def training_step(self, batch):
        images, masks, drawn = batch
        seg = getattr(self, names.SEG)
        x, m = self.warp(images, masks, drawn)
        hardness = segmentation_loss(seg.module(x), m, seg.settings.loss)
        return -hardness + self.settings.budget * torch.sigmoid(self.module.raw).square().sum()

    def log_values(self) -> Dict[str, float]:
        return dict(zip(STRENGTHS, self.module().tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=100, help="global steps (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(
        "skin_synthetic",
        [
            "name=learned_warp_augmenter",
            f"seed={args.seed}",
            "augmenter.name=learned_warp",
            "augmenter.pretrain_steps=0",
            f"engine.train_iters={args.iters}",
            f"engine.valid_every={max(1, args.iters // 4)}",
        ],
    )
    run, best = jobs.train(cfg)
    print(f"best validation Dice {best['dice']:.4f} at step {best['step']}")
    print(jobs.format_results(jobs.evaluate(run, "best")))


if __name__ == "__main__":
    main()
