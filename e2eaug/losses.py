"""Losses of the three levels: segmentation (BCE, soft Dice) and conditional GAN (pix2pix)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

SEG_LOSSES = ("bce", "bce_dice")


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per image, averaged; ``logits`` and ``target`` are ``[N,1,H,W]``."""
    prob = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    inter = (prob * target).sum(1)
    denom = prob.sum(1) + target.sum(1)
    return (1.0 - (2.0 * inter + eps) / (denom + eps)).mean()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Binary segmentation loss on logits: ``bce`` or ``bce_dice`` (BCE + soft Dice)."""
    if kind not in SEG_LOSSES:
        raise ValueError(f"unknown segmentation loss {kind!r}; known: {', '.join(SEG_LOSSES)}")
    loss = F.binary_cross_entropy_with_logits(logits, target)
    if kind == "bce_dice":
        loss = loss + soft_dice_loss(logits, target)
    return loss


RECONSTRUCTION_LOSSES = ("l1", "smooth_l1")


def reconstruction_loss(fake: torch.Tensor, real: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Pixel reconstruction loss of pix2pix: ``l1``, or ``smooth_l1`` (Huber, beta 0.05).

    L1 has a kink at every pixel where ``fake == real``; finite-difference hypergradients
    (``darts``) see those kinks as jumps, Huber smooths them.
    """
    if kind == "l1":
        return (fake - real).abs().mean()
    if kind == "smooth_l1":
        return F.smooth_l1_loss(fake, real, beta=0.05)
    raise ValueError(
        f"unknown reconstruction loss {kind!r}; known: {', '.join(RECONSTRUCTION_LOSSES)}"
    )


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: the discriminator should call fakes real."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss, halved as in pix2pix to slow D relative to G."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return 0.5 * (real + fake)
