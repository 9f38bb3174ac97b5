"""Per-step records of a run: ``steps.jsonl`` and TensorBoard event files.

One record per global step holds the loss of every level that took a real step, the
augmenter's own values (the discriminator's loss), each level's learning rate, and
``softmax(alpha)`` per cell when the augmenter has DARTS-style architecture weights. Records
are buffered and written at each validation, just before the checkpoint, so a resumed run
truncates ``steps.jsonl`` to its checkpoint's step like ``metrics.jsonl``; TensorBoard hides
the events after that step by itself (``purge_step``). A new run's events also hold its
config (text and hyper-parameters), and ``evaluate`` adds the test scores.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch
import yaml

from e2eaug.config import flatten
from e2eaug.rundir import RunDir


def arch_weights(module: Optional[torch.nn.Module]) -> Dict[str, List[List[float]]]:
    """``softmax`` over the operators of each 2-D parameter (cells x operators) of ``module``."""
    if module is None:
        return {}
    return {
        name: torch.softmax(p.detach().float(), dim=1).cpu().round(decimals=5).tolist()
        for name, p in module.named_parameters()
        if p.dim() == 2
    }


#: The validation scalars TensorBoard's HParams dashboard lists beside each run's config.
HPARAM_METRICS = ("val/dice", "val/jaccard")


def write_config(writer: Any, text: str) -> None:
    """A run's ``config.yaml`` as TensorBoard text (``config``) and hyper-parameters (every
    key, dotted; values TensorBoard cannot hold as text), so the HParams dashboard compares
    runs by any setting."""
    from torch.utils.tensorboard.summary import hparams

    writer.add_text("config", "\n".join("    " + line for line in text.splitlines()), 0)
    flat = flatten(yaml.safe_load(text))
    values = {key: v if isinstance(v, (bool, int, float, str)) else str(v) for key, v in flat.items()}
    experiment, start, end = hparams(values, {name: 0.0 for name in HPARAM_METRICS})
    for summary in (experiment, start, end):
        writer.file_writer.add_summary(summary)


def write_test_scores(run: RunDir, results: Dict[str, Any]) -> None:
    """``test/<set>/<metric>`` (``test_last/...`` for ``last.pt``) of an evaluation, at the
    checkpoint's step, in an event file of the run folder."""
    from torch.utils.tensorboard import SummaryWriter

    group = "test" if results["checkpoint"] == "best" else f"test_{results['checkpoint']}"
    with SummaryWriter(str(run.path)) as writer:
        for name, scores in results["tests"].items():
            for metric in ("dice", "jaccard", "hd95", "nsd"):
                if metric in scores:
                    writer.add_scalar(f"{group}/{name}/{metric}", scores[metric], results["step"])


class StepLog:
    """Writes per-step and validation records of a run to ``steps.jsonl`` and TensorBoard.

    Args:
        run: the run folder; TensorBoard's event files go into it, so ``tensorboard --logdir
            runs`` shows every run under its folder's name.
        tensorboard: write event files (``engine.tensorboard``).
        start_step: the global step training continues from (0 for a new run).
    """

    def __init__(self, run: RunDir, tensorboard: bool, start_step: int) -> None:
        self.run = run
        self.pending: List[Dict[str, Any]] = []
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run.path), purge_step=start_step + 1 if start_step else None)
            if start_step == 0 and run.config_path.is_file():
                write_config(self.writer, run.config_path.read_text(encoding="utf-8"))

    def step(self, record: Dict[str, Any]) -> None:
        """Buffer one step's ``{"step", "loss", "lr", ["aug"], ["arch"]}`` record."""
        self.pending.append(record)
        if self.writer is None:
            return
        step = record["step"]
        for group in ("loss", "lr", "aug"):
            for name, value in record.get(group, {}).items():
                self.writer.add_scalar(f"{group}/{name}", value, step)
        for param, rows in record.get("arch", {}).items():
            for cell, row in enumerate(rows):
                for op, weight in enumerate(row):
                    self.writer.add_scalar(f"arch/{param}/cell{cell}/op{op}", weight, step)

    def validation(self, record: Dict[str, Any], samples: Optional[torch.Tensor] = None) -> None:
        """Validation metrics (and a sample grid ``[3,H,W]`` in [0,1]) of step ``record["step"]``."""
        if self.writer is None:
            return
        step = record["step"]
        for key in ("val_dice", "val_jaccard", "val_loss"):
            self.writer.add_scalar(f"val/{key[4:]}", record[key], step)
        if samples is not None:
            self.writer.add_image("samples", samples, step)

    def flush(self) -> None:
        """Append the buffered records to ``steps.jsonl`` and flush the event file."""
        self.run.append_steps(self.pending)
        self.pending = []
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Close the event file (buffered records not yet flushed are dropped with it)."""
        if self.writer is not None:
            self.writer.close()
