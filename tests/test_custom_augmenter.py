"""The custom-augmenter example plugs in by name and trains in the two-level graph."""

import torch

from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import names
from tests.core_helpers import load_example, tiny_config


def test_custom_augmenter_trains_without_an_arch_level():
    module = load_example()
    cfg = tiny_config(["augmenter={name: shading, width: 4, batch_size: 4}"])
    assert isinstance(cfg.augmenter, module.ShadingConfig)
    engine = build_engine(cfg, build_data(cfg.data))
    assert sorted(p.name for p in engine.problems) == [names.AUG, names.SEG]
    augmenter = getattr(engine, names.AUG)
    before = [p.detach().clone() for p in augmenter.trainable_parameters()]
    best = engine.run()
    assert 0.0 <= best["dice"] <= 1.0
    assert any(not torch.equal(a, p) for a, p in zip(before, augmenter.trainable_parameters()))


def test_example_uses_only_public_api():
    source = load_example.__globals__["EXAMPLE"].read_text()
    imports = [line for line in source.splitlines() if line.startswith(("from e2eaug", "import e2eaug"))]
    assert imports and not any("._" in line or " _" in line for line in imports)
