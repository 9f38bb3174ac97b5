"""Progress of long loops: tqdm's bar on a terminal, plain lines in a log.

A bar redraws itself with carriage returns, which a file keeps as megabytes of partial lines;
when stderr is not a terminal, :class:`LineProgress` writes one line per tenth of the loop.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional, TextIO

from tqdm.auto import tqdm


class LineProgress:
    """tqdm's ``update``/``set_postfix``/``write``/``close`` as whole lines, one per tenth."""

    def __init__(self, total: int, initial: int, desc: str, file: TextIO) -> None:
        self.total, self.n, self.desc, self.file = total, initial, desc, file
        self.every = max(1, (total - initial) // 10)
        self.start, self.started_at = time.time(), initial
        self.postfix: Dict[str, Any] = {}

    def update(self, n: int = 1) -> None:
        self.n += n
        if (self.n - self.started_at) % self.every == 0 or self.n == self.total:
            elapsed = time.time() - self.start
            done = self.n - self.started_at
            eta = elapsed / done * (self.total - self.n) if done else 0.0
            values = " ".join(f"{k} {v}" for k, v in self.postfix.items())
            print(f"{self.desc}: {self.n}/{self.total} ({elapsed:.0f} s, about {eta:.0f} s left) {values}".rstrip(),
                  file=self.file, flush=True)

    def set_postfix(self, values: Dict[str, Any], refresh: bool = False) -> None:
        self.postfix = dict(values)

    @staticmethod
    def write(text: str) -> None:
        print(text, flush=True)

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool = True, initial: int = 0, file: Optional[TextIO] = None) -> Any:
    """A progress report of ``total`` steps: a tqdm bar when ``file`` (stderr) is a terminal,
    :class:`LineProgress` otherwise, and a silent (disabled) bar when not ``enabled``."""
    file = file or sys.stderr
    if enabled and not file.isatty():
        return LineProgress(total, initial, desc, file)
    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True, file=file)
