"""In-memory image-mask pairs."""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import torch


class PairDataset(torch.utils.data.Dataset):
    """Images ``[N,C,H,W]`` in [0,1] with binary masks ``[N,1,H,W]`` in {0,1}, both float.

    Args:
        images: image tensor.
        masks: mask tensor (same N, H, W).
        names: one name per pair (file stems or synthetic ids).
        transform: optional joint transform ``(image, mask) -> (image, mask)`` applied in
            ``__getitem__``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        names: Optional[List[str]] = None,
        transform: Optional[Callable[[torch.Tensor, torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]] = None,
    ) -> None:
        if images.dim() != 4 or masks.dim() != 4 or masks.shape[1] != 1:
            raise ValueError(f"expected images [N,C,H,W] and masks [N,1,H,W], got {list(images.shape)}, {list(masks.shape)}")
        if images.shape[0] != masks.shape[0] or images.shape[-2:] != masks.shape[-2:]:
            raise ValueError(f"images {list(images.shape)} and masks {list(masks.shape)} do not match")
        self.images = images.float()
        self.masks = masks.float()
        self.names = list(names) if names is not None else [f"pair_{i:05d}" for i in range(len(images))]
        if len(self.names) != len(images):
            raise ValueError(f"{len(self.names)} names for {len(images)} pairs")
        self.transform = transform

    @property
    def channels(self) -> int:
        """Image channels (1 or 3)."""
        return self.images.shape[1]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.images[index], self.masks[index]
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def subset(self, indices: Sequence[int]) -> "PairDataset":
        """The pairs at ``indices`` (same transform)."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        return PairDataset(self.images[idx], self.masks[idx], [self.names[i] for i in idx.tolist()], self.transform)
