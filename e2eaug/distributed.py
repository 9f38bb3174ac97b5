"""Data-parallel training under ``torch.distributed``, launched by ``torchrun``.

With ``engine.strategy: distributed`` every process (rank) runs the whole three-level loop on
its own shard of each batch (:class:`~e2eaug.batching.StepBatcher` shards by rank). Each
level's gradient, hypergradient included, and the discriminator's gradient are averaged over
the ranks before every update, so the weights stay identical; the validation split is scored
once, on rank 0, and its figures are shared; only rank 0 writes files. ``gloo`` serves CPUs,
``nccl`` GPUs (one per process, by ``LOCAL_RANK``). Betty's own ``distributed`` strategy is not
used: it assumes CUDA and wraps modules in DDP, which Betty's hypergradient re-runs bypass.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, List, Tuple

import torch
import torch.distributed as dist

from e2eaug.config import ConfigError

STRATEGIES = ("single", "distributed")
_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_size() -> Tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes files and prints (rank 0, or the only process)."""
    return rank_and_size()[0] == 0


def setup(strategy: str, device: str) -> str:
    """Join torchrun's process group for ``engine.strategy: distributed``; returns the device
    this rank trains on (``device`` unchanged for ``single``)."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"engine.strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    if strategy == "single":
        return device
    missing = [name for name in _TORCHRUN_ENV if name not in os.environ]
    if missing:
        raise ConfigError(
            f"engine.strategy=distributed needs the environment torchrun sets ({', '.join(missing)} "
            "missing); launch with: torchrun --nproc_per_node=N -m e2eaug train ..."
        )
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return "cuda" if cuda else "cpu"


def cleanup() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(params: Iterable[torch.Tensor], loss: float = 0.0) -> float:
    """Replace each gradient by its mean over the ranks, and return the mean of ``loss`` (one
    all-reduce of both; in one process nothing changes and ``loss`` comes back as it is).

    A parameter without a gradient takes part with zeros, so every rank reduces the same
    buffer; a non-finite loss or gradient on any rank makes the mean non-finite on every rank,
    so all ranks skip that update together.
    """
    if not active():
        return loss
    params = list(params)
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    like = params[0].grad if params else torch.zeros((), device="cuda" if dist.get_backend() == "nccl" else "cpu")
    flat = torch.cat([p.grad.reshape(-1) for p in params] + [like.new_tensor([loss])])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n
    return flat[-1].item()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (picklable values)."""
    if not active():
        return obj
    box: List[Any] = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_state(modules: Iterable[torch.nn.Module], buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (unless ``buffers_only``) and buffers to every rank."""
    if not active():
        return
    for module in modules:
        tensors = list(module.buffers()) + ([] if buffers_only else list(module.parameters()))
        for tensor in tensors:
            dist.broadcast(tensor.data, src=0)
