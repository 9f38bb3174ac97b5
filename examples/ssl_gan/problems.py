"""Betty problems of the two-level SSL mode.

* ``aug`` (:class:`GeneratorProblem`, upper; e2eaug's augmenter level, ``names.AUG``): the
  style generator G. Loss
  ``L_adv(G) + beta * L_ssl(encoder*(G); held-out real images)``: the generator should make
  images whose use in pretraining lowers the SSL loss of the encoder on real images it never saw.
* ``ssl`` (:class:`SSLProblem`, lower): the SSL method (encoder and heads), trained on real
  images plus images from the *current* generator, kept on G's graph so that Betty's
  best-response hypergradient (``darts`` or ``neumann``, the ``ssl`` problem's ``Config.type``)
  reaches G.

Wiring: ``u2l = {gen: [ssl]}``, ``l2u = {ssl: [gen]}`` (``ssl`` is the leaf).

Both ``training_step`` methods are pure functions of (parameters, batch): every random number
(batch indices, SimCLR/BYOL views, z, style-mixing crossovers, noise maps) is drawn once per real
step in ``get_batch`` and reused when Betty re-runs the loss at perturbed weights. State that must
change once per real step does so in ``param_callback``, which Betty calls only from
``one_step_descent``: the discriminator update (own optimiser, not a Betty parameter) and
BYOL's target EMA. BatchNorm in the encoder uses batch statistics in training mode, so the loss
stays deterministic, but every re-run also moves its running statistics (used by the probe).
Keep ``EngineConfig.roll_back`` off: with it the callbacks would run twice per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import torch
from betty.configs import Config, EngineConfig
from betty.engine import Engine

from e2eaug.batching import StepBatcher, step_generator, stream_seed
from e2eaug.problems.base import BatchedProblem
from e2eaug.problems.names import AUG
from examples.ssl_gan.data import mirror
from examples.ssl_gan.gan_training import discriminator_step
from examples.ssl_gan.methods import SSLMethod
from examples.ssl_gan.style_gan import Discriminator, StyleGenerator, generator_loss
from examples.ssl_gan.views import ViewConfig, apply_view, sample_view_params

SSL = "ssl"  # lower problem: the SSL encoder and heads (the upper one is e2eaug's AUG, "aug")
NAMES = (AUG, SSL)


@dataclass
class SSLBatch:
    """One lower-level batch: real images, generator inputs and the two views' parameters."""

    real: torch.Tensor
    gen_inputs: Dict[str, object]
    view1: Dict[str, torch.Tensor]
    view2: Dict[str, torch.Tensor]


@dataclass
class GenBatch:
    """One upper-level batch: real images for D (in ``[-1, 1]``), generator inputs for the
    adversarial loss and for the discriminator step, held-out real images and their views."""

    real: torch.Tensor
    gen_inputs: Dict[str, object]
    d_inputs: Dict[str, object]
    heldout: torch.Tensor
    view1: Dict[str, torch.Tensor]
    view2: Dict[str, torch.Tensor]


def ssl_loss_on(method: SSLMethod, images: torch.Tensor, view1: Dict[str, torch.Tensor],
                view2: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The method's loss on two fixed views of ``images`` (in ``[0, 1]``)."""
    return method.loss(apply_view(images, view1), apply_view(images, view2))


class SSLProblem(BatchedProblem):
    """Lower level: SSL pretraining on real pool images plus live generated images.

    Args:
        config: Betty config; its ``type`` is the hypergradient method for the ``aug`` path.
        method: the SSL method (its ``online_parameters`` are the trainable parameters).
        optimizer: optimiser over ``method.online_parameters()`` (Betty rebuilds it from its
            defaults).
        pool: real unlabelled images ``(N, 3, H, W)`` in ``[0, 1]``.
        real_batch, gen_batch: images per step from the pool and from the generator.
        view_cfg: SimCLR view augmentations.
        total_steps: length of training, for BYOL's tau schedule.
        seed: seed of the batch order and of the per-step draws.
    """

    def __init__(self, *, config: Config, method: SSLMethod, optimizer: torch.optim.Optimizer,
                 pool: torch.Tensor, real_batch: int, gen_batch: int, view_cfg: ViewConfig,
                 total_steps: int, seed: int, name: str = SSL) -> None:
        if gen_batch < 1 or real_batch < 1:
            raise ValueError("the SSL batch needs >= 1 real and >= 1 generated image, "
                             f"got real_batch={real_batch}, gen_batch={gen_batch}")
        super().__init__(name, config, module=method, optimizer=optimizer,
                         batcher=StepBatcher([pool], real_batch, stream_seed(seed, "ssl_real")))
        self.gen_batch = gen_batch
        self.view_cfg = view_cfg
        self.total_steps = total_steps
        self.seed = seed

    def get_batch(self) -> SSLBatch:
        rng = step_generator(self.seed, "ssl_draws", self.draws)
        (real,) = super().get_batch()
        n = real.shape[0] + self.gen_batch
        return SSLBatch(
            real=real,
            gen_inputs=getattr(self, AUG).module.sample_inputs(self.gen_batch, rng),
            view1=sample_view_params(n, self.view_cfg, rng, real.device),
            view2=sample_view_params(n, self.view_cfg, rng, real.device),
        )

    def training_step(self, batch: SSLBatch) -> torch.Tensor:
        fake = (getattr(self, AUG).module(**batch.gen_inputs) + 1) / 2  # keeps G's graph
        images = torch.cat([batch.real, fake])
        return ssl_loss_on(self.module, images, batch.view1, batch.view2)

    def trainable_parameters(self) -> List[torch.nn.Parameter]:
        return self.module.online_parameters()

    def param_callback(self) -> None:
        self.module.momentum_update(self._count / self.total_steps)


class GeneratorProblem(BatchedProblem):
    """Upper level: the generator, with its discriminator stepped once per real step.

    Args:
        config: Betty config of the upper problem.
        generator: the style generator (the Betty module).
        optimizer: its optimiser (Betty rebuilds it from its defaults).
        discriminator, d_optimizer: the max side, outside Betty's parameters.
        pool: real images for the adversarial game, ``(N, 3, H, W)`` in ``[0, 1]``.
        heldout: real images never used for pretraining, for the SSL term.
        batch_size: generated and real images per adversarial step.
        ssl_batch: held-out images per step.
        view_cfg: SimCLR view augmentations for the SSL term.
        beta: weight of the SSL term.
        r1_gamma, r1_every: lazy R1 penalty of the discriminator.
        mixing_prob: style-mixing probability of the generated batch.
        seed: seed of the batch orders and of the per-step draws.
    """

    def __init__(self, *, config: Config, generator: StyleGenerator,
                 optimizer: torch.optim.Optimizer, discriminator: Discriminator,
                 d_optimizer: torch.optim.Optimizer, pool: torch.Tensor, heldout: torch.Tensor,
                 batch_size: int, ssl_batch: int, view_cfg: ViewConfig, beta: float,
                 r1_gamma: float, r1_every: int, mixing_prob: float, seed: int,
                 name: str = AUG) -> None:
        super().__init__(name, config, module=generator, optimizer=optimizer,
                         batcher=StepBatcher([pool], batch_size, stream_seed(seed, "gen_real")))
        self.discriminator = discriminator
        self.d_optimizer = d_optimizer
        self.heldout = StepBatcher([heldout], ssl_batch, stream_seed(seed, "gen_heldout"))
        self.view_cfg = view_cfg
        self.beta = beta
        self.r1_gamma = r1_gamma
        self.r1_every = r1_every
        self.mixing_prob = mixing_prob
        self.seed = seed
        self.d_steps = 0
        self.d_losses: List[float] = []

    def get_batch(self) -> GenBatch:
        rng = step_generator(self.seed, "gen_draws", self.draws)
        (heldout,) = self.heldout.batch(self.draws, self.device)
        (real,) = super().get_batch()
        g, n = self.module, real.shape[0]
        return GenBatch(
            real=mirror(real, rng) * 2 - 1,
            gen_inputs=g.sample_inputs(n, rng, self.mixing_prob),
            d_inputs=g.sample_inputs(n, rng, self.mixing_prob),
            heldout=heldout,
            view1=sample_view_params(heldout.shape[0], self.view_cfg, rng, heldout.device),
            view2=sample_view_params(heldout.shape[0], self.view_cfg, rng, heldout.device),
        )

    def training_step(self, batch: GenBatch) -> Dict[str, object]:
        adversarial = generator_loss(self.discriminator(self.module(**batch.gen_inputs)))
        ssl = ssl_loss_on(getattr(self, SSL).module, batch.heldout, batch.view1, batch.view2)
        return {"loss": adversarial + self.beta * ssl, "adversarial": adversarial.item(),
                "ssl_heldout": ssl.item()}

    def param_callback(self) -> None:
        self.d_steps += 1
        lazy = self.r1_every > 0 and self.d_steps % self.r1_every == 0
        gamma = self.r1_gamma * self.r1_every if lazy else 0.0
        batch = self.cur_batch
        self.d_losses.append(discriminator_step(self.module, self.discriminator, self.d_optimizer,
                                                batch.real, batch.d_inputs, gamma))


class TwoLevelEngine(Engine):
    """Betty engine for ``aug``/``ssl`` on ``device`` (any torch device, not only Betty's
    ``cpu``/``cuda``) that prints progress every ``log_every`` global steps."""

    def __init__(self, gen: GeneratorProblem, ssl: SSLProblem, steps: int, device: torch.device,
                 log_every: int = 10) -> None:
        self.log_every = log_every
        self._device = torch.device(device)
        config = EngineConfig(train_iters=steps, valid_step=max(steps, 1), roll_back=False)
        super().__init__(problems=[gen, ssl], config=config,
                         dependencies={"u2l": {gen: [ssl]}, "l2u": {ssl: [gen]}})

    def configure_systems(self) -> dict:
        systems = super().configure_systems()
        self.device = self._device
        return systems

    def train_step(self) -> None:
        super().train_step()
        if self.global_step % self.log_every == 0 or self.global_step == self.train_iters:
            gen = getattr(self, AUG)
            d_loss = gen.d_losses[-1] if gen.d_losses else float("nan")
            print(f"  two-level step {self.global_step}/{self.train_iters}  "
                  f"gen steps {gen.count}  d steps {gen.d_steps}  d_loss {d_loss:.3f}", flush=True)


def betty_configs(hypergradient: str, unroll_steps: int, darts_alpha: float,
                  neumann_iterations: int, neumann_alpha: float) -> Tuple[Config, Config]:
    """Betty ``Config`` of the ``aug`` and ``ssl`` problems.

    ``aug`` retains its graph: after its direct gradient Betty differentiates the same loss again
    with respect to the encoder. ``ssl.type`` selects the hypergradient method.
    """
    if hypergradient not in ("darts", "neumann"):
        raise ValueError(f"hypergradient must be darts or neumann, got {hypergradient!r}")
    gen = Config(type="darts", retain_graph=True)
    ssl = Config(type=hypergradient, unroll_steps=unroll_steps, darts_alpha=darts_alpha,
                 neumann_iterations=neumann_iterations, neumann_alpha=neumann_alpha)
    return gen, ssl


__all__ = [
    "GenBatch",
    "GeneratorProblem",
    "NAMES",
    "SSL",
    "SSLBatch",
    "SSLProblem",
    "TwoLevelEngine",
    "betty_configs",
    "ssl_loss_on",
]
