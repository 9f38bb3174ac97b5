"""Style-based GAN (StyleGAN; Karras et al., "A Style-Based Generator Architecture for GANs",
CVPR 2019), sized for small images.

* :class:`MappingNetwork`: z -> w, an MLP of ``n_layers`` (8 in the paper) equalised-lr layers.
* :class:`SynthesisNetwork`: a learned 4x4 constant, then per resolution an upsampling block of
  two 3x3 convs; every layer adds per-pixel noise and is modulated by AdaIN from its own w.
* :class:`StyleGenerator`: both, plus style mixing (two w's switched at a crossover layer).
* :class:`Discriminator`: the mirrored network (1x1 fromRGB, conv blocks with 2x average-pool
  downsampling, minibatch standard deviation, two dense layers).
* Non-saturating GAN losses and the R1 penalty (Mescheder et al., 2018).

The generator has no batch statistics and takes its noise as an argument, so ``G(inputs)`` is a
deterministic function of its parameters and ``inputs`` (see :meth:`StyleGenerator.sample_inputs`).
Images are in ``[-1, 1]``, shape ``(B, 3, size, size)``.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2


def _check_size(size: int) -> int:
    if size < 8 or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= 8, got {size}")
    return int(math.log2(size))


def _channels(res: int, channel_base: int, max_channels: int) -> int:
    return max(1, min(max_channels, channel_base // res))


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: weights ~ N(0, 1/lr_mul^2), scaled at runtime."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0,
                 lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """Square conv with equalised learning rate and 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class MappingNetwork(nn.Module):
    """z -> w: pixel-normalised z through ``n_layers`` dense layers (lr multiplier 0.01)."""

    def __init__(self, z_dim: int, w_dim: int, n_layers: int = 8, lr_mul: float = 0.01) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        dims = [z_dim] + [w_dim] * n_layers
        self.layers = nn.ModuleList(
            EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul) for i in range(n_layers)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), LRELU_SLOPE)
        return x


class StyleLayer(nn.Module):
    """[2x upsample, 3x3 conv], per-pixel noise (learned per-channel scale), LeakyReLU, AdaIN."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv: bool,
                 upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = EqualConv2d(in_channels, out_channels, 3) if conv else None
        self.noise_weight = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.style = EqualLinear(w_dim, 2 * out_channels, bias_init=0.0)
        with torch.no_grad():  # style scale starts at 1: y_s = 1 + A(w)_s
            self.style.bias[:out_channels] = 1.0

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.conv is not None:
            x = self.conv(x)
        x = F.leaky_relu(x + self.noise_weight * noise + self.bias, LRELU_SLOPE)
        scale, shift = self.style(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return scale * F.instance_norm(x, eps=1e-8) + shift


class SynthesisNetwork(nn.Module):
    """Learned constant -> style layers up to ``size`` -> 1x1 toRGB -> tanh.

    ``forward(ws, noise)`` takes one w per layer, ``ws`` of shape ``(B, num_layers, w_dim)``, and
    one noise map per layer (shapes from :meth:`noise_shapes`).
    """

    def __init__(self, size: int, w_dim: int, channel_base: int = 1024, max_channels: int = 64,
                 out_channels: int = 3) -> None:
        super().__init__()
        log_size = _check_size(size)
        ch = [_channels(2 ** r, channel_base, max_channels) for r in range(2, log_size + 1)]
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        layers = [StyleLayer(ch[0], ch[0], w_dim, conv=False, upsample=False),
                  StyleLayer(ch[0], ch[0], w_dim, conv=True, upsample=False)]
        for prev, cur in zip(ch[:-1], ch[1:]):
            layers.append(StyleLayer(prev, cur, w_dim, conv=True, upsample=True))
            layers.append(StyleLayer(cur, cur, w_dim, conv=True, upsample=False))
        self.layers = nn.ModuleList(layers)
        self.resolutions = [4 * 2 ** (i // 2) for i in range(len(layers))]
        self.to_rgb = EqualConv2d(ch[-1], out_channels, 1)

    @property
    def num_layers(self) -> int:
        """Number of style inputs (two per resolution)."""
        return len(self.layers)

    def noise_shapes(self, batch: int) -> List[tuple]:
        """Shapes of the per-layer noise maps for a batch of ``batch``."""
        return [(batch, 1, r, r) for r in self.resolutions]

    def forward(self, ws: torch.Tensor, noise: List[torch.Tensor]) -> torch.Tensor:
        if ws.dim() != 3 or ws.shape[1] != self.num_layers:
            raise ValueError(f"ws must be (B, {self.num_layers}, w_dim), got {tuple(ws.shape)}")
        if len(noise) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} noise maps, got {len(noise)}")
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise[i])
        return torch.tanh(self.to_rgb(x))


def mix_styles(w1: torch.Tensor, w2: torch.Tensor, crossover: torch.Tensor,
               num_layers: int) -> torch.Tensor:
    """Per-layer styles: ``w1`` for layers ``< crossover``, ``w2`` from ``crossover`` on.

    Args:
        w1, w2: ``(B, w_dim)`` styles.
        crossover: ``(B,)`` integer layer index per sample (``num_layers`` means no mixing).
        num_layers: number of style inputs of the synthesis network.

    Returns:
        ``(B, num_layers, w_dim)``.
    """
    layer = torch.arange(num_layers, device=w1.device).view(1, -1, 1)
    use_first = layer < crossover.view(-1, 1, 1)
    return torch.where(use_first, w1.unsqueeze(1), w2.unsqueeze(1))


class StyleGenerator(nn.Module):
    """Mapping + synthesis with style mixing (Karras et al., 2019).

    Args:
        size: output side, a power of two >= 8.
        z_dim, w_dim: latent and style sizes.
        mapping_layers: depth of the mapping MLP (8 in the paper).
        channel_base, max_channels: feature maps at resolution r are
            ``min(max_channels, channel_base // r)``.

    Output contract: ``forward(**sample_inputs(...))`` -> ``(B, 3, size, size)`` in ``[-1, 1]``.
    """

    def __init__(self, *, size: int = 32, z_dim: int = 128, w_dim: int = 128,
                 mapping_layers: int = 8, channel_base: int = 1024, max_channels: int = 64) -> None:
        super().__init__()
        self.size = size
        self.z_dim = z_dim
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.synthesis = SynthesisNetwork(size, w_dim, channel_base, max_channels)

    @property
    def num_layers(self) -> int:
        """Number of style inputs of the synthesis network."""
        return self.synthesis.num_layers

    def sample_inputs(self, batch: int, generator: Optional[torch.Generator] = None,
                      mixing_prob: float = 0.0,
                      device: Optional[torch.device] = None) -> Dict[str, torch.Tensor]:
        """Draw z, a second z, a crossover layer per sample and the noise maps, once.

        With probability ``mixing_prob`` a sample switches from its first to its second w at a
        crossover drawn uniformly in ``[1, num_layers - 1]``; otherwise crossover is
        ``num_layers`` (no mixing). Sampling happens on the CPU ``generator`` for reproducibility.

        Returns:
            Keyword arguments of :meth:`forward` (``z``, ``z_mix``, ``crossover``, ``noise``).
        """
        device = device if device is not None else self.synthesis.const.device
        n = self.num_layers
        z = torch.randn(batch, self.z_dim, generator=generator)
        z_mix = torch.randn(batch, self.z_dim, generator=generator)
        mixed = torch.rand(batch, generator=generator) < mixing_prob
        cut = torch.randint(1, max(n, 2), (batch,), generator=generator)
        crossover = torch.where(mixed, cut, torch.full_like(cut, n))
        noise = [torch.randn(s, generator=generator).to(device)
                 for s in self.synthesis.noise_shapes(batch)]
        return {"z": z.to(device), "z_mix": z_mix.to(device), "crossover": crossover.to(device),
                "noise": noise}

    def forward(self, z: torch.Tensor, noise: List[torch.Tensor],
                z_mix: Optional[torch.Tensor] = None,
                crossover: Optional[torch.Tensor] = None) -> torch.Tensor:
        w = self.mapping(z)
        if z_mix is None:
            ws = w.unsqueeze(1).expand(-1, self.num_layers, -1)
        else:
            if crossover is None:
                raise ValueError("z_mix needs a crossover layer per sample")
            ws = mix_styles(w, self.mapping(z_mix), crossover, self.num_layers)
        return self.synthesis(ws, noise)


class MinibatchStdDev(nn.Module):
    """Appends the mean over features of the per-group standard deviation as one channel."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = math.gcd(b, self.group_size)
        y = x.reshape(g, -1, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
        y = y.view(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """Mirror of the synthesis network: fromRGB, conv blocks with 2x downsampling to 4x4,
    minibatch stddev, conv, two dense layers -> one logit per image, shape ``(B,)``."""

    def __init__(self, *, size: int = 32, channel_base: int = 1024, max_channels: int = 64,
                 in_channels: int = 3) -> None:
        super().__init__()
        log_size = _check_size(size)
        ch = {2 ** r: _channels(2 ** r, channel_base, max_channels) for r in range(2, log_size + 1)}
        self.from_rgb = EqualConv2d(in_channels, ch[size], 1)
        blocks = []
        for r in range(log_size, 2, -1):
            res = 2 ** r
            blocks.append(nn.ModuleList([EqualConv2d(ch[res], ch[res], 3),
                                         EqualConv2d(ch[res], ch[res // 2], 3)]))
        self.blocks = nn.ModuleList(blocks)
        self.stddev = MinibatchStdDev()
        self.final_conv = EqualConv2d(ch[4] + 1, ch[4], 3)
        self.fc = EqualLinear(ch[4] * 16, ch[4])
        self.out = EqualLinear(ch[4], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.from_rgb(x), LRELU_SLOPE)
        for conv1, conv2 in self.blocks:
            x = F.leaky_relu(conv1(x), LRELU_SLOPE)
            x = F.avg_pool2d(F.leaky_relu(conv2(x), LRELU_SLOPE), 2)
        x = F.leaky_relu(self.final_conv(self.stddev(x)), LRELU_SLOPE)
        x = F.leaky_relu(self.fc(x.flatten(1)), LRELU_SLOPE)
        return self.out(x).squeeze(1)


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``E[softplus(-D(G(z)))]`` (Goodfellow et al., 2014)."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss ``E[softplus(D(G(z)))] + E[softplus(-D(x))]``."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_images: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """R1 penalty ``E[|grad_x D(x)|^2]`` on real images (``real_images`` must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


__all__ = [
    "Discriminator",
    "MappingNetwork",
    "StyleGenerator",
    "SynthesisNetwork",
    "discriminator_loss",
    "generator_loss",
    "mix_styles",
    "r1_penalty",
]
