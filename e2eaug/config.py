"""Typed configuration: one dataclass per component, loaded from YAML, unknown keys rejected.

``load_config(path, overrides)`` reads a YAML file into :class:`RunConfig`; overrides are
``"a.b=value"`` strings whose value is parsed as YAML (``--set seg.lam=0.5``). ``to_dict``
gives the fully resolved config back for saving next to a run's outputs.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml


class ConfigError(ValueError):
    """A config file or override names an unknown key or holds a value of the wrong type."""


# ----------------------------------------------------------------------------- components


@dataclass
class ComponentConfig:
    """A registered component chosen by name, with keyword arguments for its builder."""

    name: str = ""
    kwargs: Dict[str, Any] = field(default_factory=dict)


@dataclass
class TestSetConfig:
    """An extra test set read from a folder (e.g. train on ISIC, test on PH2)."""

    name: str = ""
    root: str = ""
    layout: str = "generic"


@dataclass
class DataConfig:
    """Where the image-mask pairs come from and how they are split.

    ``source: synthetic`` draws ``task`` (skin | lung) pairs from the embedded generator: the
    in-distribution domain ``id`` for train/val/test and each of ``shifted_domains`` as an extra
    test set. ``source: folder`` reads ``root`` with ``layout``; the pairs not in train/val are
    the test set, and ``extra_tests`` add further folder test sets.
    """

    source: str = "synthetic"
    task: str = "skin"
    root: Optional[str] = None
    layout: str = "generic"
    image_size: int = 32
    channels: Optional[int] = None
    n_train: int = 40
    n_val: int = 20
    n_test: int = 100
    shifted_domains: List[str] = field(default_factory=lambda: ["ood"])
    extra_tests: List[TestSetConfig] = field(default_factory=list)
    seed: int = 0


# ----------------------------------------------------------------------------- loading


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert ``value`` to the annotated type ``tp``; ``key`` names it in errors."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=key)
    if origin in (list, List):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(v, args[0] if args else Any, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads ``1e-5`` (no dot) as a string
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is bool and isinstance(value, bool):
        return value
    if tp is str and isinstance(value, str):
        return value
    if tp in (int, float, bool, str):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    return value


def from_dict(cls: Any, data: Dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys raise :class:`ConfigError`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown config key(s) {', '.join(where + k for k in unknown)}; "
            f"{cls.__name__} accepts: {', '.join(sorted(names))}"
        )
    kwargs = {
        name: _coerce(value, hints[name], f"{prefix}.{name}" if prefix else name)
        for name, value in data.items()
    }
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Plain-data (YAML-safe) form of a config dataclass."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def apply_overrides(data: Dict[str, Any], overrides: List[str]) -> Dict[str, Any]:
    """Apply ``"a.b=value"`` overrides (value parsed as YAML) to a nested dict in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
        path, raw = item.split("=", 1)
        keys = path.strip().split(".")
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {k!r} is not a mapping")
        node[keys[-1]] = yaml.safe_load(raw)
    return data


def read_yaml(path: Path) -> Dict[str, Any]:
    """Read a YAML mapping, naming the file in any error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


# ----------------------------------------------------------------------------- optimisation


@dataclass
class OptimConfig:
    """A torch optimizer by name (adam | adamw | sgd | rmsprop) with its settings."""

    name: str = "adam"
    lr: float = 1e-3
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    momentum: float = 0.0
    weight_decay: float = 0.0


@dataclass
class HypergradConfig:
    """How Betty approximates the best-response Jacobian at this level.

    ``type`` is any name in ``betty.hypergradient.jvp_fn_mapping`` (darts, neumann, cg, sama, and
    those e2eaug registers); the other fields are that method's knobs as Betty names them.
    """

    type: str = "darts"
    darts_alpha: float = 0.01
    neumann_iterations: int = 1
    neumann_alpha: float = 1.0
    cg_iterations: int = 1
    cg_alpha: float = 1.0
    sama_adam_alpha: float = 1.0


@dataclass
class MaskAugConfig:
    """Random geometric augmentation of real masks before they are fed to the generator."""

    ops: List[str] = field(default_factory=lambda: ["rotate", "flip", "translate"])
    max_degrees: float = 30.0
    max_fraction: float = 0.1
    p_flip: float = 0.5


# ----------------------------------------------------------------------------- levels


@dataclass
class GANConfig:
    """The augmenter level: a mask-to-image conditional GAN (pix2pix-style)."""

    name: str = "gan"
    generator: ComponentConfig = field(
        default_factory=lambda: ComponentConfig("searchable", {"depth": 3, "base_width": 16})
    )
    discriminator: ComponentConfig = field(
        default_factory=lambda: ComponentConfig("patch", {"base_width": 16, "n_layers": 2, "norm": "instance"})
    )
    optimizer: OptimConfig = field(
        default_factory=lambda: OptimConfig("adam", 2e-4, [0.5, 0.999], 0.0, 0.0)
    )
    disc_optimizer: OptimConfig = field(
        default_factory=lambda: OptimConfig("adam", 2e-4, [0.5, 0.999], 0.0, 0.0)
    )
    l1_weight: float = 100.0
    reconstruction: str = "l1"
    batch_size: int = 8
    unroll_steps: int = 1
    pretrain_steps: int = 0
    hypergrad: HypergradConfig = field(default_factory=HypergradConfig)


@dataclass
class SegConfig:
    """The segmentation level: real pairs plus ``lam`` x generated pairs."""

    segmenter: ComponentConfig = field(
        default_factory=lambda: ComponentConfig("unet", {"depth": 3, "base_width": 16, "norm": "group"})
    )
    optimizer: OptimConfig = field(default_factory=lambda: OptimConfig("adam", 1e-3))
    lam: float = 1.0
    loss: str = "bce"
    batch_size: int = 8
    unroll_steps: int = 1
    mask_aug: MaskAugConfig = field(default_factory=MaskAugConfig)
    plateau_patience: int = 0
    plateau_factor: float = 0.5
    hypergrad: HypergradConfig = field(default_factory=HypergradConfig)


@dataclass
class ArchConfig:
    """The architecture level: ``alpha`` minimises the segmentation loss on validation pairs."""

    optimizer: OptimConfig = field(
        default_factory=lambda: OptimConfig("adam", 3e-3, [0.5, 0.999], 0.0, 1e-3)
    )
    batch_size: int = 8


@dataclass
class EngineSettings:
    """The training loop: length, validation cadence, early stopping, device.

    ``num_threads`` sets torch's CPU threads (0 keeps torch's default). Small models on a
    shared or small CPU run faster on one thread than on oversubscribed cores.
    """

    train_iters: int = 600
    valid_every: int = 100
    early_stop_patience: int = 0
    device: str = "auto"
    num_threads: int = 0
    progress: bool = True


@dataclass
class RunConfig:
    """A whole e2eaug run.

    ``augmenter`` is parsed by the config class of the augmenter problem registered under its
    ``name`` (``gan`` by default, :class:`GANConfig`), so a plug-in augmenter brings its own keys.
    ``plugins`` lists modules imported before anything is built (where plug-ins register).
    """

    name: str = "e2eaug"
    seed: int = 0
    out_dir: str = "runs"
    plugins: List[str] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    augmenter: Any = field(default_factory=GANConfig)
    seg: SegConfig = field(default_factory=SegConfig)
    arch: ArchConfig = field(default_factory=ArchConfig)
    engine: EngineSettings = field(default_factory=EngineSettings)


PRESETS_DIR = Path(__file__).resolve().parent / "configs"


def preset_names() -> List[str]:
    """Names of the YAML presets shipped in ``e2eaug/configs``."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str) -> Path:
    """A preset name (``skin_synthetic``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    preset = PRESETS_DIR / f"{name_or_path}.yaml"
    if not preset.is_file():
        raise ConfigError(
            f"no config file or preset named {name_or_path!r}; presets: {', '.join(preset_names())}"
        )
    return preset


def config_from_dict(data: Dict[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig`, importing plug-ins and parsing the augmenter section."""
    import importlib

    from e2eaug.registry import AUGMENTERS

    data = dict(data)
    augmenter = dict(data.pop("augmenter", None) or {})
    cfg = from_dict(RunConfig, data)
    for module in cfg.plugins:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"plugins: cannot import {module!r}: {err}") from err
    import e2eaug.problems  # noqa: F401  (registers the built-in augmenters)

    name = augmenter.get("name", "gan")
    try:
        problem_cls = AUGMENTERS.get(name)
    except KeyError as err:
        raise ConfigError(f"augmenter.name: {err.args[0]}") from None
    cfg.augmenter = from_dict(problem_cls.config_class, augmenter, prefix="augmenter")
    return cfg


def load_config(name_or_path: str, overrides: Optional[List[str]] = None) -> RunConfig:
    """Read a preset or YAML file, apply ``a.b=value`` overrides, and validate."""
    path = resolve_config_path(name_or_path)
    data = apply_overrides(read_yaml(path), list(overrides or []))
    try:
        return config_from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
