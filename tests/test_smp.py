"""smp segmenters (the ``smp`` extra): build, forward, local encoder weights, a tiny run."""

from __future__ import annotations

import json

import pytest
import torch

from e2eaug.cli import main
from e2eaug.registry import SEGMENTERS

smp = pytest.importorskip("segmentation_models_pytorch")

TINY = {"encoder_name": "resnet18", "encoder_depth": 3, "decoder_channels": [16, 8, 4]}


@pytest.mark.parametrize("arch", ["Unet", "FPN", "DeepLabV3Plus"])
def test_architectures_give_logits_at_the_input_size(arch):
    torch.manual_seed(0)
    kwargs = {"encoder_depth": 3, "decoder_channels": [16, 8, 4]} if arch == "Unet" else {}
    net = SEGMENTERS.build("smp", in_channels=1, num_classes=1, arch=arch, **kwargs).eval()
    size = 16 if arch == "Unet" else 32
    assert net(torch.rand(2, 1, size, size)).shape == (2, 1, size, size)
    with pytest.raises(ValueError, match="image size 20 is not divisible"):
        net(torch.rand(2, 1, 20, 20))


def test_local_encoder_weights_load_and_nothing_downloads(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("smp tried to download weights")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", no_download)
    torch.manual_seed(1)
    source = smp.create_model("Unet", "resnet18", encoder_weights=None).encoder.state_dict()
    path = tmp_path / "resnet18.pt"
    torch.save(source, path)
    net = SEGMENTERS.build("smp", in_channels=1, num_classes=1, encoder_weights_path=str(path), **TINY)
    loaded = net.model.encoder.state_dict()
    assert torch.equal(loaded["layer1.0.conv1.weight"], source["layer1.0.conv1.weight"])
    assert loaded["conv1.weight"].shape[1] == 1  # first conv adapted to one channel by smp
    with pytest.raises(FileNotFoundError, match="encoder_weights_path: file not found: .*missing.pt"):
        SEGMENTERS.build("smp", in_channels=3, encoder_weights_path=str(tmp_path / "missing.pt"))
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt does not fit the resnet18 encoder"):
        SEGMENTERS.build("smp", in_channels=3, encoder_weights_path=str(tmp_path / "other.pt"))


def test_bad_keywords_are_clear():
    with pytest.raises(ValueError, match="encoder_weights downloads at run time"):
        SEGMENTERS.build("smp", in_channels=3, encoder_weights="imagenet")
    with pytest.raises(ValueError, match="unknown encoder_name 'resnet7'"):
        SEGMENTERS.build("smp", in_channels=3, encoder_name="resnet7")
    with pytest.raises(ValueError, match="segmenter 'smp': Unet takes no decoder_widths; it takes: .*decoder_channels"):
        SEGMENTERS.build("smp", in_channels=3, decoder_widths=[1])
    with pytest.raises(ValueError, match="unknown arch 'Unett'; known: .*deeplabv3plus"):
        SEGMENTERS.build("smp", in_channels=3, arch="Unett")


def test_a_tiny_run_trains_evaluates_and_exports(tmp_path, tiny_yaml):
    kwargs = json.dumps(TINY)
    args = ["--set", "seg.segmenter.name=smp", "--set", f"seg.segmenter.kwargs={kwargs}", "--set", "augmenter.name=flip"]
    assert main(["run", "--config", str(tiny_yaml), *args]) == 0
    (run,) = (tmp_path / "runs").glob("tiny-*")
    assert json.loads((run / "results.json").read_text())["tests"]["id"]["n"] == 4
    assert main(["export", "--run", str(run)]) == 0
    contract = json.loads((run / "export" / "segmenter_best_torchscript.json").read_text())
    assert contract["model"]["name"] == "smp" and contract["model"]["kwargs"]["encoder_depth"] == 3
