"""The command line shared by the study's diagnostics over trained run folders."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List

from e2eaug.utils import atomic_write_text, csv_text

Row = Dict[str, Any]


def main(
    description: str,
    measure: Callable[[str, str], List[Row]],
    show: Callable[[Row], str],
    argv: List[str] | None = None,
) -> int:
    """``RUN_DIR [RUN_DIR ...] [--checkpoint best|last] [--out FILE.csv]``: ``measure(run_dir,
    checkpoint)`` gives each folder's rows, each printed as ``show(row)`` when measured, and all
    written to ``--out`` as CSV (atomically) at the end."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("runs", nargs="+", help="run folders of GAN augmenters")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="last")
    parser.add_argument("--out", default=None, help="also write the rows as CSV here")
    args = parser.parse_args(argv)
    rows: List[Row] = []
    for run_dir in args.runs:
        for row in measure(run_dir, args.checkpoint):
            rows.append(row)
            print(show(row), flush=True)
    if args.out:
        header = list(rows[0])
        atomic_write_text(args.out, csv_text(header, [[row[k] for k in header] for row in rows]))
    return 0
