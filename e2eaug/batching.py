"""Deterministic mini-batches addressed by draw number.

Betty problems draw a batch per step through ``get_batch``. Drawing batch ``k`` from a
permutation seeded by ``(seed, epoch)`` makes the data order a pure function of the draw count, so
a resumed run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import hashlib
from typing import Optional, Sequence, Tuple

import torch

from e2eaug.distributed import rank_and_size


def stream_seed(seed: int, stream: str) -> int:
    """The seed of the named random stream ``stream`` of a run seeded ``seed``.

    Every consumer of randomness (a level's batches, an augmenter's draws) takes its own
    stream by name, so adding one never shifts another's numbers.
    """
    digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def step_generator(seed: int, stream: str, step: int) -> torch.Generator:
    """A CPU generator for draw ``step`` of stream ``stream``: a pure function of the three."""
    return torch.Generator().manual_seed(stream_seed(seed, stream) * 1_000_003 + step)


class StepBatcher:
    """Serve batch number ``k`` of shuffled epochs over in-memory tensors.

    In a run of several processes (:mod:`e2eaug.distributed`) batch ``k`` is a global batch of
    ``batch_size`` x ranks items (capped at the number of items), and each rank serves its
    shard of it: every ``size``-th item from position ``rank``.

    Args:
        tensors: tensors sharing their first dimension (e.g. images and masks).
        batch_size: items per batch and rank; the global batch is capped at the number of items.
        seed: seeds the per-epoch permutations.
        shard: ``(rank, size)``; by default the process group's (``(0, 1)`` in one process).
    """

    def __init__(
        self,
        tensors: Sequence[torch.Tensor],
        batch_size: int,
        seed: int,
        shard: Optional[Tuple[int, int]] = None,
    ) -> None:
        if not tensors:
            raise ValueError("StepBatcher needs at least one tensor")
        n = len(tensors[0])
        if n == 0:
            raise ValueError("StepBatcher got an empty split: no items to draw batches from")
        if any(len(t) != n for t in tensors):
            raise ValueError(f"tensors disagree in length: {[len(t) for t in tensors]}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.rank, self.size = shard if shard is not None else rank_and_size()
        if n < self.size:
            raise ValueError(f"a split of {n} items cannot give each of {self.size} processes a batch")
        self.tensors = tuple(tensors)
        self.n = n
        self.batch_size = min(batch_size * self.size, n)  # the global batch
        self.seed = seed
        self.per_epoch = n // self.batch_size

    def indices(self, k: int) -> torch.Tensor:
        """This rank's item indices of batch ``k`` (0-based); each epoch drops the last partial
        batch."""
        epoch, pos = divmod(k, self.per_epoch)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.n, generator=gen)
        return perm[pos * self.batch_size : (pos + 1) * self.batch_size][self.rank :: self.size]

    def batch(self, k: int, device: torch.device | str | None = None) -> Tuple[torch.Tensor, ...]:
        """The tensors of batch ``k``, moved to ``device``."""
        idx = self.indices(k)
        return tuple(t[idx].to(device) for t in self.tensors)
