"""Data-parallel training under torch.distributed: two gloo processes on the CPU."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from e2eaug import jobs
from e2eaug.batching import StepBatcher
from e2eaug.cli import main
from e2eaug.run_config import read_run_config
from e2eaug.rundir import RunDir
from tests.core_helpers import tiny_config

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tensors(state, prefix=""):
    """Every floating-point tensor of a nested state dict, by its path."""
    if isinstance(state, torch.Tensor):
        return {prefix: state} if state.is_floating_point() else {}
    if isinstance(state, dict):
        return {k: v for key, value in state.items() for k, v in _tensors(value, f"{prefix}/{key}").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, value in enumerate(state) for k, v in _tensors(value, f"{prefix}/{i}").items()}
    return {}


def _spawn_worker(rank: int, world: int, port: int, out: str) -> None:
    """Train on rank ``rank`` and save the engine's whole state (weights, optimizers,
    discriminator) as this rank ends it."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cfg = tiny_config(["name=tiny", "engine.strategy=distributed", "augmenter.pretrain_steps=2"], out_dir=out)
    engine, _ = jobs._engine(cfg)
    engine.run_dir = RunDir.create(out, "tiny") if rank == 0 else None
    engine.run()
    torch.save(engine.state_dict(), Path(out) / f"rank{rank}.pt")


def test_two_ranks_end_with_identical_weights_and_one_run_folder(tmp_path):
    mp.spawn(_spawn_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert states[0]["best"] == states[1]["best"]  # validation scored once, shared
    assert states[0]["global_step"] == states[1]["global_step"] == 4
    first, second = _tensors(states[0]["problems"]), _tensors(states[1]["problems"])
    assert set(first) == set(second)
    assert any("discriminator" in key for key in first) and any("arch" in key for key in first)
    for key, tensor in first.items():
        error = (tensor - second[key]).norm() / tensor.norm().clamp_min(1e-12)
        assert error < 1e-6, key
    (folder,) = tmp_path.glob("tiny-*")  # rank 1 wrote nothing
    assert [r["step"] for r in RunDir(folder).read_metrics()] == [2, 4]


def test_ranks_see_disjoint_shards_of_one_global_batch():
    images = torch.arange(10.0)
    whole = StepBatcher([images], 2, seed=3, shard=(0, 1))
    shards = [StepBatcher([images], 2, seed=3, shard=(r, 2)) for r in (0, 1)]
    for k in range(7):
        parts = [b.batch(k)[0] for b in shards]
        assert len(parts[0]) == len(parts[1]) == 2
        assert set(parts[0].tolist()).isdisjoint(parts[1].tolist())
        assert sorted(torch.cat(parts).tolist()) == sorted(StepBatcher([images], 4, seed=3, shard=(0, 1)).batch(k)[0].tolist())
    assert whole.batch(0)[0].tolist() == StepBatcher([images], 2, seed=3).batch(0)[0].tolist()
    with pytest.raises(ValueError, match="3 processes"):
        StepBatcher([images[:2]], 2, seed=3, shard=(0, 3))


def test_torchrun_trains_resumes_and_evaluates_in_one_folder(tiny_yaml, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "e2eaug", "run", "--config", str(tiny_yaml), "--set", "engine.strategy=distributed"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best validation Dice") == 1  # rank 0 reports
    (folder,) = (tmp_path / "runs").glob("tiny-*")
    run = RunDir(folder)
    for name in ("config.yaml", "run_info.json", "metrics.jsonl", "steps.jsonl", "best.pt", "last.pt", "results.json"):
        assert (folder / name).is_file(), name
    assert read_run_config(run).engine.strategy == "distributed"

    resume = command[:-5] + ["train", "--resume", str(folder), "--set", "engine.train_iters=6"]
    done = subprocess.run(resume, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["step"] for r in run.read_metrics()] == [2, 4, 6]
    assert [s["step"] for s in run.read_steps()] == list(range(1, 7))
    assert len(json.loads(run.info_path.read_text())["sessions"]) == 2


def test_distributed_without_torchrun_is_one_clear_error(tiny_yaml, capsys):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        os.environ.pop(name, None)
    assert main(["train", "--config", str(tiny_yaml), "--set", "engine.strategy=distributed"]) == 2
    err = capsys.readouterr().err
    assert "torchrun" in err and "engine.strategy" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "--config", str(tiny_yaml), "--set", "engine.strategy=ddp"]) == 2
    assert "engine.strategy must be one of" in capsys.readouterr().err
