"""The example script: help text and a tiny end-to-end run of each mode."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from examples.ssl_gan.run import cli, main, parse_args


def test_help_documents_both_modes(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for word in ("pipeline", "two-level", "--profile", "--method", "--data", "--out", "--seed",
                 "--device", "darts", "neumann", "simclr", "byol"):
        assert word in text


def saved_pool_and_generated(out):
    config = yaml.safe_load((out / "config.yaml").read_text())
    return config["data"]["pool_size"], config["gan"]["n_generated"]


@pytest.mark.parametrize("mode,method", [("pipeline", "byol"), ("two-level", "simclr")])
def test_tiny_runs_write_results(tmp_path, mode, method):
    results = main(["--mode", mode, "--profile", "test", "--method", method, "--out",
                    str(tmp_path), "--device", "cpu", "--set", "ssl.steps=1",
                    "--set", "gan.steps=1"])
    for name in ("results.json", "results.md", "config.yaml", "run_info.json", "command.txt", "samples.png"):
        assert (tmp_path / name).is_file()
    (session,) = json.loads((tmp_path / "run_info.json").read_text())["sessions"]
    assert session["args"]["mode"] == mode and session["device"] == "cpu"
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["table"] == results["table"]
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert rows == saved["table"]
    names = [row["name"] for row in saved["table"]]
    if mode == "pipeline":
        assert names == ["no pretraining", "byol", "byol + GAN"]
    else:
        assert len(names) == 1 and "two-level" in names[0]
        row = saved["table"][0]
        assert row["discriminator_steps"] == row["generator_steps"] == 1
    assert all(0 <= row["probe"]["mean"] <= 1 for row in saved["table"])
    encoders = sorted(p.stem for p in (tmp_path / "encoders").glob("*.pt"))
    gans = sorted(p.stem for p in (tmp_path / "gans").glob("*.pt"))
    pool, n_gen = saved_pool_and_generated(tmp_path)
    if mode == "pipeline":
        assert encoders == ["none", f"pipeline_byol_{pool}_0", f"pipeline_byol_{pool}_{n_gen}"]
        assert gans == [f"pool{pool}"]
    else:
        assert encoders == ["two-level_simclr_beta1"] and gans[-1] == "two-level_simclr_beta1"
    state = torch.load(tmp_path / "encoders" / f"{encoders[-1]}.pt", weights_only=True)
    assert state and all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())


def test_each_run_gets_a_new_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--mode", "pipeline", "--profile", "test", "--device", "cpu", "--set", "ssl.steps=1",
            "--set", "gan.steps=1", "--set", "grid.pool_sizes=[]"]
    main(args)
    main(args)
    runs = sorted((tmp_path / "runs" / "ssl_gan").glob("pipeline-*"))
    assert len(runs) == 2 and all((r / "results.json").is_file() for r in runs)


def test_benchmark_has_every_row_and_the_beta_zero_control(tmp_path):
    results = main(["--mode", "benchmark", "--profile", "test", "--out", str(tmp_path), "--device", "cpu",
                    "--set", "ssl.steps=1", "--set", "gan.steps=1", "--set", "grid.pool_sizes=[]"])
    names = [row["name"] for row in results["table"]]
    assert names == ["no pretraining", "simclr", "simclr + GAN", "byol", "byol + GAN",
                     "simclr + GAN, two-level (darts, beta=1)", "simclr + GAN, two-level (darts, beta=0)"]
    assert all("val_mean" in row["probe"] for row in results["table"])  # the validation figure
    assert results["grid"] == []
    assert "beta=0" in (tmp_path / "results.md").read_text()


def test_bad_input_is_one_line_naming_the_key(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["run.py", "--profile", "test", "--set", "ssl.nope=1"])
    with pytest.raises(SystemExit) as exit_info:
        cli()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert err.startswith("run.py: error: ") and "ssl.nope" in err


def test_the_script_runs_from_its_path():
    script = Path(__file__).resolve().parents[1] / "examples" / "ssl_gan" / "run.py"
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          cwd=script.parents[2].parent, check=True)
    assert "two-level" in done.stdout


def test_the_library_does_not_import_the_example():
    root = Path(__file__).resolve().parents[1]
    for folder in ("e2eaug", "problems", "engines"):
        for path in (root / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
            modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
            assert not any(m.split(".")[0] == "examples" for m in modules), path
