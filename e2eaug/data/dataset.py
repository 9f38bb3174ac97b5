"""In-memory image-mask pairs."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights, as PIL's RGB -> L


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert ``images [N,C,H,W]`` (C = 1 or 3) to ``channels`` (1: luminance, 3: repeated grey)."""
    if channels not in (1, 3) or images.shape[1] not in (1, 3):
        raise ValueError(f"can convert 1 or 3 channels to 1 or 3, got {images.shape[1]} -> {channels!r}")
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return images.repeat(1, 3, 1, 1)
    weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


class PairDataset(torch.utils.data.Dataset):
    """Images ``[N,C,H,W]`` in [0,1] with binary masks ``[N,1,H,W]`` in {0,1}, both stored float.

    Args:
        images: image tensor (C = 1 or 3).
        masks: mask tensor, same N, H, W; any dtype holding only 0 and 1.
        names: one name per pair (file stems or synthetic ids); default ``pair_00000``, ...
        native_masks: each mask at its image's own size (bool ``[height, width]``), for pairs
            read from files at another size; ``None`` when the pairs are at their own size.

    Raises:
        ValueError: shapes that do not agree, values out of range, or a wrong number of names.
    """

    def __init__(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        names: Optional[List[str]] = None,
        native_masks: Optional[List[np.ndarray]] = None,
    ) -> None:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images must be [N, 1|3, H, W], got shape {list(images.shape)}")
        if masks.dim() != 4 or masks.shape[1] != 1:
            raise ValueError(f"masks must be [N, 1, H, W], got shape {list(masks.shape)}")
        if images.shape[0] != masks.shape[0] or images.shape[-2:] != masks.shape[-2:]:
            raise ValueError(
                f"images {list(images.shape)} and masks {list(masks.shape)} differ in N, H or W"
            )
        self.images = images.float()
        self.masks = masks.float()
        if len(self.images) and (self.images.min() < 0 or self.images.max() > 1):
            lo, hi = float(self.images.min()), float(self.images.max())
            raise ValueError(f"image values must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]")
        if not torch.all((self.masks == 0) | (self.masks == 1)):
            raise ValueError("mask values must be 0 or 1; binarise masks before building a PairDataset")
        self.names = list(names) if names is not None else [f"pair_{i:05d}" for i in range(len(images))]
        if len(self.names) != len(self.images):
            raise ValueError(f"{len(self.names)} names for {len(self.images)} pairs")
        if native_masks is not None and len(native_masks) != len(self.images):
            raise ValueError(f"{len(native_masks)} native masks for {len(self.images)} pairs")
        self.native_masks = native_masks

    @property
    def channels(self) -> int:
        """Image channels (1 or 3)."""
        return self.images.shape[1]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.masks[index]

    def subset(self, indices: Sequence[int]) -> "PairDataset":
        """The pairs at ``indices`` (in that order), without checking them again."""
        idx = torch.as_tensor([int(i) for i in indices], dtype=torch.long)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset indices must lie in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        part = PairDataset.__new__(PairDataset)  # its pairs were checked once, when this one was built
        rows = idx.tolist()
        part.images, part.masks, part.names = self.images[idx], self.masks[idx], [self.names[i] for i in rows]
        part.native_masks = None if self.native_masks is None else [self.native_masks[i] for i in rows]
        return part
