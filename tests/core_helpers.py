"""Tiny configs and engines shared by the core tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import List, Optional

from e2eaug.config import apply_overrides
from e2eaug.run_config import RunConfig, config_from_dict, read_config_file

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
    data = read_config_file("skin_synthetic")
    data = apply_overrides(data, TINY + [f"out_dir={out_dir}"] + list(extra or []))
    return config_from_dict(data)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE = EXAMPLES / "custom_augmenter.py"
WARP_EXAMPLE = EXAMPLES / "learned_warp_augmenter.py"


def load_example(path: Path = EXAMPLE) -> ModuleType:
    """An example script as a module, imported once (``custom_augmenter.py`` registers
    ``shading``, ``learned_warp_augmenter.py`` registers ``learned_warp``)."""
    name = f"{path.stem}_example"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)
    return sys.modules[name]
