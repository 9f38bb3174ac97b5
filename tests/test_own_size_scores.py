"""Test sets read from files are scored at each image's own size: masks kept at their size,
predictions resized there as ``predict`` does, HD95 in the image's pixels."""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from e2eaug.cli import main
from e2eaug.data import load_folder
from e2eaug.evaluation import evaluate_segmenter
from e2eaug.metrics import dice_per_image


def _pairs(root, sizes):
    """One image-mask pair per (width, height): a box over the left 60% of the rows' middle."""
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for i, (w, h) in enumerate(sizes):
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4 : 3 * h // 4, : 3 * w // 5] = 255
        image = np.repeat(mask[..., None], 3, axis=2) // 2 + 60
        Image.fromarray(image).save(root / "images" / f"p{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"p{i}.png")
    return root


class _Brightness(torch.nn.Module):
    """Logits from the image's brightness: the bright box is foreground."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images.mean(1, keepdim=True) - 0.4) * 50


def test_masks_are_kept_at_their_own_size_and_the_training_size_ones_are_their_nearest_samples(tmp_path):
    data = load_folder(_pairs(tmp_path, [(40, 30), (26, 20)]), size=16)
    assert [m.shape for m in data.native_masks] == [(30, 40), (20, 26)]
    for native, small in zip(data.native_masks, data.masks[:, 0]):
        rows = np.minimum(((np.arange(16) + 0.5) * native.shape[0] / 16).astype(int), native.shape[0] - 1)
        cols = np.minimum(((np.arange(16) + 0.5) * native.shape[1] / 16).astype(int), native.shape[1] - 1)
        assert np.array_equal(native[rows][:, cols], small.numpy().astype(bool))
    part = data.subset([1])
    assert part.native_masks[0] is data.native_masks[1]


def test_own_size_scores_resize_each_prediction_to_its_mask(tmp_path):
    data = load_folder(_pairs(tmp_path, [(40, 30), (26, 20), (16, 16)]), size=8)
    model = _Brightness()
    small = evaluate_segmenter(model, data, "cpu", per_image=True, boundary=True)
    own = evaluate_segmenter(model, data, "cpu", per_image=True, boundary=True, own_size=True)
    assert small["scored_at"] == "8x8" and own["scored_at"] == "own size"
    probabilities = torch.sigmoid(model(data.images))
    for row, probability, native in zip(own["per_image"], probabilities, data.native_masks):
        full = F.interpolate(probability[None], size=native.shape, mode="bilinear", align_corners=False) > 0.5
        expected = dice_per_image(full.float(), torch.from_numpy(native)[None, None].float()).item()
        assert abs(row["dice"] - expected) < 1e-6
        assert row["hd95"] <= (native.shape[0] ** 2 + native.shape[1] ** 2) ** 0.5
    assert own["per_image"][0]["dice"] != small["per_image"][0]["dice"]  # 8 px boxes are coarser


def test_evaluate_records_where_each_set_was_scored(tiny_run, tmp_path, capsys):
    _pairs(tmp_path / "other", [(40, 30), (26, 20)])
    assert main(["evaluate", "--run", str(tiny_run.path), "--test", f"other={tmp_path / 'other'}"]) == 0
    table = capsys.readouterr().out
    results = json.loads(tiny_run.results_file("best").read_text())["tests"]
    assert results["other"]["scored_at"] == "own size" and results["id"]["scored_at"] == "16x16"
    lines = table.splitlines()
    assert "scored at" in lines[0] and lines[3].startswith("other") and lines[3].endswith("own size")


def test_a_run_whose_validation_never_predicts_foreground_says_so(tiny_yaml, capsys, monkeypatch):
    from e2eaug.problems import segmentation

    build = segmentation.build_segmenter

    def background_only(cfg, channels):
        model = build(cfg, channels)
        model.register_forward_hook(lambda module, inputs, output: output - 1e4)
        return model

    monkeypatch.setattr(segmentation, "build_segmenter", background_only)
    assert main(["run", "--config", str(tiny_yaml)]) == 0
    err = capsys.readouterr().err
    assert "no validation predicted a foreground pixel: the segmenter collapsed to background" in err
    (run,) = (tiny_yaml.parent / "runs").glob("tiny-*")
    assert json.loads((run / "results.json").read_text())["val_collapsed"] is True
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records and all(r["val_foreground"] == 0 for r in records)


def test_a_run_that_predicts_foreground_is_not_called_collapsed(tiny_run):
    assert main(["evaluate", "--run", str(tiny_run.path)]) == 0
    assert json.loads(tiny_run.results_file("best").read_text())["val_collapsed"] is False
