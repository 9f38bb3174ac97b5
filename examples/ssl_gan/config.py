"""Typed configuration of the SSL example: one dataclass per component, and YAML profiles.

``build_config(profile, overrides)`` reads a profile of ``profiles/`` (``test``, ``quick``,
``full``, ``paper``) or a YAML file, with e2eaug's loader: a ``base:`` chain, ``"a.b=value"``
overrides, unknown keys and out-of-range values (``lr``, ``batch_size``, ...) rejected with
:class:`e2eaug.config.ConfigError` naming the key. A profile holds only what differs from the
dataclass defaults. ``e2eaug.config.to_dict`` gives the resolved config back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from e2eaug.config import ConfigError, OptimConfig, apply_overrides, from_dict
from e2eaug.run_config import read_config_file

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


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
class StyleGANConfig:
    """Style-based GAN (Karras et al., 2019) size and training schedule."""

    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 8
    max_channels: int = 64
    channel_base: int = 1024
    steps: int = 1000
    batch_size: int = 32
    optimizer: OptimConfig = field(default_factory=lambda: OptimConfig(lr=0.002, betas=[0.0, 0.99]))
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
    optimizer: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, weight_decay=1e-6))
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
    optimiser settings (``gan.optimizer``).
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
    gan: StyleGANConfig = field(default_factory=StyleGANConfig)
    ssl: SSLTrainConfig = field(default_factory=SSLTrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    two_level: TwoLevelConfig = field(default_factory=TwoLevelConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    seed: int = 0


def profile_names() -> List[str]:
    """Names of the YAML profiles shipped in ``profiles/``."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def profile_path(name_or_path: str) -> Path:
    """A shipped profile's file, or ``name_or_path`` itself when it is a YAML file.

    Raises:
        ConfigError: neither (the message lists the profiles).
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    if (PROFILES_DIR / f"{name_or_path}.yaml").is_file():
        return PROFILES_DIR / f"{name_or_path}.yaml"
    raise ConfigError(f"unknown profile {name_or_path!r}; known profiles: {', '.join(profile_names())}")


def build_config(profile: str = "quick", overrides: Optional[List[str]] = None) -> ExperimentConfig:
    """Resolve a profile (name or YAML path) plus ``"a.b=value"`` overrides into an
    :class:`ExperimentConfig`.

    Raises:
        ConfigError: unknown profile, key or badly typed value.
        FileNotFoundError: a profile path that does not exist.
    """
    data = apply_overrides(read_config_file(str(profile_path(profile))), list(overrides or []))
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
                        ("ssl.stem_stride", cfg.ssl.stem_stride)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")


__all__ = ["ExperimentConfig", "PROFILES_DIR", "StyleGANConfig", "build_config", "profile_names", "validate"]
