"""Image-mask pairs read from folders, matched by file stem.

Layouts (``LAYOUTS``):

- ``generic``: ``root/images/<stem>.<ext>`` and ``root/masks/<stem>.<ext>``.
- ``isic2018``: ISIC 2018 task 1: images ``ISIC_x.jpg`` in ``ISIC2018_Task1-2_Training_Input``
  (or ``images``), masks ``ISIC_x_segmentation.png`` in ``ISIC2018_Task1_Training_GroundTruth``
  (or ``masks``).
- ``ph2``: the original PH2 tree, ``PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp``
  and ``.../IMDxxx_lesion/IMDxxx_lesion.bmp`` (``root`` may be that folder or its parent).
- ``jsrt``: JSRT with SCR masks, ``images/<stem>.*`` and the lungs in
  ``masks/left lung/<stem>.*`` and ``masks/right lung/<stem>.*``, united into one mask.
- ``montgomery``: ``CXR_png/<stem>.png`` with ``ManualMask/leftMask`` and
  ``ManualMask/rightMask``, united.
- ``kvasir``: Kvasir-SEG, ``images/<stem>.jpg`` and ``masks/<stem>.jpg``.

Images are resized bicubic, masks nearest-neighbour then binarised (> half their maximum). Masks
with more than two grey levels are binarised with a warning that counts them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from e2eaug.data.dataset import PairDataset

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
Size = Union[int, Tuple[int, int]]


@dataclass(frozen=True)
class Pair:
    """One image file and the mask file(s) whose union is its mask."""

    stem: str
    image: Path
    masks: Tuple[Path, ...]


def _dir(root: Path, *candidates: str) -> Path:
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"{root}: no folder named {' or '.join(repr(c) for c in candidates)}")


def _files(folder: Path, strip: str = "") -> Dict[str, Path]:
    """``stem -> path`` of the image files in ``folder`` (``strip`` removed from stems)."""
    found = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in EXTENSIONS and not path.name.startswith("."):
            stem = path.stem[: -len(strip)] if strip and path.stem.endswith(strip) else path.stem
            found[stem] = path
    return found


def _match(images: Dict[str, Path], *mask_sets: Dict[str, Path], where: str) -> List[Pair]:
    """Pairs by stem; stems missing on either side raise an error naming a few of them."""
    if not images:
        raise FileNotFoundError(f"{where}: no image files ({', '.join(EXTENSIONS)})")
    for masks in mask_sets:
        lonely_images = sorted(set(images) - set(masks))
        lonely_masks = sorted(set(masks) - set(images))
        if lonely_images or lonely_masks:
            parts = []
            if lonely_images:
                parts.append(f"{len(lonely_images)} image(s) without a mask, e.g. {lonely_images[:3]}")
            if lonely_masks:
                parts.append(f"{len(lonely_masks)} mask(s) without an image, e.g. {lonely_masks[:3]}")
            raise ValueError(f"{where}: " + "; ".join(parts))
    return [Pair(stem, images[stem], tuple(m[stem] for m in mask_sets)) for stem in sorted(images)]


def _generic(root: Path) -> List[Pair]:
    return _match(_files(_dir(root, "images")), _files(_dir(root, "masks")), where=str(root))


def _isic(root: Path) -> List[Pair]:
    images = _files(_dir(root, "ISIC2018_Task1-2_Training_Input", "images"))
    masks = _files(_dir(root, "ISIC2018_Task1_Training_GroundTruth", "masks"), strip="_segmentation")
    return _match(images, masks, where=str(root))


def _ph2(root: Path) -> List[Pair]:
    base = root / "PH2 Dataset images" if (root / "PH2 Dataset images").is_dir() else root
    images, masks = {}, {}
    for case in sorted(p for p in base.iterdir() if p.is_dir()):
        dermoscopic, lesion = case / f"{case.name}_Dermoscopic_Image", case / f"{case.name}_lesion"
        if dermoscopic.is_dir():
            images.update(_files(dermoscopic))
        if lesion.is_dir():
            masks.update(_files(lesion, strip="_lesion"))
    return _match(images, masks, where=str(base))


def _two_lungs(root: Path, images: str, left: Sequence[str], right: Sequence[str]) -> List[Pair]:
    return _match(
        _files(_dir(root, images)), _files(_dir(root, *left)), _files(_dir(root, *right)), where=str(root)
    )


LAYOUTS: Dict[str, Callable[[Path], List[Pair]]] = {
    "generic": _generic,
    "isic2018": _isic,
    "ph2": _ph2,
    "jsrt": lambda root: _two_lungs(root, "images", ["masks/left lung", "masks/left_lung"], ["masks/right lung", "masks/right_lung"]),
    "montgomery": lambda root: _two_lungs(root, "CXR_png", ["ManualMask/leftMask"], ["ManualMask/rightMask"]),
    "kvasir": _generic,
}


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"cannot read image file {path}: {err}") from err


def _hw(size: Size) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def load_folder(
    root: Union[str, Path], layout: str = "generic", size: Size = 32, channels: Optional[int] = None
) -> PairDataset:
    """Load every image-mask pair under ``root`` as a :class:`PairDataset`.

    Args:
        root: the dataset folder.
        layout: a key of :data:`LAYOUTS`.
        size: output side (int) or ``(H, W)``.
        channels: 1 or 3 to convert; ``None`` keeps colour if any image has colour, else 1.

    Raises:
        FileNotFoundError: missing root or subfolder, or no images.
        ValueError: unknown layout, unmatched stems, unreadable files, bad ``channels``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    pairs = LAYOUTS[layout](root)
    h, w = _hw(size)
    raw = [_open(p.image) for p in pairs]
    if channels is None:
        channels = 3 if any(img.mode not in ("L", "LA", "I", "I;16", "F", "1") for img in raw) else 1
    mode = "RGB" if channels == 3 else "L"
    images = np.stack([np.asarray(img.convert(mode).resize((w, h), Image.BICUBIC), dtype=np.float32) for img in raw])
    images = images.reshape(len(pairs), h, w, channels).transpose(0, 3, 1, 2) / 255.0
    masks, grey = [], 0
    for pair in pairs:
        union = np.zeros((h, w), dtype=bool)
        for path in pair.masks:
            m = np.asarray(_open(path).convert("L").resize((w, h), Image.NEAREST))
            if len(np.unique(m)) > 2:
                grey += 1
            union |= m > (int(m.max()) // 2 if m.max() > 0 else 0)
        masks.append(union)
    if grey:
        warnings.warn(f"{root}: {grey} of {len(pairs)} masks had more than two grey levels and were binarised")
    return PairDataset(
        torch.from_numpy(np.ascontiguousarray(images.clip(0, 1))),
        torch.from_numpy(np.stack(masks)[:, None].astype(np.float32)),
        [p.stem for p in pairs],
    )
