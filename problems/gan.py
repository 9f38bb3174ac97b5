"""GAN level: a mask-to-image conditional GAN (pix2pix, Isola et al. 2017) as a Betty problem.

Min over the generator G (this problem's trainable weights), max over the discriminator D (its
own optimizer, stepped once per real step from ``param_callback``). The architecture weights
``alpha`` enter the generator's forward but are held fixed here; the ``arch`` level owns them.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch

from e2eaug.batching import StepBatcher
from e2eaug.config import GANConfig
from e2eaug.losses import discriminator_loss, generator_adversarial_loss, reconstruction_loss
from e2eaug.models import ArchitectureParams
from e2eaug.optim import build_optimizer
from e2eaug.registry import AUGMENTERS, DISCRIMINATORS, GENERATORS

from . import names
from .augmenter import AugmenterProblem
from .base import betty_config


@AUGMENTERS.register("gan")
class GANProblem(AugmenterProblem):
    """Trains the generator G on (mask, image) training pairs.

    ``training_step`` returns ``adversarial + l1_weight * L1(G(mask, alpha), image)`` (Huber
    for ``reconstruction: smooth_l1``) and changes nothing. The discriminator steps in
    ``param_callback``, which Betty calls only after a real optimizer step, so hypergradient
    re-runs of ``training_step`` never move it; ``disc_steps`` counts its steps.

    Args:
        cfg: the ``augmenter`` config section.
        generator: maps ``(mask, alpha)`` to an image in [0,1] (see ``e2eaug.models``).
        discriminator: judges ``(mask, image)`` pairs, returning patch logits.
        batcher: serves ``(images, masks)`` training batches.
        alpha_module: holds ``alpha`` for a searchable generator (one with ``derive``);
            ``None`` for a fixed one.
    """

    config_class = GANConfig

    def __init__(
        self,
        cfg: GANConfig,
        generator: torch.nn.Module,
        discriminator: torch.nn.Module,
        batcher: StepBatcher,
        alpha_module: Optional[torch.nn.Module] = None,
    ) -> None:
        super().__init__(
            names.GAN,
            betty_config(cfg.hypergrad, cfg.unroll_steps),
            module=generator,
            optimizer=build_optimizer(cfg.optimizer, generator.parameters()),
            batcher=batcher,
        )
        self.settings = cfg
        self.discriminator = discriminator
        self.disc_optimizer = build_optimizer(cfg.disc_optimizer, discriminator.parameters())
        self.alpha_module = alpha_module
        self.disc_steps = 0
        self.last_disc_loss = float("nan")

    @classmethod
    def from_config(cls, cfg: GANConfig, data: Any, seed: int) -> "GANProblem":
        """Build generator, discriminator and (for a searchable generator) ``alpha``."""
        gen_kwargs = {"in_channels": 1, "out_channels": data.channels, **cfg.generator.kwargs}
        generator = GENERATORS.build(cfg.generator.name, **gen_kwargs)
        disc_kwargs = {"mask_channels": 1, "image_channels": data.channels, **cfg.discriminator.kwargs}
        discriminator = DISCRIMINATORS.build(cfg.discriminator.name, **disc_kwargs)
        alpha_module = (
            ArchitectureParams.for_generator(generator) if hasattr(generator, "derive") else None
        )
        batcher = StepBatcher([data.train.images, data.train.masks], cfg.batch_size, seed + 1)
        return cls(cfg, generator, discriminator, batcher, alpha_module)

    def arch_parameters(self) -> Optional[torch.nn.Module]:
        return self.alpha_module

    def alpha(self) -> Optional[torch.Tensor]:
        """The current architecture weights, or ``None`` for a fixed generator."""
        return None if self.alpha_module is None else self.alpha_module.alpha

    def generate(self, masks: torch.Tensor) -> torch.Tensor:
        return self.module(masks, self.alpha())

    def training_step(self, batch):
        images, masks = batch
        fake = self.generate(masks)
        adversarial = generator_adversarial_loss(self.discriminator(masks, fake))
        reconstruction = reconstruction_loss(fake, images, self.settings.reconstruction)
        return adversarial + self.settings.l1_weight * reconstruction

    def param_callback(self) -> None:
        """One discriminator step on the current batch (real steps only)."""
        images, masks = self.cur_batch
        with torch.no_grad():
            fake = self.generate(masks)
        loss = discriminator_loss(self.discriminator(masks, images), self.discriminator(masks, fake))
        self.disc_optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=list(self.discriminator.parameters()))
        self.disc_optimizer.step()
        self.disc_steps += 1
        self.last_disc_loss = loss.item()

    def patch_module(self) -> None:
        super().patch_module()
        self.discriminator.to(self.device)

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
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.discriminator.load_state_dict(state_dict["discriminator"])
        self.disc_optimizer.load_state_dict(state_dict["disc_optimizer"])
        self.disc_steps = int(state_dict["disc_steps"])
