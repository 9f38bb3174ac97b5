"""Typed configuration of the SSL example: one dataclass per component, plus named profiles.

``build_config(profile, overrides)`` starts from a profile (``test``, ``quick``, ``full``,
``paper``) and applies ``"a.b=value"`` overrides; unknown keys raise
:class:`e2eaug.config.ConfigError`. ``to_dict`` (from :mod:`e2eaug.config`) gives the resolved
config back for saving next to the results.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from e2eaug.config import ConfigError, apply_overrides, from_dict


@dataclass
class SSLDataConfig:
    """Where the images come from.

    ``source: synthetic`` draws from the embedded skin-lesion classification generator;
    ``source: real`` reads ``<root>/ham10000_unlabelled/images`` (unlabelled pool) and
    the labelled probe set of ``probe_set``: ``ph2`` (``<root>/ph2``) or ``ham10000`` (the pool's
    4009 images with a diagnosis in ``<root>/ham10000_unlabelled/labels.csv``, split by lesion id;
    self-supervised pretraining uses no labels, as in the paper); ``root=None`` means
    ``<repo>/../shared/data``.
    ``pool_size`` real images are used for pretraining and ``heldout_size`` further ones form the
    held-out set of the two-level upper loss (disjoint).
    """

    source: str = "synthetic"
    root: Optional[str] = None
    image_size: int = 32
    pool_size: int = 1000
    heldout_size: int = 200
    n_labelled: int = 200
    probe_set: str = "ph2"
    seed: int = 0


@dataclass
class GANConfig:
    """Style-based GAN (Karras et al., 2019) size and training schedule."""

    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 8
    max_channels: int = 64
    channel_base: int = 1024
    steps: int = 1000
    batch_size: int = 32
    lr: float = 0.002
    betas: List[float] = field(default_factory=lambda: [0.0, 0.99])
    r1_gamma: float = 1.0
    r1_every: int = 4
    mixing_prob: float = 0.9
    n_generated: int = 1000


@dataclass
class SSLTrainConfig:
    """Self-supervised pretraining (SimCLR or BYOL), its encoder's stem and its view
    augmentations (``stem_stride``, ``stem_maxpool``: see ``SmallResNet18``)."""

    steps: int = 200
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-6
    temperature: float = 0.5
    hidden_dim: int = 512
    proj_dim: int = 128
    byol_tau: float = 0.99
    crop_scale: List[float] = field(default_factory=lambda: [0.2, 1.0])
    jitter_strength: float = 0.5
    gray_prob: float = 0.2
    stem_stride: int = 1
    stem_maxpool: bool = False


@dataclass
class ProbeConfig:
    """Linear probe on frozen features: Adam, ``train_fraction`` split, one run per seed.

    ``report_epochs`` also records the test accuracy at those epochs (a convergence check);
    ``validation`` also fits a probe on ``train_fraction`` of each training split and scores it
    on the rest (the figure to choose settings by).
    """

    seeds: List[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    train_fraction: float = 0.8
    lr: float = 1e-4
    epochs: int = 2000
    batch_size: int = 32
    report_epochs: List[int] = field(default_factory=lambda: [250, 500, 1000])
    validation: bool = True


@dataclass
class TwoLevelConfig:
    """Two-level Betty run: generator (upper) vs. SSL encoder (lower).

    The upper loss is ``adversarial + beta * SSL(encoder, held-out real)``; ``hypergradient``
    is Betty's best-response method (``darts`` or ``neumann``). ``warm_start`` initialises
    the generator and discriminator from the pipeline's trained GAN; both keep the GAN's
    optimiser settings (``gan.lr``, ``gan.betas``).
    """

    hypergradient: str = "darts"
    beta: float = 1.0
    unroll_steps: int = 1
    darts_alpha: float = 0.01
    neumann_iterations: int = 1
    neumann_alpha: float = 0.1
    warm_start: bool = True


@dataclass
class GridConfig:
    """Augmentation-ratio study: real pool sizes x generated-image counts (SimCLR)."""

    pool_sizes: List[int] = field(default_factory=lambda: [250, 1000])
    generated: List[int] = field(default_factory=lambda: [0, 1000])


@dataclass
class ExperimentConfig:
    """Everything one run of ``examples/ssl_gan/run.py`` needs."""

    data: SSLDataConfig = field(default_factory=SSLDataConfig)
    gan: GANConfig = field(default_factory=GANConfig)
    ssl: SSLTrainConfig = field(default_factory=SSLTrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    two_level: TwoLevelConfig = field(default_factory=TwoLevelConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    seed: int = 0


PROFILES: Dict[str, Dict[str, Any]] = {
    "test": {
        "data": {"image_size": 16, "pool_size": 32, "heldout_size": 16, "n_labelled": 30},
        "gan": {"z_dim": 16, "w_dim": 16, "mapping_layers": 8, "max_channels": 16,
                "steps": 3, "batch_size": 8, "n_generated": 16},
        "ssl": {"steps": 2, "batch_size": 8, "hidden_dim": 32, "proj_dim": 16},
        "probe": {"seeds": [0, 1], "epochs": 5, "report_epochs": [2]},
        "grid": {"pool_sizes": [16, 32], "generated": [0, 16]},
    },
    "quick": {
        "data": {"image_size": 32, "pool_size": 1000, "heldout_size": 200},
        "gan": {"steps": 400, "batch_size": 32, "n_generated": 1000},
        "ssl": {"steps": 80, "batch_size": 32},
        "two_level": {"unroll_steps": 2},
        "grid": {"pool_sizes": [250, 1000], "generated": [0, 1000, 4000]},
    },
    "full": {
        "data": {"image_size": 64, "pool_size": 4500, "heldout_size": 500},
        "gan": {"max_channels": 128, "channel_base": 4096, "steps": 20000, "n_generated": 5000},
        "ssl": {"steps": 5000, "batch_size": 128},
        "grid": {"pool_sizes": [500, 1000, 4500], "generated": [0, 1000, 5000, 20000]},
    },
    "paper": {
        "data": {"image_size": 256, "pool_size": 4500, "heldout_size": 500},
        "gan": {"z_dim": 512, "w_dim": 512, "max_channels": 512, "channel_base": 8192,
                "steps": 100000, "n_generated": 20000},
        "ssl": {"steps": 20000, "batch_size": 256, "hidden_dim": 2048, "proj_dim": 256,
                "byol_tau": 0.996, "jitter_strength": 1.0, "crop_scale": [0.08, 1.0]},
        "grid": {"pool_sizes": [500, 1000, 4500], "generated": [0, 1000, 5000, 20000]},
    },
}


def build_config(profile: str = "quick", overrides: Optional[List[str]] = None) -> ExperimentConfig:
    """Resolve a profile plus ``"a.b=value"`` overrides into an :class:`ExperimentConfig`.

    Raises:
        ConfigError: unknown profile, key or badly typed value.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
    data = apply_overrides(copy.deepcopy(PROFILES[profile]), list(overrides or []))
    cfg = from_dict(ExperimentConfig, data)
    validate(cfg)
    return cfg


def validate(cfg: ExperimentConfig) -> None:
    """Check values that the dataclass types cannot express.

    Raises:
        ConfigError: on the first invalid value.
    """
    size = cfg.data.image_size
    if size < 8 or size & (size - 1):
        raise ConfigError(f"data.image_size must be a power of two >= 8, got {size}")
    if cfg.data.source not in ("synthetic", "real"):
        raise ConfigError(f"data.source must be synthetic or real, got {cfg.data.source!r}")
    if cfg.two_level.hypergradient not in ("darts", "neumann"):
        raise ConfigError(
            f"two_level.hypergradient must be darts or neumann, got {cfg.two_level.hypergradient!r}"
        )
    if cfg.data.probe_set not in ("ph2", "ham10000"):
        raise ConfigError(f"data.probe_set must be ph2 or ham10000, got {cfg.data.probe_set!r}")
    if not 0.0 < cfg.probe.train_fraction < 1.0:
        raise ConfigError(f"probe.train_fraction must be in (0, 1), got {cfg.probe.train_fraction}")
    for name, value in (("data.pool_size", cfg.data.pool_size), ("ssl.steps", cfg.ssl.steps),
                        ("ssl.batch_size", cfg.ssl.batch_size), ("gan.batch_size", cfg.gan.batch_size)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")


__all__ = ["ExperimentConfig", "PROFILES", "build_config", "validate"]
