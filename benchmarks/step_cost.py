"""Wall time and peak memory of one global step: e2eaug (darts, neumann) beside its baselines.

    python -m benchmarks.step_cost [--size 64] [--repeats 10] [--warmup 2] [--device auto] [--threads 1]
                                   [--cases e2eaug-identity,gan_joint] [--set key=value ...]

Each configuration runs in a fresh subprocess so its peak memory is its own: peak RSS growth
over the process after building (CPU) or ``torch.cuda.max_memory_allocated`` (CUDA). A case's
time per step is the mean over ``--repeats`` whole arch cycles after ``--warmup`` of them: a
cycle is ``seg.unroll_steps`` global steps (the arch level steps once per cycle; 1 step for
cases without it), each step exactly what the engine runs for that augmenter (no
pretraining). The median single step is printed beside it. Configurations (``augmenter.name``):

- ``e2eaug``: the default preset as shipped.
- ``e2eaug-darts`` / ``e2eaug-darts_shared`` / ``e2eaug-identity`` / ``e2eaug-neumann``: the
  three levels (GAN step + discriminator step, seg step, arch step with hypergradients), each
  method with its default knobs; ``darts_shared`` is darts evaluating the seg hop once for both
  paths (seg level; darts at the GAN level); ``identity`` the same quantity by exact second
  derivatives, shared likewise.
- ``none``: the segmenter alone on real pairs.
- ``combine``: the segmenter on real + rotated/flipped/translated real pairs.
- ``pix2pix``: the segmenter on real + pairs from a frozen generator (the separate GAN once
  trained).
- ``gan_joint``: GAN step + discriminator step and seg step, no hypergradient: also the
  per-step cost of training the separate GAN; the table's reference.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from typing import Dict, List

import torch

CASES = ("e2eaug", "e2eaug-darts", "e2eaug-darts_shared", "e2eaug-identity", "e2eaug-neumann", "none", "combine", "pix2pix",
         "gan_joint")
REFERENCE = "gan_joint"


def _overrides(case: str, size: int, device: str, extra: List[str] = ()) -> List[str]:
    """The default preset at ``size`` px for ``case``, then ``extra`` overrides."""
    name, _, method = case.partition("-")
    out = [
        f"data.image_size={size}",
        "data.n_train=16",
        "data.n_val=8",
        "data.n_test=4",
        "data.shifted_domains=[]",
        f"augmenter.name={name}",
        "augmenter.pretrain_steps=1",  # pix2pix needs some; not timed
        f"engine.device={device}",
        "engine.progress=false",
    ]
    if method:
        out += [f"augmenter.hypergrad={{type: {'darts' if method == 'darts_shared' else method}}}",
                f"seg.hypergrad={{type: {method}}}"]
    return out + list(extra)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_case(case: str, size: int, device: str, extra: List[str] = ()):
    """The engine of ``case`` (pretrained, in training mode) and a function running one global
    step of it exactly as the engine does."""
    from e2eaug.data import build_data
    from e2eaug.engines import build_engine
    from e2eaug.run_config import load_config

    cfg = load_config("skin_synthetic", _overrides(case, size, device, extra))
    engine = build_engine(cfg, build_data(cfg.data))
    engine.pretrain_augmenter()
    engine.train()

    def step() -> None:
        engine.global_step += 1
        engine.train_step()

    return engine, step


def cycle_steps(engine) -> int:
    """Global steps per arch step: the seg level's ``unroll_steps`` when there is an arch
    level, else 1."""
    from e2eaug.problems import names

    return getattr(engine, names.SEG)._unroll_steps if hasattr(engine, names.ARCH) else 1


def _measure(case: str, size: int, device: str, repeats: int, warmup: int, threads: int, extra: List[str],
             queue) -> None:
    """Build the case, time its steps over whole arch cycles, report through ``queue`` (runs
    in a subprocess)."""
    torch.set_num_threads(threads)
    engine, step = build_case(case, size, device, extra)
    cycle = cycle_steps(engine)
    base_rss = _rss_mib()  # after building: the growth is what steps allocate (peak RSS)
    for _ in range(warmup * cycle):
        step()
    cuda = engine.device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats * cycle):
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _rss_mib() - base_rss
    queue.put({"case": case, "mean_s": statistics.fmean(times), "median_s": statistics.median(times),
               "cycle_steps": cycle, "peak_mib": peak, "device": str(engine.device),
               "memory": "cuda max allocated" if cuda else "RSS growth"})


def run_case(case: str, size: int, device: str, repeats: int, warmup: int, threads: int,
             extra: List[str] = ()) -> Dict:
    """Measure one case in a fresh ``spawn`` subprocess."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(case, size, device, repeats, warmup, threads, list(extra), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: List[str] | None = None) -> int:
    """Print the step-cost table (markdown) and the ratios to the separate pipeline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64, help="image size in pixels (default 64)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated cases (default: all; {REFERENCE} "
                        "must be among them)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every case, e.g. --set seg.segmenter.kwargs.base_width=32")
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    unknown = sorted(set(cases) - set(CASES))
    if unknown or REFERENCE not in cases:
        parser.error(f"--cases: unknown {unknown}" if unknown else f"--cases must include {REFERENCE}")
    devices = [args.device] if args.device != "auto" else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    rows = []
    for device in devices:
        for case in cases:
            row = run_case(case, args.size, device, args.repeats, args.warmup, args.threads, args.overrides)
            rows.append(row)
            print(f"measured {case} on {device}: {row['mean_s']:.3f} s", file=sys.stderr)
    extra = f", {' '.join(args.overrides)}" if args.overrides else ""
    print(f"\nstep cost at {args.size} px{extra} (mean over {args.repeats} whole arch cycles after "
          f"{args.warmup} warm-up cycles)\n")
    print(f"| device | case | steps per cycle | mean s/step | x {REFERENCE} | median s/step | peak MiB | memory measure |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for device in devices:
        ref = next(r for r in rows if r["case"] == REFERENCE and r["device"].startswith(device))
        for r in (r for r in rows if r["device"].startswith(device)):
            print(f"| {r['device']} | {r['case']} | {r['cycle_steps']} | {r['mean_s']:.4f} | "
                  f"{r['mean_s'] / ref['mean_s']:.2f} | {r['median_s']:.4f} | {r['peak_mib']:.1f} | {r['memory']} |")
    if args.json:
        from e2eaug.utils import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
