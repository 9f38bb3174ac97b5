"""Bad input and first contact, tried as a careless user would: each case one clear line,
a non-zero exit code, and nothing an earlier run wrote lost."""

from __future__ import annotations

import os

import pytest
import yaml

from e2eaug.cli import main
from e2eaug.config import to_dict
from e2eaug.experiment import load_experiment
from e2eaug.experiment.runner import cell_state
from e2eaug.rundir import RunDir
from tests.test_experiment import _spec_file


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("e2eaug: error: "), err
    return err[0]


def _fake_run(out, name: str) -> RunDir:
    """A folder that looks like a resumable run (config.yaml and last.pt)."""
    run = RunDir(out / name)
    run.path.mkdir(parents=True)
    run.config_path.write_text("name: tiny\n")
    run.checkpoint_path("last").write_bytes(b"")
    return run


def test_resume_picks_the_run_created_last_not_the_one_touched_last(tmp_path):
    old = _fake_run(tmp_path, "tiny-20260101-120000")
    _fake_run(tmp_path, "tiny-20260102-120000")
    newest = _fake_run(tmp_path, "tiny-20260102-120000-10")  # after -2 .. -9 in the same second
    _fake_run(tmp_path, "tiny-20260102-120000-2")
    _fake_run(tmp_path, "tiny-x-20270101-000000")  # a run of the config named tiny-x
    os.utime(old.path / "config.yaml", (4e9, 4e9))  # evaluate / derive wrote into the old one
    os.utime(old.path, (4e9, 4e9))
    assert RunDir.latest(tmp_path, "tiny").path == newest.path


def test_experiment_never_imports_plugins_named_only_by_a_cell_folder(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_plugin.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = load_experiment(_spec_file(tmp_path))
    cell = spec.cells()[0]
    cell.path.mkdir(parents=True)
    saved = to_dict(cell.config)
    saved["plugins"] = ["evil_plugin"]
    RunDir(cell.path).config_path.write_text(yaml.safe_dump(saved))
    assert cell_state(cell) == "conflict"
    assert not marker.exists()


@pytest.mark.parametrize(
    "section,named",
    [
        ("{type: neumann, iterations: -3}", "seg.hypergrad.iterations must be >= 1, got -3"),
        ("{type: cg_fixed, iterations: -1}", "seg.hypergrad.iterations must be >= 1, got -1"),
        ("{type: cg, iterations: 0}", "seg.hypergrad.iterations must be >= 1, got 0"),
        ("{type: darts, alpha: -5}", "seg.hypergrad.alpha must be a finite number > 0, got -5.0"),
        ("{type: darts, alpha: 0}", "seg.hypergrad.alpha must be a finite number > 0, got 0.0"),
        ("{type: darts_shared, alpha: 0}", "seg.hypergrad.alpha must be a finite number > 0, got 0.0"),
        ("{type: neumann, alpha: .nan}", "seg.hypergrad.alpha must be a finite number > 0, got nan"),
        ("{type: sama, adam_alpha: .inf}", "seg.hypergrad.adam_alpha must be a finite number > 0, got inf"),
    ],
)
def test_hypergradient_knobs_out_of_range_are_refused_naming_the_key(tiny_yaml, capsys, section, named):
    assert main(["train", "--config", str(tiny_yaml), "--set", f"seg.hypergrad={section}"]) == 2
    assert named in _error_line(capsys)
    assert not (tiny_yaml.parent / "runs").exists()


def test_a_key_given_twice_in_a_config_is_refused_naming_the_line(tiny_yaml, capsys):
    tiny_yaml.write_text(tiny_yaml.read_text() + "seed: 3\n")  # the file already sets seed
    assert main(["train", "--config", str(tiny_yaml)]) == 2
    line = _error_line(capsys)
    assert f"{tiny_yaml}, line " in line and "key 'seed' appears twice in one mapping" in line
    assert not (tiny_yaml.parent / "runs").exists()


def test_a_value_with_a_key_twice_in_set_is_refused(tiny_yaml, capsys):
    assert main(["train", "--config", str(tiny_yaml), "--set", "seg.hypergrad={type: darts, type: neumann}"]) == 2
    assert "key 'type' appears twice" in _error_line(capsys)


@pytest.mark.parametrize(
    "change,named",
    [
        ({"seeds": [0, 0]}, "seeds: 0 listed more than once"),
        ({"n_train": [4, 4]}, "n_train: 4 listed more than once"),
        ({"augmenters": ["none", "combine", "none"]}, "augmenters: none listed more than once"),
    ],
)
def test_an_experiment_axis_listing_a_value_twice_is_refused(tmp_path, capsys, change, named):
    path = _spec_file(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec.update(change)
    path.write_text(yaml.safe_dump(spec))
    assert main(["experiment", "--config", str(path)]) == 2
    assert f"{path}: {named}" in _error_line(capsys)


def test_an_experiment_label_given_twice_is_refused(tmp_path, capsys):
    path = _spec_file(tmp_path)
    path.write_text(path.read_text().replace("augmenters:\n- none\n- e2eaug\n", "augmenters:\n  none: []\n  none: [augmenter.lam=2]\n"))
    assert "none: [augmenter.lam=2]" in path.read_text()
    assert main(["experiment", "--config", str(path)]) == 2
    assert "key 'none' appears twice" in _error_line(capsys)
