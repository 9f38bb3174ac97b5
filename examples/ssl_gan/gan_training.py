"""Training the style-based GAN on an image pool (the pipeline's first stage) and sampling it.

The discriminator update is shared with the two-level mode, where the generator's Betty problem
calls :func:`discriminator_step` once per real generator step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import torch

from e2eaug.batching import StepBatcher, stream_seed
from e2eaug.optim import build_optimizer
from examples.ssl_gan.config import StyleGANConfig
from examples.ssl_gan.data import mirror
from examples.ssl_gan.style_gan import (
    Discriminator,
    StyleGenerator,
    discriminator_loss,
    generator_loss,
    r1_penalty,
)


@dataclass
class GAN:
    """A generator, its discriminator and their optimisers."""

    generator: StyleGenerator
    discriminator: Discriminator
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer


def build_gan(cfg: StyleGANConfig, size: int, device: torch.device) -> GAN:
    """A fresh generator/discriminator pair, each with the optimiser ``cfg.optimizer`` describes."""
    g = StyleGenerator(size=size, z_dim=cfg.z_dim, w_dim=cfg.w_dim,
                       mapping_layers=cfg.mapping_layers, channel_base=cfg.channel_base,
                       max_channels=cfg.max_channels).to(device)
    d = Discriminator(size=size, channel_base=cfg.channel_base,
                      max_channels=cfg.max_channels).to(device)
    return GAN(g, d, build_optimizer(cfg.optimizer, g.parameters()), build_optimizer(cfg.optimizer, d.parameters()))


def discriminator_step(generator: StyleGenerator, discriminator: Discriminator,
                       optimizer: torch.optim.Optimizer, real: torch.Tensor,
                       g_inputs: Dict[str, torch.Tensor], r1_gamma: float = 0.0) -> float:
    """One discriminator update on ``real`` (in ``[-1, 1]``) vs. ``G(g_inputs)`` (detached).

    ``r1_gamma > 0`` adds ``r1_gamma / 2 * R1``. Only the discriminator's parameters change.

    Returns:
        The discriminator loss (without the penalty).
    """
    with torch.no_grad():
        fake = generator(**g_inputs)
    real = real.detach().requires_grad_(r1_gamma > 0)
    real_logits = discriminator(real)
    loss = discriminator_loss(real_logits, discriminator(fake))
    total = loss + 0.5 * r1_gamma * r1_penalty(real, real_logits) if r1_gamma > 0 else loss
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    return loss.item()


def train_gan(images: torch.Tensor, cfg: StyleGANConfig, device: torch.device, seed: int,
              log_every: int = 100) -> Tuple[GAN, List[Dict[str, float]]]:
    """Train a style-based GAN on ``images`` (``(N, 3, H, W)`` in ``[0, 1]``) with the
    non-saturating loss.

    Per step: one discriminator update (R1 every ``cfg.r1_every`` steps, lazily scaled), then one
    generator update; style mixing with ``cfg.mixing_prob``; real images come in shuffled epochs
    and are randomly mirrored.

    Returns:
        The trained :class:`GAN` and a log of ``{"step", "d_loss", "g_loss"}`` every
        ``log_every`` steps (also printed).
    """
    torch.manual_seed(seed)
    gan = build_gan(cfg, images.shape[-1], device)
    batches = StepBatcher([images], cfg.batch_size, stream_seed(seed, "gan_batches"))
    rng = torch.Generator().manual_seed(stream_seed(seed, "gan_draws"))
    history: List[Dict[str, float]] = []
    g, d = gan.generator, gan.discriminator
    for step in range(1, cfg.steps + 1):
        real = mirror(batches.batch(step - 1)[0], rng) * 2 - 1
        gamma = cfg.r1_gamma * cfg.r1_every if cfg.r1_every > 0 and step % cfg.r1_every == 0 else 0.0
        inputs = g.sample_inputs(cfg.batch_size, rng, cfg.mixing_prob)
        d_loss = discriminator_step(g, d, gan.d_optimizer, real, inputs, gamma)
        inputs = g.sample_inputs(cfg.batch_size, rng, cfg.mixing_prob)
        g_loss = generator_loss(d(g(**inputs)))
        gan.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        gan.g_optimizer.step()
        if step % log_every == 0 or step == cfg.steps:
            history.append({"step": step, "d_loss": d_loss, "g_loss": g_loss.item()})
            print(f"  gan step {step}/{cfg.steps}  d_loss {d_loss:.3f}  g_loss {g_loss.item():.3f}",
                  flush=True)
    return gan, history


@torch.no_grad()
def generate(generator: StyleGenerator, n: int, seed: int, batch_size: int = 256,
             mixing_prob: float = 0.0) -> torch.Tensor:
    """``n`` generated images in ``[0, 1]`` on the generator's device (no mixing by default)."""
    rng = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, n, batch_size):
        inputs = generator.sample_inputs(min(batch_size, n - start), rng, mixing_prob)
        out.append((generator(**inputs) + 1) / 2)
    if not out:
        device = generator.synthesis.const.device
        return torch.empty(0, 3, generator.size, generator.size, device=device)
    return torch.cat(out)


__all__ = ["GAN", "build_gan", "discriminator_step", "generate", "train_gan"]
