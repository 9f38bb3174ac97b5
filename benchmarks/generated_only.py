"""How useful are a trained GAN's pairs on their own? (the method study's diagnosis)

For each run folder of a GAN augmenter (``pix2pix``, ``gan_joint``, ``e2eaug``), the run's
generator is frozen at a checkpoint and a fresh segmenter (the run's seg config, its seed and
batches) is trained three ways for the run's number of steps: on the real pairs only, on the
generated pairs only (the generator's images of the warped real masks, as in training), and on
both (``real + lam * generated``, the training loss). Each is scored on the run's real
validation split every ``valid_every`` steps; the best is reported, as the harness selects.

    python -m benchmarks.generated_only RUN_DIR [RUN_DIR ...] [--checkpoint last] [--out FILE.csv]
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List

import torch

from e2eaug.evaluation import evaluate_segmenter
from e2eaug.jobs import load_run
from e2eaug.losses import segmentation_loss
from e2eaug.optim import build_optimizer
from e2eaug.problems import names
from e2eaug.problems.segmentation import build_segmenter
from e2eaug.rundir import RunDir

from . import run_folders

CONDITIONS = ("real", "generated", "real+generated")


def _train(cfg: Any, engine: Any, data: Any, condition: str) -> float:
    """Best validation Dice of a fresh segmenter trained on ``condition``'s pairs."""
    seg_level, augmenter = getattr(engine, names.SEG), engine.augmenter
    torch.manual_seed(cfg.seed)
    model = build_segmenter(cfg.seg, data.channels).to(seg_level.device)
    optimizer = build_optimizer(cfg.seg.optimizer, model.parameters())
    best = 0.0
    for step in range(cfg.engine.train_iters):
        images, masks = seg_level.batcher.batch(step, seg_level.device)
        fake, fake_masks = augmenter.augment(images, masks, step)
        fake, fake_masks = fake[: len(images)], fake_masks[: len(images)]  # the generated pairs only
        loss = 0.0
        if condition != "generated":
            loss = segmentation_loss(model(images), masks, cfg.seg.loss)
        if condition != "real":
            weight = augmenter.settings.lam if condition == "real+generated" else 1.0
            loss = loss + weight * segmentation_loss(model(fake), fake_masks, cfg.seg.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (step + 1) % cfg.engine.valid_every == 0 or step + 1 == cfg.engine.train_iters:
            best = max(best, evaluate_segmenter(model, data.val, seg_level.device)["dice"])
    return best


def measure(run_dir: str, checkpoint: str) -> List[Dict[str, Any]]:
    """One row per condition for one run folder."""
    cfg, engine, data = load_run(RunDir.open(run_dir), checkpoint)
    if not hasattr(engine.augmenter, "generate"):
        raise ValueError(f"{run_dir}: augmenter {cfg.augmenter.name!r} is not a GAN")
    engine.eval()
    return [
        {"run": run_dir, "augmenter": cfg.augmenter.name, "seed": cfg.seed, "condition": condition,
         "val_dice": round(_train(cfg, engine, data, condition), 4)}
        for condition in CONDITIONS
    ]


def main(argv: List[str] | None = None) -> int:
    return run_folders.main(__doc__.splitlines()[0], measure, _show, argv)


def _show(row: Dict[str, Any]) -> str:
    return f"{row['augmenter']:<12} seed {row['seed']}  {row['condition']:<16} val Dice {row['val_dice']:.4f}"


if __name__ == "__main__":
    sys.exit(main())
