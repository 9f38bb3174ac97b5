"""Fixtures shared by the CLI and reliability tests."""

import pytest
import yaml

from e2eaug.config import to_dict
from tests.core_helpers import tiny_config


def _write_tiny_yaml(folder):
    path = folder / "tiny.yaml"
    cfg = tiny_config(["name=tiny"], out_dir=str(folder / "runs"))
    path.write_text(yaml.safe_dump(to_dict(cfg)))
    return path


@pytest.fixture()
def tiny_yaml(tmp_path):
    """A tiny run config as a YAML file whose runs go to ``tmp_path/runs``, named ``tiny``."""
    return _write_tiny_yaml(tmp_path)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run folder trained once per test module on the tiny config (``best.pt``, ``last.pt``)."""
    from e2eaug.cli import main
    from e2eaug.rundir import RunDir

    folder = tmp_path_factory.mktemp("tiny_run")
    assert main(["train", "--config", str(_write_tiny_yaml(folder))]) == 0
    (path,) = (folder / "runs").glob("tiny-*")
    return RunDir.open(path)
