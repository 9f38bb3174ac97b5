"""Small shared helpers: device choice, seeding, atomic file writes."""

from __future__ import annotations

import csv
import io
import os
import random
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence, Union

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


def atomic_write(path: PathLike, write: Callable[[str], None]) -> Path:
    """Write a file through a temporary sibling, then rename it into place.

    ``write`` receives the temporary path. A crash mid-write leaves the old file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Atomically write ``text`` to ``path``."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


def atomic_torch_save(obj: object, path: PathLike) -> Path:
    """Atomically ``torch.save`` ``obj`` to ``path``."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (``\n`` line ends) of ``header`` and ``rows``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
