"""Bad input and first contact, tried as a careless user would: each case one clear line,
a non-zero exit code, and nothing an earlier run wrote lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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


@pytest.mark.parametrize(
    "error",
    [
        MemoryError("Unable to allocate 6.55 TiB for an array with shape (60, 3, 100000, 100000)"),
        RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate memory"),
    ],
)
def test_running_out_of_memory_is_one_line_and_leaves_no_folder(tiny_yaml, capsys, monkeypatch, error):
    """``--set data.image_size=100000`` asks NumPy for 6.55 TiB; the allocation's failure is
    raised here without asking, so the test holds under any overcommit setting."""

    def allocate(*args, **kwargs):
        raise error

    monkeypatch.setattr("e2eaug.data.build.make_synthetic", allocate)
    assert main(["train", "--config", str(tiny_yaml), "--set", "data.image_size=100000"]) == 2
    line = _error_line(capsys)
    assert line.startswith("e2eaug: error: out of memory (") and "lower data.image_size" in line
    assert not (tiny_yaml.parent / "runs").exists()


def test_other_runtime_errors_are_not_called_out_of_memory(tiny_yaml, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("e2eaug.data.build.make_synthetic", fail)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["train", "--config", str(tiny_yaml)])


def _train_tiny(tiny_yaml) -> RunDir:
    assert main(["train", "--config", str(tiny_yaml)]) == 0
    (path,) = (tiny_yaml.parent / "runs").glob("tiny-*")
    return RunDir(path)


def test_a_resume_of_a_run_that_is_training_is_refused_and_writes_nothing(tiny_yaml, capsys):
    run = _train_tiny(tiny_yaml)
    before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    capsys.readouterr()
    with run.lock():  # the process training it
        resume = ["train", "--resume", str(run.path), "--set", "engine.train_iters=6"]
        assert main(resume) == 2
        assert f"{run.path}: another e2eaug process is training this run" in _error_line(capsys)
    assert {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()} == before
    assert main(resume) == 0  # the lock went with its holder
    assert [r["step"] for r in run.read_metrics()] == [2, 4, 6]


def test_sigterm_before_the_first_checkpoint_says_so_and_leaves_no_folder(tiny_yaml):
    command = [sys.executable, "-m", "e2eaug", "train", "--config", str(tiny_yaml),
               "--set", "engine.train_iters=100000", "--set", "engine.valid_every=100000"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list((tiny_yaml.parent / "runs").glob("tiny-*/config.yaml")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert err.strip().splitlines()[-1] == "e2eaug: error: terminated; no checkpoint was kept"
    assert not list((tiny_yaml.parent / "runs").iterdir())


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute", "..", "a/b", ""])
def test_a_run_name_that_is_not_a_folder_name_is_refused(tiny_yaml, tmp_path, capsys, name):
    assert main(["train", "--config", str(tiny_yaml), "--set", f"name={name!r}"]) == 2
    assert f"name must be a folder name (no '/', not '..'), got {name!r}" in _error_line(capsys)
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent / "escaped").exists()


def test_an_experiment_name_that_is_not_a_folder_name_is_refused(tmp_path, capsys):
    path = _spec_file(tmp_path)
    path.write_text(path.read_text().replace("name: tiny", "name: ../outside"))
    assert main(["experiment", "--config", str(path)]) == 2
    assert "name must be a folder name" in _error_line(capsys)


def test_resume_of_a_folder_refuses_a_config_it_would_ignore(tiny_yaml, capsys):
    run = _train_tiny(tiny_yaml)
    capsys.readouterr()
    assert main(["train", "--resume", str(run.path), "--config", "lung_synthetic"]) == 2
    line = _error_line(capsys)
    assert f"--config lung_synthetic differs from {run.config_path} at arch.batch_size, " in line
    assert "a resumed run keeps its own config" in line and "and more" in line
    other = tiny_yaml.with_name("other.yaml")
    other.write_text(tiny_yaml.read_text().replace("seed: 0\n", "seed: 5\n", 1))
    assert main(["train", "--resume", str(run.path), "--config", str(other)]) == 2
    assert f"--config {other} differs from {run.config_path} at data.seed: a resumed" in _error_line(capsys)
    assert [r["step"] for r in run.read_metrics()] == [2, 4]  # nothing was resumed
    same = ["train", "--resume", str(run.path), "--config", str(tiny_yaml), "--set", "engine.train_iters=6"]
    assert main(same) == 0


def test_two_images_with_one_stem_are_refused_naming_both(tmp_path, capsys):
    from PIL import Image

    for sub in ("images", "masks"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(tmp_path / "data" / "images" / "IMD002.png")
    Image.new("RGB", (16, 16)).save(tmp_path / "data" / "images" / "IMD002.jpg")
    Image.new("L", (16, 16)).save(tmp_path / "data" / "masks" / "IMD002.png")
    root = tmp_path / "data"
    assert main(["train", "--set", "data.source=folder", "--set", f"data.root={root}", "--set", f"out_dir={tmp_path / 'runs'}"]) == 2
    line = _error_line(capsys)
    assert f"{root / 'images'}: IMD002.jpg and IMD002.png have one stem, 'IMD002'" in line
    assert not (tmp_path / "runs").exists()


def test_export_errors_name_the_users_path_not_a_temporary_file(tiny_run, tmp_path, capsys):
    taken = tmp_path / "model.pt"
    taken.mkdir()  # a folder where the model file should go
    assert main(["export", "--run", str(tiny_run.path), "--format", "state_dict", "--out", str(taken)]) == 2
    line = _error_line(capsys)
    assert str(taken) in line and ".tmp" not in line
    assert list(tmp_path.iterdir()) == [taken] and not list(taken.iterdir())


def test_progress_written_to_a_file_is_whole_lines(tiny_yaml):
    command = [sys.executable, "-m", "e2eaug", "train", "--config", str(tiny_yaml), "--set", "engine.progress=true",
               "--set", "engine.train_iters=20", "--set", "engine.valid_every=10", "--set", "augmenter.pretrain_steps=3"]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=300)  # stderr is a pipe, not a terminal
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "\r" not in ran.stderr + ran.stdout
    steps = [line for line in ran.stderr.splitlines() if line.startswith("e2eaug: ")]
    assert [line.split()[1] for line in steps] == [f"{k}/20" for k in range(2, 21, 2)]
    assert "about" in steps[0] and "seg " in steps[-1]  # time left and the levels' losses
    assert [line.split()[2] for line in ran.stderr.splitlines() if line.startswith("pretrain")] == ["1/3", "2/3", "3/3"]


def test_an_experiment_whose_cells_failed_exits_1_with_one_error_line(tmp_path, capsys):
    path = _spec_file(tmp_path, n_train=(50,), augmenters=["none"], seeds=[0])  # 50 > the 12 pairs
    assert main(["experiment", "--config", str(path)]) == 1
    line = _error_line(capsys)
    assert "1 of the experiment's cells failed: toy-n50-unet-none-s0 (each cell's error.txt" in line
