"""An experiment: a grid of ordinary runs over data, training sizes, segmenters, augmenters, seeds.

An experiment file (YAML)::

    name: jsrt
    data:                       # label -> the run config the cells start from, plus overrides
      jsrt: {config: jsrt}
    n_train: [9, 35]
    segmenters:                 # label -> overrides
      unet: []
    augmenters:                 # a list of names, or label -> overrides for that augmenter
      none: []
      pix2pix: [augmenter.pretrain_steps=400]
      e2eaug: []
      e2eaug_lam05: [augmenter.name=e2eaug, augmenter.lam=0.5]   # a variant under its own label
    seeds: [0, 1, 2]
    metric: dice                # what results.md compares on: dice | jaccard
    compare: [[e2eaug, none]]   # pairs of labels results.md also tests against each other
    set: [engine.train_iters=300]   # overrides of every cell
    profiles:                   # --profile NAME replaces these keys (``set`` is appended)
      paper: {n_train: [9, 35, 175], set: [...]}

Each cell ``(data, n_train, segmenter, augmenter, seed)`` is the data's config with, in order,
the experiment's ``set``, the data's and the segmenter's overrides, ``augmenter.name`` set to
the augmenter's label, the label's own overrides (which may name another augmenter: a variant),
then ``data.n_train``, ``seed`` and ``data.seed`` (the seed also draws the training and
validation pairs; the test sets are fixed per dataset by ``data.test_seed``). Labels whose
augmenter class is the method (``is_method``: ``e2eaug`` and its subclasses) are the method's
variants; the others are its baselines.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from e2eaug.config import ConfigError, apply_overrides, check_folder_name, from_dict, read_yaml
from e2eaug.run_config import RunConfig, config_from_dict, read_config_file

METRICS = ("dice", "jaccard")


@dataclass
class DataSpec:
    """One dataset of the grid: a run preset or YAML path, and overrides."""

    config: str = "skin_synthetic"
    set: List[str] = field(default_factory=list)


@dataclass
class ExperimentSpec:
    """The parsed experiment file (see the module docstring); ``profile`` is the one applied."""

    name: str = "experiment"
    out_dir: str = "runs/experiments"
    data: Dict[str, DataSpec] = field(default_factory=lambda: {"skin": DataSpec()})
    n_train: List[int] = field(default_factory=lambda: [40])
    segmenters: Dict[str, List[str]] = field(default_factory=lambda: {"unet": []})
    augmenters: Dict[str, List[str]] = field(default_factory=lambda: {"none": [], "e2eaug": []})
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    metric: str = "dice"
    compare: List[List[str]] = field(default_factory=list)
    set: List[str] = field(default_factory=list)
    profile: Optional[str] = None

    @property
    def folder(self) -> Path:
        """Where the cells and reports go: ``out_dir/name[-profile]``."""
        return Path(self.out_dir) / (self.name + (f"-{self.profile}" if self.profile else ""))

    def cells(self) -> List["Cell"]:
        """Every cell of the grid, its config resolved (a bad key fails here, before any run)."""
        out = []
        grid = itertools.product(self.data.items(), self.n_train, self.segmenters.items(), self.augmenters.items(), self.seeds)
        for (data, dspec), n, (segmenter, seg_set), (augmenter, aug_set), seed in grid:
            label = f"{data}-n{n}-{segmenter}-{augmenter}-s{seed}"
            overrides = [*self.set, *dspec.set, *seg_set, f"augmenter.name={augmenter}", *aug_set,
                         f"data.n_train={n}", f"seed={seed}", f"data.seed={seed}", f"name={label}",
                         "engine.progress=false"]
            try:
                cfg = config_from_dict(apply_overrides(read_config_file(dspec.config), overrides))
            except ConfigError as err:
                raise ConfigError(f"cell {label}: {err}") from err
            out.append(Cell(label, data, n, segmenter, augmenter, seed, cfg, self.folder / label))
        return out


@dataclass
class Cell:
    """One run of the grid: its labels, resolved config and run folder (``augmenter`` is the
    label; ``config.augmenter.name`` the augmenter it runs)."""

    label: str
    data: str
    n_train: int
    segmenter: str
    augmenter: str
    seed: int
    config: RunConfig
    path: Path


def _no_repeats(values: List[Any], key: str) -> None:
    """A grid axis that lists a value twice would train its cells twice and count them twice."""
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ConfigError(f"{key}: {', '.join(repeated)} listed more than once")


def _as_overrides(value: Any, key: str) -> Dict[str, List[str]]:
    """``[a, b]`` or ``{a: [...], b: [...]}`` -> ``{a: [...], b: [...]}``."""
    if isinstance(value, list):
        _no_repeats(value, key)
        return {str(name): [] for name in value}
    if isinstance(value, dict):
        out = {}
        for name, overrides in value.items():
            overrides = overrides or []
            if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
                raise ConfigError(f"{key}.{name}: expected a list of key=value overrides, got {overrides!r}")
            out[str(name)] = overrides
        return out
    raise ConfigError(f"{key}: expected a list of names or a mapping name -> overrides, got {value!r}")


def load_experiment(path: str | Path, profile: Optional[str] = None) -> ExperimentSpec:
    """Read an experiment file, apply ``profile``, and validate every cell's config; an error in
    the file names it."""
    try:
        spec = _parse(read_yaml(Path(path)), profile)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    spec.cells()  # every cell's config must load
    return spec


def _parse(data: Dict[str, Any], profile: Optional[str]) -> ExperimentSpec:
    """The experiment file's mapping with ``profile`` applied, as a checked spec."""
    profiles = data.pop("profiles", None) or {}
    if profile is not None:
        if profile not in profiles:
            known = ", ".join(profiles) or "(none)"
            raise ConfigError(f"no profile {profile!r}; profiles: {known}")
        chosen = dict(profiles[profile] or {})
        extra_set = chosen.pop("set", [])
        data.update(chosen)
        data["set"] = list(data.get("set", [])) + list(extra_set)
    for key in ("segmenters", "augmenters"):
        if key in data:
            data[key] = _as_overrides(data[key], key)
    if "data" in data:
        if not isinstance(data["data"], dict):
            raise ConfigError("data: expected a mapping label -> {config, set}")
        data["data"] = {str(k): from_dict(DataSpec, v, f"data.{k}") for k, v in data["data"].items()}
    spec = from_dict(ExperimentSpec, data)
    spec.profile = profile
    check_folder_name(spec.name, "name")
    if spec.metric not in METRICS:
        raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got {spec.metric!r}")
    for key in ("data", "n_train", "segmenters", "augmenters", "seeds"):
        if not getattr(spec, key):
            raise ConfigError(f"{key} is empty")
    for key in ("n_train", "seeds"):
        _no_repeats(getattr(spec, key), key)
    for pair in spec.compare:
        if not (isinstance(pair, list) and len(pair) == 2 and pair[0] != pair[1]):
            raise ConfigError(f"compare: each entry is two different augmenter labels, got {pair!r}")
        unknown = [label for label in pair if label not in spec.augmenters]
        if unknown:
            raise ConfigError(f"compare: {unknown[0]!r} is not one of the augmenters ({', '.join(spec.augmenters)})")
    return spec
