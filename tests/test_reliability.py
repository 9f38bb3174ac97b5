"""Reliability: diverging runs stop, failed commands leave nothing behind, every error is one
line; ``docs/errors.md`` names the test behind each message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from e2eaug import jobs
from e2eaug.cli import main
from e2eaug.data import load_folder
from e2eaug.engines import E2EAugEngine
from e2eaug.problems import GANAugmenter, SegmentationProblem, names
from e2eaug.run_config import read_run_config
from e2eaug.rundir import RunDir
from e2eaug.utils import atomic_write_text
from tests.core_helpers import tiny_config


def _runs(tmp_path):
    return sorted((tmp_path / "runs").glob("tiny-*"))


def _trained(tiny_yaml, tmp_path, *overrides) -> RunDir:
    """A finished tiny run (2 steps unless ``overrides`` say otherwise)."""
    sets = [word for item in ("engine.train_iters=2", *overrides) for word in ("--set", item)]
    assert main(["train", "--config", str(tiny_yaml), *sets]) == 0
    (path,) = _runs(tmp_path)
    return RunDir.open(path)


def _error_line(capsys) -> str:
    """The one line a failed command wrote to stderr after its warnings."""
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("e2eaug: warning:")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("e2eaug: error: ")
    return lines[0]


def _strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"{constant} in JSON")

    return json.loads(text, parse_constant=refuse)


def _files(run: RunDir):
    return {p.name: p.read_bytes() for p in sorted(run.path.iterdir())}


# ----------------------------------------------------------------------------- divergence


def test_nonfinite_steps_are_skipped_then_stop_the_run(tiny_yaml, tmp_path, capsys, monkeypatch):
    """From step 3 the segmentation loss is NaN: its updates are skipped with a warning, three in
    a row stop the run (exit 2), the checkpoints keep the step-2 weights, JSON says null."""
    original = SegmentationProblem.training_step

    def nan_from_step_3(self, batch):
        loss = original(self, batch)
        return loss * float("nan") if self.draws > 2 else loss

    monkeypatch.setattr(SegmentationProblem, "training_step", nan_from_step_3)
    sets = ["engine.train_iters=20", "engine.max_bad_steps=3"]
    assert main(["train", "--config", str(tiny_yaml), *[w for s in sets for w in ("--set", s)]]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("e2eaug: warning: step 3: non-finite loss or gradient in seg")
    assert err[-1].startswith("e2eaug: error: training diverged: 3 steps in a row")
    assert "last.pt, holds finite weights and is kept" in err[-1]
    (path,) = _runs(tmp_path)
    run = RunDir(path)
    records = [_strict_json(line) for line in run.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert records[1]["train_loss"][names.SEG] is None
    last, best = run.load_checkpoint("last"), run.load_checkpoint("best")
    assert (last["global_step"], best["global_step"]) == (4, 2)
    for key, value in best["problems"][names.SEG]["module"].items():
        assert torch.equal(last["problems"][names.SEG]["module"][key], value), key  # no update since step 2


def test_a_diverging_learning_rate_stops_with_one_error_and_strict_json(tiny_yaml, tmp_path, capsys):
    sets = ["seg.optimizer.name=sgd", "seg.optimizer.lr=1000", "engine.train_iters=40", "engine.max_bad_steps=3"]
    assert main(["run", "--config", str(tiny_yaml), *[w for s in sets for w in ("--set", s)]]) == 2
    assert "e2eaug: error: training diverged" in _error_line(capsys)
    for path in _runs(tmp_path):
        run = RunDir(path)
        for line in run.metrics_path.read_text().splitlines():
            _strict_json(line)
        for which in ("last", "best"):
            if run.checkpoint_path(which).is_file():
                run.load_checkpoint(which)  # refuses non-finite values


def test_weights_that_become_nonfinite_are_never_checkpointed(tiny_yaml, tmp_path, capsys, monkeypatch):
    """An update with finite gradients can still overflow the weights: the run stops at the
    validation instead of writing them."""
    train_step = E2EAugEngine.train_step

    def overflowing(self):
        train_step(self)
        with torch.no_grad():
            next(getattr(self, names.SEG).module.parameters()).fill_(float("inf"))

    monkeypatch.setattr(E2EAugEngine, "train_step", overflowing)
    assert main(["train", "--config", str(tiny_yaml)]) == 2
    line = _error_line(capsys)
    assert "training diverged: problems.seg.module." in line and "no checkpoint was written" in line, line
    assert _runs(tmp_path) == []


def test_pretraining_that_diverges_stops_before_the_first_step(tiny_yaml, tmp_path, capsys, monkeypatch):
    def diverging_pretrain(self, steps, progress=True):
        with torch.no_grad():
            next(self.module.parameters()).fill_(float("inf"))

    monkeypatch.setattr(GANAugmenter, "pretrain", diverging_pretrain)
    assert main(["train", "--config", str(tiny_yaml), "--set", "augmenter.pretrain_steps=2"]) == 2
    line = _error_line(capsys)
    assert "augmenter pretraining diverged: module." in line and "is not finite after 2 steps" in line, line
    assert _runs(tmp_path) == []


def test_generate_derive_and_evaluate_refuse_nonfinite_weights(tiny_yaml, tmp_path, capsys):
    run = _trained(tiny_yaml, tmp_path)
    state = torch.load(run.checkpoint_path("best"), weights_only=True)
    alpha = state["problems"][names.ARCH]["module"]
    alpha[next(iter(alpha))][0, 0] = float("nan")
    torch.save(state, run.checkpoint_path("best"))
    capsys.readouterr()
    for command in (["generate", "--out", str(tmp_path / "gen")], ["derive"], ["evaluate"]):
        assert main([*command, "--run", str(run.path)]) == 2
        line = _error_line(capsys)
        assert "best.pt holds non-finite values (problems.arch.module.alpha)" in line, line
    assert not (tmp_path / "gen").exists() and not run.genotype_path.exists() and not run.results_path.exists()


# ----------------------------------------------------------------------------- failed resume


def test_a_failed_resume_leaves_the_run_as_it_was(tiny_yaml, tmp_path, capsys):
    run = _trained(tiny_yaml, tmp_path)
    before = _files(run)
    capsys.readouterr()
    for bad, message in (
        ("seg.segmenter.kwargs.base_width=8", "last.pt does not fit this config: Error(s) in loading state_dict"),
        ("engine.device=gpu", "engine.device must be one of ['auto', 'cpu', 'cuda'], got 'gpu'"),
        ("data.n_val=0", "data.n_val must be >= 1, got 0"),
    ):
        assert main(["train", "--resume", str(run.path), "--set", bad]) == 2
        assert message in _error_line(capsys)
        assert _files(run) == before, bad
    assert main(["evaluate", "--run", str(run.path)]) == 0


# ----------------------------------------------------------------------------- orphans, --resume


def test_failed_starts_leave_no_folder(tiny_yaml, tmp_path, capsys, monkeypatch):
    for bad, message in (
        ("data.source=folder", "data.root must name a folder when data.source is 'folder'"),
        ("seg.segmenter.kwargs.norm=foo", "unknown norm 'foo'"),
    ):
        assert main(["train", "--config", str(tiny_yaml), "--set", bad]) == 2, bad
        assert message in _error_line(capsys)

    def fails_before_the_first_checkpoint(self):
        raise ValueError("broken before step 1")

    monkeypatch.setattr(E2EAugEngine, "run", fails_before_the_first_checkpoint)
    assert main(["train", "--config", str(tiny_yaml)]) == 2
    assert "broken before step 1" in _error_line(capsys)
    assert _runs(tmp_path) == []
    assert main(["train", "--config", str(tiny_yaml), "--resume"]) == 2
    assert "no run named 'tiny' with a last.pt under" in _error_line(capsys)


def test_a_run_killed_after_its_first_checkpoint_resumes_from_the_newest_folder_with_last_pt(tiny_yaml, tmp_path):
    command = [sys.executable, "-m", "e2eaug", "train", "--config", str(tiny_yaml), "--set", "engine.train_iters=1000"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((tmp_path / "runs").glob("tiny-*/last.pt")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (killed,) = _runs(tmp_path)
    step = RunDir(killed).load_checkpoint("last")["global_step"]
    orphan = tmp_path / "runs" / "tiny-29990101-000000"  # newer, but never got a checkpoint
    orphan.mkdir()
    (orphan / "config.yaml").write_text(tiny_yaml.read_text())
    resume = ["train", "--config", str(tiny_yaml), "--resume", "--set", f"engine.train_iters={step + 4}"]
    assert main(resume) == 0
    records = RunDir(killed).read_metrics()
    assert [r["step"] for r in records] == list(range(2, step + 5, 2))
    assert not (orphan / "metrics.jsonl").exists()


# ----------------------------------------------------------------------------- meaningless values


@pytest.mark.parametrize(
    "override,named",
    [
        ("augmenter.lam=-1", "augmenter.lam must be a finite number >= 0, got -1.0"),
        ("augmenter.pretrain_steps=-3", "augmenter.pretrain_steps must be >= 0, got -3"),
        ("data.n_val=0", "data.n_val must be >= 1, got 0"),
        ("seg.optimizer.lr=-0.1", "seg.optimizer.lr must be a finite number > 0, got -0.1"),
        ("arch.optimizer.lr=.inf", "arch.optimizer.lr must be a finite number > 0, got inf"),
        ("augmenter.batch_size=0", "augmenter.batch_size must be >= 1, got 0"),
        ("engine.max_bad_steps=0", "engine.max_bad_steps must be >= 1, got 0"),
    ],
)
def test_meaningless_values_are_refused_naming_the_key(tiny_yaml, tmp_path, capsys, override, named):
    assert main(["train", "--config", str(tiny_yaml), "--set", override]) == 2
    assert named in _error_line(capsys)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("n", [-5, 0, 100_001])
def test_generate_refuses_a_count_out_of_range(tiny_yaml, tmp_path, capsys, n):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(tiny_yaml.read_text())
    assert main(["generate", "--run", str(run), "--out", str(tmp_path / "gen"), "--n", str(n)]) == 2
    assert f"the number of pairs (--n) must be between 1 and 100000, got {n}" in _error_line(capsys)
    assert not (tmp_path / "gen").exists()


# ----------------------------------------------------------------------------- one line, not a traceback


@pytest.mark.parametrize(
    "override,message",
    [
        ("augmenter.lam=[1", "override 'augmenter.lam=[1': the value is not valid YAML"),
        ("augmenter=[1]", "augmenter: expected a mapping, got [1]"),
        ("augmenter.generator.kwargs.in_channels=3", "in_channels is set by e2eaug from the data"),
        ("seg.segmenter.kwargs.depth=two", "cannot build segmenter 'unet'"),
    ],
)
def test_bad_overrides_are_one_line(tiny_yaml, tmp_path, capsys, override, message):
    assert main(["train", "--config", str(tiny_yaml), "--set", override]) == 2
    assert message in _error_line(capsys)
    assert _runs(tmp_path) == []


def test_a_checkpoint_that_does_not_fit_is_one_line(tiny_yaml, tmp_path, capsys):
    run = _trained(tiny_yaml, tmp_path)
    config = yaml.safe_load(run.config_path.read_text())
    config["seg"]["segmenter"]["kwargs"]["base_width"] = 8
    run.config_path.write_text(yaml.safe_dump(config))
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run.path)]) == 2
    line = _error_line(capsys)
    assert "best.pt does not fit this config: Error(s) in loading state_dict for UNet: size mismatch" in line


def test_an_unwritable_or_full_output_folder_is_one_line_and_leaves_nothing(tiny_yaml, tmp_path, capsys, monkeypatch):
    (tmp_path / "a_file").write_text("")
    assert main(["train", "--config", str(tiny_yaml), "--set", f"out_dir={tmp_path / 'a_file' / 'runs'}"]) == 2
    assert "Not a directory: " in _error_line(capsys)

    def full_disk(obj, path):  # what torch.save raises on a full disk
        Path(path).write_bytes(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", full_disk)
    assert main(["train", "--config", str(tiny_yaml)]) == 2
    assert "best.pt (is the disk full?)" in _error_line(capsys)
    assert _runs(tmp_path) == []  # no orphan folder, no half-written file


def test_ctrl_c_says_how_to_continue(tiny_yaml, tmp_path, capsys, monkeypatch):
    train_step = E2EAugEngine.train_step

    def ctrl_c_at_step_3(self):
        if self.global_step == 3:
            raise KeyboardInterrupt
        train_step(self)

    monkeypatch.setattr(E2EAugEngine, "train_step", ctrl_c_at_step_3)
    assert main(["train", "--config", str(tiny_yaml), "--set", "engine.valid_every=4"]) == 130
    assert _error_line(capsys) == "e2eaug: error: interrupted; no checkpoint was kept"
    assert _runs(tmp_path) == []
    assert main(["train", "--config", str(tiny_yaml)]) == 130
    (path,) = _runs(tmp_path)
    assert _error_line(capsys) == f"e2eaug: error: interrupted; continue with e2eaug run --resume {path}"
    monkeypatch.setattr(E2EAugEngine, "train_step", train_step)
    assert main(["train", "--config", str(tiny_yaml), "--resume", str(path)]) == 0
    assert [r["step"] for r in RunDir(path).read_metrics()] == [2, 4]


# ----------------------------------------------------------------------------- data


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_data_scales_by_the_sets_bit_depth_and_checks_sizes(tmp_path):
    root = tmp_path / "xray"
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 255
    for stem, peak in (("a", 2000), ("b", 2100)):  # a 12-bit set in 16-bit files
        _write(root / "images" / f"{stem}.png", np.full((8, 8), peak, np.uint16))
        _write(root / "masks" / f"{stem}.png", mask)
    with pytest.warns(UserWarning, match=r"2 high-bit image\(s\) scaled as 12-bit \(by 4095\)"):
        data = load_folder(root, size=8)
    assert data.images.amax(dim=(1, 2, 3)).tolist() == pytest.approx([2000 / 4095, 2100 / 4095], abs=1e-4)
    assert load_folder(root, size=8, bit_depth=16).images.max() == pytest.approx(2100 / 65535, abs=1e-5)

    _write(root / "masks" / "b.png", np.zeros((6, 8), np.uint8))
    with pytest.raises(ValueError, match=r"mask .*masks/b.png is 8x6 but its image .*images/b.png is 8x8"):
        load_folder(root, size=8, bit_depth=12)

    tiny = tmp_path / "tiny"
    _write(tiny / "images" / "dot.png", np.full((1, 1, 3), 200, np.uint8))
    _write(tiny / "masks" / "dot.png", np.full((1, 1), 255, np.uint8))
    with pytest.warns(UserWarning, match=r"1 of 1 images are smaller than the training size 16x16 .*dot.png, 1x1"):
        load_folder(tiny, size=16)


# ----------------------------------------------------------------------------- file modes, stray temp files


def test_written_files_follow_the_umask_and_stray_temp_files_go(tmp_path):
    old = os.umask(0o027)
    try:
        assert atomic_write_text(tmp_path / "x.txt", "x").stat().st_mode & 0o777 == 0o640
        os.umask(0o022)
        cfg = tiny_config(["engine.train_iters=2"], out_dir=str(tmp_path))
        run, _ = jobs.train(cfg)
        for name in ("config.yaml", "metrics.jsonl", "last.pt", "best.pt", "samples.png", "curves.png"):
            assert (run.path / name).stat().st_mode & 0o777 == 0o644, name
    finally:
        os.umask(old)
    stray = run.path / ".best.pt.k3j2h1.tmp"  # what a kill during a checkpoint write leaves
    stray.write_bytes(b"half")
    jobs.train(read_run_config(run, ["engine.train_iters=4"]), run, resume=True)
    assert not stray.exists()


# ----------------------------------------------------------------------------- plugins


def test_plugins_named_by_a_run_folder_need_trust_plugins(tiny_yaml, tmp_path, capsys, monkeypatch):
    marker = tmp_path / "plugin_ran"
    (tmp_path / "marking_plugin.py").write_text(f"open({str(marker)!r}, 'a').write('ran\\n')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "marking_plugin", raising=False)
    run = _trained(tiny_yaml, tmp_path, "plugins=[marking_plugin]")  # the user's own config: imported
    assert marker.read_text() == "ran\n"
    marker.unlink()
    del sys.modules["marking_plugin"]
    capsys.readouterr()
    folder = str(run.path)
    commands = (
        ["evaluate", "--run", folder],
        ["derive", "--run", folder],
        ["generate", "--run", folder, "--out", str(tmp_path / "gen")],
        ["train", "--resume", folder],
    )
    for command in commands:
        assert main(command) == 2
        line = _error_line(capsys)
        assert "names plugins ['marking_plugin']" in line and "--trust-plugins" in line, line
        assert not marker.exists(), command
    assert main(["evaluate", "--run", str(run.path), "--trust-plugins"]) == 0
    assert marker.read_text() == "ran\n"
