"""The learned elastic + intensity augmenter of ``examples/``: public API only, learnable
strengths that the engine trains as the ``aug`` level, a run from YAML through ``plugins:``."""

from __future__ import annotations

import ast
import sys

import pytest
import torch
import yaml

from e2eaug.cli import main
from e2eaug.config import ConfigError, to_dict
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import names
from tests.core_helpers import WARP_EXAMPLE, load_example, tiny_config

module = load_example(WARP_EXAMPLE)
WARP = ["augmenter={name: learned_warp, batch_size: 4}"]


def test_the_example_imports_nothing_private():
    tree = ast.parse(WARP_EXAMPLE.read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [(alias.name, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module
            imported += [(node.module, alias.name) for alias in node.names]
    packages = {source.split(".")[0] for source, _ in imported}
    assert "e2eaug" in packages and packages <= {"__future__", "argparse", "dataclasses", "typing", "torch", "e2eaug"}
    for source, name in imported:
        assert not any(part.startswith("_") for part in source.split(".")[1:]), source
        assert not name.startswith("_") or source == "__future__", f"{source}.{name}"


def test_the_strengths_reach_the_pairs_and_masks_stay_binary():
    cfg = tiny_config(WARP)
    augmenter = build_engine(cfg, build_data(cfg.data)).augmenter
    images, masks = augmenter.get_batch()[:2]
    x, m = augmenter.pairs(images, masks, augmenter.draw(images, masks, 0))
    assert x.shape == images.shape and m.shape == masks.shape and set(m.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(m, masks) and 0 <= x.min() and x.max() <= 1
    for index in range(4):  # displacement, brightness, contrast, gamma each change the images
        (grad,) = torch.autograd.grad(x.sum(), augmenter.module.raw, retain_graph=True)
        assert grad[index].abs() > 0, module.STRENGTHS[index]
    with torch.no_grad():
        augmenter.module.raw.fill_(-30.0)  # all strengths ~0: the real pairs themselves
        x, m = augmenter.pairs(images, masks, augmenter.draw(images, masks, 0))
    assert ((x - images.clamp(1e-4, 1)).norm() / images.norm()).item() < 1e-4 and torch.equal(m, masks)


def test_the_engine_trains_the_strengths_as_the_aug_level():
    cfg = tiny_config([*WARP, "augmenter.pretrain_steps=0"])
    engine = build_engine(cfg, build_data(cfg.data))
    assert sorted(p.name for p in engine.problems) == [names.AUG, names.SEG]
    raw = engine.augmenter.module.raw.detach().clone()
    engine.run()
    assert not torch.equal(engine.augmenter.module.raw.detach(), raw)
    assert set(engine.augmenter.log_values()) == set(module.STRENGTHS)


def test_runs_from_yaml_through_plugins(tmp_path, monkeypatch, capsys):
    # the file as a plugin module, as `plugins: [learned_warp_augmenter]` with examples/ on the path
    monkeypatch.setitem(sys.modules, "learned_warp_augmenter", module)
    cfg = tiny_config(["name=warp", *WARP], out_dir=str(tmp_path))
    data = to_dict(cfg)
    data["plugins"] = ["learned_warp_augmenter"]
    path = tmp_path / "warp.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", "--config", str(path)]) == 0
    (run,) = tmp_path.glob("warp-*")
    assert (run / "results.json").is_file() and "test set" in capsys.readouterr().out


@pytest.mark.parametrize("override, key", [("grid=1", "augmenter.grid"), ("budget=-1", "augmenter.budget")])
def test_bad_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key):
        tiny_config([*WARP, f"augmenter.{override}"])


def test_each_rank_draws_its_own_warps_and_rank_0_draws_as_one_process(monkeypatch):
    from e2eaug import distributed

    def own_draws(rank):
        monkeypatch.setattr(distributed, "rank_and_size", lambda: (rank, 2))
        cfg = tiny_config(WARP)
        augmenter = build_engine(cfg, build_data(cfg.data)).augmenter
        return [augmenter.get_batch()[2], augmenter.draw(*augmenter.get_batch()[:2], 1)]

    alone = own_draws(0)
    monkeypatch.undo()
    cfg = tiny_config(WARP)
    single = build_engine(cfg, build_data(cfg.data)).augmenter
    expected = [single.get_batch()[2], single.draw(*single.get_batch()[:2], 1)]
    for got, want in zip(alone, expected):
        assert torch.equal(got.noise, want.noise) and torch.equal(got.signs, want.signs)
    other = own_draws(1)
    for got, want in zip(other, alone):
        assert not (torch.equal(got.noise, want.noise) and torch.equal(got.signs, want.signs))
