"""Command line: ``python -m benchmarks.hypergrad [--quick] [--out DIR] [--seed N] ...``."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import List, Optional

import betty
import torch

from benchmarks.hypergrad import report, suite

RESULTS = Path(__file__).resolve().parents[1] / "results" / "hypergrad"

DESCRIPTION = """\
Measure each Betty hypergradient method (darts, neumann, cg, sama) and the plugin's cg_fixed
against an exact hypergradient, on ridge regression with per-feature L2 hyperparameters, on
a three-level quadratic chain wired like e2eaug (arch -> seg -> gan), and on the e2eaug problems
themselves at tiny size (pix2pix pieces and smooth stand-ins; reference: the implicit-function
formula with dense Hessians at the current weights). Reports cosine similarity
and relative error vs exact, median wall time and peak tensor memory per hypergradient (also as
a multiple of one plain lower gradient), over a sweep of each method's knobs and over problem
sizes spanning three decades (with fitted log-log slopes).

Writes results.csv, results.md, config.json and PNG plots to --out, and prints the markdown."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hypergrad", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="quick profile (about 4 minutes on 2 CPU cores): knob sweep at two "
                             "sizes per case, 11 timed calls; without it the full profile runs "
                             "the sweep at every size with 20 timed calls")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output directory (default: benchmarks/results/hypergrad/quick or "
                             ".../full)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the problem data (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto picks cuda when available (default auto)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch CPU threads (default 1: several threads stall whenever "
                             "another process takes a core, which ruins timings on a shared "
                             "machine)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Path:
    """Run the suite; returns the output directory."""
    args = parse_args(argv)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    torch.set_num_threads(args.threads)
    profile = suite.PROFILES["quick" if args.quick else "full"]
    out = args.out or RESULTS / profile.name
    out.mkdir(parents=True, exist_ok=True)
    config = dict(vars(args), out=_shown(out), device=device, profile=profile.name,
                  repeats=profile.repeats, warmup=profile.warmup, torch=torch.__version__,
                  betty=betty.__version__, threads=torch.get_num_threads(),
                  python=platform.python_version(), machine=platform.machine())
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")

    start = time.perf_counter()
    rows = suite.run(profile, args.seed, device)
    elapsed = time.perf_counter() - start
    header = (f"# Hypergradient benchmark, profile `{profile.name}`\n\n"
              f"device {device}, torch {torch.__version__}, betty {betty.__version__}, "
              f"{torch.get_num_threads()} threads, seed {args.seed}; median of {profile.repeats} "
              f"calls after {profile.warmup} warm-up calls; run took {elapsed:.0f} s.")
    text = report.markdown(rows, header)
    report.write_csv(rows, out / "results.csv")
    (out / "results.md").write_text(text)
    plots = report.plot_error_vs_cost(rows, out) + report.plot_scaling(rows, out)
    print(text)
    print(f"wrote results.csv, results.md, config.json and {len(plots)} plots to {_shown(out)} "
          f"in {elapsed:.0f} s", file=sys.stderr)
    return out


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


if __name__ == "__main__":
    main()
