"""The augmenter contract: a real (image, mask) batch -> the extra pairs the segmenter trains on.

An augmenter is chosen from YAML by ``augmenter: {name: ..., ...}``. Each real step of the
segmentation level it is handed the real batch twice:

- :meth:`Augmenter.draw` once per real step: all the randomness of the step (which masks are
  rotated by how much, ...), returned as a :class:`Draw` that rides along in the batch;
- :meth:`Augmenter.pairs` from that draw: the ``(images, masks)`` the segmenter trains on
  with weight ``lam``. It must be pure (same output for the same weights and draw) and keep its
  graph to the augmenter's weights: Betty re-runs the segmentation loss at perturbed weights
  to compute hypergradients.

How many levels the engine builds follows from the augmenter:

- no trainable weights (:class:`Augmenter`: ``none``, the classical transforms, a frozen
  ``pix2pix``): the segmenter alone, at the cost of a plain training run;
- weights trained with the segmenter (:class:`AugmenterProblem`, the Betty problem ``aug``):
  two levels, ``aug -> seg``, no hypergradient;
- and an architecture (:meth:`Augmenter.arch_parameters` not ``None``): three levels, with the
  ``arch`` level searching it through hypergradients.

A new augmenter is one file: its config dataclass (subclass :class:`AugmenterConfig`), its
class, and its registration (``@AUGMENTERS.register("name")``); its module goes under
``plugins:`` (README, "Plugging in a new augmenter"). Betty's own ``state_dict``,
``train`` and ``eval`` come first in :class:`AugmenterProblem`'s method order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple

import torch

from e2eaug import distributed
from e2eaug.batching import StepBatcher, step_generator, stream_seed
from e2eaug.config import OptimConfig
from e2eaug.hypergrad import HypergradConfig, IdentityConfig
from e2eaug.optim import build_optimizer
from e2eaug.progress import progress_bar

from . import names
from .base import BatchedProblem

Pairs = Tuple[torch.Tensor, torch.Tensor]


@dataclass
class Draw:
    """The randomness of one real step, drawn once by :meth:`Augmenter.draw` and handed back to
    :meth:`Augmenter.pairs` (and to every hypergradient re-run of that step) as it is. An
    augmenter that draws something subclasses it with named fields (tensors, nested draws or
    ``None``)."""

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "Draw":
        """A copy with ``fn`` applied to every tensor, nested draws included."""
        def visit(value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                return fn(value)
            return value.map(fn) if isinstance(value, Draw) else value

        return dataclasses.replace(self, **{f.name: visit(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def tensors(self) -> List[torch.Tensor]:
        """Every tensor, in field order, nested draws included."""
        found: List[torch.Tensor] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                found.append(value)
            elif isinstance(value, Draw):
                found += value.tensors()
        return found


@dataclass
class AugmenterConfig:
    """The keys every augmenter's ``augmenter:`` section has; subclasses add their own.

    ``lam`` weighs the augmented pairs in the segmentation loss. The rest matters to
    augmenters with trainable weights: ``batch_size`` real pairs per step of their own
    training, its ``optimizer``, ``pretrain_steps`` of that training alone before the
    multilevel loop, and (with an architecture) how hypergradients pass through the level
    (``hypergrad``, ``unroll_steps``).
    """

    name: str = "e2eaug"
    lam: float = 1.0
    batch_size: int = 8
    optimizer: OptimConfig = field(
        default_factory=lambda: OptimConfig("adam", 2e-4, [0.5, 0.999], 0.0, 0.0)
    )
    pretrain_steps: int = 0
    unroll_steps: int = 1
    hypergrad: HypergradConfig = field(default_factory=IdentityConfig)


class Augmenter:
    """Base of every augmenter: the contract and the hooks the engine and jobs call.

    Subclasses implement :meth:`draw` and :meth:`pairs`; every other hook has a default
    that fits an augmenter without weights. Randomness comes from :meth:`generator`, a pure
    function of the run seed, the augmenter's stream and the step.

    Args:
        cfg: the parsed ``augmenter:`` section.
        data: the run's data bundle (for channels and the training split).
        seed: the run seed.
    """

    #: Dataclass parsed from the run config's ``augmenter:`` section (checked at registration).
    config_class: Any = AugmenterConfig
    #: Whether the weights train inside the multilevel loop (as the Betty problem ``aug``).
    trains_jointly = False
    #: Whether this augmenter is the method under study (``e2eaug`` and variants of it): the
    #: experiment reports compare it with the best of the others, its baselines.
    is_method: ClassVar[bool] = False
    #: Where :meth:`pairs` computes (set by :meth:`to`, or by Betty for a Betty problem).
    device: Optional[torch.device] = None

    def __init__(self, cfg: AugmenterConfig, data: Any, seed: int) -> None:
        self.settings = cfg
        self.channels = data.channels
        self.seed = seed
        if self.device is None:
            self.device = torch.device("cpu")

    @classmethod
    def from_config(cls, cfg: AugmenterConfig, data: Any, seed: int) -> "Augmenter":
        """Build the augmenter from its config section and the run's data bundle."""
        return cls(cfg, data, seed)

    # ------------------------------------------------------------------ the contract
    def generator(self, step: int) -> torch.Generator:
        """The random generator of real step ``step`` (CPU, so draws match on every device)."""
        return self.stream_generator(f"augmenter.{self.settings.name}.draws", step)

    def stream_generator(self, stream: str, step: int) -> torch.Generator:
        """The CPU generator of draw ``step`` of the run's named stream ``stream``; in a run of
        several processes each rank draws for its own shard (stream ``<stream>.rank<r>``, r > 0)."""
        rank, _ = distributed.rank_and_size()
        return step_generator(self.seed, stream + (f".rank{rank}" if rank else ""), step)

    def draw(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> Draw:
        """The random part of real step ``step`` for the real batch (here: nothing)."""
        return Draw()

    def pairs(self, images: torch.Tensor, masks: torch.Tensor, drawn: Draw) -> Optional[Pairs]:
        """The ``(images [B,C,H,W] in [0,1], masks [B,1,H,W] in {0,1})`` to train on, or ``None``."""
        return None

    def augment(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> Optional[Pairs]:
        """``pairs(images, masks, draw(images, masks, step))`` without a graph, for figures and files."""
        with torch.no_grad():
            return self.pairs(images, masks, self.draw(images, masks, step))

    # ------------------------------------------------------------------ optional hooks
    def arch_parameters(self) -> Optional[torch.nn.Module]:
        """The module holding architecture weights for the ``arch`` level, or ``None``."""
        return None

    def derive(self) -> Any:
        """The architecture chosen so far (an object with ``save(path)`` and ``to_dict()``)."""
        raise ValueError(f"augmenter {self.settings.name!r} has no architecture to derive")

    def pretrain(self, steps: int, progress: bool = True) -> None:
        """Train alone for ``steps`` steps before the multilevel loop (nothing to train here)."""

    def log_values(self) -> Dict[str, float]:
        """Extra values for the progress bar and logs (e.g. a discriminator's loss)."""
        return {}

    def modules(self) -> List[torch.nn.Module]:
        """Every module of the augmenter (moved with :meth:`to`, saved with ``state_dict``)."""
        return []

    def to(self, device: Any) -> "Augmenter":
        """Move to ``device`` (the engine does it for augmenters outside Betty's problems)."""
        self.device = torch.device(device)
        for module in self.modules():
            module.to(self.device)
        return self

    def state_dict(self) -> Dict[str, Any]:
        """What a checkpoint needs to rebuild the augmenter's weights."""
        return {f"module{i}": m.state_dict() for i, m in enumerate(self.modules())}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        for i, module in enumerate(self.modules()):
            module.load_state_dict(state[f"module{i}"])

    def train(self) -> None:
        """Training mode for the augmenter's modules."""
        for module in self.modules():
            module.train()

    def eval(self) -> None:
        """Evaluation mode for the augmenter's modules."""
        for module in self.modules():
            module.eval()


class AugmenterProblem(BatchedProblem, Augmenter):
    """An augmenter with trainable weights: the Betty problem ``aug``, the leaf of the graph.

    The base builds the Betty config, the optimizer (over ``module``'s parameters) and the
    batcher of real training pairs (its own named seed stream) from the config section; a
    subclass builds its modules and implements :meth:`training_step`, :meth:`draw` and
    :meth:`pairs`.

    Hooks Betty calls, and what they may do:

    - ``training_step(batch)``: the augmenter's own loss on a real ``(images, masks)`` batch.
      Betty re-runs it at perturbed weights, so it changes no state and draws no randomness.
    - ``param_callback()``: runs once after each real optimizer step (and each pretraining
      step): side updates outside the hypergradient, such as a discriminator step, go here.
    - ``state_dict()`` / ``load_state_dict()``: extend them with extra state (a discriminator).

    Args:
        cfg: the parsed ``augmenter:`` section.
        module: the trainable module (e.g. a generator).
        data: the run's data bundle.
        seed: the run seed.
    """

    trains_jointly = True

    def __init__(self, cfg: AugmenterConfig, module: torch.nn.Module, data: Any, seed: int) -> None:
        batcher = StepBatcher(
            [data.train.images, data.train.masks], cfg.batch_size, stream_seed(seed, "augmenter.batches")
        )
        BatchedProblem.__init__(
            self,
            names.AUG,
            cfg.hypergrad.betty_config(cfg.unroll_steps),
            module=module,
            optimizer=build_optimizer(cfg.optimizer, module.parameters()),
            batcher=batcher,
        )
        Augmenter.__init__(self, cfg, data, seed)

    def modules(self) -> List[torch.nn.Module]:
        return [self.module]

    def fit_step(self) -> None:
        """One plain optimizer step on the next real batch (pretraining, or training outside
        the multilevel loop); ``param_callback`` follows it, as after a Betty step."""
        self.cur_batch = self.get_batch()
        with self.autocast():
            loss = self.training_step(self.cur_batch).float()
        self.optimizer.zero_grad(set_to_none=True)
        params = list(self.trainable_parameters())
        loss.backward(inputs=params)
        distributed.average_gradients(params)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.last_loss = loss.item()
        self.param_callback()

    def pretrain(self, steps: int, progress: bool = True) -> None:
        self.train()
        bar = progress_bar(steps, f"pretrain {self.settings.name}", progress)
        for _ in range(steps):
            self.fit_step()
            bar.update(1)
        bar.close()

    def param_callback(self) -> None:
        """Side updates after each real step (none by default)."""
