"""Tiny configs and engines shared by the core tests."""

from __future__ import annotations

from typing import List, Optional

from e2eaug.config import RunConfig, apply_overrides, config_from_dict, read_yaml, resolve_config_path

TINY = [
    "data.image_size=16",
    "data.n_train=8",
    "data.n_val=4",
    "data.n_test=4",
    "augmenter.generator.kwargs={depth: 2, base_width: 4}",
    "augmenter.discriminator.kwargs={base_width: 4, n_layers: 1, norm: instance}",
    "augmenter.batch_size=4",
    "augmenter.pretrain_steps=0",
    "seg.segmenter.kwargs={depth: 2, base_width: 4, norm: group}",
    "seg.batch_size=4",
    "arch.batch_size=4",
    "engine.train_iters=4",
    "engine.valid_every=2",
    "engine.device=cpu",
    "engine.progress=false",
]

# Smooth stand-ins for the kinked pieces (ReLU, max-pool, L1): finite differences (darts) and
# autograd's second derivatives agree only where the losses are twice differentiable.
SMOOTH = [
    "augmenter.generator.kwargs={depth: 2, base_width: 4, activation: silu}",
    "augmenter.discriminator.kwargs={base_width: 4, n_layers: 1, norm: instance, activation: silu}",
    "augmenter.reconstruction=smooth_l1",
    "seg.segmenter.kwargs={depth: 2, base_width: 4, norm: group, activation: silu, pool: avg}",
]


def tiny_config(extra: Optional[List[str]] = None, out_dir: str = "runs") -> RunConfig:
    """The default preset shrunk to 16 px and a handful of pairs."""
    data = read_yaml(resolve_config_path("skin_synthetic"))
    data = apply_overrides(data, TINY + [f"out_dir={out_dir}"] + list(extra or []))
    return config_from_dict(data)
