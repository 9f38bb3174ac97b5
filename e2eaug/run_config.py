"""A whole run's config: presets, inheritance, overrides, and the augmenter section.

``load_config(name_or_path, overrides)`` reads a preset (``e2eaug presets`` lists them) or a
YAML file into :class:`RunConfig`; overrides are ``"a.b=value"`` strings whose value is parsed
as YAML (``--set augmenter.lam=0.5``). A file may start from another preset with
``base: <preset or path>`` and change only what differs (mappings merge key by key; any other
value, lists included, replaces the base's). ``to_dict`` gives the fully resolved config back
for saving next to a run's outputs.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from e2eaug.config import (
    ConfigError,
    DataConfig,
    apply_overrides,
    check_folder_name,
    from_dict,
    read_yaml,
)
from e2eaug.engines import EngineSettings
from e2eaug.problems import ArchConfig, GANConfig, SegConfig
from e2eaug.registry import AUGMENTERS, check_components
from e2eaug.rundir import RunDir

PRESETS_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_PRESET = "skin_synthetic"


@dataclass
class RunConfig:
    """A whole e2eaug run; the defaults are the ``skin_synthetic`` preset's values.

    ``augmenter`` is parsed by the ``config_class`` of the augmenter registered under its
    ``name`` (``e2eaug`` by default, :class:`~e2eaug.problems.GANConfig`), so a plug-in
    augmenter brings its own keys. ``plugins`` lists modules imported before anything is
    parsed or built (where plug-ins register).
    """

    name: str = DEFAULT_PRESET
    seed: int = 0
    out_dir: str = "runs"
    plugins: List[str] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    augmenter: Any = field(default_factory=GANConfig)
    seg: SegConfig = field(default_factory=SegConfig)
    arch: ArchConfig = field(default_factory=ArchConfig)
    engine: EngineSettings = field(default_factory=EngineSettings)


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


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_config_file(name_or_path: str, _seen: tuple = ()) -> Dict[str, Any]:
    """A preset or YAML file as a plain mapping, with its ``base:`` chain merged in."""
    path = resolve_config_path(name_or_path).resolve()
    if path in _seen:
        raise ConfigError(f"{path}: 'base' chain loops back to itself")
    data = read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base must name a preset or YAML file, got {base!r}")
    if not Path(base).is_absolute() and (path.parent / base).exists():
        base = str(path.parent / base)
    return _merge(read_config_file(base, _seen + (path,)), data)


def _other_augmenter_keys(chosen: type) -> set:
    """Keys of every registered augmenter's section that ``chosen``'s config lacks."""
    keys = set()
    for name in AUGMENTERS:
        keys |= {f.name for f in dataclasses.fields(AUGMENTERS.get(name).config_class)}
    return keys - {f.name for f in dataclasses.fields(chosen)}


#: Options of the finished method study (``benchmarks/results/study/README.md``) that left the
#: augmenters, each with the test of the value that kept it off. A run folder saved while they
#: existed holds them all; it still loads when every one of them was off.
RETIRED_AUGMENTER_KEYS = {
    "lam_warmup": lambda v: v == 0,
    "mask_elastic": lambda v: v == 0,
    "real_jitter": lambda v: v == 0,
    "gen_jitter": lambda v: v == 0,
    "search_warp": lambda v: v is False,
    "search_cell_scales": lambda v: v is False,
    "search_jitter": lambda v: v is False,
    "gan_warp": lambda v: isinstance(v, dict) and not v.get("ops"),
    "disc_aug": lambda v: v == [],
    "code_dim": lambda v: v == 0,
    "code_at": lambda v: True,
    "mode_seeking": lambda v: v == 0,
}
STUDY_COMMIT = "03116e4"


def _drop_retired(augmenter: Dict[str, Any]) -> Dict[str, Any]:
    """``augmenter`` without the retired study keys that were off; one that was on is an error."""
    for key, off in RETIRED_AUGMENTER_KEYS.items():
        if key in augmenter and not off(augmenter.pop(key)):
            raise ConfigError(
                f"augmenter.{key}: a study option that has left e2eaug (benchmarks/results/study/README.md); "
                f"a config that sets it runs at commit {STUDY_COMMIT}"
            )
    return augmenter


def _named_warps(augmenter: Dict[str, Any]) -> Dict[str, Any]:
    """``mask_aug`` and ``real_warp`` given by their old ``ops`` list (``[]``, one op, or all
    three) as the transform name that does the same."""
    for key in ("mask_aug", "real_warp"):
        section = augmenter.get(key)
        if isinstance(section, dict) and "ops" in section:
            section = dict(section)
            ops = section.pop("ops")
            names = {(): "none", ("flip",): "flip", ("rotate",): "rotate", ("translate",): "translate"}
            ops = tuple(sorted(ops)) if isinstance(ops, list) else ops
            name = "combine" if ops == ("flip", "rotate", "translate") else names.get(ops)
            if name is None or "name" in section:
                raise ConfigError(f"augmenter.{key}.ops: give the transform as {key}.name (one of "
                                  "none, rotate, flip, translate, combine, nnunet)")
            augmenter[key] = {"name": name, **section}
    return augmenter


def config_from_dict(data: Dict[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig`: import plug-ins, parse the augmenter section, check models.

    The ``augmenter:`` section may hold settings of several augmenters (a preset's GAN
    settings stay when ``--set augmenter.name=combine`` picks another): the chosen one reads
    its own keys and ignores those of other registered augmenters; a key that no registered
    augmenter knows is an error.
    """
    data = dict(data)
    augmenter = data.pop("augmenter", None) or {}
    if not isinstance(augmenter, dict):
        raise ConfigError(f"augmenter: expected a mapping, got {augmenter!r}")
    augmenter = _named_warps(_drop_retired(dict(augmenter)))
    cfg = from_dict(RunConfig, data)
    check_folder_name(cfg.name, "name")
    for module in cfg.plugins:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"plugins: cannot import {module!r}: {err}") from err
    name = augmenter.setdefault("name", RunConfig().augmenter.name)
    try:
        config_class = AUGMENTERS.get(name).config_class
    except KeyError as err:
        raise ConfigError(f"augmenter.name: {err.args[0]}") from None
    cfg.augmenter = from_dict(config_class, augmenter, "augmenter", ignored=_other_augmenter_keys(config_class))
    check_components(cfg)
    return cfg


def read_run_config(run: RunDir, overrides: Optional[List[str]] = None, trust_plugins: bool = False) -> RunConfig:
    """A run folder's saved config, with ``a.b=value`` overrides.

    Importing the ``plugins`` the saved config names runs their code, so a folder that names
    any is refused unless ``trust_plugins``.
    """
    saved = read_yaml(run.config_path)
    if saved.get("plugins") and not trust_plugins:
        raise ConfigError(
            f"{run.config_path} names plugins {saved['plugins']!r}, and importing them runs their "
            "code; pass --trust-plugins if you trust this run folder"
        )
    return config_from_dict(apply_overrides(saved, list(overrides or [])))


def load_config(name_or_path: str, overrides: Optional[List[str]] = None) -> RunConfig:
    """Read a preset or YAML file (with its ``base:`` chain), apply overrides, and validate."""
    data = apply_overrides(read_config_file(name_or_path), list(overrides or []))
    try:
        return config_from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{resolve_config_path(name_or_path)}: {err}") from err
