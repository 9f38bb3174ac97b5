"""Does a trained GAN render masks it has not seen? (the method study's diagnosis)

For each run folder of a GAN augmenter, the run's generator at a checkpoint renders the real
masks of the training split (the pairs it learnt from) and of the validation split (real lung
shapes it never saw); each image is compared with the real image of that mask by mean absolute
pixel error (images in [0, 1]). Beside them, two references on the validation split: the mean
training image (no use of the mask at all) and the training image whose mask overlaps the
validation mask most (a lookup of the pairs learnt). Validation error far above training error,
near those references, means the generator memorised its pairs. A low pixel error is not yet a
good training pair (a smooth average chest scores well): ``--judge RUN_DIR`` adds how well the
anatomy lies on the mask, the Dice between the mask and the judge's segmentation of the
generator's image of it, on the validation masks, beside the judge's Dice on the real
validation images. The judge is the segmenter (best checkpoint) of a run on the same split,
such as a ``none`` cell of the same seed. ``--figure`` also draws each generator's images of
the first 6 training and 6 validation masks, below those masks and their real images.

    python -m benchmarks.generator_fit RUN_DIR [RUN_DIR ...] [--checkpoint last] [--out FILE.csv]
        [--figure FILE.png] [--judge RUN_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Tuple

import torch

from e2eaug.evaluation import evaluate_segmenter
from e2eaug.jobs import load_run
from e2eaug.plots import save_samples
from e2eaug.problems import names
from e2eaug.rundir import RunDir
from e2eaug.samples import rgb

from . import run_folders


def _nearest_train_images(train: Any, masks: torch.Tensor) -> torch.Tensor:
    """For each mask, the training image whose mask has the highest IoU with it."""
    a, b = masks.flatten(1) > 0.5, train.masks.flatten(1) > 0.5
    inter = (a[:, None] & b[None]).sum(-1).float()
    union = (a[:, None] | b[None]).sum(-1).float().clamp(min=1)
    return train.images[(inter / union).argmax(dim=1)]


@torch.no_grad()
def _generate(augmenter: Any, masks: torch.Tensor) -> torch.Tensor:
    return augmenter.generate(masks.to(augmenter.device)).float().cpu()


def _l1(augmenter: Any, images: torch.Tensor, masks: torch.Tensor) -> float:
    return (_generate(augmenter, masks) - images).abs().mean().item()


def load(run_dir: str, checkpoint: str) -> Tuple[Any, Any, Any]:
    """``(config, augmenter in eval mode, data)`` of a GAN augmenter's run folder."""
    cfg, engine, data = load_run(RunDir.open(run_dir), checkpoint)
    if not hasattr(engine.augmenter, "generate"):
        raise ValueError(f"{run_dir}: augmenter {cfg.augmenter.name!r} is not a GAN")
    engine.eval()
    return cfg, engine.augmenter, data


def load_judge(run_dir: str) -> Any:
    """The segmentation problem of a finished run (best checkpoint), in eval mode."""
    _, engine, _ = load_run(RunDir.open(run_dir), "best")
    engine.eval()
    return getattr(engine, names.SEG)


def alignment(judge: Any, images: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean Dice between ``masks`` and the judge's segmentation of ``images``."""
    return evaluate_segmenter(judge.module, SimpleNamespace(images=images, masks=masks), judge.device)["dice"]


def measure(run_dir: str, cfg: Any, augmenter: Any, data: Any, judge: Any = None) -> Dict[str, Any]:
    """One row: the generator's error on training and validation masks, and the references';
    with a judge, also the alignment of its images of the validation masks, and the judge's
    Dice on the real validation images."""
    mean_image = data.train.images.mean(dim=0, keepdim=True)
    val_fake = _generate(augmenter, data.val.masks)
    row = {
        "run": run_dir,
        "augmenter": cfg.augmenter.name,
        "seed": cfg.seed,
        "image_size": cfg.data.image_size,
        "gan_steps": augmenter.disc_steps,
        "l1_train": round(_l1(augmenter, data.train.images, data.train.masks), 4),
        "l1_val": round((val_fake - data.val.images).abs().mean().item(), 4),
        "l1_val_mean_image": round((data.val.images - mean_image).abs().mean().item(), 4),
        "l1_val_nearest_train": round(
            (data.val.images - _nearest_train_images(data.train, data.val.masks)).abs().mean().item(), 4
        ),
    }
    if judge is not None:
        row["judge_dice_generated"] = round(alignment(judge, val_fake, data.val.masks), 4)
        row["judge_dice_real"] = round(alignment(judge, data.val.images, data.val.masks), 4)
    return row


def figure_rows(run_dir: str, augmenter: Any, data: Any, n: int = 6) -> List[Tuple[str, torch.Tensor]]:
    """The figure's rows for one run: the first ``n`` training and ``n`` validation masks, their
    real images, and the run's generator's images of them."""
    masks = torch.cat([data.train.masks[:n], data.val.masks[:n]])
    images = torch.cat([data.train.images[:n], data.val.images[:n]])
    return [
        (f"masks: {n} training, {n} validation", rgb(masks)),
        ("their real images", rgb(images)),
        (Path(run_dir).name, rgb(_generate(augmenter, masks))),
    ]


def main(argv: List[str] | None = None) -> int:
    parser = run_folders.parser(__doc__.splitlines()[0])
    parser.add_argument("--figure", default=None, help="also draw the generators' images here (PNG)")
    parser.add_argument("--judge", default=None, help="a run on the same split whose segmenter scores alignment")
    args = parser.parse_args(argv)
    judge = load_judge(args.judge) if args.judge else None
    shown: List[Tuple[str, torch.Tensor]] = []
    last_masks: Optional[torch.Tensor] = None

    def one_run(run_dir: str, checkpoint: str) -> List[Dict[str, Any]]:
        nonlocal last_masks
        cfg, augmenter, data = load(run_dir, checkpoint)
        if args.figure:  # the masks and real images once for runs of one split
            masks, real, *generated = figure_rows(run_dir, augmenter, data)
            if last_masks is None or not torch.equal(last_masks, masks[1]):
                last_masks = masks[1]
                shown.extend([masks, real])
            shown.extend(generated)
        return [measure(run_dir, cfg, augmenter, data, judge)]

    run_folders.run(args, one_run, _show)
    if args.figure:
        save_samples(Path(args.figure), shown)
    return 0


def _show(row: Dict[str, Any]) -> str:
    return (
        f"{row['augmenter']:<10} seed {row['seed']} {row['image_size']:>3} px {row['gan_steps']:>5} GAN steps  "
        f"L1 train {row['l1_train']:.4f}  val {row['l1_val']:.4f}  references: mean image "
        f"{row['l1_val_mean_image']:.4f}, nearest training pair {row['l1_val_nearest_train']:.4f}"
        + (
            f"  judge Dice: generated {row['judge_dice_generated']:.4f}, real {row['judge_dice_real']:.4f}"
            if "judge_dice_real" in row
            else ""
        )
    )


if __name__ == "__main__":
    sys.exit(main())
