"""The custom-augmenter example plugs in by name and trains in the two-level graph."""

import importlib.util
import sys
from pathlib import Path

import torch

from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import names
from tests.core_helpers import tiny_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_augmenter.py"


def test_custom_augmenter_trains_without_an_arch_level():
    spec = importlib.util.spec_from_file_location("custom_augmenter_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)  # registers "shading"
    cfg = tiny_config(["augmenter={name: shading, width: 4, batch_size: 4}"])
    assert isinstance(cfg.augmenter, module.ShadingConfig)
    engine = build_engine(cfg, build_data(cfg.data))
    assert sorted(p.name for p in engine.problems) == [names.GAN, names.SEG]
    augmenter = getattr(engine, names.GAN)
    before = [p.detach().clone() for p in augmenter.trainable_parameters()]
    best = engine.run()
    assert 0.0 <= best["dice"] <= 1.0
    assert any(not torch.equal(a, p) for a, p in zip(before, augmenter.trainable_parameters()))
