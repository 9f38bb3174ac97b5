"""Config loading: presets, overrides, unknown keys, plug-in augmenters."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from e2eaug.config import ConfigError, to_dict
from e2eaug.problems import GANConfig
from e2eaug.registry import AUGMENTERS
from e2eaug.run_config import RunConfig, config_from_dict, load_config, preset_names


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
    cfg = load_config("skin_synthetic", ["augmenter.lam=0.25", "engine.train_iters=7", "data.shifted_domains=[ood]"])
    assert cfg.augmenter.lam == 0.25 and cfg.engine.train_iters == 7
    assert cfg.data.shifted_domains == ["ood"]


def test_exponent_floats_without_a_dot_are_floats():
    # YAML 1.1 reads 1e-5 as a string; a float field takes it as the number it means
    cfg = load_config("skin_synthetic", ["seg.hypergrad={type: darts, alpha: 1e-5}", "augmenter.lam=+2E+0"])
    assert cfg.seg.hypergrad.alpha == 1e-5 and cfg.augmenter.lam == 2.0
    with pytest.raises(ConfigError, match=r"augmenter\.lam"):
        load_config("skin_synthetic", ["augmenter.lam=1e"])


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"engine\.train_iters"):
        load_config("skin_synthetic", ["engine.train_iters=many"])


def test_unknown_preset_lists_known():
    with pytest.raises(ConfigError, match="skin_synthetic"):
        load_config("no_such_preset")


def test_unknown_augmenter_name_lists_known():
    with pytest.raises(ConfigError, match="known augmenters: .*e2eaug"):
        load_config("skin_synthetic", ["augmenter.name=nope"])


def test_unknown_hypergradient_method_is_named():
    with pytest.raises(ConfigError, match=r"seg\.hypergrad\.type: unknown hypergradient method 'magic'.*darts"):
        load_config("skin_synthetic", ["seg.hypergrad.type=magic"])


def test_hypergradient_knobs_are_the_methods_own():
    from e2eaug.hypergrad import NeumannConfig

    cfg = load_config("skin_synthetic", ["seg.hypergrad={type: neumann, iterations: 3, alpha: 0.1}"])
    assert isinstance(cfg.seg.hypergrad, NeumannConfig)
    betty = cfg.seg.hypergrad.betty_config(unroll_steps=2)
    assert (betty.type, betty.neumann_iterations, betty.neumann_alpha, betty.unroll_steps) == ("neumann", 3, 0.1, 2)
    with pytest.raises(ConfigError, match=r"seg\.hypergrad\.iterations"):
        load_config("skin_synthetic", ["seg.hypergrad={type: darts, iterations: 3}"])


def test_plugin_augmenter_is_parsed_with_its_own_config_class():
    from e2eaug.problems import GANAugmenter

    @dataclasses.dataclass
    class NoisyGANConfig(GANConfig):
        name: str = "noisy_gan_test"
        noise: float = 0.1

    @AUGMENTERS.register("noisy_gan_test")
    class NoisyGAN(GANAugmenter):
        config_class = NoisyGANConfig

    cfg = load_config("skin_synthetic", ["augmenter={name: noisy_gan_test, noise: 0.3}"])
    assert isinstance(cfg.augmenter, NoisyGANConfig) and cfg.augmenter.noise == 0.3
    with pytest.raises(ConfigError, match=r"augmenter\.nois\b"):
        load_config("skin_synthetic", ["augmenter={name: noisy_gan_test, nois: 0.3}"])


def test_dataclass_defaults_are_the_default_preset():
    assert to_dict(load_config("skin_synthetic")) == to_dict(RunConfig())


def test_presets_inherit_from_their_base(tmp_path):
    lung, skin = load_config("lung_synthetic"), load_config("skin_synthetic")
    assert (lung.data.task, lung.data.n_train, lung.data.n_val) == ("lung", 35, skin.data.n_val)
    assert to_dict(lung.augmenter) == to_dict(skin.augmenter)
    child = tmp_path / "child.yaml"
    child.write_text("base: lung_synthetic\nname: child\nseg: {batch_size: 2}\n")
    cfg = load_config(str(child))
    assert (cfg.name, cfg.data.task, cfg.seg.batch_size, cfg.seg.loss) == ("child", "lung", 2, "bce_dice")
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(str(loop))


@pytest.mark.parametrize("name", ["none", "rotate", "flip", "translate", "combine", "pix2pix", "gan_joint", "e2eaug"])
def test_every_augmenter_name_loads_on_a_gan_preset(name):
    cfg = load_config("jsrt", [f"augmenter.name={name}", "augmenter.lam=0.5"])
    assert isinstance(cfg.augmenter, AUGMENTERS.get(name).config_class)
    assert cfg.augmenter.name == name and cfg.augmenter.lam == 0.5
    fields = {f.name for f in dataclasses.fields(cfg.augmenter)}
    assert set(to_dict(cfg.augmenter)) == fields  # another augmenter's keys are not carried


def test_unknown_model_kwarg_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"seg\.segmenter\.kwargs: segmenter 'unet' takes no widht"):
        load_config("skin_synthetic", ["seg.segmenter.kwargs={depth: 2, widht: 4}"])
    with pytest.raises(ConfigError, match=r"augmenter\.generator\.name: unknown generator 'big'"):
        load_config("skin_synthetic", ["augmenter.generator.name=big"])


def test_an_augmenter_without_a_config_class_fails_at_registration():
    with pytest.raises(TypeError, match="augmenter 'broken_test'.*config_class"):

        @AUGMENTERS.register("broken_test")
        class Broken:
            config_class = None

    assert "broken_test" not in AUGMENTERS


def test_lam_defaults_per_augmenter_family():
    """The preset leaves lam to each augmenter: 1 for classical warps, 2 for the GANs, whose
    pairs are half generated and half warped real pairs (benchmarks/results/study)."""
    from e2eaug.run_config import load_config

    assert load_config("skin_synthetic", ["augmenter.name=combine"]).augmenter.lam == 1.0
    gan = load_config("skin_synthetic", ["augmenter.name=e2eaug"]).augmenter
    assert gan.lam == 2.0 and gan.real_warp.name == "combine"
    assert load_config("skin_synthetic", ["augmenter.name=pix2pix", "augmenter.lam=1"]).augmenter.lam == 1.0
