"""The command line shared by the study's diagnostics over trained run folders."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List

from e2eaug.utils import atomic_write_text, csv_text

Row = Dict[str, Any]


def parser(description: str) -> argparse.ArgumentParser:
    """``RUN_DIR [RUN_DIR ...] [--checkpoint best|last] [--out FILE.csv]``; a diagnostic may add
    its own options before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("runs", nargs="+", help="run folders of GAN augmenters")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="last")
    parser.add_argument("--out", default=None, help="also write the rows as CSV here")
    return parser


def run(args: argparse.Namespace, measure: Callable[[str, str], List[Row]], show: Callable[[Row], str]) -> None:
    """``measure(run_dir, checkpoint)`` gives each folder's rows, each printed as ``show(row)``
    when measured, and all written to ``--out`` as CSV (atomically) at the end."""
    rows: List[Row] = []
    for run_dir in args.runs:
        for row in measure(run_dir, args.checkpoint):
            rows.append(row)
            print(show(row), flush=True)
    if args.out:
        header = list(rows[0])
        atomic_write_text(args.out, csv_text(header, [[row[k] for k in header] for row in rows]))


def main(
    description: str,
    measure: Callable[[str, str], List[Row]],
    show: Callable[[Row], str],
    argv: List[str] | None = None,
) -> int:
    """:func:`run` on the command line of :func:`parser`."""
    run(parser(description).parse_args(argv), measure, show)
    return 0
