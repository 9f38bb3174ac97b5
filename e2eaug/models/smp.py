"""Segmenters of segmentation_models_pytorch (smp; Iakubovskii 2019), an optional extra:
``pip install 'e2eaug[smp]'``.

Nothing downloads: smp is always asked for ``encoder_weights=None``, and pretrained encoder
weights come from a local file the user has (``encoder_weights_path``, a state dict of the
encoder as smp or torchvision save it, e.g. a ResNet's with or without its ``fc``).
"""

from __future__ import annotations

import importlib
import inspect
import math
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from torch import nn

from e2eaug.models.layers import check_divisible, check_image
from e2eaug.registry import SEGMENTERS
from e2eaug.utils import first_lines

#: Keywords of smp's architectures that e2eaug sets itself (no download, logits out).
REFUSED = {
    "encoder_weights": "downloads at run time; give encoder_weights_path, a local file of the weights",
    "activation": "would turn the logits e2eaug trains on into probabilities; remove it",
}


def _smp() -> Any:
    """The smp package, imported on first use (it takes seconds to import)."""
    try:
        return importlib.import_module("segmentation_models_pytorch")
    except ImportError:
        raise ValueError("segmenter 'smp' needs segmentation_models_pytorch: pip install 'e2eaug[smp]'") from None


def _architecture(smp: Any, arch: str, arch_kwargs: Dict[str, Any], timm: bool) -> type:
    """smp's class for ``arch``, after checking the keywords it will get (smp passes unknown
    ones to timm encoders and drops them for the others)."""
    architectures = smp.MODEL_ARCHITECTURES_MAPPING
    if arch.lower() not in architectures:
        raise ValueError(f"segmenter 'smp': unknown arch {arch!r}; known: {', '.join(sorted(architectures))}")
    model_class = architectures[arch.lower()]
    params = inspect.signature(model_class).parameters.values()
    accepted = {p.name for p in params if p.kind is not p.VAR_KEYWORD}
    accepted -= {"encoder_name", "in_channels", "classes", *REFUSED}
    unknown = sorted(set(arch_kwargs) - accepted)
    if unknown and not timm:
        raise ValueError(f"segmenter 'smp': {arch} takes no {', '.join(unknown)}; it takes: {', '.join(sorted(accepted))}")
    return model_class


def _load_encoder(encoder: nn.Module, path: str, encoder_name: str) -> None:
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"segmenter encoder_weights_path: file not found: {file}")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for garbled files
        raise ValueError(f"cannot read encoder weights {file}: {err}") from err
    try:
        encoder.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise ValueError(f"{file} does not fit the {encoder_name} encoder: {first_lines(err)}") from err


@SEGMENTERS.register("smp")
class SMPSegmenter(nn.Module):
    """An smp architecture (``Unet``, ``FPN``, ``DeepLabV3Plus``, ...) with an smp encoder.

    Args:
        in_channels: image channels.
        num_classes: output channels (smp's ``classes``).
        arch: smp architecture name (as ``smp.create_model`` takes it, case-insensitive).
        encoder_name: smp encoder (``resnet18``, ``resnet34``, ``efficientnet-b0``, ...).
        encoder_depth: encoder stages (``None``: the architecture's default, 5 for most); sizes
            must be divisible by the encoder's output stride (``2**encoder_depth`` for most).
        encoder_weights_path: a local file of the encoder's pretrained weights, loaded before
            the first conv is adapted to ``in_channels`` (smp's ``set_in_channels``). The file
            must be there whenever the run is rebuilt (evaluate, export, predict, resume).
        **arch_kwargs: other keywords of the smp architecture (e.g. ``decoder_channels``), checked
            against its signature (timm ``tu-`` encoders take theirs too); ``encoder_weights``
            and ``activation`` are refused (:data:`REFUSED`). Encoder stages beyond
            ``encoder_depth`` stay in the model unused (so whole weight files load).

    Output contract:
        ``forward(image [N, in_channels, H, W])`` returns logits ``[N, num_classes, H, W]``.

    Raises:
        ValueError: smp not installed, an unknown arch, encoder or keyword, a refused keyword,
            unreadable or unfitting weights.
        FileNotFoundError: ``encoder_weights_path`` names no file.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        num_classes: int = 1,
        arch: str = "Unet",
        encoder_name: str = "resnet18",
        encoder_depth: Optional[int] = None,
        encoder_weights_path: Optional[str] = None,
        **arch_kwargs: Any,
    ) -> None:
        super().__init__()
        for key, why in REFUSED.items():
            if key in arch_kwargs:
                raise ValueError(f"segmenter 'smp': {key} {why}")
        smp = _smp()
        known = smp.encoders.get_encoder_names()
        if encoder_name not in known and not encoder_name.startswith("tu-"):
            raise ValueError(
                f"segmenter 'smp': unknown encoder_name {encoder_name!r}; e.g. resnet18, resnet34, efficientnet-b0, "
                f"or tu-<timm name> (segmentation_models_pytorch.encoders.get_encoder_names() lists {len(known)})"
            )
        if encoder_depth is not None:
            arch_kwargs["encoder_depth"] = encoder_depth
        model_class = _architecture(smp, arch, arch_kwargs, timm=encoder_name.startswith("tu-"))
        pretrained = encoder_weights_path is not None
        self.model = model_class(
            encoder_name=encoder_name,
            encoder_weights=None,
            in_channels=3 if pretrained else in_channels,
            classes=num_classes,
            **arch_kwargs,
        )
        if pretrained:
            encoder = self.model.encoder
            _load_encoder(encoder, encoder_weights_path, encoder_name)
            if in_channels != 3:
                if not hasattr(encoder, "set_in_channels"):
                    raise ValueError(
                        f"segmenter 'smp': encoder {encoder_name!r} cannot adapt loaded weights to "
                        f"{in_channels} channels; set data.channels: 3"
                    )
                encoder.set_in_channels(in_channels, pretrained=True)
        self.in_channels, self.name = in_channels, f"smp {arch}/{encoder_name}"

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Segmentation logits of ``image`` (see class doc)."""
        check_image(image, self.in_channels, "image")
        check_divisible(image.shape[-2:], int(math.log2(self.model.encoder.output_stride)), self.name)
        return self.model(image)
