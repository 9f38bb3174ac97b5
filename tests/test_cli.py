"""The command line end to end on a tiny config: outputs, resume, generate, derive, bad input."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
import yaml

import e2eaug
from e2eaug.cli import build_parser, main
from e2eaug.run_config import read_run_config
from e2eaug.rundir import RunDir


def _only_run(tmp_path) -> RunDir:
    runs = sorted((tmp_path / "runs").glob("tiny-*"))
    assert len(runs) == 1
    return RunDir.open(runs[0])


def test_every_subcommand_has_help(capsys):
    commands = [[], ["run"], ["train"], ["evaluate"], ["export"], ["predict"], ["generate"], ["derive"], ["data"], ["data", "preview"], ["presets"], ["experiment"], ["compare"]]
    for words in commands:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(words + ["--help"])
        assert exit_info.value.code == 0
        assert "usage: e2eaug" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"e2eaug {e2eaug.__version__}"
    assert e2eaug.__version__ == importlib.metadata.version("e2eaug")


def test_run_writes_every_output_and_the_other_commands_read_them(tiny_yaml, tmp_path, capsys):
    assert main(["run", "--config", str(tiny_yaml)]) == 0
    out = capsys.readouterr().out
    run = _only_run(tmp_path)
    assert str(run.path) in out and "id" in out and "ood" in out
    outputs = ("config.yaml", "run_info.json", "metrics.jsonl", "steps.jsonl", "best.pt", "last.pt", "samples.png",
               "curves.png", "alpha.png", "results.json")
    for name in outputs:
        assert (run.path / name).is_file(), name
    assert [r["step"] for r in run.read_metrics()] == [2, 4]
    results = json.loads(run.results_path.read_text())
    assert set(results["tests"]) == {"id", "ood"}
    for scores in results["tests"].values():
        assert 0.0 <= scores["dice"] <= 1.0 and 0.0 <= scores["jaccard"] <= scores["dice"] + 1e-9
    assert yaml.safe_load(run.config_path.read_text())["name"] == "tiny"

    assert main(["evaluate", "--run", str(run.path), "--checkpoint", "last"]) == 0
    assert main(["generate", "--run", str(run.path), "--out", str(tmp_path / "gen"), "--n", "5"]) == 0
    from e2eaug.data.folder import load_folder

    generated = load_folder(tmp_path / "gen", layout="generic", size=16)
    assert len(generated) == 5 and generated.images.shape[1] == 3

    assert main(["derive", "--run", str(run.path)]) == 0
    from e2eaug.models import Genotype

    genotype = Genotype.load(run.genotype_path)
    assert len(genotype.down) == len(genotype.up) == 2


def test_resume_continues_the_same_folder(tiny_yaml, tmp_path):
    assert main(["train", "--config", str(tiny_yaml), "--set", "engine.train_iters=2"]) == 0
    run = _only_run(tmp_path)
    assert [r["step"] for r in run.read_metrics()] == [2]
    assert main(["train", "--config", str(tiny_yaml), "--resume", str(run.path), "--set", "engine.train_iters=4"]) == 0
    assert [r["step"] for r in run.read_metrics()] == [2, 4]
    assert read_run_config(run).engine.train_iters == 4
    assert len(list((tmp_path / "runs").glob("tiny-*"))) == 1


def test_bad_input_gives_clear_errors(tiny_yaml, tmp_path, capsys):
    assert main(["train", "--config", str(tiny_yaml), "--set", "seg.lamda=1"]) == 2
    assert "seg.lamda" in capsys.readouterr().err
    assert main(["evaluate", "--run", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err

    assert main(["train", "--config", str(tiny_yaml), "--set", "engine.train_iters=2"]) == 0
    run = _only_run(tmp_path)
    run.checkpoint_path("best").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run.path)]) == 2
    err = capsys.readouterr().err
    assert "best.pt" in err and "cannot read checkpoint" in err
    assert run.checkpoint_path("last").is_file()  # the other checkpoint is untouched


def test_cuda_without_a_gpu_is_one_line_and_no_run_folder(tiny_yaml, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["run", "--config", str(tiny_yaml), "--set", "engine.device=cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("e2eaug: error: engine.device is 'cuda'")
    assert not (tmp_path / "runs").exists()


def test_derive_without_an_architecture_is_one_clear_error(tiny_yaml, tmp_path, capsys):
    assert main(["train", "--config", str(tiny_yaml), "--set", "augmenter.name=combine"]) == 0
    run = _only_run(tmp_path)
    capsys.readouterr()
    assert main(["derive", "--run", str(run.path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "augmenter 'combine' has no architecture to derive" in err[0]
    assert not run.genotype_path.exists()


def test_resume_with_a_new_learning_rate_uses_it(tiny_yaml, tmp_path, capsys):
    assert main(["train", "--config", str(tiny_yaml), "--set", "engine.train_iters=2"]) == 0
    run = _only_run(tmp_path)
    assert main(["train", "--config", str(tiny_yaml), "--resume", str(run.path), "--set", "engine.train_iters=4",
                 "--set", "seg.optimizer.lr=0.0001"]) == 0
    assert "seg.optimizer.lr is now 0.0001 (the checkpoint's optimizer had 0.001)" in capsys.readouterr().out
    assert [(s["step"], s["lr"]["seg"], s["lr"]["arch"]) for s in run.read_steps()] == [
        (1, 1e-3, 3e-3), (2, 1e-3, 3e-3), (3, 1e-4, 3e-3), (4, 1e-4, 3e-3)
    ]
