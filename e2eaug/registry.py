"""Name -> builder registries, so components are chosen by name from YAML.

A user's class plugs in with a decorator and no edit to e2eaug::

    from e2eaug.registry import SEGMENTERS

    @SEGMENTERS.register("my_segmenter")
    class MySegmenter(torch.nn.Module):
        def __init__(self, *, in_channels, num_classes): ...

    SEGMENTERS.build("my_segmenter", in_channels=3, num_classes=1)

The YAML then says ``segmenter: {name: my_segmenter, kwargs: {...}}``. The module that defines
the class must be imported before the run starts (``plugins:`` in the config lists such modules).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Dict, Iterator, Optional

from e2eaug.config import ComponentConfig, ConfigError


class Registry:
    """A named table of builders (classes or functions) of one kind of component.

    Args:
        kind: what the table holds, used in error messages (e.g. ``"segmenter"``).
    """

    def __init__(self, kind: str, check: Optional[Callable[[str, Any], None]] = None) -> None:
        self.kind = kind
        self.check = check
        self._entries: Dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering a class or builder function under ``name``.

        Raises:
            ValueError: ``name`` is taken by another object.
            TypeError: the registry's ``check`` rejects the object (at import time).
        """

        def decorator(obj: Callable[..., Any]) -> Callable[..., Any]:
            existing = self._entries.get(name)
            if existing is not None and existing is not obj:
                raise ValueError(f"{self.kind} name {name!r} is already registered to {existing!r}")
            if self.check is not None:
                self.check(name, obj)
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> Callable[..., Any]:
        """The builder registered as ``name``; unknown names list the known ones."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise KeyError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}") from None

    def build(self, name: str, **kwargs: Any) -> Any:
        """Call the builder registered as ``name`` with keyword arguments only.

        Raises:
            ConfigError: the builder rejects the keywords or their types (a ``TypeError``).
        """
        builder = self.get(name)
        try:
            return builder(**kwargs)
        except TypeError as err:
            raise ConfigError(f"cannot build {self.kind} {name!r} with {sorted(kwargs)}: {err}") from err

    def names(self) -> list:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _check_augmenter(name: str, cls: Any) -> None:
    """An augmenter class must say which dataclass parses its ``augmenter:`` section."""
    config_class = getattr(cls, "config_class", None)
    if not (isinstance(config_class, type) and dataclasses.is_dataclass(config_class)):
        raise TypeError(
            f"augmenter {name!r}: {getattr(cls, '__name__', cls)}.config_class must be the "
            f"dataclass of its YAML section, got {config_class!r}"
        )
    if "name" not in {f.name for f in dataclasses.fields(config_class)}:
        raise TypeError(f"augmenter {name!r}: {config_class.__name__} needs a 'name' field")


GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")
SEGMENTERS = Registry("segmenter")
AUGMENTERS = Registry("augmenter", check=_check_augmenter)

REGISTRIES = {r.kind: r for r in (GENERATORS, DISCRIMINATORS, SEGMENTERS, AUGMENTERS)}
"""Every registry by the ``kind`` it holds (what ``ComponentConfig`` field metadata names)."""


#: Builder keywords e2eaug fills in itself (from the data), per registry kind.
SUPPLIED = {
    "segmenter": ("in_channels", "num_classes"),
    "generator": ("in_channels", "out_channels"),
    "discriminator": ("mask_channels", "image_channels"),
}


def check_components(cfg: Any, prefix: str = "") -> None:
    """Check every :class:`ComponentConfig` in ``cfg`` (recursively) against its registry.

    An unknown ``name``, a keyword its builder does not take or one e2eaug fills in itself
    (:data:`SUPPLIED`) is a :class:`ConfigError` naming the key when the config loads, not as a
    traceback when the model is built.
    """
    for f in dataclasses.fields(cfg):
        value, key = getattr(cfg, f.name), f"{prefix}{f.name}"
        if isinstance(value, ComponentConfig) and "registry" in f.metadata:
            registry = REGISTRIES[f.metadata["registry"]]
            try:
                builder = registry.get(value.name)
            except KeyError as err:
                raise ConfigError(f"{key}.name: {err.args[0]}") from None
            supplied = sorted(set(value.kwargs) & set(SUPPLIED.get(registry.kind, ())))
            if supplied:
                raise ConfigError(f"{key}.kwargs: {', '.join(supplied)} is set by e2eaug from the data; remove it")
            params = inspect.signature(builder).parameters.values()
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                accepted = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
                unknown = sorted(set(value.kwargs) - accepted)
                if unknown:
                    raise ConfigError(
                        f"{key}.kwargs: {registry.kind} {value.name!r} takes no {', '.join(unknown)}; "
                        f"it takes: {', '.join(sorted(accepted))}"
                    )
        elif dataclasses.is_dataclass(value):
            check_components(value, f"{key}.")
