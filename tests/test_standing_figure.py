"""The standing's figure reads the committed results.csv files and plots every augmenter."""

import csv

import pytest
import yaml

from benchmarks import standing_figure


def _folder(root, name, data, n, test_sets, metric, augmenters):
    (root / name).mkdir(parents=True)
    (root / name / "experiment.yaml").write_text(yaml.safe_dump({"metric": metric, "augmenters": {a: [] for a in augmenters}}, sort_keys=False))
    with open(root / name / "results.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["data", "n_train", "augmenter", "seed", "test_set", "dice", "jaccard"])
        for test_set in test_sets:
            for i, aug in enumerate(augmenters):
                for seed in (0, 1):
                    writer.writerow([data, n, aug, seed, test_set, 0.8 + 0.01 * i + 0.002 * seed, 0.7 + 0.01 * i])


def test_one_panel_per_set_and_one_bar_per_augmenter_in_the_files_order(tmp_path, capsys):
    augmenters = ["none", "combine", "nnunet", "e2eaug"]
    _folder(tmp_path, "skin", "skin", 40, ["id", "ood"], "jaccard", augmenters)
    for name, data, n in (("jsrt9", "jsrt", 9), ("jsrt35", "jsrt", 35), ("ph2", "ph2", 40)):
        _folder(tmp_path, name, data, n, ["test"], "dice" if data == "jsrt" else "jaccard", augmenters)
    found = standing_figure.panels(tmp_path)
    assert [title for title, _, _ in found] == ["skin, 40 images, `id`", "skin, 40 images, `ood`", "jsrt, 9 images",
                                                "jsrt, 35 images", "ph2, 40 images"]
    title, metric, scores = found[2]
    assert metric == "dice" and list(scores) == augmenters and scores["combine"] == pytest.approx([0.81, 0.812])
    out = tmp_path / "figure.png"
    standing_figure.main(["--results", str(tmp_path), "--out", str(out)])
    assert out.stat().st_size > 0 and "jsrt, 9 images" in capsys.readouterr().out
