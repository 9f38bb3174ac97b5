"""The fenced Python and YAML blocks of README.md and docs/*.md, as the tests read them.

A block whose first line is ``# NAME.py`` or ``# NAME.yaml`` (optionally followed by ``:`` and
a comment) is a file of that name; other Python blocks are scripts. A block opts out of being
run only by a visible line just above it that says ``Not run by the tests: <reason>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(python|yaml)\n(.*?)^```", re.S | re.M)
_FILE = re.compile(r"# ([\w.-]+\.(?:py|yaml))\b")
_OPT_OUT = re.compile(r"Not run by the tests: (\S.*)")


@dataclass
class Block:
    document: Path
    line: int
    language: str
    text: str
    file: Optional[str]  # the file name it stands for, or None (a script or a fragment)
    opt_out: Optional[str]  # the reason the document gives for not running it

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def blocks(document: Path) -> List[Block]:
    """Every Python and YAML block of ``document``, in order."""
    text = document.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        named = _FILE.match(match.group(2))
        opt_out = _OPT_OUT.search(before)
        found.append(Block(
            document, text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2),
            named.group(1) if named else None, opt_out.group(1) if opt_out else None,
        ))
    return found
