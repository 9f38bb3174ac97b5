"""Small shared helpers: device choice, seeding, atomic file writes, strict JSON, finiteness."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, List, Sequence, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]


def default_device(requested: str = "auto") -> torch.device:
    """``cuda`` when available (for ``"auto"``), else the requested device."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: How :func:`atomic_write` names its temporary files (``.<name>.<random>.tmp``).
TEMP_PATTERN = ".*.tmp"


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: PathLike, write: Callable[[str], None]) -> Path:
    """Write a file through a temporary sibling, then rename it into place.

    ``write`` receives the temporary path. A crash mid-write leaves the old file intact. The
    file's mode follows the umask, as a file opened for writing would. An ``OSError`` names
    ``path``, never the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and tmp in (err.filename, err.filename2):  # name the user's file
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Atomically write ``text`` to ``path``."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


def atomic_torch_save(obj: object, path: PathLike) -> Path:
    """Atomically ``torch.save`` ``obj`` to ``path``; a failed write is an ``OSError``."""

    def write(tmp: str) -> None:
        try:
            torch.save(obj, tmp)
        except RuntimeError as err:  # torch's writer reports a full disk as a RuntimeError
            raise OSError(f"cannot write {path} (is the disk full?): {err}") from err

    return atomic_write(path, write)


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def json_text(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of ``obj`` with NaN and infinities written as ``null`` (strict JSON)."""
    return json.dumps(_finite_or_none(obj), allow_nan=False, **kwargs)


def nonfinite_tensors(obj: Any, prefix: str = "") -> List[str]:
    """Dotted keys of the floating-point tensors in nested dicts/lists ``obj`` holding a NaN or
    an infinity (e.g. ``problems.seg.module.head.weight`` of a checkpoint)."""
    if isinstance(obj, torch.Tensor):
        return [prefix] if obj.is_floating_point() and not bool(torch.isfinite(obj).all()) else []
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return []
    return [key for k, v in items for key in nonfinite_tensors(v, f"{prefix}.{k}" if prefix else str(k))]


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (``\n`` line ends) of ``header`` and ``rows``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def first_lines(err: BaseException) -> str:
    """``err``'s first two lines as one: torch lists each mismatched tensor of a
    ``load_state_dict`` on a line of its own."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    more = f" (and {len(lines) - 2} more)" if len(lines) > 2 else ""
    return " ".join(lines[:2]) + more


def lock_exclusively(fd: int, path: PathLike, busy: Callable[[], OSError]) -> None:
    """Take an exclusive ``flock`` on the open file or folder ``fd`` without waiting.

    Raises ``busy()`` when another open of it holds the lock (another process, or this one),
    and an ``OSError`` naming ``path`` on a file system without locks. The kernel drops the
    lock when ``fd`` is closed or its process ends, however it ends.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise busy() from None
    except OSError as err:
        raise OSError(err.errno, f"cannot lock {path}: {err.strerror}") from None
