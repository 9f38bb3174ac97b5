"""Fixtures shared by the CLI and reliability tests."""

import pytest
import yaml

from e2eaug.config import to_dict
from tests.core_helpers import tiny_config


@pytest.fixture()
def tiny_yaml(tmp_path):
    """A tiny run config as a YAML file whose runs go to ``tmp_path/runs``, named ``tiny``."""
    path = tmp_path / "tiny.yaml"
    cfg = tiny_config(["name=tiny"], out_dir=str(tmp_path / "runs"))
    path.write_text(yaml.safe_dump(to_dict(cfg)))
    return path
