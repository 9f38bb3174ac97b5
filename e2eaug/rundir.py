"""A run's folder: config, metrics, checkpoints and figures, written so nothing is half-written.

Layout of ``runs/<name>-<timestamp>/``: ``config.yaml`` (the full resolved config),
``run_info.json`` (versions, git commit, device and command line of each session that trained
it), ``metrics.jsonl`` (one line per validation), ``steps.jsonl`` (one line per global step),
TensorBoard's ``events.out.tfevents.*``, ``last.pt`` and ``best.pt`` (atomic), ``samples.png``,
``curves.png``, ``alpha.png`` (searched augmenters), ``results.json`` and ``per_image.csv``
(after evaluation of ``best.pt``; ``results_last.json`` and ``per_image_last.csv`` for
``last.pt``), ``genotype.yaml`` (after derive). JSON is strict: a NaN or infinite value is
written as ``null``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import torch
import yaml

from e2eaug.config import to_dict
from e2eaug.utils import (
    TEMP_PATTERN,
    atomic_torch_save,
    atomic_write_text,
    json_text,
    lock_exclusively,
    nonfinite_tensors,
)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not an e2eaug checkpoint."""


class RunBusy(OSError):
    """Another process is training the run folder."""


class RunDir:
    """Paths and safe reads/writes of one run folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, out_dir: str | Path, name: str) -> "RunDir":
        """A new folder ``out_dir/name-YYYYmmdd-HHMMSS`` (suffixed if taken); never reuses one."""
        base = Path(out_dir) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, i = base, 1
        while path.exists():
            i += 1
            path = base.with_name(f"{base.name}-{i}")
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run folder; a clear error when it is not one."""
        run = cls(path)
        if not run.config_path.is_file():
            raise FileNotFoundError(f"{run.path} is not an e2eaug run folder (no config.yaml)")
        return run

    @classmethod
    def latest(cls, out_dir: str | Path, name: str) -> "RunDir":
        """The most recently created run of ``name`` under ``out_dir`` that has a ``last.pt``.

        Creation order is read from the folder names :meth:`create` gives (timestamp, then
        suffix), not from modification times, which later jobs such as ``evaluate`` change.
        """
        pattern = re.compile(re.escape(name) + r"-(\d{8}-\d{6})(?:-(\d+))?")
        created = {}
        for path in Path(out_dir).glob(f"{name}-*"):
            match = pattern.fullmatch(path.name)
            run = cls(path)
            if match and run.config_path.is_file() and run.checkpoint_path("last").is_file():
                created[path] = (match.group(1), int(match.group(2) or 1))
        if not created:
            raise FileNotFoundError(f"no run named {name!r} with a last.pt under {out_dir} to resume")
        return cls(max(created, key=created.get))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive ``flock`` on the folder while a process trains into it; a second
        one (``run --resume`` of a run still training) raises :class:`RunBusy`. The kernel
        drops the lock when the process ends, however it ends."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            lock_exclusively(fd, self.path, lambda: RunBusy(
                f"{self.path}: another e2eaug process is training this run; wait for it or stop it"
            ))
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def session(self, cfg: Any, info: Dict[str, Any], new: bool, resume_step: Optional[int] = None) -> Iterator[None]:
        """One training session's life in the folder (hold :meth:`lock` around it).

        Before the body: a resumed session (``resume_step``) drops the records written after
        that step and the temporary files a killed process left; every session writes the
        config and adds ``info`` to ``run_info.json``. If the body raises, a ``new`` folder
        without a ``last.pt`` is removed, and Ctrl-C (``KeyboardInterrupt``, whose message
        names the signal when it is not one) is raised again saying how to continue.
        """
        try:
            if resume_step is not None:
                self.remove_temp_files()
                self.truncate_records(resume_step)
            self.write_config(cfg)
            self.record_session(info)
            yield
        except BaseException as err:
            kept = self.checkpoint_path("last").is_file()
            if new and not kept:
                self.remove()
            if isinstance(err, KeyboardInterrupt):
                hint = f"continue with e2eaug run --resume {self.path}" if kept else "no checkpoint was kept"
                raise type(err)(f"{str(err) or 'interrupted'}; {hint}") from err
            raise

    def remove(self) -> None:
        """Delete the folder (a new run that stopped before its first checkpoint)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def remove_temp_files(self) -> None:
        """Delete the temporary files of writes that a killed process left behind."""
        for path in self.path.glob(TEMP_PATTERN):
            path.unlink(missing_ok=True)

    # paths
    config_path = property(lambda self: self.path / "config.yaml")
    info_path = property(lambda self: self.path / "run_info.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    steps_path = property(lambda self: self.path / "steps.jsonl")
    alpha_path = property(lambda self: self.path / "alpha.png")
    samples_path = property(lambda self: self.path / "samples.png")
    curves_path = property(lambda self: self.path / "curves.png")
    results_path = property(lambda self: self.results_file("best"))
    per_image_path = property(lambda self: self.per_image_file("best"))
    genotype_path = property(lambda self: self.path / "genotype.yaml")

    def checkpoint_path(self, which: str) -> Path:
        """``last.pt`` or ``best.pt``."""
        if which not in ("last", "best"):
            raise ValueError(f"checkpoint must be 'last' or 'best', got {which!r}")
        return self.path / f"{which}.pt"

    def _scored(self, stem: str, suffix: str, which: str) -> Path:
        self.checkpoint_path(which)  # checks ``which``
        return self.path / (f"{stem}{suffix}" if which == "best" else f"{stem}_{which}{suffix}")

    def results_file(self, which: str) -> Path:
        """The test results of checkpoint ``which``: ``results.json`` (best), ``results_last.json``."""
        return self._scored("results", ".json", which)

    def per_image_file(self, which: str) -> Path:
        """Its per-image scores: ``per_image.csv`` (best), ``per_image_last.csv``."""
        return self._scored("per_image", ".csv", which)

    # config
    def write_config(self, cfg: Any) -> None:
        """Save the full resolved config."""
        atomic_write_text(self.config_path, yaml.safe_dump(to_dict(cfg), sort_keys=False))

    # records
    def append_metrics(self, record: Dict[str, Any]) -> None:
        """Append one validation record as a JSON line."""
        _append_lines(self.metrics_path, [record])

    def append_steps(self, records: List[Dict[str, Any]]) -> None:
        """Append per-step records as JSON lines."""
        _append_lines(self.steps_path, records)

    def read_metrics(self) -> List[Dict[str, Any]]:
        """All validation records so far (a last line cut short by a kill is left out)."""
        return _read_lines(self.metrics_path)

    def read_steps(self) -> List[Dict[str, Any]]:
        """All per-step records so far (a last line cut short by a kill is left out)."""
        return _read_lines(self.steps_path)

    def truncate_records(self, step: int) -> None:
        """Drop validation and step records after ``step`` (written after the checkpoint a
        resume starts from)."""
        for path in (self.metrics_path, self.steps_path):
            kept = [r for r in _read_lines(path) if r["step"] <= step]
            atomic_write_text(path, "".join(json_text(r) + "\n" for r in kept))

    def record_session(self, info: Dict[str, Any]) -> None:
        """Add one training session's record (versions, commit, device, command) to
        ``run_info.json``."""
        sessions = json.loads(self.info_path.read_text(encoding="utf-8"))["sessions"] if self.info_path.is_file() else []
        atomic_write_text(self.info_path, json_text({"sessions": sessions + [info]}, indent=2) + "\n")

    # checkpoints
    def save_checkpoint(self, state: Dict[str, Any], which: str) -> Path:
        """Atomically write ``last.pt`` or ``best.pt``."""
        return atomic_torch_save(state, self.checkpoint_path(which))

    def load_checkpoint(self, which: str) -> Dict[str, Any]:
        """Load a checkpoint onto the CPU with ``weights_only=True``; clear errors naming the file,
        also for one holding non-finite values (a diverged run).

        ``load_state_dict`` of the engine's modules and optimizers then copies each tensor to
        its device, and the RNG states stay the CPU byte tensors torch's setters need.
        """
        path = self.checkpoint_path(which)
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises several types for truncated/garbled files
            raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err
        if not isinstance(state, dict) or "problems" not in state or "global_step" not in state:
            raise CheckpointError(f"{path} is not an e2eaug checkpoint (missing 'problems')")
        bad = nonfinite_tensors(state)
        if bad:
            more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
            raise CheckpointError(
                f"{path} holds non-finite values ({bad[0]}{more}): the run diverged; "
                "retrain it, e.g. with lower learning rates"
            )
        return state


def _append_lines(path: Path, records: List[Dict[str, Any]]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(json_text(r) + "\n" for r in records))


def _read_lines(path: Path) -> List[Dict[str, Any]]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    return [json.loads(line) for line in lines if line.strip()]
