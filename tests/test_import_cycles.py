"""The package's import graph has no cycle, counting imports inside functions too (an import
moved into a function to dodge a loop is still a loop)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[1]
#: Installed package name -> source folder (``problems/`` and ``engines/`` install inside e2eaug).
SOURCES = {"e2eaug": ROOT / "e2eaug", "e2eaug.problems": ROOT / "problems", "e2eaug.engines": ROOT / "engines"}


def _modules() -> Dict[str, Path]:
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *(parts[:-1] if parts[-1] == "__init__" else parts)))
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    """The package's modules that ``name`` imports anywhere in its file: ``import a.b``,
    ``from a import b`` (the submodule ``a.b`` when there is one, else ``a``), relative or not."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            edges |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                edges.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {edge for edge in edges if edge in modules and edge != name}


def _cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle of ``graph`` as a path that returns to its start, or ``[]``."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_walker_finds_a_loop_hidden_in_a_function():
    graph = {"a": {"b"}, "b": set(), "c": set()}
    assert _cycle(graph) == []
    graph["b"].add("a")
    assert _cycle(graph) == ["a", "b", "a"]


def test_the_package_has_no_import_cycle():
    modules = _modules()
    assert {"e2eaug.problems.gan", "e2eaug.engines.e2eaug_engine", "e2eaug.config"} <= set(modules)
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "e2eaug.registry" in graph["e2eaug.problems.gan"]
    cycle = _cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)
