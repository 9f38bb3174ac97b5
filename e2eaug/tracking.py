"""Per-step records of a run: ``steps.jsonl`` and TensorBoard event files.

One record per global step holds the loss of every level that took a real step, the
augmenter's own values (the discriminator's loss), each level's learning rate, and
``softmax(alpha)`` per cell when the augmenter has DARTS-style architecture weights. Records
are buffered and written at each validation, just before the checkpoint, so a resumed run
truncates ``steps.jsonl`` to its checkpoint's step like ``metrics.jsonl``; TensorBoard hides
the events after that step by itself (``purge_step``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

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
