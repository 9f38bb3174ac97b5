"""The Python API: the README's lines run as written (on a tiny config)."""

import re
from pathlib import Path

import pytest
import torch
import yaml

import e2eaug
from e2eaug import api
from tests.core_helpers import TINY

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_api_block() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readmes_api_lines_run(tmp_path, monkeypatch, capsys):
    """The README's block, with the tiny sizes of the tests added to every ``load_config``."""
    load_config = api.load_config

    def tiny_load_config(config="skin_synthetic", overrides=()):
        extra = dict(item.split("=", 1) for item in TINY + [f"out_dir={tmp_path / 'runs'}"])
        return load_config(config, {**{k: yaml.safe_load(v) for k, v in extra.items()}, **dict(overrides)})

    monkeypatch.setattr(api, "load_config", tiny_load_config)
    namespace = {}
    exec(compile(_readme_api_block(), str(README), "exec"), namespace)
    run, last, results = namespace["run"], namespace["last"], namespace["results"]
    assert run.config.engine.train_iters == 100 and run.config.seed == 1
    assert namespace["logits"].shape == (4, 1, 16, 16)
    assert set(results["tests"]) == {"id", "ood"} and run.path.parent == tmp_path / "runs"
    assert (run.path / "results.json").is_file()
    assert last.checkpoint == "last" and last.engine.global_step == 100
    assert isinstance(last.segmenter, torch.nn.Module) and last.augmenter.settings.name == "e2eaug"
    assert e2eaug.__version__ in capsys.readouterr().out


def test_load_config_takes_a_mapping_or_strings():
    nested = {"seg.segmenter.kwargs": {"depth": 2, "base_width": 4}, "augmenter.lam": 0.5, "name": "x y"}
    cfg = api.load_config("skin_synthetic", nested)
    assert cfg.seg.segmenter.kwargs == {"depth": 2, "base_width": 4}
    assert cfg.augmenter.lam == 0.5 and cfg.name == "x y"
    assert api.load_config("skin_synthetic", ["augmenter.lam=0.5"]).augmenter.lam == 0.5


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no_such_thing"):
        e2eaug.no_such_thing  # noqa: B018
