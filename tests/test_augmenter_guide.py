"""docs/augmenters.md, followed step by step: its code blocks written out as files, the
augmenter registered through ``plugins:``, a tiny run end to end, the contract test run on it
the way the guide says, and its experiment file loaded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from e2eaug.cli import main
from e2eaug.config import ConfigError
from e2eaug.experiment.spec import load_experiment
from e2eaug.run_config import load_config
from tests.core_helpers import TINY
from tests.doc_blocks import blocks

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "augmenters.md"


def _blocks() -> dict:
    """The guide's file blocks (first line ``# FILE...``), by file name."""
    return {block.file: block.text for block in blocks(GUIDE) if block.file}


@pytest.fixture(scope="module")
def guide_dir(tmp_path_factory):
    """The guide's files in a folder on ``sys.path``; ``my_aug`` imported once (it registers)."""
    folder = tmp_path_factory.mktemp("guide")
    blocks = _blocks()
    assert set(blocks) == {"my_aug.py", "my_run.yaml", "my_experiment.yaml"}
    for name, text in blocks.items():
        (folder / name).write_text(text)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))


def test_the_guides_augmenter_runs_end_to_end_from_its_yaml(guide_dir, tmp_path, capsys):
    tiny = [item for item in TINY if not item.startswith("augmenter.")] + ["augmenter.batch_size=4"]
    sets = [arg for item in [*tiny, f"out_dir={tmp_path}"] for arg in ("--set", item)]
    assert main(["run", "--config", str(guide_dir / "my_run.yaml"), *sets]) == 0
    (run,) = tmp_path.glob("my_run-*")
    assert (run / "results.json").is_file() and (run / "samples.png").is_file()
    assert "test set" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="augmenter.width"):
        load_config(str(guide_dir / "my_run.yaml"), ["augmenter.width=0"])


def test_the_contract_test_checks_it_as_the_guide_says(guide_dir):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(guide_dir), str(ROOT)])}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "my_aug", "tests/test_augmenter_contract.py",
               "-k", "noisy_renderer"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\b[3-9] passed", result.stdout), result.stdout[-1000:]  # contract + side effects x2


def test_the_guides_experiment_file_loads(guide_dir):
    spec = load_experiment(guide_dir / "my_experiment.yaml", profile="quick")
    labels = {cell.augmenter: cell.config.augmenter for cell in spec.cells()}
    assert set(labels) == {"none", "combine", "noisy_renderer", "noisy_renderer_loud"}
    assert labels["noisy_renderer_loud"].noise == 0.2 and len(spec.cells()) == 12
