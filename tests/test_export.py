"""``e2eaug export``: TorchScript, state dict and ONNX files that give the run's outputs, and their contract."""

from __future__ import annotations

import json

import pytest
import torch

from e2eaug.cli import main
from e2eaug.jobs import load_run
from e2eaug.problems import names
from e2eaug.registry import SEGMENTERS


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def reference(tiny_run):
    """The run's best segmenter (CPU, eval mode) and validation images of the training size."""
    _, engine, data = load_run(tiny_run, "best")
    model = getattr(engine, names.SEG).module.eval()
    images = data.val.images[:3]
    with torch.no_grad():
        return images, model(images)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch deprecates torch.jit.load
def test_torchscript_loads_and_gives_the_same_output(tiny_run, reference, tmp_path, capsys):
    images, expected = reference
    out = tmp_path / "seg.pt"
    assert main(["export", "--run", str(tiny_run.path), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    loaded = torch.jit.load(str(out), map_location="cpu")
    with torch.no_grad():
        assert _relative_error(loaded(images), expected) < 1e-5
    contract = json.loads((tmp_path / "seg.json").read_text())
    assert contract["format"] == "torchscript" and contract["file"] == "seg.pt"
    assert contract["model"]["name"] == "unet" and contract["model"]["kwargs"]["base_width"] == 4
    assert contract["input"]["channels"] == images.shape[1] == contract["model"]["in_channels"]
    assert contract["input"]["height"] == contract["input"]["width"] == 16
    assert contract["input"]["range"] == [0.0, 1.0] and contract["output"]["threshold"] == 0.5
    assert contract["versions"]["e2eaug"] and contract["checkpoint"] == "best"


def test_state_dict_rebuilds_from_the_contract(tiny_run, reference):
    images, expected = reference
    assert main(["export", "--run", str(tiny_run.path), "--format", "state_dict"]) == 0
    path = tiny_run.path / "export" / "segmenter_best_state_dict.pt"
    model = json.loads(path.with_suffix(".json").read_text())["model"]
    net = SEGMENTERS.build(model["name"], in_channels=model["in_channels"], num_classes=1, **model["kwargs"])
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    with torch.no_grad():
        assert _relative_error(net.eval()(images), expected) < 1e-5


def test_onnx_gives_the_same_output(tiny_run, reference, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    images, expected = reference
    out = tmp_path / "seg.onnx"
    assert main(["export", "--run", str(tiny_run.path), "--format", "onnx", "--out", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"image": images.numpy()})
    assert _relative_error(torch.from_numpy(logits), expected) < 1e-5
    assert json.loads((tmp_path / "seg.json").read_text())["format"] == "onnx"


def test_bad_exports_are_one_line(tiny_run, tmp_path, capsys, monkeypatch):
    assert main(["export", "--run", str(tiny_run.path), "--out", str(tmp_path / "seg.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the contract is written as <out>.json" in err[0]
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert main(["export", "--run", str(tiny_run.path), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'e2eaug[onnx]'" in err[0]
    assert not (tmp_path / "seg.json").exists() and not (tiny_run.path / "export" / "segmenter_best.onnx").exists()
