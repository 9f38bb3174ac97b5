"""The base of every hypergradient method: a dataclass of its knobs, registered by name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Dict, Optional, Tuple

from betty.configs import Config
from betty.hypergradient import jvp_fn_mapping

from e2eaug.config import ConfigError, Limit
from e2eaug.registry import Registry


@dataclass
class HypergradConfig:
    """How hypergradients pass *through* a level to the problems below it.

    ``type`` names the method; each method's subclass adds its own knobs and says which Betty
    ``Config`` fields they set (:attr:`betty_fields`). Chosen in YAML as ``hypergrad: {type:
    neumann, iterations: 3, alpha: 0.1}``; a ``--set`` that changes ``type`` should replace
    the whole section (``--set seg.hypergrad={type: neumann, iterations: 3}``), since methods
    may share knob names with other meanings (darts' and neumann's ``alpha``).
    """

    type: str = "identity"

    #: ``{knob: Betty Config field}`` for this method's knobs.
    betty_fields: ClassVar[Dict[str, str]] = {}
    #: The knob the benchmark suite varies to trace this method's error against its cost, the
    #: settings its knob sweep measures (knob -> value; others at their defaults), and the one
    #: setting its scaling study and smoke test measure.
    swept: ClassVar[Optional[str]] = None
    sweep: ClassVar[Tuple[Dict[str, Any], ...]] = ({},)
    representative: ClassVar[Dict[str, Any]] = {}
    #: ``{knob: (test, what it must be)}``, checked when the config loads (:data:`e2eaug.config.LIMITS`).
    limits: ClassVar[Dict[str, Limit]] = {}

    @classmethod
    def select(cls, value: Any, key: str) -> type:
        """The registered method class for the mapping ``value`` (by its ``type``)."""
        name = value.get("type", cls.type) if isinstance(value, dict) else cls.type
        try:
            return METHODS.get(name)
        except KeyError as err:
            raise ConfigError(f"{key}.type: {err.args[0]}") from None

    def knobs(self) -> Dict[str, Any]:
        """The knobs and their values (everything but ``type``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "type"}

    def betty_config(self, unroll_steps: int = 1) -> Config:
        """Betty's per-problem ``Config`` for this method."""
        if unroll_steps < 1:
            raise ConfigError(f"unroll_steps must be >= 1, got {unroll_steps}")
        fields = {self.betty_fields[k]: v for k, v in self.knobs().items()}
        return Config(type=self.type, unroll_steps=unroll_steps, **fields)


def _check(name: str, cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, HypergradConfig)):
        raise TypeError(f"hypergradient method {name!r} must be a HypergradConfig subclass")
    if cls.type != name:
        raise TypeError(f"hypergradient method {name!r}: {cls.__name__}.type defaults to {cls.type!r}")
    missing = set(cls().knobs()) - set(cls.betty_fields)
    if missing:
        raise TypeError(f"hypergradient method {name!r}: no Betty field for knob(s) {sorted(missing)}")


METHODS = Registry("hypergradient method", check=_check)
"""Method name -> its config dataclass."""


def register(name: str, fn: Optional[Callable] = None) -> Callable[[type], type]:
    """Register a method's config dataclass as ``name``; with ``fn``, also put ``fn`` in Betty's
    table of methods under ``name`` (never over one of Betty's own)."""

    def decorator(cls: type) -> type:
        if fn is not None:
            existing = jvp_fn_mapping.get(name)
            if existing is not None and existing is not fn:
                raise RuntimeError(f"Betty already has a hypergradient method named {name!r}")
            jvp_fn_mapping[name] = fn
        elif name not in jvp_fn_mapping:
            raise RuntimeError(f"Betty has no hypergradient method named {name!r}")
        return METHODS.register(name)(cls)

    return decorator
