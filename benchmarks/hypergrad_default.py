"""Accuracy of the hypergradient on a preset's own models: darts radii and pieces against the reference.

    python -m benchmarks.hypergrad_default [--config skin_synthetic] [--seeds 0 1 2] [--states 3]
        [--alphas 1e-2 3e-3 1e-3 3e-4 1e-4 3e-5 1e-5] [--precisions fp32 bf16 bf16_hops] [--out DIR]

For each seed it builds the preset's engine, runs the GAN pretraining and then takes real
global steps; at ``--states`` points of that training (after 0, ``--every``, ... steps) it
computes the alpha hypergradient Betty applies, in float32 as in training, with ``darts`` and
``darts_shared`` at every radius and with ``identity`` (the same quantity by exact second
derivatives), and compares it with the reference these methods estimate: the
identity-inverse-Hessian form by double backward in float64 (``ift_dense(identity=True)``),
at the same weights and batches. ``--smooth`` swaps ReLU, max-pooling and L1 for SiLU,
average pooling and Huber (the smooth pieces). ``--precisions`` repeats each estimate with
the forwards of ``engine.precision: bf16`` (``bf16``: the upper loss and every real step's
forward in bf16 autocast, the method's re-evaluations in float32, as in training) and with
everything in bf16 autocast (``bf16_hops``, as Betty's own ``precision``); the training
between states and the reference stay float32 / float64. It prints, per method, radius and
precision, the median and worst cosine and norm ratio over seeds and states, and the median
wall time of one hypergradient. ``--out`` also writes the rows as CSV and the table as markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import statistics
import sys
import time
from pathlib import Path
from typing import ContextManager, Dict, List, Sequence

import torch

from benchmarks.hypergrad import measure
from benchmarks.hypergrad.case import Wiring
from benchmarks.hypergrad.e2eaug_case import E2EAugCase, configure
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.hypergrad import METHODS
from e2eaug.problems import names
from e2eaug.run_config import load_config
from e2eaug.utils import atomic_write_text

SMOOTH = ["augmenter.generator.kwargs.activation=silu", "augmenter.discriminator.kwargs.activation=silu",
          "augmenter.reconstruction=smooth_l1", "seg.segmenter.kwargs.activation=silu",
          "seg.segmenter.kwargs.pool=avg"]


PRECISIONS = ("fp32", "bf16", "bf16_hops")


def _precision(engine, precision: str) -> ContextManager:
    """Set the engine's ``engine.precision`` for ``precision``; the context a hypergradient runs in."""
    engine.set_precision("fp32" if precision == "fp32" else "bf16")
    if precision == "bf16_hops":
        return torch.autocast(torch.device(engine.device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def measure_states(config: str, seed: int, states: int, every: int, alphas: List[float], smooth: bool,
                   overrides: List[str], precisions: Sequence[str] = ("fp32",)) -> List[Dict]:
    """Rows ``(seed, step, method, knobs, precision, cosine, ratio, seconds)`` along one training run."""
    cfg = load_config(config, [f"seed={seed}", "engine.progress=false", *(SMOOTH if smooth else []), *overrides])
    engine = build_engine(cfg, build_data(cfg.data))
    arch, seg, aug = (getattr(engine, n) for n in names.ALL)
    wiring = Wiring(engine=engine, upper=arch, lowers=[aug, seg])
    engine.pretrain_augmenter()
    engine.train()
    rows = []
    for state in range(states):
        for _ in range(every if state else 1):
            engine.global_step += 1
            engine.train_step()  # the preset's own method moves the weights
        reference = E2EAugCase.identity(wiring)
        restore = measure.snapshot(wiring.lower_parameters())
        candidates = [(m, {"alpha": a}) for m in ("darts", "darts_shared") for a in alphas] + [("identity", {})]
        for (method, knobs), precision in itertools.product(candidates, precisions):
            restore()
            configure(engine, METHODS.get(method)(**knobs).betty_config(cfg.seg.unroll_steps))
            with _precision(engine, precision):
                start = time.perf_counter()
                estimate = measure.hypergradient(arch)
                seconds = time.perf_counter() - start
            rows.append({"seed": seed, "step": engine.global_step, "method": method,
                         "knobs": " ".join(f"{k}={v:g}" for k, v in knobs.items()), "precision": precision,
                         "cosine": measure.cosine(estimate, reference),
                         "ratio": (estimate.norm() / reference.norm()).item(), "seconds": seconds})
        _precision(engine, "fp32")
        restore()
        configure(engine, cfg.seg.hypergrad.betty_config(cfg.seg.unroll_steps))
    return rows


def table(rows: List[Dict], title: str) -> str:
    """Markdown: per method, knobs and precision, median / worst cosine and norm ratio, median
    seconds (the precision column only when more than fp32 was measured)."""
    key = lambda r: (r["method"], r["knobs"], r["precision"])  # noqa: E731
    multi = {r["precision"] for r in rows} != {"fp32"}
    extra = (" precision |", "---|") if multi else ("", "")
    lines = [f"### {title}", "", f"| method | knobs |{extra[0]} cosine median | cosine worst | norm ratio median | "
             "norm ratio range | s per hypergradient |", f"|---|---:|{extra[1]}---:|---:|---:|---:|---:|"]
    for method, knobs, precision in dict.fromkeys(key(r) for r in rows):
        rs = [r for r in rows if key(r) == (method, knobs, precision)]
        cos, ratio = [r["cosine"] for r in rs], [r["ratio"] for r in rs]
        cell = f" {precision} |" if multi else ""
        lines.append(f"| {method} | {knobs or '-'} |{cell} {statistics.median(cos):.4f} | {min(cos):.4f} | "
                     f"{statistics.median(ratio):.3f} | {min(ratio):.3f} .. {max(ratio):.3f} | "
                     f"{statistics.median(r['seconds'] for r in rs):.3f} |")
    return "\n".join(lines)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="skin_synthetic", help="preset or YAML path (default skin_synthetic)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--states", type=int, default=3, help="training states measured per seed (default 3)")
    parser.add_argument("--every", type=int, default=50, help="global steps between states (default 50)")
    parser.add_argument("--alphas", type=float, nargs="+", default=[1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5])
    parser.add_argument("--smooth", action="store_true", help="SiLU, average pooling and Huber instead")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["fp32"],
                        help="forward precisions of each estimate (default fp32)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write rows.csv and table.md here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for seed in args.seeds:
        rows += measure_states(args.config, seed, args.states, args.every, args.alphas, args.smooth,
                               args.overrides, args.precisions)
        print(f"seed {seed} measured", file=sys.stderr)
    pieces = "smooth pieces" if args.smooth else "default pieces (ReLU, max-pool, L1)"
    text = table(rows, f"{args.config}, {pieces}: {'/'.join(args.precisions)} estimate vs float64 identity-form reference, "
                       f"seeds {args.seeds}, {args.states} states each")
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "rows.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        atomic_write_text(args.out / "table.md", text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
