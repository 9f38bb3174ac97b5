"""Mask-to-image conditional GANs (pix2pix, Isola et al. 2017) as augmenters.

Each real step warps the real masks (``mask_aug``: the geometric part of a classical augmenter's
transform, ``combine`` by default) and the generator G turns them into images: the pairs the
segmenter trains on. With ``real_warp`` naming a transform (``combine`` by default, ``nnunet``
for nnU-Net's augmentation, ``none`` for no real pairs), the real pairs so augmented join them,
and the segmentation loss weighs the mean over both by ``lam``. G is trained with ``adversarial + l1_weight * L1(G(mask), image)``
on real pairs; the discriminator D has its own optimizer and steps once per real step from
``param_callback``. Three ways to train it:

- ``e2eaug`` (default, :class:`SearchedGAN`): G trains jointly with the segmenter, and its
  architecture weights ``alpha`` are searched by the ``arch`` level: three levels.
- ``gan_joint`` (:class:`CoTrainedGAN`): the same, ``alpha`` held at its initial value: two
  levels, no hypergradient.
- ``pix2pix`` (:class:`PretrainedGAN`): G trains alone for ``pretrain_steps``, then is frozen
  while the segmenter trains (the separately trained GAN).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch

from e2eaug import distributed
from e2eaug.config import ComponentConfig, ConfigError, OptimConfig, component
from e2eaug.data.transforms import Transform, build_warp
from e2eaug.losses import discriminator_loss, generator_adversarial_loss, reconstruction_loss
from e2eaug.models import ArchitectureParams, is_searchable
from e2eaug.optim import build_optimizer
from e2eaug.registry import AUGMENTERS, DISCRIMINATORS, GENERATORS

from .augmenter import AugmenterConfig, AugmenterProblem, Draw, Pairs
from .classical import WarpDraw


@dataclass
class WarpConfig:
    """A transform named as the weightless augmenters are (``e2eaug.data.transforms.WARPS``:
    ``none``, ``rotate``, ``flip``, ``translate``, ``combine``, ``nnunet``), with the classical
    ones' settings (see ``ClassicalConfig``)."""

    name: str = "combine"
    max_degrees: float = 30.0
    max_fraction: float = 0.1
    p_flip: float = 0.5
    jitter: float = 0.0

    def build(self, key: str) -> Optional[Transform]:
        """The transform, or ``None`` for ``none``; bad settings name ``augmenter.<key>``."""
        try:
            return build_warp(self.name, self.max_degrees, self.max_fraction, self.p_flip, self.jitter)
        except ValueError as err:
            raise ConfigError(f"augmenter.{key}: {err}") from None


@dataclass
class GANConfig(AugmenterConfig):
    """A mask-to-image conditional GAN augmenter (``e2eaug``, ``gan_joint``, ``pix2pix``).

    ``mask_aug`` warps the masks G renders (its transform's geometric part); ``real_warp``
    augments the real pairs that join the generated ones (``name: none``: none, and then
    ``lam: 1`` gives generated pairs alone).
    """

    name: str = "e2eaug"
    lam: float = 2.0  # the generated and the warped real pairs each at the real pairs' weight
    generator: ComponentConfig = component("generator", "unet", depth=3, base_width=16)
    discriminator: ComponentConfig = component("discriminator", "patch", base_width=16, n_layers=2, norm="instance")
    disc_optimizer: OptimConfig = field(default_factory=lambda: OptimConfig("adam", 2e-4, [0.5, 0.999], 0.0, 0.0))
    l1_weight: float = 100.0
    reconstruction: str = "l1"
    mask_aug: WarpConfig = field(default_factory=WarpConfig)
    real_warp: WarpConfig = field(default_factory=WarpConfig)
    pretrain_steps: int = 100


@dataclass
class GANDraw(Draw):
    """One step's randomness: the warped masks G renders and, with ``real_warp``, the warped
    real pairs."""

    masks: torch.Tensor
    real: Optional[WarpDraw] = None


class GANAugmenter(AugmenterProblem):
    """The generator G is this problem's module; D, its optimizer and ``alpha`` ride along.

    ``training_step`` changes nothing; D steps in ``param_callback`` (real steps only), so
    hypergradient re-runs never move it; ``disc_steps`` counts its steps.

    Args:
        cfg: the ``augmenter`` config section.
        generator: maps ``(mask, alpha)`` to an image in [0,1] (see ``e2eaug.models``).
        discriminator: judges ``(mask, image)`` pairs, returning patch logits.
        data: the run's data bundle.
        seed: the run seed.
    """

    config_class = GANConfig
    #: Whether the ``arch`` level searches ``alpha`` (otherwise it stays at its initial value).
    searches = False

    def __init__(
        self, cfg: GANConfig, generator: torch.nn.Module, discriminator: torch.nn.Module, data: Any, seed: int
    ) -> None:
        super().__init__(cfg, generator, data, seed)
        self.discriminator = discriminator
        self.disc_optimizer = build_optimizer(cfg.disc_optimizer, discriminator.parameters())
        self.alpha_module = ArchitectureParams.for_generator(generator) if is_searchable(generator) else None
        if self.alpha_module is not None and not self.searches:
            self.alpha_module.requires_grad_(False)
        if self.searches and self.alpha_module is None:
            raise ConfigError(f"augmenter.name={cfg.name} searches the generator's alpha, and generator "
                              f"{cfg.generator.name!r} has none: train a fixed generator with gan_joint or pix2pix")
        self.mask_aug = cfg.mask_aug.build("mask_aug")
        self.real_warp = cfg.real_warp.build("real_warp")
        self.disc_steps = 0
        self.last_disc_loss = float("nan")

    @classmethod
    def from_config(cls, cfg: GANConfig, data: Any, seed: int) -> "GANAugmenter":
        """Build generator and discriminator for the data's channels."""
        generator = GENERATORS.build(cfg.generator.name, in_channels=1, out_channels=data.channels, **cfg.generator.kwargs)
        discriminator = DISCRIMINATORS.build(
            cfg.discriminator.name, mask_channels=1, image_channels=data.channels, **cfg.discriminator.kwargs
        )
        return cls(cfg, generator, discriminator, data, seed)

    # ------------------------------------------------------------------ the contract
    def alpha(self) -> Optional[torch.Tensor]:
        """The architecture weights the generator reads, or ``None`` for a fixed generator."""
        return None if self.alpha_module is None else self.alpha_module.alpha

    def generate(self, masks: torch.Tensor) -> torch.Tensor:
        """Images in [0,1] for ``masks [B,1,H,W]``, differentiable in G and ``alpha``."""
        return self.module(masks, self.alpha())

    def draw(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> GANDraw:
        generator = self.generator(step)
        warped_masks = masks if self.mask_aug is None else self.mask_aug.geometry(masks, generator)
        if self.real_warp is None:
            return GANDraw(warped_masks)
        return GANDraw(warped_masks, WarpDraw(*self.real_warp(images, masks, generator)))

    def pairs(self, images: torch.Tensor, masks: torch.Tensor, drawn: GANDraw) -> Optional[Pairs]:
        fake = self.generate(drawn.masks)
        if drawn.real is None:
            return fake, drawn.masks
        return torch.cat([fake, drawn.real.images]), torch.cat([drawn.masks, drawn.real.masks])

    # ------------------------------------------------------------------ training
    def training_step(self, batch):
        images, masks = batch
        fake = self.generate(masks)
        adversarial = generator_adversarial_loss(self.discriminator(masks, fake))
        return adversarial + self.settings.l1_weight * reconstruction_loss(fake, images, self.settings.reconstruction)

    def param_callback(self) -> None:
        """One discriminator step on the current batch (real steps only)."""
        images, masks = self.cur_batch
        with self.autocast():
            with torch.no_grad():
                fake = self.generate(masks)
            loss = discriminator_loss(self.discriminator(masks, images), self.discriminator(masks, fake)).float()
        self.disc_optimizer.zero_grad(set_to_none=True)
        params = list(self.discriminator.parameters())
        loss.backward(inputs=params)
        distributed.average_gradients(params)
        self.disc_optimizer.step()
        self.disc_steps += 1
        self.last_disc_loss = loss.item()

    # ------------------------------------------------------------------ hooks
    def arch_parameters(self) -> Optional[torch.nn.Module]:
        return self.alpha_module if self.searches else None

    def derive(self) -> Any:
        if self.arch_parameters() is None:
            return super().derive()
        return self.module.derive(self.alpha().detach())

    def log_values(self) -> Dict[str, float]:
        return {"disc": self.last_disc_loss}

    def modules(self) -> List[torch.nn.Module]:
        extra = [] if self.alpha_module is None or self.searches else [self.alpha_module]
        return [self.module, self.discriminator, *extra]

    def patch_module(self) -> None:
        super().patch_module()
        for module in self.modules()[1:]:
            module.to(self.device)

    def train(self) -> None:
        super().train()
        self.discriminator.train()

    def eval(self) -> None:
        super().eval()
        self.discriminator.eval()

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["discriminator"] = self.discriminator.state_dict()
        state["disc_optimizer"] = self.disc_optimizer.state_dict()
        state["disc_steps"] = self.disc_steps
        if self.alpha_module is not None and not self.searches:
            state["fixed_alpha"] = self.alpha_module.state_dict()
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.discriminator.load_state_dict(state_dict["discriminator"])
        self.disc_optimizer.load_state_dict(state_dict["disc_optimizer"])
        self.disc_steps = int(state_dict["disc_steps"])
        if "fixed_alpha" in state_dict:
            self.alpha_module.load_state_dict(state_dict["fixed_alpha"])


@AUGMENTERS.register("e2eaug")
class SearchedGAN(GANAugmenter):
    """The GAN trained jointly with the segmenter, its architecture searched end to end."""

    searches = True
    is_method = True


@AUGMENTERS.register("gan_joint")
class CoTrainedGAN(GANAugmenter):
    """The GAN trained jointly with the segmenter, ``alpha`` held fixed (no search)."""


@AUGMENTERS.register("pix2pix")
class PretrainedGAN(GANAugmenter):
    """The GAN trained alone for ``pretrain_steps``, then frozen while the segmenter trains."""

    trains_jointly = False

    def __init__(self, cfg: GANConfig, *args: Any, **kwargs: Any) -> None:
        if cfg.pretrain_steps <= 0:
            raise ConfigError("augmenter.pretrain_steps must be > 0 for pix2pix: its GAN trains only then")
        super().__init__(cfg, *args, **kwargs)

    def pairs(self, images: torch.Tensor, masks: torch.Tensor, drawn: GANDraw) -> Optional[Pairs]:
        with torch.no_grad():  # frozen: the segmentation loss does not reach G
            return super().pairs(images, masks, drawn)
