"""A new augmenter from scratch, plugged into e2eaug without touching its code.

``ShadingAugmenter`` renders an image from a mask with a tiny conv net trained to reconstruct
the real image (L1), no adversary and no architecture search. Because it has no ``alpha``, the
engine wires the two-level graph ``gan -> seg``: the segmenter trains on real pairs plus
``lambda`` x rendered pairs. Run it::

    python examples/custom_augmenter.py --iters 100

It prints the test table and the run folder, like ``e2eaug run``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import torch
from torch import nn

from e2eaug import jobs
from e2eaug.batching import StepBatcher
from e2eaug.config import HypergradConfig, OptimConfig, load_config
from e2eaug.optim import build_optimizer
from e2eaug.problems import AugmenterProblem, betty_config, names
from e2eaug.registry import AUGMENTERS
from e2eaug.rundir import RunDir


@dataclass
class ShadingConfig:
    """The ``augmenter:`` section of this augmenter (``name`` selects it)."""

    name: str = "shading"
    width: int = 16
    batch_size: int = 8
    optimizer: OptimConfig = field(default_factory=lambda: OptimConfig("adam", 2e-3))


@AUGMENTERS.register("shading")
class ShadingAugmenter(AugmenterProblem):
    """Mask -> image by three 3x3 convs; trained with L1 to the real image."""

    config_class = ShadingConfig

    @classmethod
    def from_config(cls, cfg: ShadingConfig, data, seed: int) -> "ShadingAugmenter":
        net = nn.Sequential(
            nn.Conv2d(1, cfg.width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(cfg.width, cfg.width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(cfg.width, data.channels, 3, padding=1),
            nn.Sigmoid(),
        )
        batcher = StepBatcher([data.train.images, data.train.masks], cfg.batch_size, seed + 1)
        return cls(
            names.GAN,  # the augmenter level's Betty name, whatever the augmenter is
            betty_config(HypergradConfig()),  # no arch level: no hypergradient passes here
            module=net,
            optimizer=build_optimizer(cfg.optimizer, net.parameters()),
            batcher=batcher,
        )

    def generate(self, masks: torch.Tensor) -> torch.Tensor:
        return self.module(masks)

    def training_step(self, batch):
        images, masks = batch
        return (self.generate(masks) - images).abs().mean()


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
            "augmenter={name: shading}",
            f"engine.train_iters={args.iters}",
            f"engine.valid_every={max(1, args.iters // 4)}",
        ],
    )
    run = RunDir.create(cfg.out_dir, cfg.name)
    print(f"run folder: {run.path}")
    run, best = jobs.train(cfg, run)
    print(f"best validation Dice {best['dice']:.4f} at step {best['step']}")
    print(jobs.format_results(jobs.evaluate(run, "best")))


if __name__ == "__main__":
    main()
