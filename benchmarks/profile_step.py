"""Where one global step spends its time: torch's profiler over a step-cost case.

    python -m benchmarks.profile_step [--case e2eaug-identity] [--size 64] [--steps 5] [--device auto]
                                      [--threads 1] [--set key=value ...] [--top 25]

Builds the case as ``benchmarks.step_cost`` does, runs two warm-up steps, then profiles
``--steps`` global steps (CPU activity, and CUDA activity on a GPU) and prints the operators
with the most self time, and the share of the step spent in the autograd engine's backward
passes (the hypergradient's second derivatives and finite-difference re-runs among them).
"""

from __future__ import annotations

import argparse
import sys
from typing import List

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.step_cost import CASES, build_case


def main(argv: List[str] | None = None) -> int:
    """Profile the case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default="e2eaug-identity", choices=CASES)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=25, help="operators listed (default 25)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    engine, step = build_case(args.case, args.size, args.device, args.overrides)
    for _ in range(2):
        step()
    cuda = str(engine.device).startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    events = prof.key_averages()
    sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    total = sum(e.self_cpu_time_total for e in events)
    backward = sum(e.self_cpu_time_total for e in events if "Backward" in e.key or "backward" in e.key)
    print(f"{args.case} at {args.size} px on {engine.device}, {args.steps} steps, {args.threads} thread(s)"
          + (f", {' '.join(args.overrides)}" if args.overrides else ""))
    print(f"self CPU time {total / 1e6 / args.steps:.3f} s/step; in backward operators {backward / max(total, 1):.0%}\n")
    print(events.table(sort_by=sort, row_limit=args.top, max_name_column_width=48))
    return 0


if __name__ == "__main__":
    sys.exit(main())
