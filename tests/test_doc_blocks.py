"""Every Python block of README.md and docs/*.md runs, with the YAML blocks they use, at the
tests' tiny sizes (:mod:`tests.doc_blocks` says how a block names a file or opts out)."""

from __future__ import annotations

import dataclasses
import importlib
import sys

import pytest
import torch
import yaml

from e2eaug import api
from e2eaug.cli import main
from e2eaug.experiment.spec import load_experiment
from e2eaug.models.generator import UNetGenerator
from e2eaug.models.search_space import Genotype
from e2eaug.run_config import RunConfig
from tests.core_helpers import TINY
from tests.doc_blocks import DOCUMENTS, blocks

RUN_KEYS = {f.name for f in dataclasses.fields(RunConfig)} | {"base"}
DOCUMENTED = [doc for doc in DOCUMENTS if blocks(doc)]


def _kind(data: dict) -> str:
    """What a YAML block is: an experiment file, a run config or a genotype."""
    if "augmenters" in data or "n_train" in data:
        return "experiment"
    if set(data) == {"down", "up"}:
        return "genotype"
    if set(data) <= RUN_KEYS:
        return "run"
    raise AssertionError(f"a YAML block that is none of experiment, run config, genotype: {sorted(data)}")


def _tiny_overrides(out_dir) -> dict:
    return {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in TINY + [f"out_dir={out_dir}"])}


@pytest.mark.parametrize("document", DOCUMENTED, ids=lambda d: d.name)
def test_every_block_runs(document, tmp_path, monkeypatch, capsys):
    found = blocks(document)
    for block in found:
        assert block.opt_out is None or block.opt_out.strip(), f"{block.where}: opts out without a reason"
    run_blocks = [b for b in found if b.opt_out is None]
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for block in run_blocks:
        if block.file:
            (tmp_path / block.file).write_text(block.text)

    for block in run_blocks:  # modules: importing them runs them (a plug-in registers)
        if block.language == "python" and block.file:
            importlib.import_module(block.file[:-3])

    ran = 0
    for block in run_blocks:
        if block.language == "yaml":
            path = tmp_path / (block.file or f"block_{block.line}.yaml")
            path.write_text(block.text)
            data = yaml.safe_load(block.text)
            kind = _kind(data)
            if kind == "experiment":
                assert load_experiment(path).cells(), block.where
            elif kind == "genotype":
                generator = UNetGenerator(genotype=data, in_channels=1, out_channels=3)
                size = 2 ** Genotype.from_dict(data).depth * 2
                assert generator(torch.zeros(1, 1, size, size)).shape == (1, 3, size, size), block.where
            else:
                sets = [arg for item in TINY + [f"out_dir={tmp_path / 'runs'}"] for arg in ("--set", item)]
                assert main(["run", "--config", str(path), *sets]) == 0, block.where
            ran += 1
        elif not block.file:  # a script, with the tiny sizes under its own overrides
            load_config = api.load_config

            def tiny_load_config(config="skin_synthetic", overrides=()):
                return load_config(config, {**_tiny_overrides(tmp_path / "runs"), **dict(overrides)})

            monkeypatch.setattr(api, "load_config", tiny_load_config)
            exec(compile(block.text, block.where, "exec"), {"__name__": "__doc_block__"})
            monkeypatch.setattr(api, "load_config", load_config)
            ran += 1
    modules = [b.file[:-3] for b in run_blocks if b.language == "python" and b.file]
    used = {m for b in run_blocks if b.language == "yaml" for m in (yaml.safe_load(b.text).get("plugins") or [])}
    assert set(modules) <= used | set(sys.modules), f"{document.name}: a module block no run config uses"
    assert ran or not run_blocks, f"{document.name}: no block was run"
    capsys.readouterr()
