"""A new augmenter from scratch, plugged into e2eaug without touching its code.

``ShadingAugmenter`` renders an image from a warped real mask with a tiny conv net trained to
reconstruct the real image (L1): no adversary and no architecture search. It has weights but no
architecture, so the engine wires the two levels ``aug -> seg``: the segmenter trains on real
pairs plus ``lam`` x rendered pairs, and the renderer trains beside it. Run it::

    python examples/custom_augmenter.py --iters 100

It prints the test table and the run folder, like ``e2eaug run``. The whole augmenter is its
config dataclass, its class and its registration; the base class builds the Betty problem,
optimizer and batches from the config.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch import nn

from e2eaug import jobs
from e2eaug.data.transforms import AffineWarp
from e2eaug.problems import AugmenterConfig, AugmenterProblem, Draw
from e2eaug.registry import AUGMENTERS
from e2eaug.run_config import load_config


@dataclass
class ShadingConfig(AugmenterConfig):
    """The ``augmenter:`` section of this augmenter (``name`` selects it)."""

    name: str = "shading"
    width: int = 16
    max_degrees: float = 30.0


@dataclass
class WarpedMasks(Draw):
    """One step's randomness: the real masks, warped."""

    masks: torch.Tensor


@AUGMENTERS.register("shading")
class ShadingAugmenter(AugmenterProblem):
    """Mask -> image by three 3x3 convs; trained with L1 to the real image."""

    config_class = ShadingConfig

    def __init__(self, cfg: ShadingConfig, data, seed: int) -> None:
        net = nn.Sequential(
            nn.Conv2d(1, cfg.width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(cfg.width, cfg.width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(cfg.width, data.channels, 3, padding=1),
            nn.Sigmoid(),
        )
        super().__init__(cfg, net, data, seed)
        self.warp = AffineWarp(("rotate", "flip"), max_degrees=cfg.max_degrees)

    def draw(self, images, masks, step):
        """Once per real step: the warped masks (randomness from this step's generator)."""
        return WarpedMasks(self.warp.geometry(masks, self.generator(step)))

    def pairs(self, images, masks, drawn):
        """Rendered images for the warped masks; pure, and differentiable in the net."""
        return self.module(drawn.masks), drawn.masks

    def training_step(self, batch):
        images, masks = batch
        return (self.module(masks) - images).abs().mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=100, help="global steps (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(
        "skin_synthetic",
        [
            "name=custom_augmenter",
            f"seed={args.seed}",
            "augmenter.name=shading",
            f"engine.train_iters={args.iters}",
            f"engine.valid_every={max(1, args.iters // 4)}",
        ],
    )
    run, best = jobs.train(cfg)
    print(f"best validation Dice {best['dice']:.4f} at step {best['step']}")
    print(jobs.format_results(jobs.evaluate(run, "best")))


if __name__ == "__main__":
    main()
