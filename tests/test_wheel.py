"""``pip install .`` (not editable): the wheel holds every module and imports from itself alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"e2eaug": ROOT / "e2eaug", "e2eaug.problems": ROOT / "problems", "e2eaug.engines": ROOT / "engines"}
SKIP = shutil.ignore_patterns(".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")


def _source_modules() -> set:
    """Every module the package's source folders hold, by its installed name."""
    found = set()
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.add(".".join((package, *parts)))
    return found


def _wheel_modules(wheel: Path) -> set:
    names = zipfile.ZipFile(wheel).namelist()
    return {n[:-3].replace("/", ".").removesuffix(".__init__") for n in names if n.endswith(".py")}


def test_the_wheel_installs_every_module_and_imports_from_itself(tmp_path):
    source = tmp_path / "source"  # a copy, so no stale build/ folder of the checkout leaks in
    shutil.copytree(ROOT, source, ignore=SKIP)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("e2eaug-*.whl")
    modules = _wheel_modules(wheel)
    assert modules == _source_modules()
    assert any(n.startswith("e2eaug/configs/") and n.endswith(".yaml") for n in zipfile.ZipFile(wheel).namelist())

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import importlib, sys\n"
        f"site = {str(site)!r}\n"
        f"for name in {sorted(m for m in modules if not m.endswith('__main__'))!r}:  # __main__ runs the CLI\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(site), (name, module.__file__)\n"
        "from e2eaug.run_config import load_config\n"
        "print(load_config('skin_synthetic').augmenter.name)\n"
    )
    env = {"PYTHONPATH": str(site), "PYTHONSAFEPATH": "1", "PATH": "/usr/bin:/bin"}
    ran = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip() == "e2eaug"
