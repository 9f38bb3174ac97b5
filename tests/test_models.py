"""Discriminator, segmenters and the parameter-count script."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from e2eaug.models import DeepLabV3, PatchDiscriminator, UNet
from e2eaug.models.params import PRESETS, count_parameters, parameter_table

# ----------------------------------------------------------------------------- discriminator


@pytest.mark.parametrize("size", [32, 64, 128])
def test_patch_discriminator_shapes(size):
    disc = PatchDiscriminator(base_width=4, n_layers=2)
    logits = disc(torch.rand(2, 1, size, size), torch.rand(2, 3, size, size))
    side = size // 4 - 2
    assert logits.shape == (2, 1, side, side)
    assert disc.output_size(size) == side


def test_patch_discriminator_pix2pix_256():
    disc = PatchDiscriminator(base_width=4, n_layers=3, norm="instance")
    assert disc(torch.rand(1, 1, 256, 256), torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)


def test_patch_discriminator_bad_inputs():
    disc = PatchDiscriminator(base_width=4, n_layers=3)
    with pytest.raises(ValueError, match="n_layers=3 is too deep for size 16: needs size >= 24"):
        disc(torch.rand(2, 1, 16, 16), torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="do not match"):
        disc(torch.rand(2, 1, 32, 32), torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match=r"image must have shape \[N, 3, H, W\]"):
        disc(torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        PatchDiscriminator(n_layers=0)


# ----------------------------------------------------------------------------- U-Net


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("norm", ["batch", "group", "instance"])
def test_unet_shapes(size, norm):
    net = UNet(in_channels=3, num_classes=1, depth=3, base_width=4, norm=norm)
    assert net(torch.rand(2, 3, size, size)).shape == (2, 1, size, size)


def test_unet_multiclass_grayscale():
    net = UNet(in_channels=1, num_classes=4, depth=2, base_width=4)
    assert net(torch.rand(2, 1, 32, 48)).shape == (2, 4, 32, 48)


def test_unet_bad_inputs():
    net = UNet(depth=3, base_width=4)
    with pytest.raises(ValueError, match=r"UNet: image size 36 .*depth=3.*32, 40"):
        net(torch.rand(2, 3, 36, 36))
    with pytest.raises(ValueError, match=r"image must have shape \[N, 3, H, W\]"):
        net(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="unknown norm 'layer'"):
        UNet(norm="layer")


# ----------------------------------------------------------------------------- DeepLabV3


@pytest.mark.parametrize("size", [32, 64])
def test_deeplab_resnet18_shapes(size):
    net = DeepLabV3(in_channels=1, num_classes=3, backbone="resnet18")
    assert net(torch.rand(2, 1, size, size)).shape == (2, 3, size, size)


def test_deeplab_resnet50_is_dilated_to_stride_8():
    net = DeepLabV3(backbone="resnet50")
    image = torch.rand(2, 3, 64, 64)
    assert net.backbone(image)["out"].shape == (2, 2048, 8, 8)
    assert net(image).shape == (2, 1, 64, 64)


def test_deeplab_mobilenet_shapes():
    net = DeepLabV3(in_channels=1, backbone="mobilenet_v3_large")
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_deeplab_batch_of_one_and_determinism():
    torch.manual_seed(0)
    net = DeepLabV3(backbone="resnet18")
    image = torch.rand(2, 3, 32, 32)
    assert torch.equal(net(image), net(image))  # no dropout by default
    with pytest.raises(ValueError, match="batch of at least 2"):
        net(image[:1])
    assert net.eval()(image[:1]).shape == (1, 1, 32, 32)


def test_deeplab_bad_arguments():
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'; expected one of resnet18"):
        DeepLabV3(backbone="vgg16")
    with pytest.raises(ValueError, match="dropout"):
        DeepLabV3(dropout=1.0)


# ----------------------------------------------------------------------------- parameter counts


def test_count_parameters():
    layer = nn.Linear(3, 2)
    layer.bias.requires_grad_(False)
    assert count_parameters(layer) == 6
    assert count_parameters(layer, trainable_only=False) == 8


def test_parameter_table_lists_every_preset_row():
    table = parameter_table()
    rows = [line for line in table.splitlines() if line.startswith(("| tiny", "| paper"))]
    assert len(rows) == sum(len(r) for r in PRESETS.values())
    assert "alpha 16x3" in table
