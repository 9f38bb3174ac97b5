"""Image-mask pairs read from folders, matched by file stem.

Layouts (:data:`LAYOUTS`; files with extensions in :data:`EXTENSIONS`, other files ignored):

- ``generic``: ``root/images/<stem>.*`` and ``root/masks/<stem>.*`` (other files in ``root``,
  such as ``labels.csv``, are ignored).
- ``isic2018``: ISIC 2018 task 1: images ``ISIC_<id>.jpg`` and masks
  ``ISIC_<id>_segmentation.png``, in the one folder of ``root`` whose name ends in ``_Input``
  (e.g. ``ISIC2018_Task1-2_Training_Input``) and the one ending in ``_GroundTruth`` (e.g.
  ``ISIC2018_Task1_Training_GroundTruth``), or else in ``images/`` and ``masks/``.
- ``ph2``: the original PH2 tree, ``PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp``
  and ``.../IMDxxx_lesion/IMDxxx_lesion.bmp`` (``root`` may be that folder or its parent).
- ``jsrt``: JSRT images (converted to png etc.) with SCR lung masks, ``images/<stem>.*`` and
  ``masks/left lung/<stem>.*`` + ``masks/right lung/<stem>.*`` (``left_lung``/``right_lung``
  also accepted; SCR's ``.gif`` masks are read), united into one mask.
- ``montgomery``: ``CXR_png/<stem>.png`` with ``ManualMask/leftMask/<stem>.png`` and
  ``ManualMask/rightMask/<stem>.png``, united.
- ``kvasir``: Kvasir-SEG, ``images/<stem>.jpg`` and ``masks/<stem>.jpg``.

Images are resized bicubic; images smaller than the training size are upscaled with one
warning that counts them. Each mask is also kept at its own size (``native_masks``), where
``evaluate`` scores predictions. 8-bit images are scaled by 255; 16/32-bit ones by ``2**bits - 1``,
the same for the whole folder: ``bit_depth`` bits, or else the smallest bit depth holding the
folder's largest value (12-bit radiographs in 16-bit files use 4095), said in a warning. A
mask must have its image's size. Masks are resized nearest-neighbour, then binarised: > 127
when their maximum is above 127, else > half their maximum. Masks with more than two grey
levels (e.g. JPEG masks) are binarised with one warning that counts them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from e2eaug.data.dataset import PairDataset, to_channels

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")
HIGH_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
Size = Union[int, Tuple[int, int]]
PathLike = Union[str, Path]


@dataclass(frozen=True)
class Pair:
    """One image file and the mask file(s) whose union is its mask."""

    stem: str
    image: Path
    masks: Tuple[Path, ...]


@dataclass(frozen=True)
class Layout:
    """A folder layout: a one-line description and a finder ``root -> pairs``."""

    description: str
    find: Callable[[Path], List[Pair]]


# ----------------------------------------------------------------------------- finding files


def _dir(root: Path, layout: str, *candidates: str) -> Path:
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    names = " or ".join(repr(c) for c in candidates)
    raise FileNotFoundError(
        f"{root}: no folder named {names} (layout {layout!r}: {LAYOUTS[layout].description})"
    )


def _files(folder: Path, strip: str = "") -> Dict[str, Path]:
    """``stem -> path`` of the image files in ``folder`` (``strip`` removed from stems); two
    files with one stem are an error, since neither could be told apart from the other."""
    found: Dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in EXTENSIONS and not path.name.startswith("."):
            stem = path.stem[: -len(strip)] if strip and path.stem.endswith(strip) else path.stem
            if stem in found:
                raise ValueError(
                    f"{folder}: {found[stem].name} and {path.name} have one stem, {stem!r}, and files "
                    "are matched by stem; keep one"
                )
            found[stem] = path
    return found


def _match(images: Dict[str, Path], *mask_sets: Tuple[Path, Dict[str, Path]], where: Path) -> List[Pair]:
    """Pairs by stem; stems missing on either side raise an error naming a few of them."""
    if not images:
        raise FileNotFoundError(f"{where}: no image files ({', '.join(EXTENSIONS)})")
    for folder, masks in mask_sets:
        lonely_images = sorted(set(images) - set(masks))
        lonely_masks = sorted(set(masks) - set(images))
        parts = []
        if lonely_images:
            parts.append(f"{len(lonely_images)} image(s) without a mask, e.g. {lonely_images[:3]}")
        if lonely_masks:
            parts.append(f"{len(lonely_masks)} mask(s) without an image, e.g. {lonely_masks[:3]}")
        if parts:
            raise ValueError(f"{where} (masks in {folder}): " + "; ".join(parts))
    return [Pair(stem, images[stem], tuple(m[stem] for _, m in mask_sets)) for stem in sorted(images)]


def _masks(folder: Path, strip: str = "") -> Tuple[Path, Dict[str, Path]]:
    return folder, _files(folder, strip)


def _generic(root: Path, layout: str = "generic") -> List[Pair]:
    images = _files(_dir(root, layout, "images"))
    return _match(images, _masks(_dir(root, layout, "masks")), where=root)


def _by_suffix(root: Path, suffix: str, fallback: str) -> Path:
    found = sorted(p for p in root.iterdir() if p.is_dir() and p.name.endswith(suffix))
    if len(found) > 1:
        raise ValueError(f"{root}: several folders end in {suffix!r} ({[p.name for p in found]}); keep one")
    return found[0] if found else _dir(root, "isic2018", fallback)


def _isic(root: Path) -> List[Pair]:
    images = _files(_by_suffix(root, "_Input", "images"))
    masks = _masks(_by_suffix(root, "_GroundTruth", "masks"), strip="_segmentation")
    return _match(images, masks, where=root)


def _ph2(root: Path) -> List[Pair]:
    base = root / "PH2 Dataset images" if (root / "PH2 Dataset images").is_dir() else root
    images, masks = {}, {}
    for case in sorted(p for p in base.iterdir() if p.is_dir()):
        dermoscopic, lesion = case / f"{case.name}_Dermoscopic_Image", case / f"{case.name}_lesion"
        if dermoscopic.is_dir():
            images.update(_files(dermoscopic))
        if lesion.is_dir():
            masks.update(_files(lesion, strip="_lesion"))
    return _match(images, (base / "*" / "*_lesion", masks), where=base)


def _two_lungs(
    layout: str, images: str, left: Sequence[str], right: Sequence[str]
) -> Callable[[Path], List[Pair]]:
    def find(root: Path) -> List[Pair]:
        found = _files(_dir(root, layout, images))
        lefts, rights = _masks(_dir(root, layout, *left)), _masks(_dir(root, layout, *right))
        return _match(found, lefts, rights, where=root)

    return find


LAYOUTS: Dict[str, Layout] = {
    "generic": Layout("images/<stem>.* + masks/<stem>.*", _generic),
    "isic2018": Layout(
        "*_Input/ISIC_<id>.jpg + *_GroundTruth/ISIC_<id>_segmentation.png (or images/ + masks/)", _isic
    ),
    "ph2": Layout("PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp + IMDxxx_lesion/", _ph2),
    "jsrt": Layout(
        "images/<stem>.* + masks/left lung/<stem>.* + masks/right lung/<stem>.*, lungs united",
        _two_lungs(
            "jsrt", "images", ["masks/left lung", "masks/left_lung"], ["masks/right lung", "masks/right_lung"]
        ),
    ),
    "montgomery": Layout(
        "CXR_png/<stem>.png + ManualMask/leftMask/ + ManualMask/rightMask/, lungs united",
        _two_lungs("montgomery", "CXR_png", ["ManualMask/leftMask"], ["ManualMask/rightMask"]),
    ),
    "kvasir": Layout("images/<stem>.jpg + masks/<stem>.jpg", lambda root: _generic(root, "kvasir")),
}


# ----------------------------------------------------------------------------- reading files


def open_image(path: Path) -> Image.Image:
    """The image file loaded into memory; an unreadable file is a ``ValueError`` naming it."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot read image file {path}: {err}") from err


@dataclass(frozen=True)
class _Image:
    """An image file resized: 8-bit ones in [0, 1]; high-bit ones raw, ``peak`` their largest value."""

    pixels: np.ndarray  # [h, w, 3] float32
    peak: Optional[float]  # None for 8-bit images
    size: Tuple[int, int]  # (width, height) of the file


def _read_image(path: Path, h: int, w: int) -> _Image:
    """The image resized bicubic to ``[h, w, 3]`` (grey images repeated to 3 channels)."""
    img = open_image(path)
    if img.mode in HIGH_BIT_MODES:
        raw = np.asarray(img, dtype=np.float32)
        small = np.asarray(Image.fromarray(raw, mode="F").resize((w, h), Image.BICUBIC), dtype=np.float32)
        return _Image(np.repeat(small[..., None], 3, axis=2), float(raw.max()), img.size)
    pixels = np.asarray(img.convert("RGB").resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0
    return _Image(pixels, None, img.size)


def _high_bit_scale(root: Path, peaks: List[float], bit_depth: Optional[int]) -> float:
    """``2**bits - 1`` for the folder's 16/32-bit images (see the module docstring)."""
    if bit_depth is None:
        peak = max(max(peaks), 1.0)
        bit_depth = math.ceil(math.log2(peak + 1.0))
        warnings.warn(
            f"{root}: {len(peaks)} high-bit image(s) scaled as {bit_depth}-bit (by {2**bit_depth - 1}), the "
            f"smallest depth holding their largest value {peak:g}; set data.bit_depth to choose"
        )
    return 2.0**bit_depth - 1.0


def _to_unit(images: List[_Image], root: Path, bit_depth: Optional[int]) -> np.ndarray:
    """``[N, h, w, 3]`` in [0, 1]: 8-bit images as read, high-bit ones by one scale."""
    peaks = [image.peak for image in images if image.peak is not None]
    scale = _high_bit_scale(root, peaks, bit_depth) if peaks else 1.0
    return np.stack(
        [image.pixels if image.peak is None else np.clip(image.pixels / scale, 0.0, 1.0) for image in images]
    )


def _read_mask(path: Path, image: Path, image_size: Tuple[int, int]) -> Tuple[np.ndarray, bool]:
    """Binary mask at its own size (its image's), and whether the file had more than two levels.

    Raises:
        ValueError: the mask's size is not that of its ``image`` (``image_size``, width x height).
    """
    img = open_image(path)
    if img.size != image_size:
        (mw, mh), (iw, ih) = img.size, image_size
        raise ValueError(f"mask {path} is {mw}x{mh} but its image {image} is {iw}x{ih}")
    arr = np.asarray(img, dtype=np.float64) if img.mode in HIGH_BIT_MODES else np.asarray(img.convert("L"))
    if arr.dtype == np.uint8:
        levels = np.count_nonzero(np.bincount(arr.ravel(), minlength=256))
    else:
        levels = np.unique(arr).size
    peak = float(arr.max())
    return arr > (127 if peak > 127 else peak / 2), levels > 2


def _nearest(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """``mask`` resized to ``h x w`` by nearest neighbour (the pixel under each output centre)."""
    rows = np.minimum((np.arange(h) + 0.5) * mask.shape[0] / h, mask.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(w) + 0.5) * mask.shape[1] / w, mask.shape[1] - 1).astype(int)
    return mask[rows][:, cols]


def _hw(size: Size) -> Tuple[int, int]:
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if int(h) != h or int(w) != w or h < 1 or w < 1:
        raise ValueError(f"size must be a positive int or (H, W), got {size!r}")
    return int(h), int(w)


def _read_unit_images(
    root: Path, paths: Sequence[Path], h: int, w: int, bit_depth: Optional[int]
) -> Tuple[torch.Tensor, List[Tuple[int, int]]]:
    """Images ``[N, 3, h, w]`` in [0, 1] (resized, scaled as the module docstring says) and the
    files' (width, height), warning once about images smaller than ``h x w``."""
    read = [_read_image(path, h, w) for path in paths]
    small = [(path, image.size) for path, image in zip(paths, read) if image.size[0] < w or image.size[1] < h]
    if small:
        path, (iw, ih) = small[0]
        warnings.warn(
            f"{root}: {len(small)} of {len(paths)} images are smaller than the training size {w}x{h} and "
            f"were upscaled (e.g. {path.name}, {iw}x{ih})"
        )
    stacked = _to_unit(read, root, bit_depth)
    return torch.from_numpy(np.ascontiguousarray(stacked.transpose(0, 3, 1, 2))), [image.size for image in read]


def read_images(
    folder: PathLike, size: Size, channels: int, bit_depth: Optional[int] = None
) -> Tuple[torch.Tensor, List[Path], List[Tuple[int, int]]]:
    """Every image file in ``folder`` (no masks), read as :func:`load_folder` reads images.

    Args:
        folder: a folder of image files (:data:`EXTENSIONS`; other files are ignored).
        size: side (int) or ``(H, W)`` to resize to.
        channels: 1 or 3 (luminance / repeated grey).
        bit_depth: bits of 16/32-bit images; ``None`` takes the smallest holding their maximum.

    Returns:
        Images ``[N, channels, H, W]`` in [0, 1], the files sorted by stem, and each file's
        (width, height).

    Raises:
        FileNotFoundError: ``folder`` is missing or holds no image files. ValueError: an
            unreadable file, bad ``size``/``channels``.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    h, w = _hw(size)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    found = _files(folder)
    paths = [found[stem] for stem in sorted(found)]
    if not paths:
        raise FileNotFoundError(f"{folder}: no image files ({', '.join(EXTENSIONS)})")
    images, sizes = _read_unit_images(folder, paths, h, w, bit_depth)
    return to_channels(images, channels), paths, sizes


def load_folder(
    root: PathLike,
    layout: str = "generic",
    size: Size = 32,
    channels: Optional[int] = None,
    bit_depth: Optional[int] = None,
) -> PairDataset:
    """Load every image-mask pair under ``root`` as a :class:`PairDataset`.

    Args:
        root: the dataset folder.
        layout: a key of :data:`LAYOUTS` (see the module docstring).
        size: output side (int) or ``(H, W)``.
        channels: 1 or 3 to convert (luminance / repeated grey); ``None`` keeps RGB when the
            images hold colour (mean channel difference above 1/255), else 1 channel.
        bit_depth: bits of the 16/32-bit images; ``None`` takes the smallest holding their maximum.

    Returns:
        The pairs, sorted by stem, with the stems as ``names``.

    Raises:
        FileNotFoundError: missing root or subfolder, or no image files.
        ValueError: unknown layout, unmatched stems, unreadable files, a mask whose size is
            not its image's, bad ``size``/``channels``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    h, w = _hw(size)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    pairs = LAYOUTS[layout].find(root)
    images, sizes = _read_unit_images(root, [p.image for p in pairs], h, w, bit_depth)
    if channels is None:
        spread = (images[:, 0] - images[:, 1]).abs().mean() + (images[:, 1] - images[:, 2]).abs().mean()
        channels = 3 if float(spread) > 1.0 / 255.0 else 1
    masks, native, grey = np.zeros((len(pairs), 1, h, w), dtype=np.float32), [], 0
    for i, pair in enumerate(pairs):
        union, multi = np.zeros(sizes[i][::-1], dtype=bool), False
        for path in pair.masks:
            part, many = _read_mask(path, pair.image, sizes[i])
            union |= part
            multi |= many
        masks[i, 0], grey = _nearest(union, h, w), grey + multi
        native.append(union)
    if grey:
        warnings.warn(
            f"{root}: {grey} of {len(pairs)} masks had more than two grey levels and were binarised"
        )
    images = to_channels(images, channels)
    return PairDataset(images, torch.from_numpy(masks), [p.stem for p in pairs], native_masks=native)
