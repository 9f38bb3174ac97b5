"""Typed configuration: YAML <-> dataclasses, unknown keys rejected, and the shared sections.

This module is the generic loader (:func:`from_dict`, :func:`to_dict`, :func:`apply_overrides`,
:func:`read_yaml`) plus the small sections every level uses (components chosen by name,
optimizers, data; hypergradient methods are in :mod:`e2eaug.hypergrad`). Each level's own dataclass lives beside its owner; the whole
run's :class:`~e2eaug.run_config.RunConfig` and ``load_config`` are in :mod:`e2eaug.run_config`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import yaml


class ConfigError(ValueError):
    """A config file or override names an unknown key or holds a value of the wrong type."""


# ----------------------------------------------------------------------------- components


@dataclass
class ComponentConfig:
    """A registered component chosen by name, with keyword arguments for its builder.

    A dataclass field of this type names its registry in its metadata
    (``field(..., metadata={"registry": "segmenter"})``) so that
    :func:`e2eaug.registry.check_components` can check ``name`` and ``kwargs`` when the config
    is loaded.
    """

    name: str = ""
    kwargs: Dict[str, Any] = field(default_factory=dict)


def component(registry: str, name: str, **kwargs: Any) -> Any:
    """A ``ComponentConfig`` field whose default is ``name(**kwargs)`` from ``registry``."""
    return field(
        default_factory=lambda: ComponentConfig(name, dict(kwargs)), metadata={"registry": registry}
    )


@dataclass
class TestSetConfig:
    """An extra test set read from a folder (e.g. train on ISIC, test on PH2)."""

    name: str = ""
    root: str = ""
    layout: str = "generic"


@dataclass
class DataConfig:
    """Where the image-mask pairs come from and how they are split.

    The test sets are fixed per dataset: drawn from ``test_seed`` alone, whatever ``n_train``
    and ``seed`` are, so every training size and seed is scored on the same images. ``seed``
    draws the validation and training pairs from the rest (a larger ``n_train`` extends the
    training set). ``source: synthetic`` draws ``task`` (skin | lung) pairs from the embedded
    generator: ``n_test`` pairs of the in-distribution domain ``id`` and of each of
    ``shifted_domains``. ``source: folder`` reads ``root`` with ``layout`` and holds ``n_test`` of
    its pairs out as the test set ``test``; ``extra_tests`` add further folder test sets.
    ``bit_depth`` scales 16/32-bit images by ``2**bit_depth - 1``; ``None`` takes the smallest
    depth that holds the largest value of each folder (and says so).
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
    test_seed: int = 0
    bit_depth: Optional[int] = None


# ----------------------------------------------------------------------------- value limits

Limit = Tuple[Callable[[Any], bool], str]
AT_LEAST_1: Limit = (lambda v: v >= 1, ">= 1")
AT_LEAST_0: Limit = (lambda v: v >= 0, ">= 0")
FINITE_AT_LEAST_0: Limit = (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
FINITE_ABOVE_0: Limit = (lambda v: math.isfinite(v) and v > 0, "a finite number > 0")

#: ``key -> (test, what the value must be)``, checked wherever a config section has the key
#: (``seg.optimizer.lr`` and ``augmenter.disc_optimizer.lr`` alike, a plug-in's sections too).
#: A dataclass whose keys mean different things than elsewhere adds or replaces entries in
#: its own ``limits`` class attribute (the hypergradient methods' ``alpha``, ``iterations``).
LIMITS: Dict[str, Limit] = {
    "lr": FINITE_ABOVE_0,
    "lam": FINITE_AT_LEAST_0,
    "batch_size": AT_LEAST_1,
    "pretrain_steps": AT_LEAST_0,
    "unroll_steps": AT_LEAST_1,
    "n_train": AT_LEAST_1,
    "n_val": AT_LEAST_1,
    "n_test": AT_LEAST_1,
    "image_size": AT_LEAST_1,
    "bit_depth": (lambda v: 1 <= v <= 32, "between 1 and 32"),
    "train_iters": AT_LEAST_1,
    "valid_every": AT_LEAST_1,
    "max_bad_steps": AT_LEAST_1,
    "early_stop_patience": AT_LEAST_0,
    "plateau_patience": AT_LEAST_0,
    "num_threads": AT_LEAST_0,
}


def _check_limit(key: str, name: str, value: Any, limits: Dict[str, Limit]) -> None:
    """Raise :class:`ConfigError` naming ``key`` when a number breaks its ``limits`` entry."""
    if name not in limits or not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    test, wanted = limits[name]
    if not test(value):
        raise ConfigError(f"{key} must be {wanted}, got {value!r}")


def check_folder_name(value: str, key: str) -> None:
    """A value that names one folder (a run's ``name``): not empty, no path separator, not
    ``.`` or ``..``, so that the folder lands inside its ``out_dir``."""
    if not value or "/" in value or "\\" in value or "\0" in value or value in (".", ".."):
        raise ConfigError(f"{key} must be a folder name (no '/', not '..'), got {value!r}")


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
        if hasattr(tp, "select"):  # a family of dataclasses; ``select`` picks one for ``value``
            tp = tp.select(value, key)
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


def _default(f: dataclasses.Field) -> Any:
    """A dataclass field's default value."""
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def from_dict(cls: Any, data: Dict[str, Any], prefix: str = "", ignored: Iterable[str] = ()) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys and values outside :data:`LIMITS`
    (and ``cls.limits``) raise :class:`ConfigError`.

    Top-level keys in ``ignored`` are dropped instead (settings meant for another class that
    may share the section, e.g. another augmenter's).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = set(fields)
    data = {k: v for k, v in data.items() if k in names or k not in set(ignored)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown config key(s) {', '.join(where + k for k in unknown)}; "
            f"{cls.__name__} accepts: {', '.join(sorted(names))}"
        )
    limits = {**LIMITS, **getattr(cls, "limits", {})}
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        if hints[name] is ComponentConfig and isinstance(value, dict) and "name" not in value:
            value = {"name": _default(fields[name]).name, **value}  # kwargs alone keep the default model
        kwargs[name] = _coerce(value, hints[name], key)
        _check_limit(key, name, kwargs[name], limits)
    return cls(**kwargs)


def flatten(tree: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """``{"a.b": value}`` of a nested mapping (a config's ``to_dict``); an empty mapping is a value."""
    out: Dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


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
        try:
            node[keys[-1]] = load_yaml(raw)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or err
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({problem})") from None
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that holds one key twice (plain YAML keeps the
    last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *anchor`` merges, not a key
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)



def load_yaml(text: str) -> Any:
    """Parse YAML text safely; a mapping with a repeated key is a ``yaml.YAMLError``."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def read_yaml(path: Path) -> Dict[str, Any]:
    """Read a YAML mapping, naming the file in any error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from None
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
