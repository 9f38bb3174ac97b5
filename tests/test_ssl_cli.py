"""The example script: help text and a tiny end-to-end run of each mode."""

import json

import pytest
import torch
import yaml

from examples.ssl_gan.run import main, parse_args


def test_help_documents_both_modes(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for word in ("pipeline", "two-level", "--profile", "--method", "--data", "--out", "--seed",
                 "--device", "darts", "neumann", "simclr", "byol"):
        assert word in text


def saved_pool_and_generated(out):
    config = yaml.safe_load((out / "config.yaml").read_text())["config"]
    return config["data"]["pool_size"], config["gan"]["n_generated"]


@pytest.mark.parametrize("mode,method", [("pipeline", "byol"), ("two-level", "simclr")])
def test_tiny_runs_write_results(tmp_path, mode, method):
    results = main(["--mode", mode, "--profile", "test", "--method", method, "--out",
                    str(tmp_path), "--device", "cpu", "--set", "ssl.steps=1",
                    "--set", "gan.steps=1"])
    for name in ("results.json", "results.md", "config.yaml", "command.txt", "samples.png"):
        assert (tmp_path / name).is_file()
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["table"] == results["table"]
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
        assert encoders == ["two-level_simclr"] and gans[-1] == "two-level_simclr"
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
