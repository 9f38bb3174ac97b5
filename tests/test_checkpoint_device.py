"""Checkpoints load the same whatever device the engine runs on.

Loading with ``map_location=engine.device`` would move the saved CPU RNG state onto a GPU, where
``torch.set_rng_state`` raises. Here the engine reports a device that is not the CPU (``meta`` stands in for ``cuda`` on a machine without one), and
every job that loads a checkpoint must still restore the modules and hand torch CPU byte
tensors as RNG states.
"""

from __future__ import annotations

import pytest
import torch

from e2eaug import jobs
from e2eaug.problems import names
from e2eaug.run_config import read_run_config
from e2eaug.rundir import RunDir
from tests.core_helpers import tiny_config


@pytest.fixture()
def trained(tmp_path):
    cfg = tiny_config(["engine.train_iters=2"], out_dir=str(tmp_path))
    run, _ = jobs.train(cfg, RunDir.create(tmp_path, cfg.name))
    return run


@pytest.fixture()
def off_cpu_engine(monkeypatch):
    """Engines built by the jobs report a non-CPU device; records what reaches the RNG setter."""
    build = jobs._engine

    def built_elsewhere(cfg):
        engine, data = build(cfg)
        engine.device = "meta"
        return engine, data

    seen = []
    set_rng_state = torch.set_rng_state
    monkeypatch.setattr(jobs, "_engine", built_elsewhere)
    monkeypatch.setattr(torch, "set_rng_state", lambda s: (seen.append(s), set_rng_state(s)))
    return seen


def test_load_run_restores_weights_and_a_cpu_rng_state(trained, off_cpu_engine):
    saved = trained.load_checkpoint("best")
    _, engine, _ = jobs.load_run(trained, "best")
    seg = getattr(engine, names.SEG)
    for key, value in seg.module.state_dict().items():
        assert torch.equal(value, saved["problems"][names.SEG]["module"][key]), key
    assert engine.global_step == saved["global_step"]
    (state,) = off_cpu_engine
    assert state.device.type == "cpu" and state.dtype == torch.uint8
    assert torch.equal(state, saved["rng_cpu"])


def test_resume_and_evaluate_work_off_the_cpu(trained, off_cpu_engine):
    cfg = read_run_config(trained, ["engine.train_iters=4"])
    _, best = jobs.train(cfg, trained, resume=True)
    assert trained.read_metrics()[-1]["step"] == 4 and best["step"] in (2, 4)
    results = jobs.evaluate(trained, "last")
    assert results["step"] == 4 and set(results["tests"]) == {"id", "ood"}
    assert all(s.device.type == "cpu" and s.dtype == torch.uint8 for s in off_cpu_engine)
