"""``E2EAugEngine``: Betty's engine with validation, checkpoints, early stopping, progress,
per-step records (``steps.jsonl``, TensorBoard) and divergence detection."""

from __future__ import annotations

import logging
import math
import time
import warnings
from typing import Any, Dict, List, Optional

from dataclasses import dataclass

import torch
from betty.configs import EngineConfig
from betty.engine import Engine
from betty.logging.logger_base import get_logger

from e2eaug import distributed
from e2eaug.config import ConfigError
from e2eaug.evaluation import evaluate_segmenter
from e2eaug.problems import names
from e2eaug.problems.base import BatchedProblem
from e2eaug.progress import progress_bar
from e2eaug.rundir import RunDir
from e2eaug.samples import grid, sample_rows
from e2eaug.tracking import StepLog, arch_weights
from e2eaug.utils import nonfinite_tensors

_STRATEGY = {"auto": "default", "cpu": "cpu", "cuda": "gpu"}
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


@dataclass
class EngineSettings:
    """The training loop: length, validation cadence, early stopping, device.

    ``num_threads`` sets torch's CPU threads (0 keeps torch's default). Small models on a
    shared or small CPU run faster on one thread than on oversubscribed cores. A global step
    in which some level's loss or gradient is not finite is skipped with a warning;
    ``max_bad_steps`` such steps in a row stop the run (:class:`TrainingDiverged`).
    ``tensorboard`` writes TensorBoard event files into the run folder beside ``steps.jsonl``.
    ``strategy: distributed`` trains data-parallel in every process torchrun starts
    (:mod:`e2eaug.distributed`); ``single`` is one process. ``precision: bf16`` runs the
    forwards of every real step (each level's loss, GAN pretraining, the discriminator's step)
    under bf16 autocast on the run's device, with float32 weights, gradients and optimizer
    states; the hypergradient's re-evaluations (finite differences, second derivatives) and
    validation stay float32 (``docs/scaling.md`` has the measured accuracy). It is meant for
    GPUs; a CPU runs it too, usually slower than fp32 where the CPU has no bf16 units.
    """

    train_iters: int = 400
    valid_every: int = 100
    early_stop_patience: int = 0
    device: str = "auto"
    num_threads: int = 1
    progress: bool = True
    max_bad_steps: int = 10
    tensorboard: bool = True
    strategy: str = "single"
    precision: str = "fp32"


class TrainingDiverged(RuntimeError):
    """Training stopped: losses or gradients stayed non-finite, or weights became non-finite."""


class NonFiniteStepWarning(RuntimeWarning):
    """A level skipped its update because its loss or a gradient was not finite."""


def check_device(device: str) -> str:
    """Betty's strategy for ``engine.device``; :class:`ConfigError` if this machine lacks it."""
    if device not in _STRATEGY:
        raise ConfigError(f"engine.device must be one of {sorted(_STRATEGY)}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "engine.device is 'cuda' but torch finds no CUDA device here; "
            "use engine.device=auto or engine.device=cpu"
        )
    return _STRATEGY[device]


def check_precision(precision: str, device: Any = None) -> Optional[torch.dtype]:
    """The autocast dtype of ``engine.precision`` (``None``: float32); :class:`ConfigError`
    for an unknown value or, given the run's ``device``, one that cannot run it."""
    if precision not in PRECISIONS:
        raise ConfigError(f"engine.precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    dtype = PRECISIONS[precision]
    on_cuda = device is not None and torch.device(device).type == "cuda"
    if dtype is torch.bfloat16 and on_cuda and not torch.cuda.is_bf16_supported():
        raise ConfigError("engine.precision is 'bf16' but this CUDA device has no bf16 support; use engine.precision=fp32")
    return dtype


def _cpu_bytes(state: torch.Tensor) -> torch.Tensor:
    """An RNG state as torch's setters want it (a CPU ByteTensor), wherever it was loaded."""
    return state.to(device="cpu", dtype=torch.uint8)


class E2EAugEngine(Engine):
    """Runs the e2eaug problems for ``settings.train_iters`` global steps.

    Before the first step it pretrains the augmenter (its own :meth:`pretrain` hook) for
    ``pretrain_steps``. Every ``valid_every`` steps (and at the last) it scores the segmenter on
    the validation split (mean per-image Dice and Jaccard), keeps the best checkpoint by
    validation Dice, optionally reduces the segmenter's learning rate on plateau and stops
    early, appends a line to ``metrics.jsonl`` and writes ``last.pt``. Every step's losses,
    learning rates and architecture weights go to ``steps.jsonl`` and TensorBoard
    (:class:`~e2eaug.tracking.StepLog`), written at each validation. :meth:`state_dict` holds
    every problem's module, optimizer and counters, the augmenter's state when it is not one of
    the problems, the RNG states and the engine's own step and best-so-far, so
    :meth:`load_state_dict` resumes exactly. Checkpoints are never written with a non-finite
    value: the run stops instead, and the last good ``last.pt`` stays.

    Args:
        problems: the Betty problems (names from :mod:`e2eaug.problems.names`).
        dependencies: Betty's ``{"u2l": ..., "l2u": ...}`` graph.
        augmenter: the run's augmenter, one of ``problems`` or outside them.
        settings: the ``engine`` config section.
        val_data: validation pairs for model selection.
        run_dir: where metrics and checkpoints go; ``None`` writes nothing.
        pretrain_steps: augmenter-only steps run once before the multilevel loop.
        plateau: ``(patience, factor)`` for ReduceLROnPlateau on the segmenter; patience 0 = off.
    """

    def __init__(
        self,
        problems: List[Any],
        dependencies: Dict[str, Dict[Any, List[Any]]],
        *,
        augmenter: Any,
        settings: EngineSettings,
        val_data: Any,
        run_dir: Optional[RunDir] = None,
        pretrain_steps: int = 0,
        plateau: tuple = (0, 0.5),
    ) -> None:
        self.settings = settings
        self.augmenter = augmenter
        self.val_data = val_data
        self.run_dir = run_dir
        self.pretrain_steps = pretrain_steps
        self.best: Dict[str, Any] = {"dice": -math.inf, "step": 0}
        self.stale = 0
        self.bad_steps = 0
        self.pretrained = pretrain_steps == 0
        self.log: Optional[StepLog] = None
        if settings.valid_every <= 0 or settings.train_iters <= 0:
            raise ValueError("engine.train_iters and engine.valid_every must be positive")
        get_logger().setLevel(logging.WARNING)  # Betty's per-step INFO lines would drown the bar
        config = EngineConfig(
            train_iters=settings.train_iters,
            valid_step=settings.valid_every,
            strategy=check_device(settings.device),
        )
        super().__init__(problems=problems, config=config, dependencies=dependencies)
        if not self._augmenter_is_problem:
            self.augmenter.to(self.device)
        self.set_precision(settings.precision)
        patience, factor = plateau
        seg = getattr(self, names.SEG)
        self.plateau = (
            torch.optim.lr_scheduler.ReduceLROnPlateau(
                seg.optimizer, mode="max", patience=patience, factor=factor
            )
            if patience > 0
            else None
        )

    # ------------------------------------------------------------------ loop
    def run(self) -> Dict[str, Any]:
        """Train to ``train_iters`` from the current step; returns the best validation record."""
        distributed.broadcast_state(self._modules())  # every rank starts from rank 0's weights
        if not self.pretrained:
            self.pretrain_augmenter()
        self.train()
        total = self.settings.train_iters
        bar = progress_bar(total, "e2eaug", self._shows_progress, initial=self.global_step)
        say = bar.write if distributed.is_main() else lambda text: None
        start = time.time()
        if self.run_dir is not None:
            self.log = StepLog(self.run_dir, self.settings.tensorboard, self.global_step)
        try:
            while self.global_step < total:
                self.global_step += 1
                counts = {p.name: p.count for p in self.problems}
                self._checked_train_step()
                if self.log is not None:
                    self.log.step(self._step_record(counts))
                bar.update(1)
                bar.set_postfix(self.losses(), refresh=False)
                if self.global_step % self.settings.valid_every == 0 or self.global_step == total:
                    record = self._validate(time.time() - start)
                    say(
                        f"step {record['step']}: val dice {record['val_dice']:.4f} "
                        f"jaccard {record['val_jaccard']:.4f} (best {self.best['dice']:.4f} "
                        f"at {self.best['step']})"
                    )
                    patience = self.settings.early_stop_patience
                    if patience > 0 and self.stale >= patience:
                        say(f"early stop: no validation improvement in {patience} validations")
                        break
        finally:
            bar.close()
            if self.log is not None:
                self.log.close()
        return dict(self.best)

    def _step_record(self, counts: Dict[str, int]) -> Dict[str, Any]:
        """This step's record: the loss of each level that took a real step (its count moved
        past ``counts``), every level's learning rate, the augmenter's values and arch weights."""
        record: Dict[str, Any] = {
            "step": self.global_step,
            "loss": {p.name: p.last_loss for p in self.problems if p.count > counts[p.name]},
            "lr": {p.name: p.optimizer.param_groups[0]["lr"] for p in self.problems},
        }
        values = self.augmenter.log_values()
        if values:
            record["aug"] = values
        arch = arch_weights(self.augmenter.arch_parameters())
        if arch:
            record["arch"] = arch
        return record

    def _checked_train_step(self) -> None:
        """Betty's ``train_step``; counts global steps in which a level skipped its update."""
        before = {p.name: p.skipped for p in self.problems}
        self.train_step()
        skipped = ", ".join(p.name for p in self.problems if p.skipped > before[p.name])
        if not skipped:
            self.bad_steps = 0
            return
        self.bad_steps += 1
        limit = self.settings.max_bad_steps
        if self.bad_steps >= limit:
            raise TrainingDiverged(
                f"training diverged: {self.bad_steps} steps in a row with a non-finite loss or gradient "
                f"(the last at step {self.global_step}, in {skipped}); {self._last_good()}; lower the "
                "learning rates, or raise engine.max_bad_steps"
            )
        warnings.warn(
            f"step {self.global_step}: non-finite loss or gradient in {skipped}, update skipped "
            f"({self.bad_steps} in a row; {limit} stop the run)",
            NonFiniteStepWarning,
        )

    def _last_good(self) -> str:
        last = None if self.run_dir is None else self.run_dir.checkpoint_path("last")
        if last is None or not last.is_file():
            return "no checkpoint was written"
        return f"the last checkpoint, {last}, holds finite weights and is kept"

    def set_precision(self, precision: str) -> None:
        """Run the forwards of real steps in ``precision`` (``engine.precision``) from now on:
        every problem's, and the augmenter's when it is not one of them."""
        dtype = check_precision(precision, self.device)
        for problem in {id(p): p for p in [*self.problems, self.augmenter]}.values():
            if isinstance(problem, BatchedProblem):
                problem.forward_dtype = dtype

    @property
    def _augmenter_is_problem(self) -> bool:
        return any(p is self.augmenter for p in self.problems)

    @property
    def _shows_progress(self) -> bool:
        return self.settings.progress and distributed.is_main()

    def _modules(self) -> List[torch.nn.Module]:
        """Every module the run trains: the problems' and the augmenter's (discriminator, ...)."""
        modules = {id(m): m for m in [p.module for p in self.problems] + self.augmenter.modules()}
        return list(modules.values())

    def pretrain_augmenter(self) -> None:
        """The augmenter's own training on the training split before the multilevel loop."""
        self.augmenter.pretrain(self.pretrain_steps, self._shows_progress)
        bad = nonfinite_tensors(self.augmenter.state_dict())
        if bad:
            raise TrainingDiverged(
                f"augmenter pretraining diverged: {bad[0]} is not finite after {self.pretrain_steps} "
                "steps; lower augmenter.optimizer.lr"
            )
        self.pretrained = True

    def losses(self) -> Dict[str, str]:
        """Latest real-step loss of every problem and the augmenter's values, for the bar."""
        out = {p.name: f"{p.last_loss:.3f}" for p in self.problems}
        out.update({k: f"{v:.3f}" for k, v in self.augmenter.log_values().items()})
        return out

    def validation(self) -> Dict[str, float]:
        """Dice, Jaccard and loss of the segmenter on the validation split (scored on rank 0,
        shared with the other ranks)."""
        distributed.broadcast_state(self._modules(), buffers_only=True)  # e.g. batch-norm statistics
        seg = getattr(self, names.SEG)
        stats = evaluate_segmenter(seg.module, self.val_data, seg.device) if distributed.is_main() else None
        return distributed.broadcast_object(stats)

    def _validate(self, elapsed: float) -> Dict[str, Any]:
        self.eval()
        stats = self.validation()
        self.train()
        improved = stats["dice"] > self.best["dice"]
        if improved:
            self.best = {"dice": stats["dice"], "jaccard": stats["jaccard"], "step": self.global_step}
            self.stale = 0
        else:
            self.stale += 1
        if self.plateau is not None:
            self.plateau.step(stats["dice"])
        record = {
            "step": self.global_step,
            "val_dice": stats["dice"],
            "val_jaccard": stats["jaccard"],
            "val_loss": stats["loss"],
            "val_foreground": stats["foreground"],
            "train_loss": {p.name: p.last_loss for p in self.problems},
            "seg_lr": getattr(self, names.SEG).optimizer.param_groups[0]["lr"],
            "elapsed_s": round(elapsed, 2),
        }
        if self.run_dir is not None:
            state = self.state_dict()
            bad = nonfinite_tensors(state)
            if bad:
                raise TrainingDiverged(
                    f"training diverged: {bad[0]} is not finite at step {self.global_step}; "
                    f"{self._last_good()}; lower the learning rates"
                )
            self.run_dir.append_metrics(record)
            if self.log is not None:
                self.log.validation(record, grid(sample_rows(self)) if self.settings.tensorboard else None)
                self.train()
                self.log.flush()
            if improved:
                self.run_dir.save_checkpoint(state, "best")
            self.run_dir.save_checkpoint(state, "last")
        return record

    # ------------------------------------------------------------------ state
    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to resume: problems, counters, best-so-far and RNG states."""
        state = {
            "global_step": self.global_step,
            "problems": {p.name: p.state_dict() for p in self.problems},
            "best": dict(self.best),
            "stale": self.stale,
            "bad_steps": self.bad_steps,
            "pretrained": self.pretrained,
            "rng_cpu": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        if not self._augmenter_is_problem:
            state["augmenter"] = self.augmenter.state_dict()
        if self.plateau is not None:
            state["plateau"] = self.plateau.state_dict()
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; problem names must match.

        Tensors may come on any device: modules and optimizers copy them to their own, RNG
        states are handed to torch as CPU byte tensors.
        """
        saved, ours = set(state["problems"]), {p.name for p in self.problems}
        if saved != ours:
            raise ValueError(f"checkpoint has problems {sorted(saved)}, this run has {sorted(ours)}")
        for problem in self.problems:
            problem.load_state_dict(state["problems"][problem.name])
        if not self._augmenter_is_problem:
            self.augmenter.load_state_dict(state["augmenter"])
        self.global_step = int(state["global_step"])
        self.best = dict(state["best"])
        self.stale = int(state["stale"])
        self.bad_steps = int(state.get("bad_steps", 0))  # checkpoints before divergence detection lack it
        self.pretrained = bool(state["pretrained"])
        torch.set_rng_state(_cpu_bytes(state["rng_cpu"]))
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([_cpu_bytes(s) for s in state["rng_cuda"]])
        if self.plateau is not None and "plateau" in state:
            self.plateau.load_state_dict(state["plateau"])
