"""Does a trained GAN render masks it has not seen? (issue 12, diagnosis)

For each run folder of a GAN augmenter, the run's generator at a checkpoint renders the real
masks of the training split (the pairs it learnt from) and of the validation split (real lung
shapes it never saw); each image is compared with the real image of that mask by mean absolute
pixel error (images in [0, 1]). Beside them, two references on the validation split: the mean
training image (no use of the mask at all) and the training image whose mask overlaps the
validation mask most (a lookup of the pairs learnt). Validation error far above training error,
near those references, means the generator memorised its pairs.

    python -m benchmarks.generator_fit RUN_DIR [RUN_DIR ...] [--checkpoint last] [--out FILE.csv]
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List

import torch

from e2eaug.jobs import load_run
from e2eaug.rundir import RunDir

from . import run_folders


def _nearest_train_images(train: Any, masks: torch.Tensor) -> torch.Tensor:
    """For each mask, the training image whose mask has the highest IoU with it."""
    a, b = masks.flatten(1) > 0.5, train.masks.flatten(1) > 0.5
    inter = (a[:, None] & b[None]).sum(-1).float()
    union = (a[:, None] | b[None]).sum(-1).float().clamp(min=1)
    return train.images[(inter / union).argmax(dim=1)]


@torch.no_grad()
def _l1(augmenter: Any, images: torch.Tensor, masks: torch.Tensor) -> float:
    device = augmenter.device
    fake = augmenter.generate(masks.to(device)).float().cpu()
    return (fake - images).abs().mean().item()


def measure(run_dir: str, checkpoint: str) -> Dict[str, Any]:
    """One row: the generator's error on training and validation masks, and the references'."""
    cfg, engine, data = load_run(RunDir.open(run_dir), checkpoint)
    augmenter = engine.augmenter
    if not hasattr(augmenter, "generate"):
        raise ValueError(f"{run_dir}: augmenter {cfg.augmenter.name!r} is not a GAN")
    engine.eval()
    mean_image = data.train.images.mean(dim=0, keepdim=True)
    return {
        "run": run_dir,
        "augmenter": cfg.augmenter.name,
        "seed": cfg.seed,
        "image_size": cfg.data.image_size,
        "gan_steps": augmenter.disc_steps,
        "l1_train": round(_l1(augmenter, data.train.images, data.train.masks), 4),
        "l1_val": round(_l1(augmenter, data.val.images, data.val.masks), 4),
        "l1_val_mean_image": round((data.val.images - mean_image).abs().mean().item(), 4),
        "l1_val_nearest_train": round(
            (data.val.images - _nearest_train_images(data.train, data.val.masks)).abs().mean().item(), 4
        ),
    }


def main(argv: List[str] | None = None) -> int:
    return run_folders.main(__doc__.splitlines()[0], lambda run, which: [measure(run, which)], _show, argv)


def _show(row: Dict[str, Any]) -> str:
    return (
        f"{row['augmenter']:<10} seed {row['seed']} {row['image_size']:>3} px {row['gan_steps']:>5} GAN steps  "
        f"L1 train {row['l1_train']:.4f}  val {row['l1_val']:.4f}  references: mean image "
        f"{row['l1_val_mean_image']:.4f}, nearest training pair {row['l1_val_nearest_train']:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
