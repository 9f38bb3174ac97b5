"""The Python API: the command line's jobs as functions, for notebooks and scripts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence, Union

import torch
import yaml

from e2eaug import jobs
from e2eaug.problems import names
from e2eaug.run_config import DEFAULT_PRESET, RunConfig
from e2eaug.run_config import load_config as _load_config
from e2eaug.rundir import RunDir

Overrides = Union[Mapping[str, Any], Sequence[str]]


@dataclass
class Run:
    """A trained run: its folder, config and engine with checkpoint ``checkpoint`` loaded."""

    path: Path
    config: RunConfig
    engine: Any
    data: Any
    checkpoint: str

    @property
    def segmenter(self) -> torch.nn.Module:
        """The trained segmenter (logits ``[B,1,H,W]`` for images ``[B,C,H,W]`` in [0,1])."""
        return getattr(self.engine, names.SEG).module

    @property
    def augmenter(self) -> Any:
        """The run's augmenter (:class:`e2eaug.problems.Augmenter`)."""
        return self.engine.augmenter


def load_config(config: Union[str, Path] = DEFAULT_PRESET, overrides: Overrides = ()) -> RunConfig:
    """A preset name or YAML path, with overrides as ``{"engine.train_iters": 50}`` or the
    command line's ``["engine.train_iters=50"]``."""
    if isinstance(overrides, Mapping):
        overrides = [f"{key}={_yaml(value)}" for key, value in overrides.items()]
    return _load_config(str(config), list(overrides))


def _yaml(value: Any) -> str:
    """``value`` as one line of YAML (what an override's right-hand side holds)."""
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()


def train(config: Union[RunConfig, str, Path] = DEFAULT_PRESET) -> Run:
    """Train a new run (as ``e2eaug train``) and return it with its best checkpoint loaded."""
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    run, _ = jobs.train(cfg)
    return load_run(run.path, "best", trust_plugins=True)  # plugins this process imported itself


def load_run(path: Union[str, Path], checkpoint: str = "best", trust_plugins: bool = False) -> Run:
    """An existing run folder with checkpoint ``best`` or ``last`` loaded, in eval mode."""
    cfg, engine, data = jobs.load_run(RunDir.open(path), checkpoint, trust_plugins)
    engine.eval()
    return Run(Path(path), cfg, engine, data, checkpoint)


def evaluate(run: Union[Run, str, Path], checkpoint: str = "best", trust_plugins: bool = False) -> Dict[str, Any]:
    """Score a run's checkpoint on every test set (as ``e2eaug evaluate``); writes its results
    file in the run folder and returns the results."""
    path = run.path if isinstance(run, Run) else run
    return jobs.evaluate(RunDir.open(path), checkpoint, trust_plugins or isinstance(run, Run))
