"""The experiment harness on a tiny grid: cells, reports, resumption, a failing cell, compare."""

from __future__ import annotations

import csv
import errno
import fcntl
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from e2eaug.cli import main
from e2eaug.config import ConfigError, to_dict
from e2eaug.experiment import compare_table, load_experiment, run_experiment
from e2eaug.experiment.report import COLUMNS
from e2eaug.experiment.runner import LOCK_FILE, ExperimentLocked, cell_state, runner_lock
from tests.core_helpers import TINY


def _folder(root, n=12, size=16):
    """A tiny generic-layout dataset of ``n`` squares (made once per folder)."""
    if root.is_dir():
        return root
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        mask = np.zeros((size, size), np.uint8)
        x, y = rng.integers(2, 8, 2)
        mask[y : y + 6, x : x + 6] = 255
        image = (rng.random((size, size, 3)) * 60 + (mask[..., None] > 0) * 150).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"im{i:02d}.png")
        Image.fromarray(mask).save(root / "masks" / f"im{i:02d}.png")
    return root


def _spec_file(tmp_path, n_train=(4,), **extra):
    tiny = [o for o in TINY if not o.startswith(("data.n_", "data.image_size"))]
    spec = {
        "name": "tiny",
        "out_dir": str(tmp_path / "out"),
        "data": {"toy": {"config": "ph2", "set": [f"data.root={_folder(tmp_path / 'toy')}", "data.n_test=4",
                                                    "data.n_val=2", "data.image_size=16"]}},
        "n_train": list(n_train),
        "augmenters": ["none", "e2eaug"],
        "seeds": [0, 1],
        "set": tiny + ["engine.train_iters=2", "engine.valid_every=1"],
        "profiles": {"longer": {"set": ["engine.train_iters=3"], "seeds": [0]}},
        **extra,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_grid_reports_and_resumption(tmp_path, capsys):
    spec = load_experiment(_spec_file(tmp_path, compare=[["none", "e2eaug"], ["e2eaug", "none"]]))
    cells = spec.cells()
    assert [c.label for c in cells] == [f"toy-n4-unet-{a}-s{s}" for a in ("none", "e2eaug") for s in (0, 1)]
    assert cells[1].config.seed == cells[1].config.data.seed == 1

    lines = []
    assert run_experiment(spec, echo=lines.append) == []
    assert lines[0].endswith("4 cells, 0 finished, 4 to run with 1 job(s)")
    assert sum(line.startswith("[") for line in lines) == 4 and "toy-n4-unet-e2eaug-s1: dice test" in lines[4]
    folder = spec.folder
    with open(folder / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 4
    assert {r["n_images"] for r in rows} == {"4"}  # the same fixed test set in every cell
    assert all(float(r["hd95"]) >= 0 and 0 <= float(r["nsd"]) <= 1 for r in rows)
    per_image = [sorted(r["image"] for r in csv.DictReader(open(folder / c.label / "per_image.csv"))) for c in cells]
    assert all(images == per_image[0] for images in per_image)
    md = (folder / "results.md").read_text()
    assert "| HD95 (px) | NSD |" in md and "test set `test` (scored at own size)" in md  # folder data
    assert "| e2eaug | 2 |" in md and "Wilcoxon signed-rank p =" in md and "`e2eaug` vs `none` (best baseline by validation)" in md
    named = next(line for line in md.splitlines() if line.startswith("- `none` vs `e2eaug`: dice"))
    assert "ahead in" in named and "of 2 seeds" in named and "over 8 (seed, image) pairs" in named
    assert sum(line.startswith("- `e2eaug` vs `none`") for line in md.splitlines()) == 1  # named and chosen: once
    assert (folder / "figure_toy_unet_test.png").stat().st_size > 0
    assert yaml.safe_load((folder / "experiment.yaml").read_text())["name"] == "tiny"

    # finished cells are skipped; a deleted result is run again
    (folder / cells[0].label / "results.json").unlink()
    lines.clear()
    assert run_experiment(spec, echo=lines.append) == []
    assert lines[0].endswith("4 cells, 3 finished, 1 to run with 1 job(s)") and cells[0].label in lines[1]

    table = compare_table([folder])
    assert len(table.splitlines()) == 1 + 4 and "e2eaug" in table and "HD95" in table.splitlines()[0]
    assert main(["compare", str(folder / cells[0].label)]) == 0
    assert cells[0].label[:39] in capsys.readouterr().out


def test_a_failing_cell_is_reported_and_the_rest_go_on(tmp_path):
    spec = load_experiment(_spec_file(tmp_path, n_train=(4, 50)))  # 50 > the 12 pairs
    lines = []
    failed = run_experiment(spec, echo=lines.append)
    assert sorted(failed) == [f"toy-n50-unet-{a}-s{s}" for a in ("e2eaug", "none") for s in (0, 1)]
    assert sum("FAILED" in line and "larger than the 12 pairs" in line for line in lines) == 4
    assert (spec.folder / failed[0] / "error.txt").is_file()
    assert len(list(csv.DictReader(open(spec.folder / "results.csv")))) == 4  # the 4 good cells


def test_profiles_and_bad_files(tmp_path):
    path = _spec_file(tmp_path)
    spec = load_experiment(path, "longer")
    assert spec.seeds == [0] and spec.folder.name == "tiny-longer"
    assert spec.cells()[0].config.engine.train_iters == 3
    with pytest.raises(ConfigError, match="no profile 'fast'; profiles: longer"):
        load_experiment(path, "fast")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"augmenters": ["nope"], "out_dir": str(tmp_path)}))
    with pytest.raises(ConfigError, match="cell skin-n40-unet-nope-s0: augmenter.name: unknown augmenter 'nope'"):
        load_experiment(bad)
    for pair, error in ([["none"]], "each entry is two different augmenter labels"), ([["none", "combine"]], "'combine' is not one of the augmenters"):
        bad.write_text(yaml.safe_dump({"augmenters": ["none", "e2eaug"], "compare": pair, "out_dir": str(tmp_path)}))
        with pytest.raises(ConfigError, match=error):
            load_experiment(bad)
    bad.write_text(yaml.safe_dump({"seedz": [1]}))
    with pytest.raises(ConfigError, match="seedz"):
        load_experiment(bad)


def test_a_changed_config_never_overwrites_a_cell(tmp_path):
    spec = load_experiment(_spec_file(tmp_path, augmenters=["none"], seeds=[0]))
    assert run_experiment(spec, echo=lambda line: None) == []
    changed = load_experiment(_spec_file(tmp_path, augmenters=["none"], seeds=[0], metric="jaccard"))
    changed.set.append("seg.batch_size=2")
    lines = []
    assert run_experiment(changed, echo=lines.append) == ["toy-n4-unet-none-s0"]
    assert "holds a run of another config" in lines[1]
    saved = yaml.safe_load((spec.folder / "toy-n4-unet-none-s0" / "config.yaml").read_text())
    assert saved == to_dict(spec.cells()[0].config)


def test_a_cell_saved_before_a_key_was_added_is_still_finished(tmp_path):
    spec = load_experiment(_spec_file(tmp_path, augmenters=["none"], seeds=[0]))
    assert run_experiment(spec, echo=lambda line: None) == []
    (cell,) = spec.cells()
    path = cell.path / "config.yaml"
    saved = yaml.safe_load(path.read_text())
    del saved["engine"]["max_bad_steps"]  # as written by a version without the key (default 10)
    path.write_text(yaml.safe_dump(saved))
    assert cell_state(cell) == "finished"
    saved["engine"]["max_bad_steps"] = 5
    path.write_text(yaml.safe_dump(saved))
    assert cell_state(cell) == "conflict"


def test_a_variant_runs_under_its_own_label(tmp_path):
    path = _spec_file(tmp_path, augmenters={"none": [], "e2eaug_half": ["augmenter.name=e2eaug", "augmenter.lam=0.5"]},
                      seeds=[0])
    cells = {c.label: c.config.augmenter for c in load_experiment(path).cells()}
    assert set(cells) == {"toy-n4-unet-none-s0", "toy-n4-unet-e2eaug_half-s0"}
    assert (cells["toy-n4-unet-e2eaug_half-s0"].name, cells["toy-n4-unet-e2eaug_half-s0"].lam) == ("e2eaug", 0.5)
    assert cells["toy-n4-unet-none-s0"].name == "none"


@pytest.mark.parametrize("name", ["skin", "jsrt", "ph2", "study_lam"])
def test_shipped_experiment_files_load_in_every_profile(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / f"{name}.yaml"
    for profile in yaml.safe_load(path.read_text())["profiles"]:
        cells = load_experiment(path, profile).cells()
        assert cells and all(c.config.augmenter.name in ("none", "rotate", "flip", "translate", "combine",
                                                         "pix2pix", "gan_joint", "e2eaug") for c in cells)


def test_runs_evaluated_before_the_boundary_metrics_leave_their_cells_empty():
    from e2eaug.experiment.report import results_csv

    row = {c: 1 for c in COLUMNS} | {"dice": 0.5, "jaccard": 0.25, "hd95": None, "nsd": None}
    (parsed,) = csv.DictReader(results_csv([row]).splitlines())
    assert parsed["dice"] == "0.500000" and parsed["hd95"] == "" and parsed["nsd"] == ""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_a_worker_ends_when_its_runner_is_killed(tmp_path):
    """A killed runner (SIGKILL: no clean-up runs in it) leaves no worker training on."""
    pid_file = tmp_path / "worker.pid"
    worker = (
        "import os, time; from e2eaug.experiment.runner import _exit_with_parent; "
        f"_exit_with_parent(os.getppid(), 0.05); open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "time.sleep(60)"
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {worker!r}]); time.sleep(60)"]
    )
    deadline = time.time() + 60
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.time() < deadline and runner.poll() is None, "the worker did not start"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert _running(pid)
    runner.kill()
    runner.wait()
    deadline = time.time() + 10
    while _running(pid):
        assert time.time() < deadline, "the worker outlived its runner"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _ended_pid():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_one_runner_per_folder_and_a_dead_runners_lock_file_does_not_block(tmp_path, capsys):
    path = _spec_file(tmp_path, augmenters=["none"], seeds=[0])
    spec = load_experiment(path)
    spec.folder.mkdir(parents=True)
    lock = spec.folder / LOCK_FILE
    with runner_lock(spec.folder):  # a live runner: this process
        with pytest.raises(ExperimentLocked, match=f"another runner .*pid {os.getpid()}"):
            run_experiment(spec, echo=lambda line: None)
        assert sorted(p.name for p in spec.folder.iterdir()) == [LOCK_FILE]  # nothing else written
        assert main(["experiment", "--config", str(path)]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    lock.write_text(f"{socket.gethostname()} {_ended_pid()}\n")  # left by a runner that has ended
    assert run_experiment(spec, echo=lambda line: None) == []
    assert (spec.folder / "results.csv").is_file()
    assert lock.read_text() == f"{socket.gethostname()} {os.getpid()}\n"  # the last holder, unlocked
    with runner_lock(spec.folder):
        pass


def test_a_killed_runner_leaves_no_lock_behind(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    code = "import sys, time; from pathlib import Path; from e2eaug.experiment.runner import runner_lock\n" \
           "with runner_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ExperimentLocked, match=f"pid {holder.pid}"):
            with runner_lock(folder):
                pass
    finally:
        holder.kill()
        holder.wait()
    with runner_lock(folder):  # taken at once, by exactly this runner
        with pytest.raises(ExperimentLocked):
            with runner_lock(folder):
                pass


def test_a_file_system_without_locks_is_named_in_the_error(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(OSError, match=f"cannot lock {tmp_path / LOCK_FILE}"):
        with runner_lock(tmp_path):
            pass


def test_every_shipped_experiment_file_loads_with_each_profile():
    root = Path(__file__).resolve().parents[1] / "experiments"
    for path in sorted(root.glob("*.yaml")):
        profiles = yaml.safe_load(path.read_text()).get("profiles") or {}
        for profile in [None, *profiles]:
            assert load_experiment(path, profile).cells(), (path.name, profile)


def test_the_method_is_known_by_its_class_not_its_name():
    from e2eaug.experiment.report import is_method
    from e2eaug.problems import SearchedGAN
    from e2eaug.registry import AUGMENTERS

    if "renamed_method_test" not in AUGMENTERS:
        AUGMENTERS.register("renamed_method_test")(type("RenamedMethod", (SearchedGAN,), {}))
    assert is_method("e2eaug") and is_method("renamed_method_test")
    assert not any(is_method(name) for name in ("none", "combine", "pix2pix", "gan_joint"))
