"""Build torch optimizers from :class:`~e2eaug.config.OptimConfig`."""

from __future__ import annotations

from typing import Iterable

import torch

from e2eaug.config import ConfigError, OptimConfig

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """A torch optimizer over ``params`` as ``cfg`` describes."""
    params = list(params)
    if cfg.name in ("adam", "adamw"):
        cls = torch.optim.Adam if cfg.name == "adam" else torch.optim.AdamW
        return cls(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    raise ConfigError(f"unknown optimizer {cfg.name!r}; known: {', '.join(OPTIMIZERS)}")
