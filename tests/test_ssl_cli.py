"""The example script: help text and a tiny end-to-end run of each mode."""

import json

import pytest

from examples.ssl_gan.run import main, parse_args


def test_help_documents_both_modes(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for word in ("pipeline", "two-level", "--profile", "--method", "--data", "--out", "--seed",
                 "--device", "darts", "neumann", "simclr", "byol"):
        assert word in text


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
