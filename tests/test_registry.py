"""Models are chosen by name from config; every registered model has working shapes and grads."""

from __future__ import annotations

from typing import Any, Dict

import pytest
import torch
from torch import nn

import e2eaug.models  # noqa: F401  (registers the built-in models)
from e2eaug.config import ComponentConfig, ConfigError, from_dict
from e2eaug.models import ArchitectureParams, is_searchable
from e2eaug.registry import DISCRIMINATORS, GENERATORS, SEGMENTERS


@SEGMENTERS.register("test_tiny_segmenter")
class TinySegmenter(nn.Module):
    """A user's segmenter plugged in with the decorator only."""

    def __init__(self, *, in_channels: int = 3, num_classes: int = 1, width: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, num_classes, 1)
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


def test_builtin_names_are_registered():
    assert {"unet", "spade", "asapnet"} <= set(GENERATORS)
    for family, aliases in {"unet": ("searchable", "fixed"), "spade": ("spade_fixed",), "asapnet": ("asapnet_fixed",)}.items():
        assert all(GENERATORS.get(alias) is GENERATORS.get(family) for alias in aliases)  # old config names
    assert "patch" in DISCRIMINATORS
    assert {"unet", "deeplabv3"} <= set(SEGMENTERS)


def test_user_model_builds_from_config_dict():
    data = {"name": "test_tiny_segmenter", "kwargs": {"num_classes": 2, "width": 3}}
    config = from_dict(ComponentConfig, data)
    model = SEGMENTERS.build(config.name, **config.kwargs)
    assert isinstance(model, TinySegmenter)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 2, 16, 16)


def test_builtin_model_builds_from_config_dict():
    data = {"name": "unet", "kwargs": {"depth": 2, "base_width": 4, "norm": "group"}}
    config = from_dict(ComponentConfig, data)
    model = SEGMENTERS.build(config.name, **config.kwargs)
    assert model(torch.rand(1, 3, 16, 16)).shape == (1, 1, 16, 16)


def test_unknown_name_lists_known_names():
    message = "unknown segmenter 'unet3d'; known segmenters: .*deeplabv3.*unet"
    with pytest.raises(KeyError, match=message):
        SEGMENTERS.build("unet3d")


def test_positional_or_unknown_kwargs_fail():
    with pytest.raises(ConfigError, match="cannot build segmenter 'unet'"):
        SEGMENTERS.build("unet", kernel=3)
    with pytest.raises(TypeError):
        e2eaug.models.UNet(3, 1)


# ----------------------------------------------------------------------------- registry walk

# Small builder kwargs per registered name; names not listed are built with their defaults.
WALK_KWARGS: Dict[str, Dict[str, Any]] = {
    "searchable": {"depth": 3, "base_width": 4},
    "fixed": {
        "genotype": {"down": ["conv_6_2_2"] * 3, "up": ["upconv_8_2_3"] * 3},
        "base_width": 4,
    },
    "spade": {"depth": 3, "base_width": 4, "hidden": 4},
    "spade_fixed": {
        "genotype": {"down": ["conv_4_2_1"] * 3, "up": ["upconv_6_2_2"] * 3},
        "base_width": 4,
        "hidden": 4,
    },
    "asapnet": {"depth": 2, "base_width": 4},
    "asapnet_fixed": {"genotype": {"down": ["conv_8_2_3"] * 2, "up": ["upconv_4_2_1"] * 2}, "base_width": 4},
    "patch": {"base_width": 4, "n_layers": 2},
    "unet": {"depth": 3, "base_width": 4},
    "deeplabv3": {"backbone": "resnet18"},
    "smp": {},  # Unet on resnet18, depth 5 (SIZE 32 = its output stride)
}
OPTIONAL = {"smp": "segmentation_models_pytorch"}  # registered names whose extra may be missing
N, SIZE = 2, 32


def _walk(registry):
    return [pytest.param(registry, name, id=f"{registry.kind}-{name}") for name in registry.names()]


def _check_grads(model: nn.Module, out: torch.Tensor, *extra: nn.Parameter) -> None:
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reached {missing[:5]}"
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in extra)


@pytest.mark.parametrize("registry, name", _walk(GENERATORS))
def test_walk_generators(registry, name):
    torch.manual_seed(0)
    model = registry.build(name, **WALK_KWARGS.get(name, {}))
    mask = torch.rand(N, 1, SIZE, SIZE)
    extra = [ArchitectureParams.for_generator(model).alpha] if is_searchable(model) else []
    out = model(mask, *extra)
    assert out.shape == (N, 3, SIZE, SIZE)
    assert 0.0 <= out.min() and out.max() <= 1.0
    _check_grads(model, out, *extra)


@pytest.mark.parametrize("registry, name", _walk(DISCRIMINATORS))
def test_walk_discriminators(registry, name):
    torch.manual_seed(0)
    model = registry.build(name, **WALK_KWARGS.get(name, {}))
    out = model(torch.rand(N, 1, SIZE, SIZE), torch.rand(N, 3, SIZE, SIZE))
    assert out.shape[:2] == (N, 1)
    _check_grads(model, out)


@pytest.mark.parametrize("registry, name", _walk(SEGMENTERS))
def test_walk_segmenters(registry, name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    torch.manual_seed(0)
    model = registry.build(name, **{"num_classes": 2, **WALK_KWARGS.get(name, {})})
    out = model(torch.rand(N, 3, SIZE, SIZE))
    assert out.shape == (N, 2, SIZE, SIZE)
    _check_grads(model, out)


def test_smp_without_its_extra_says_how_to_install(monkeypatch):
    import importlib

    def missing(name, *args):
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(ValueError, match=r"segmenter 'smp' needs segmentation_models_pytorch: pip install 'e2eaug\[smp\]'"):
        SEGMENTERS.build("smp", in_channels=3)
