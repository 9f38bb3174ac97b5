"""The base of every augmenter level: the template a new augmenter fills in.

The augmenter is the bottom (leaf) problem of e2eaug, named :data:`~problems.names.GAN`. The
segmentation problem calls :meth:`AugmenterProblem.generate` on augmented real masks and trains
on the images it returns, so whatever the augmenter learns reaches the segmenter, and the
segmenter's validation loss reaches the augmenter's architecture weights through Betty's
hypergradients.

A new augmenter subclasses :class:`AugmenterProblem`, registers itself, and is then chosen from
YAML by ``augmenter: {name: <its name>, ...}`` (its module listed under ``plugins:``)::

    @AUGMENTERS.register("my_aug")
    class MyAugmenter(AugmenterProblem):
        config_class = MyAugConfig            # dataclass of its YAML section; needs a `name` field

        @classmethod
        def from_config(cls, cfg, data, seed): ...  # build module, optimizer, batcher
        def generate(self, masks): ...              # masks [B,1,H,W] -> images [B,C,H,W] in [0,1]
        def training_step(self, batch): ...         # pure: same loss for same params and batch
        def arch_parameters(self): ...              # module holding alpha, or None

Hooks Betty calls, and what they may do:

- ``training_step(batch)``: returns the augmenter's loss as a tensor. Betty re-runs it at
  perturbed weights to compute hypergradients, so it must change no state and draw no fresh
  randomness (draw randomness in ``get_batch``, which runs once per real step).
- ``param_callback()``: runs once after each real optimizer step. Side updates that are not
  part of the hypergradient (a discriminator step, an EMA) belong here.
- ``state_dict()`` / ``load_state_dict()``: extend them with any extra state (a discriminator
  and its optimizer) so checkpoints and ``--resume`` cover it.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from .base import BatchedProblem


class AugmenterProblem(BatchedProblem):
    """Base class of the augmenter level (Betty name ``gan``); see the module docstring."""

    #: Dataclass parsed from the run config's ``augmenter:`` section.
    config_class: Any = None

    @classmethod
    def from_config(cls, cfg: Any, data: Any, seed: int) -> "AugmenterProblem":
        """Build the problem from its config section and the run's data bundle."""
        raise NotImplementedError(f"{cls.__name__} must implement from_config")

    def generate(self, masks: torch.Tensor) -> torch.Tensor:
        """Images for ``masks`` ``[B,1,H,W]``, in [0,1], differentiable in G and alpha."""
        raise NotImplementedError(f"{type(self).__name__} must implement generate")

    def arch_parameters(self) -> Optional[torch.nn.Module]:
        """The module holding the architecture weights ``alpha`` searched by the top level,
        or ``None`` when this augmenter has no architecture to search (no ``arch`` level)."""
        return None
