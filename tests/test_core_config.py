"""Config loading: presets, overrides, unknown keys, plug-in augmenters."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from e2eaug.config import (
    ConfigError,
    GANConfig,
    RunConfig,
    config_from_dict,
    load_config,
    preset_names,
    to_dict,
)


def test_every_preset_loads_and_round_trips():
    assert "skin_synthetic" in preset_names()
    for name in preset_names():
        cfg = load_config(name)
        assert isinstance(cfg, RunConfig)
        again = config_from_dict(yaml.safe_load(yaml.safe_dump(to_dict(cfg))))
        assert to_dict(again) == to_dict(cfg), name


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seg:\n  lamda: 0.5\n")
    with pytest.raises(ConfigError, match=r"seg\.lamda"):
        load_config(str(path))


def test_unknown_augmenter_key_is_named():
    with pytest.raises(ConfigError, match=r"augmenter\.l1_wieght"):
        load_config("skin_synthetic", ["augmenter.l1_wieght=3"])


def test_overrides_parse_yaml_values():
    cfg = load_config("skin_synthetic", ["seg.lam=0.25", "engine.train_iters=7", "data.shifted_domains=[ood]"])
    assert cfg.seg.lam == 0.25 and cfg.engine.train_iters == 7
    assert cfg.data.shifted_domains == ["ood"]


def test_exponent_floats_without_a_dot_are_floats():
    # YAML 1.1 reads 1e-5 as a string; a float field takes it as the number it means
    cfg = load_config("skin_synthetic", ["seg.hypergrad.darts_alpha=1e-5", "seg.lam=-2E+0"])
    assert cfg.seg.hypergrad.darts_alpha == 1e-5 and cfg.seg.lam == -2.0
    with pytest.raises(ConfigError, match=r"seg\.lam"):
        load_config("skin_synthetic", ["seg.lam=1e"])


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"engine\.train_iters"):
        load_config("skin_synthetic", ["engine.train_iters=many"])


def test_unknown_preset_lists_known():
    with pytest.raises(ConfigError, match="skin_synthetic"):
        load_config("no_such_preset")


def test_unknown_augmenter_name_lists_known():
    with pytest.raises(ConfigError, match="known augmenters: .*gan"):
        load_config("skin_synthetic", ["augmenter.name=nope"])


def test_unknown_hypergradient_method_is_named():
    from e2eaug.config import HypergradConfig
    from e2eaug.problems import betty_config

    with pytest.raises(ConfigError, match="hypergrad.type.*'magic'.*darts"):
        betty_config(HypergradConfig(type="magic"))


def test_plugin_augmenter_is_parsed_with_its_own_config_class():
    from e2eaug.problems import GANProblem
    from e2eaug.registry import AUGMENTERS

    @dataclasses.dataclass
    class NoisyGANConfig(GANConfig):
        name: str = "noisy_gan_test"
        noise: float = 0.1

    @AUGMENTERS.register("noisy_gan_test")
    class NoisyGAN(GANProblem):
        config_class = NoisyGANConfig

    cfg = load_config("skin_synthetic", ["augmenter={name: noisy_gan_test, noise: 0.3}"])
    assert isinstance(cfg.augmenter, NoisyGANConfig) and cfg.augmenter.noise == 0.3
    with pytest.raises(ConfigError, match=r"augmenter\.nois\b"):
        load_config("skin_synthetic", ["augmenter={name: noisy_gan_test, nois: 0.3}"])
