"""Mask-to-image conditional GANs (pix2pix, Isola et al. 2017) as augmenters.

Each real step warps the real masks (rotate/flip/translate, ``mask_aug``) and the generator
turns them into images: the pairs the segmenter trains on. With ``real_warp.ops`` set, classical
warps of the real pairs join them (the segmentation loss weighs the mean over both by ``lam``). The generator G is trained with
``adversarial + l1_weight * L1(G(mask), image)`` on real pairs; the discriminator D has its
own optimizer and steps once per real step from ``param_callback``. With ``gan_warp.ops`` set,
the GAN's own training pairs are classical warps of the real pairs (image and mask warped
alike), so G also learns from the warped masks it is asked to render. With ``disc_aug`` set, D
judges random differentiable views of every pair, real and generated (``e2eaug.diffaug``).
With ``code_dim`` > 0, G also reads a random appearance code per image and, with
``mode_seeking``, is pushed to render different codes differently (see :class:`GANConfig`).
Three ways to train it:

- ``e2eaug`` (default): G trains jointly with the segmenter, and its architecture weights
  ``alpha`` (a searchable generator's) are searched by the ``arch`` level: three levels.
- ``gan_joint``: the same, with ``alpha`` held at its initial value: two levels, no
  hypergradient (e2eaug without the search).
- ``pix2pix``: G trains alone for ``pretrain_steps`` first, then is frozen while the
  segmenter trains (the separately trained GAN baseline).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch

from e2eaug import distributed
from e2eaug.config import ComponentConfig, ConfigError, OptimConfig, component
from e2eaug.data.transforms import OPS, MaskAugmenter, apply_jitter, elastic_masks, jitter_factors
from e2eaug.diffaug import DiscriminatorAugment
from e2eaug.losses import discriminator_loss, generator_adversarial_loss, reconstruction_loss
from e2eaug.models import ArchitectureParams
from e2eaug.optim import build_optimizer
from e2eaug.registry import AUGMENTERS, DISCRIMINATORS, GENERATORS

from .augmenter import AugmenterConfig, AugmenterProblem, Pairs, check_jitter


@dataclass
class MaskAugConfig:
    """Random warps of the real masks fed to the generator."""

    ops: List[str] = field(default_factory=lambda: list(OPS))
    max_degrees: float = 30.0
    max_fraction: float = 0.1
    p_flip: float = 0.5


@dataclass
class GANConfig(AugmenterConfig):
    """A mask-to-image conditional GAN augmenter (``e2eaug``, ``gan_joint``, ``pix2pix``)."""

    name: str = "e2eaug"
    #: generated and warped real pairs each at the real pairs' weight (the study's choice)
    lam: float = 2.0
    generator: ComponentConfig = component("generator", "searchable", depth=3, base_width=16)
    discriminator: ComponentConfig = component("discriminator", "patch", base_width=16, n_layers=2, norm="instance")
    disc_optimizer: OptimConfig = field(
        default_factory=lambda: OptimConfig("adam", 2e-4, [0.5, 0.999], 0.0, 0.0)
    )
    l1_weight: float = 100.0
    reconstruction: str = "l1"
    mask_aug: MaskAugConfig = field(default_factory=MaskAugConfig)
    #: Elastic deformation of the masks fed to G after ``mask_aug``: the standard deviation of
    #: the displacement, as a fraction of the side (0: none). New shapes no affine warp makes.
    mask_elastic: float = 0.0
    #: Classical warps of the real pairs added to the generated ones; ``ops: []`` adds none.
    real_warp: MaskAugConfig = field(default_factory=MaskAugConfig)
    #: With ``real_warp``: each warped real image's contrast scaled by up to ``1 +- m`` and its
    #: brightness shifted by up to ``+- m`` (``e2eaug.data.transforms.intensity_jitter``), as the
    #: classical augmenters' ``jitter``; 0 (the default): none.
    real_jitter: float = 0.0
    #: The same jitter of each generated image (after G, so its gradients pass through it).
    gen_jitter: float = 0.0
    #: ``e2eaug`` only: the arch level also learns the real warps' rotation and shift magnitudes
    #: (each ``2 sigmoid(b) x`` the configured one, ``b`` starting at 0), by the hypergradient.
    search_warp: bool = False
    #: ``e2eaug`` only: the arch level also learns one output scale per mixed cell of the
    #: generator (``2 sigmoid(c)``, ``c`` starting at 0), by the hypergradient.
    search_cell_scales: bool = False
    #: ``e2eaug`` only: the arch level also learns the magnitudes of ``real_jitter`` and
    #: ``gen_jitter`` (each ``2 sigmoid(j) x`` the configured one, ``j`` starting at 0, so each
    #: must be below 0.5), by the hypergradient through the jittered images.
    search_jitter: bool = False
    #: Classical warps of the real pairs the GAN itself trains on (G's loss and D's step, in
    #: pretraining too); ``ops: []`` (the default) trains it on the real pairs as they are.
    gan_warp: MaskAugConfig = field(default_factory=lambda: MaskAugConfig(ops=[]))
    #: Differentiable augmentations of every pair D judges, real and generated, in G's loss
    #: and D's step alike (a subset of ``color``, ``translation``, ``cutout``; see
    #: ``e2eaug.diffaug``); ``[]`` (the default) shows D the pairs as they are.
    disc_aug: List[str] = field(default_factory=list)
    #: Numbers of a random appearance code ``z ~ N(0, I)`` per image, fed to G as constant
    #: extra input channels beside the mask; 0 (the default): G is deterministic. G's loss,
    #: D's step and the generated pairs all use random codes, so that with ``mode_seeking``
    #: one mask can be rendered in several appearances.
    code_dim: int = 0
    #: Where G reads the code: ``input`` (planes beside the mask, every cell sees them) or
    #: ``bottleneck`` (joined to the innermost map only, so the down cells see the mask alone;
    #: generators that take ``code_channels``, as ``searchable`` and ``fixed``).
    code_at: str = "input"
    #: Weight of the mode-seeking term (Mao et al. 2019) over two random codes ``z1, z2``:
    #: ``1 / (mean|G(m, z1) - G(m, z2)| / mean|z1 - z2| + 1e-5)``, so G does not ignore the
    #: code; needs ``code_dim`` > 0.
    mode_seeking: float = 0.0
    pretrain_steps: int = 100


def _check_codes(cfg: GANConfig) -> None:
    if cfg.code_dim < 0:
        raise ConfigError(f"augmenter.code_dim must be >= 0, got {cfg.code_dim}")
    if cfg.mode_seeking < 0 or (cfg.mode_seeking > 0 and cfg.code_dim == 0):
        raise ConfigError("augmenter.mode_seeking must be >= 0, and > 0 only with augmenter.code_dim > 0")
    if cfg.code_at not in ("input", "bottleneck"):
        raise ConfigError(f"augmenter.code_at must be input or bottleneck, got {cfg.code_at!r}")


def _warper(cfg: MaskAugConfig) -> MaskAugmenter:
    return MaskAugmenter(tuple(cfg.ops), cfg.max_degrees, cfg.max_fraction, cfg.p_flip)


class SearchedParams(torch.nn.Module):
    """What the arch level learns beside the generator's ``alpha`` (the same parameter the
    augmenter's ``alpha_module`` holds): with ``warp``, ``warp_logits`` ``[2]``, whose
    ``2 sigmoid`` scale the real warps' rotation and shift magnitudes; with ``cells``,
    ``cell_logits`` ``[num_cells]``, whose ``2 sigmoid`` scale each mixed cell's output; with
    ``jitter``, ``jitter_logits`` ``[2]``, whose ``2 sigmoid`` scale the real and the generated
    images' jitter magnitudes."""

    def __init__(self, alpha: torch.nn.Parameter, *, warp: bool, cells: bool, jitter: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.warp_logits = torch.nn.Parameter(torch.zeros(2)) if warp else None
        self.cell_logits = torch.nn.Parameter(torch.zeros(alpha.shape[0])) if cells else None
        self.jitter_logits = torch.nn.Parameter(torch.zeros(2)) if jitter else None

    def warp_scales(self) -> torch.Tensor:
        """``[rotation, shift]`` magnitude factors in (0, 2); 1 at the start."""
        return 2 * torch.sigmoid(self.warp_logits)

    def cell_scales(self) -> torch.Tensor:
        """One output factor in (0, 2) per cell; 1 at the start."""
        return 2 * torch.sigmoid(self.cell_logits)

    def jitter_scales(self) -> torch.Tensor:
        """``[real, generated]`` jitter magnitude factors in (0, 2); 1 at the start."""
        return 2 * torch.sigmoid(self.jitter_logits)


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
        self.alpha_module = ArchitectureParams.for_generator(generator) if hasattr(generator, "derive") else None
        if self.alpha_module is not None and not self.searches:
            self.alpha_module.requires_grad_(False)
        if self.searches and self.alpha_module is None:
            raise ConfigError(f"augmenter.name={cfg.name} searches the generator's alpha, and generator "
                              f"{cfg.generator.name!r} has none: train a fixed generator with gan_joint or pix2pix")
        if not 0 <= cfg.mask_elastic < 0.5:
            raise ConfigError(f"augmenter.mask_elastic must be in [0, 0.5), got {cfg.mask_elastic}")
        self.mask_aug = _warper(cfg.mask_aug)
        self.real_warp = _warper(cfg.real_warp) if cfg.real_warp.ops else None
        self.gan_warp = _warper(cfg.gan_warp) if cfg.gan_warp.ops else None
        try:
            self.disc_aug = DiscriminatorAugment(cfg.disc_aug) if cfg.disc_aug else None
        except ValueError as err:
            raise ConfigError(f"augmenter.disc_aug: {err}") from None
        _check_codes(cfg)
        check_jitter("real_jitter", cfg.real_jitter)
        check_jitter("gen_jitter", cfg.gen_jitter)
        if cfg.real_jitter and (self.real_warp is None or cfg.search_warp):
            raise ConfigError("augmenter.real_jitter > 0 needs augmenter.real_warp.ops and no augmenter.search_warp")
        self.searched = None
        if cfg.search_warp and self.real_warp is None:
            raise ConfigError("augmenter.search_warp needs augmenter.real_warp.ops")
        for key in ("search_warp", "search_cell_scales", "search_jitter"):
            if getattr(cfg, key) and not self.searches:  # a searching one has alpha (checked above)
                raise ConfigError(f"augmenter.{key} needs augmenter.name=e2eaug with a searchable generator")
        if cfg.search_jitter and (not (cfg.real_jitter or cfg.gen_jitter) or max(cfg.real_jitter, cfg.gen_jitter) >= 0.5):
            raise ConfigError("augmenter.search_jitter needs augmenter.real_jitter or augmenter.gen_jitter > 0, "
                              "and both below 0.5")
        if cfg.search_warp or cfg.search_cell_scales or cfg.search_jitter:
            self.searched = SearchedParams(
                self.alpha_module.alpha, warp=cfg.search_warp, cells=cfg.search_cell_scales, jitter=cfg.search_jitter
            )
        self.disc_steps = 0
        self.last_disc_loss = float("nan")

    @classmethod
    def from_config(cls, cfg: GANConfig, data: Any, seed: int) -> "GANAugmenter":
        """Build generator and discriminator for the data's channels."""
        _check_codes(cfg)
        kwargs = dict(cfg.generator.kwargs)
        if cfg.code_dim and cfg.code_at == "bottleneck":
            name = cfg.generator.name
            if name in GENERATORS and "code_channels" not in inspect.signature(GENERATORS.get(name)).parameters:
                raise ConfigError(f"augmenter.code_at: bottleneck needs a generator that takes code_channels "
                                  f"(searchable, fixed), not {name}")
            kwargs["code_channels"] = cfg.code_dim
        generator = GENERATORS.build(
            cfg.generator.name, in_channels=1 + cfg.code_dim, out_channels=data.channels, **kwargs
        )
        discriminator = DISCRIMINATORS.build(
            cfg.discriminator.name, mask_channels=1, image_channels=data.channels, **cfg.discriminator.kwargs
        )
        return cls(cfg, generator, discriminator, data, seed)

    # ------------------------------------------------------------------ the contract
    def alpha(self) -> Optional[torch.Tensor]:
        """The architecture weights the generator reads, or ``None`` for a fixed generator."""
        return None if self.alpha_module is None else self.alpha_module.alpha

    def generate(self, masks: torch.Tensor, codes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Images in [0,1] for ``masks [B,1,H,W]``, differentiable in G (and what is searched);
        with ``code_dim`` > 0, rendered under ``codes [B, code_dim]`` (``None``: the code 0)."""
        inputs = masks
        if self.settings.code_dim:
            if codes is None:
                codes = masks.new_zeros(len(masks), self.settings.code_dim)
            planes = codes.to(masks)[:, :, None, None].expand(-1, -1, *masks.shape[-2:])
            inputs = torch.cat([masks, planes], dim=1)
        if self.settings.search_cell_scales:
            return self.module(inputs, self.alpha(), self.searched.cell_scales())
        return self.module(inputs, self.alpha())

    def sample_codes(self, n: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        """``n`` random appearance codes ``[n, code_dim]`` on this device, or ``None`` for a
        deterministic G."""
        if not self.settings.code_dim:
            return None
        return torch.randn(n, self.settings.code_dim, generator=generator).to(self.device)

    def _step_codes(self, view: str, n: int) -> Optional[torch.Tensor]:
        """Codes for the current batch's ``view`` (a pure function of the draw count)."""
        return self.sample_codes(n, self.stream_generator(f"augmenter.codes.{view}", self.draws - 1))

    def draw(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> Tuple[torch.Tensor, ...]:
        """Warped (and with ``mask_elastic``, deformed) masks for G, with ``real_warp`` warped
        (and with ``real_jitter``, jittered) real images and masks, with ``code_dim`` codes, with
        ``search_jitter`` the real images' jitter factors (then applied in :meth:`pairs`), and
        with ``gen_jitter`` the generated images' jitter factors, in this order."""
        generator = self.generator(step)
        warped_masks, real = self.mask_aug(masks, generator), ()
        if self.settings.search_warp:  # the magnitudes are applied in `pairs`
            real = self.real_warp.draw(len(masks), generator, masks.device)
        elif self.real_warp is not None:
            params = self.real_warp.sample(len(masks), generator, masks.device)
            real = (self.real_warp.apply_images(images, params), self.real_warp.apply(masks, params))
        if self.settings.mask_elastic > 0:  # drawn late: the other draws stay as without it
            warped_masks = elastic_masks(warped_masks, self.settings.mask_elastic, generator)
        codes = self.sample_codes(len(masks), generator)  # late, likewise
        extra = () if codes is None else (codes,)
        if self.settings.real_jitter:  # later; with search_jitter applied in `pairs`
            factors = jitter_factors(len(masks), self.settings.real_jitter, generator)
            if self.settings.search_jitter:
                extra += (factors,)
            else:
                real = (apply_jitter(real[0], factors), real[1])
        if self.settings.gen_jitter:  # last
            extra += (jitter_factors(len(masks), self.settings.gen_jitter, generator),)
        return (warped_masks, *real, *extra)

    def pairs(self, images, masks, drawn) -> Optional[Pairs]:
        drawn, settings = list(drawn), self.settings
        factors = drawn.pop() if settings.gen_jitter else None
        real_factors = drawn.pop() if settings.search_jitter and settings.real_jitter else None
        codes = drawn.pop() if settings.code_dim else None
        warped_masks, *real = drawn
        fake = self.generate(warped_masks, codes)
        if factors is not None:
            fake = self._jitter(fake, factors, 1)
        if real_factors is not None:
            real[0] = self._jitter(real[0], real_factors, 0)
        if not real:
            return fake, warped_masks
        if self.settings.search_warp:  # differentiable in the magnitudes through the images
            params = self.real_warp.maps(tuple(real), self.searched.warp_scales())
            real = (self.real_warp.apply_images(images, params), self.real_warp.apply(masks, params.detach()))
        return torch.cat([fake, real[0]]), torch.cat([warped_masks, real[1]])

    def _jitter(self, images: torch.Tensor, factors: torch.Tensor, which: int) -> torch.Tensor:
        """``apply_jitter``; with ``search_jitter``, the factors times the learnt scale ``which``
        (0: the real images', 1: the generated ones')."""
        if self.settings.search_jitter:
            scale = self.searched.jitter_scales()[which]
            factors = factors.to(scale) * scale
        return apply_jitter(images, factors)

    # ------------------------------------------------------------------ training
    def get_batch(self) -> Tuple[torch.Tensor, ...]:
        """The next real batch, warped by ``gan_warp`` (a pure function of the draw count)."""
        images, masks = super().get_batch()
        if self.gan_warp is None:
            return images, masks
        generator = self.stream_generator("augmenter.gan_warp", self.draws - 1)
        params = self.gan_warp.sample(len(masks), generator, masks.device)
        return self.gan_warp.apply_images(images, params), self.gan_warp.apply(masks, params)

    def judge(self, masks: torch.Tensor, images: torch.Tensor, view: str) -> torch.Tensor:
        """D's patch logits for the pairs; with ``disc_aug``, of their random view ``view`` of
        the current batch (a pure function of the draw count, as Betty's re-runs need)."""
        if self.disc_aug is not None:
            generator = self.stream_generator(f"augmenter.disc_aug.{view}", self.draws - 1)
            masks, images = self.disc_aug(masks, images, generator)
        return self.discriminator(masks, images)

    def training_step(self, batch):
        """G's loss; with appearance codes, of two random codes per mask (each pair's loss as
        a deterministic G's), plus the mode-seeking term between them."""
        images, masks = batch
        codes = self._step_codes("generated", 2 * len(masks))
        if codes is not None:
            images, masks = images.repeat(2, 1, 1, 1), masks.repeat(2, 1, 1, 1)
        fake = self.generate(masks, codes)
        adversarial = generator_adversarial_loss(self.judge(masks, fake, "generated"))
        reconstruction = reconstruction_loss(fake, images, self.settings.reconstruction)
        loss = adversarial + self.settings.l1_weight * reconstruction
        if self.settings.mode_seeking:
            (f1, f2), (z1, z2) = fake.chunk(2), codes.chunk(2)
            ratio = (f1 - f2).abs().mean() / (z1 - z2).abs().mean()
            loss = loss + self.settings.mode_seeking / (ratio + 1e-5)
        return loss

    def param_callback(self) -> None:
        """One discriminator step on the current batch (real steps only)."""
        images, masks = self.cur_batch
        with self.autocast():
            with torch.no_grad():
                fake = self.generate(masks, self._step_codes("fake", len(masks)))
            loss = discriminator_loss(self.judge(masks, images, "real"), self.judge(masks, fake, "fake")).float()
        self.disc_optimizer.zero_grad(set_to_none=True)
        params = list(self.discriminator.parameters())
        loss.backward(inputs=params)
        distributed.average_gradients(params)
        self.disc_optimizer.step()
        self.disc_steps += 1
        self.last_disc_loss = loss.item()

    # ------------------------------------------------------------------ hooks
    def arch_parameters(self) -> Optional[torch.nn.Module]:
        if self.searched is not None:
            return self.searched
        return self.alpha_module if self.searches else None

    def derive(self) -> Any:
        if self.arch_parameters() is None:
            return super().derive()
        return self.module.derive(self.alpha().detach())

    def log_values(self) -> Dict[str, float]:
        values = {"disc": self.last_disc_loss}
        if self.settings.search_warp:
            rotate, shift = self.searched.warp_scales().tolist()
            values.update(rotate_scale=rotate, shift_scale=shift)
        if self.settings.search_cell_scales:
            values.update(
                (f"cell_scale_{i}", scale) for i, scale in enumerate(self.searched.cell_scales().tolist())
            )
        if self.settings.search_jitter:
            real, generated = self.searched.jitter_scales().tolist()
            values.update(real_jitter_scale=real, gen_jitter_scale=generated)
        return values

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
class E2EAugAugmenter(GANAugmenter):
    """The GAN trained jointly with the segmenter, its architecture searched end to end."""

    searches = True


@AUGMENTERS.register("gan_joint")
class JointGANAugmenter(GANAugmenter):
    """The GAN trained jointly with the segmenter, ``alpha`` held fixed (no search)."""


@AUGMENTERS.register("pix2pix")
class Pix2PixAugmenter(GANAugmenter):
    """The GAN trained alone for ``pretrain_steps``, then frozen while the segmenter trains."""

    trains_jointly = False

    def __init__(self, cfg: GANConfig, *args: Any, **kwargs: Any) -> None:
        if cfg.pretrain_steps <= 0:
            raise ConfigError("augmenter.pretrain_steps must be > 0 for pix2pix: its GAN trains only then")
        super().__init__(cfg, *args, **kwargs)

    def pairs(self, images, masks, drawn) -> Optional[Pairs]:
        with torch.no_grad():  # frozen: the segmentation loss does not reach G
            return super().pairs(images, masks, drawn)
