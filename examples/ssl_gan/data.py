"""Data of the SSL example: unlabelled image pools and labelled probe sets, read with e2eaug's
folder reader (:func:`e2eaug.data.folder.read_images`) or drawn from its synthetic skin
generator (:func:`e2eaug.data.synthetic.make_synthetic`).

* :func:`labelled_set`: the images a ``labels.csv`` (``id,diagnosis[,lesion_id]``) names.
* :func:`synthetic_lesions`: a labelled skin-lesion set whose classes are three of the synthetic
  generator's domains (lesion shape, contrast), deterministic per seed.
* :func:`mirror`: random horizontal flips, drawn on a given CPU generator.

All images are float tensors ``(N, 3, H, W)`` in ``[0, 1]``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch

from e2eaug.data.synthetic import make_synthetic

#: The synthetic probe's classes: domains of e2eaug's synthetic skin task.
SYNTHETIC_CLASSES = ("id", "ood_shape", "ood_contrast")


def default_data_root() -> Path:
    """``<repo>/../shared/data``, where the evaluation folders live."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class LabelledSet:
    """Images ``(N, 3, H, W)`` in ``[0, 1]``, integer labels ``(N,)``, the class names and, where
    known, each image's group (HAM10000's lesion id: images of one lesion)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: Tuple[str, ...]
    groups: Optional[Tuple[str, ...]] = None


def labelled_set(csv_path: Path, images: torch.Tensor, paths: List[Path]) -> LabelledSet:
    """The images of ``paths`` (as :func:`~e2eaug.data.folder.read_images` returns them) that
    ``csv_path`` labels, in the file's row order.

    Classes are the sorted distinct diagnoses; groups are the ``lesion_id`` column, if any.

    Raises:
        FileNotFoundError: missing csv, or an id without an image.
        ValueError: a csv without the ``id`` and ``diagnosis`` columns, or with no rows.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"labels file not found: {csv_path}")
    by_stem = {p.stem: i for i, p in enumerate(paths)}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"id", "diagnosis"} <= set(reader.fieldnames):
            raise ValueError(f"{csv_path} must have columns id,diagnosis; got {reader.fieldnames}")
        grouped = "lesion_id" in reader.fieldnames
        records = list(reader)
    if not records:
        raise ValueError(f"{csv_path} has no rows")
    ids = [r["id"].strip() for r in records]
    missing = [i for i in ids if i not in by_stem]
    if missing:
        raise FileNotFoundError(f"{len(missing)} ids of {csv_path} have no image, e.g. {missing[:3]}")
    diagnoses = [r["diagnosis"].strip() for r in records]
    classes = tuple(sorted(set(diagnoses)))
    groups = tuple(r["lesion_id"].strip() for r in records) if grouped else None
    return LabelledSet(images[[by_stem[i] for i in ids]], torch.tensor([classes.index(d) for d in diagnoses]),
                       classes, groups)


def seeded_subset(images: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` of ``images`` chosen by ``seed`` (kept in file order), then shuffled by ``seed``.

    Raises:
        ValueError: ``n`` larger than the number of images.
    """
    if n > len(images):
        raise ValueError(f"asked for {n} images but the folder holds only {len(images)}")
    chosen = images[np.sort(np.random.default_rng(seed).permutation(len(images))[:n])]
    return chosen[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]


def synthetic_lesions(n: int, size: int, seed: int) -> LabelledSet:
    """``n`` synthetic dermoscopy images, item ``i`` of class ``i % 3`` (:data:`SYNTHETIC_CLASSES`:
    the generator's in-distribution lesions, smaller irregular ones, low-contrast ones)."""
    counts = [len(range(c, n, len(SYNTHETIC_CLASSES))) for c in range(len(SYNTHETIC_CLASSES))]
    parts = [torch.from_numpy(make_synthetic("skin", d, k, size, seed)[0])
             for d, k in zip(SYNTHETIC_CLASSES, counts)]
    images = torch.empty(n, 3, size, size)
    for c, part in enumerate(parts):
        images[c::len(SYNTHETIC_CLASSES)] = part
    return LabelledSet(images, torch.arange(n) % len(SYNTHETIC_CLASSES), SYNTHETIC_CLASSES)


def mirror(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image flipped left-right with probability 1/2 (draws on the CPU ``generator``)."""
    flip = (torch.rand(len(images), generator=generator) < 0.5).to(images.device)
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


__all__ = ["LabelledSet", "SYNTHETIC_CLASSES", "default_data_root", "labelled_set", "mirror",
           "seeded_subset", "synthetic_lesions"]
