"""DeepLabV3 segmenter (Chen et al. 2017) from torchvision's backbones and ASPP head.

Never loads pretrained weights. Unlike torchvision's model, which returns a dict, this one
returns a plain logits tensor at the input resolution.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v3_large, resnet18, resnet50
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import DeepLabHead

from e2eaug.models.layers import check_image
from e2eaug.registry import SEGMENTERS

BACKBONES = ("resnet18", "resnet50", "mobilenet_v3_large")


def _with_in_channels(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """A fresh copy of ``conv``'s hyper-parameters reading ``in_channels`` channels."""
    return nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=conv.bias is not None,
    )


def _backbone(name: str, in_channels: int) -> Tuple[nn.Module, int]:
    """A randomly initialised feature extractor returning ``{"out": features}``, and its width.

    Output strides as torchvision's DeepLabV3: 8 for resnet50 (dilated layer3/4), 16 for
    mobilenet_v3_large (dilated last stage), 32 for resnet18 (BasicBlock cannot dilate).
    """
    if name in ("resnet18", "resnet50"):
        if name == "resnet18":
            net, width = resnet18(weights=None), 512
        else:
            dilate = [False, True, True]
            net, width = resnet50(weights=None, replace_stride_with_dilation=dilate), 2048
        if in_channels != 3:
            net.conv1 = _with_in_channels(net.conv1, in_channels)
        return IntermediateLayerGetter(net, return_layers={"layer4": "out"}), width
    if name == "mobilenet_v3_large":
        features = mobilenet_v3_large(weights=None, dilated=True).features
        if in_channels != 3:
            features[0][0] = _with_in_channels(features[0][0], in_channels)
        getter = IntermediateLayerGetter(features, return_layers={str(len(features) - 1): "out"})
        return getter, features[-1].out_channels
    raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}")


@SEGMENTERS.register("deeplabv3")
class DeepLabV3(nn.Module):
    """DeepLabV3: backbone, ASPP head, bilinear upsampling to the input size.

    Args:
        in_channels: image channels; the backbone's first conv is rebuilt if not 3.
        num_classes: output channels (1 for binary segmentation, C for C classes).
        backbone: ``"resnet18"`` (small CPU option), ``"resnet50"`` (paper/GPU preset) or
            ``"mobilenet_v3_large"``; always randomly initialised (``weights=None``).
        atrous_rates: dilation rates of the ASPP branches (torchvision: 12, 24, 36).
        dropout: dropout before the head's last convs; torchvision uses 0.5. Default 0 keeps
            training steps deterministic for Betty's hypergradient re-runs.

    Output contract:
        ``forward(image [N, in_channels, H, W])`` returns logits ``[N, num_classes, H, W]``
        (a tensor, not torchvision's ``{"out": ...}`` dict).

    BatchNorm (backbone and ASPP) updates running statistics on every train-mode forward.
    The ASPP image-pooling branch normalises a 1x1 map, so train mode needs a batch of at
    least 2; a batch of 1 raises ``ValueError`` (use ``eval()`` or drop the last batch).
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        num_classes: int = 1,
        backbone: str = "resnet18",
        atrous_rates: Sequence[int] = (12, 24, 36),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.backbone, width = _backbone(backbone, in_channels)
        self.classifier = DeepLabHead(width, num_classes, atrous_rates=tuple(atrous_rates))
        for module in self.classifier.modules():
            if isinstance(module, nn.Dropout):
                module.p = dropout

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Segmentation logits of ``image`` (see class doc)."""
        check_image(image, self.in_channels, "image")
        if self.training and image.shape[0] < 2:
            raise ValueError(
                "DeepLabV3 in train mode needs a batch of at least 2 (BatchNorm on the 1x1 "
                "ASPP pooling map); use eval() or a larger batch"
            )
        logits = self.classifier(self.backbone(image)["out"])
        return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)
