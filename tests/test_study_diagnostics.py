"""The method study's diagnostics over run folders (benchmarks/generator_fit.py, generated_only.py)."""

import csv
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from benchmarks import generated_only, generator_fit


def test_nearest_training_pair_is_the_one_of_the_most_overlapping_mask():
    masks = torch.zeros(3, 1, 8, 8)
    masks[0, :, :4], masks[1, :, 4:], masks[2, :, :, :4] = 1, 1, 1
    train = SimpleNamespace(masks=masks, images=torch.arange(3.0).view(3, 1, 1, 1).expand(3, 3, 8, 8))
    query = torch.zeros(2, 1, 8, 8)
    query[0, :, 5:], query[1, :, :, :3] = 1, 1  # inside mask 1, inside mask 2
    nearest = generator_fit._nearest_train_images(train, query)
    assert nearest[:, 0, 0, 0].tolist() == [1.0, 2.0]
    assert torch.equal(generator_fit._nearest_train_images(train, masks), train.images)


def test_fit_row_and_csv_of_a_trained_run(tiny_run, tmp_path, capsys):
    out = tmp_path / "fit.csv"
    assert generator_fit.main([str(tiny_run.path), "--out", str(out)]) == 0
    (row,) = csv.DictReader(out.open())
    assert list(row) == [
        "run", "augmenter", "seed", "image_size", "gan_steps",
        "l1_train", "l1_val", "l1_val_mean_image", "l1_val_nearest_train",
    ]
    assert row["augmenter"] == "e2eaug" and int(row["gan_steps"]) > 0
    for key in ("l1_train", "l1_val", "l1_val_mean_image", "l1_val_nearest_train"):
        assert 0 < float(row[key]) < 1, key
    assert "nearest training pair" in capsys.readouterr().out


def test_generated_only_trains_a_fresh_segmenter_per_condition(tiny_run, tmp_path, capsys):
    out = tmp_path / "generated_only.csv"
    assert generated_only.main([str(tiny_run.path), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "run,augmenter,seed,condition,val_dice"
    assert [line.split(",")[3] for line in lines[1:]] == list(generated_only.CONDITIONS)
    assert all(0 < float(line.split(",")[4]) <= 1 for line in lines[1:])
    assert capsys.readouterr().out.count("val Dice") == 3


def test_fit_figure_shows_one_split_once_and_each_generator_below_it(tiny_run, tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(generator_fit, "save_samples", lambda path, rows: drawn.update(path=path, rows=rows))
    run = str(tiny_run.path)
    assert generator_fit.main([run, run, "--figure", str(tmp_path / "fit.png")]) == 0
    titles = [title for title, _ in drawn["rows"]]
    assert titles[0].startswith("masks:") and titles[1] == "their real images"
    assert titles[2:] == [tiny_run.path.name] * 2 and drawn["path"].name == "fit.png"
    masks, real, generated = (images for _, images in drawn["rows"][:3])
    assert masks.shape == real.shape == generated.shape and masks.shape[1] == 3
    assert not torch.equal(generated, real) and 0 <= generated.min() and generated.max() <= 1


ROOT = Path(__file__).resolve().parents[1]
JSRT = ROOT.parent / "shared" / "data" / "jsrt"


@pytest.mark.skipif(not JSRT.is_dir(), reason="needs ../shared/data/jsrt")
def test_gpu_generator_fit_script_runs_at_toy_sizes(tmp_path):
    """The prepared GPU check (benchmarks/gpu_generator_fit.sh) at toy sizes on the CPU."""
    env = dict(os.environ, OUT=str(tmp_path), DATA=str(JSRT), DEVICE="cpu", SIZES="32", STEPS="2",
               SEEDS="0", DEPTH="2", WIDTH="4", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "benchmarks/gpu_generator_fit.sh"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = csv.DictReader((tmp_path / "generator_fit.csv").open())
    assert (row["image_size"], row["gan_steps"]) == ("32", "2")
    assert (tmp_path / "generator_fit.png").stat().st_size > 0


class _Bright(torch.nn.Module):
    """A segmenter whose foreground is where the image is bright."""

    def forward(self, x):
        return 10 * (x - 0.5)


def test_alignment_is_the_dice_of_the_judge_segmentation_with_the_mask(tiny_run, tmp_path):
    masks = torch.zeros(2, 1, 8, 8)
    masks[:, :, 2:6, 2:6] = 1
    judge = SimpleNamespace(module=_Bright(), device="cpu")
    assert generator_fit.alignment(judge, masks, masks) == 1.0
    shifted = torch.roll(masks, 2, dims=-1)  # half of each square still on its mask
    assert abs(generator_fit.alignment(judge, shifted, masks) - 0.5) < 1e-6
    out = tmp_path / "fit.csv"
    run = str(tiny_run.path)
    assert generator_fit.main([run, "--judge", run, "--out", str(out)]) == 0
    (row,) = csv.DictReader(out.open())
    assert all(0 <= float(row[key]) <= 1 for key in ("judge_dice_generated", "judge_dice_real"))
