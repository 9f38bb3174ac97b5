"""Name -> builder registries, so components are chosen by name from YAML.

A user's class plugs in with a decorator and no edit to e2eaug::

    from e2eaug.registry import SEGMENTERS

    @SEGMENTERS.register("my_segmenter")
    class MySegmenter(torch.nn.Module):
        def __init__(self, *, in_channels, num_classes): ...

    build(SEGMENTERS, "my_segmenter", in_channels=3, num_classes=1)

The YAML then says ``segmenter: {name: my_segmenter, kwargs: {...}}``. The module that defines
the class must be imported before the run starts (``plugins:`` in the config lists such modules).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator


class Registry:
    """A named table of builders (classes or functions) of one kind of component.

    Args:
        kind: what the table holds, used in error messages (e.g. ``"segmenter"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: Dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering a class or builder function under ``name``."""

        def decorator(obj: Callable[..., Any]) -> Callable[..., Any]:
            existing = self._entries.get(name)
            if existing is not None and existing is not obj:
                raise ValueError(f"{self.kind} name {name!r} is already registered to {existing!r}")
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
        """Call the builder registered as ``name`` with keyword arguments only."""
        builder = self.get(name)
        try:
            return builder(**kwargs)
        except TypeError as err:
            raise TypeError(f"cannot build {self.kind} {name!r} with {sorted(kwargs)}: {err}") from err

    def names(self) -> list:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")
SEGMENTERS = Registry("segmenter")
AUGMENTERS = Registry("augmenter")


def build(registry: Registry, name: str, **kwargs: Any) -> Any:
    """Build the component ``name`` from ``registry`` with keyword arguments."""
    return registry.build(name, **kwargs)
