"""``e2eaug evaluate``: boundary metrics in every output, ``--checkpoint last``, ``--test``."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from e2eaug.cli import main


def _write_pairs(root, n=3, size=20):
    rng = np.random.default_rng(0)
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for i in range(n):
        image = (rng.random((size, size, 3)) * 255).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[4 : 10 + i, 5:14] = 255
        Image.fromarray(image).save(root / "images" / f"case{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"case{i}.png")


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_evaluate_writes_boundary_metrics_per_checkpoint_and_extra_tests(tiny_run, tmp_path, capsys):
    _write_pairs(tmp_path / "other")
    assert main(["evaluate", "--run", str(tiny_run.path)]) == 0
    table = capsys.readouterr().out
    assert "HD95" in table and "NSD@2" in table
    best = json.loads(tiny_run.results_file("best").read_text())
    assert best["checkpoint"] == "best" and set(best["tests"]) == {"id", "ood"}
    for scores in best["tests"].values():
        assert 0 <= scores["hd95"] <= 16 * 2**0.5 and 0 <= scores["nsd"] <= 1 and scores["nsd_tolerance"] == 2.0
    rows = _rows(tiny_run.per_image_path)
    assert list(rows[0]) == ["test_set", "image", "dice", "jaccard", "hd95", "nsd"] and len(rows) == 8

    args = ["evaluate", "--run", str(tiny_run.path), "--checkpoint", "last", "--nsd-tolerance", "1"]
    assert main(args + ["--test", f"other={tmp_path / 'other'}"]) == 0
    assert "results_last.json" in capsys.readouterr().out
    last = json.loads(tiny_run.results_file("last").read_text(), parse_constant=lambda c: 1 / 0)  # strict
    assert last["checkpoint"] == "last" and set(last["tests"]) == {"id", "ood", "other"}
    assert last["tests"]["other"]["n"] == 3 and last["tests"]["other"]["nsd_tolerance"] == 1.0
    assert {r["test_set"] for r in _rows(tiny_run.per_image_file("last"))} == {"id", "ood", "other"}
    assert json.loads(tiny_run.results_path.read_text()) == best  # the best checkpoint's file is kept


def test_bad_test_folders_are_one_line(tiny_run, tmp_path, capsys):
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    written = {p.name: p.stat().st_mtime_ns for p in tiny_run.path.iterdir()}
    cases = {
        f"x={tmp_path / 'nowhere'}": "nowhere",
        f"x={tmp_path / 'empty'}": "no image files",
        f"id={tmp_path / 'empty'}": "--test: test set name 'id' is used twice",
        f"x:foo={tmp_path / 'empty'}": "unknown layout 'foo'",
    }
    for value, expected in cases.items():
        capsys.readouterr()
        assert main(["evaluate", "--run", str(tiny_run.path), "--test", value]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("e2eaug: error: ") and expected in err[0], err
    with pytest.raises(SystemExit) as exit_info:  # argparse's own error
        main(["evaluate", "--run", str(tiny_run.path), "--test", "other"])
    assert exit_info.value.code == 2 and "expected NAME=DIR or NAME:LAYOUT=DIR" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in tiny_run.path.iterdir()} == written  # nothing written


def test_the_cli_default_tolerance_is_the_librarys():
    from e2eaug import cli, metrics

    assert cli.NSD_TOLERANCE == metrics.NSD_TOLERANCE
