"""Wall time and peak memory of one global step: e2eaug (darts, neumann) against baselines.

    python -m benchmarks.step_cost [--size 64] [--repeats 10] [--warmup 2] [--device auto] [--threads 1]

Each configuration runs in a fresh subprocess so its peak memory is its own: peak RSS growth
over the process after building (CPU) or ``torch.cuda.max_memory_allocated`` (CUDA). Times are
medians of ``--repeats`` steps after ``--warmup`` steps. Configurations:

- ``e2eaug-darts`` / ``e2eaug-darts_shared`` / ``e2eaug-neumann``: one global step of the
  three-level engine (gan step + discriminator step, seg step, arch step with hypergradients);
  ``darts_shared`` is e2eaug's darts that evaluates the seg hop once for both paths.
- ``seg-only``: one plain segmentation step on real pairs (no generator).
- ``separate``: one GAN step (+ discriminator) and one segmentation step on real + generated
  pairs, no hypergradient: the separately trained GAN pipeline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List

import torch

CASES = ("e2eaug-darts", "e2eaug-darts_shared", "e2eaug-neumann", "seg-only", "separate")


def _overrides(size: int, device: str, method: str) -> List[str]:
    """The default preset at ``size`` px with ``method`` at both levels (``darts_shared``: at
    the seg level, with ``darts`` at the gan level, where only one path passes)."""
    return [
        f"data.image_size={size}",
        "data.n_train=16",
        "data.n_val=8",
        "data.n_test=4",
        "data.shifted_domains=[]",
        "augmenter.pretrain_steps=0",
        f"augmenter.hypergrad.type={'darts' if method == 'darts_shared' else method}",
        f"seg.hypergrad.type={method}",
        f"engine.device={device}",
        "engine.progress=false",
    ]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure(case: str, size: int, device: str, repeats: int, warmup: int, threads: int, queue) -> None:
    """Build the case, time its step, report through ``queue`` (runs in a subprocess)."""
    torch.set_num_threads(threads)
    from e2eaug.config import load_config
    from e2eaug.data import build_data
    from e2eaug.engines import build_engine
    from e2eaug.problems import names

    method = case.split("-", 1)[1] if case.startswith("e2eaug-") else "darts"
    cfg = load_config("skin_synthetic", _overrides(size, device, method))
    engine = build_engine(cfg, build_data(cfg.data))
    gan, seg = getattr(engine, names.GAN), getattr(engine, names.SEG)
    engine.train()

    def e2eaug_step() -> None:
        engine.global_step += 1
        engine.train_step()

    def seg_only() -> None:
        seg.settings.lam = 0.0
        seg.one_step_descent()

    def separate() -> None:
        gan.one_step_descent()
        seg.one_step_descent()

    step: Callable[[], None] = {"seg-only": seg_only, "separate": separate}.get(case, e2eaug_step)
    base_rss = _rss_mib()  # after building: the growth is what steps allocate (peak RSS)
    for _ in range(warmup):
        step()
    cuda = engine.device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _rss_mib() - base_rss
    queue.put({"case": case, "median_s": statistics.median(times), "peak_mib": peak,
               "device": str(engine.device), "memory": "cuda max allocated" if cuda else "RSS growth"})


def run_case(case: str, size: int, device: str, repeats: int, warmup: int, threads: int) -> Dict:
    """Measure one case in a fresh ``spawn`` subprocess."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(case, size, device, repeats, warmup, threads, queue))
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
    args = parser.parse_args(argv)
    devices = [args.device] if args.device != "auto" else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    rows = []
    for device in devices:
        for case in CASES:
            row = run_case(case, args.size, device, args.repeats, args.warmup, args.threads)
            rows.append(row)
            print(f"measured {case} on {device}: {row['median_s']:.3f} s", file=sys.stderr)
    print(f"\nstep cost at {args.size} px (median of {args.repeats} steps after {args.warmup} warm-up)\n")
    print("| device | case | median s/step | x separate | peak MiB | memory measure |")
    print("|---|---|---:|---:|---:|---|")
    for device in devices:
        ref = next(r for r in rows if r["case"] == "separate" and r["device"].startswith(device))
        for r in (r for r in rows if r["device"].startswith(device)):
            print(f"| {r['device']} | {r['case']} | {r['median_s']:.4f} | {r['median_s'] / ref['median_s']:.2f} "
                  f"| {r['peak_mib']:.1f} | {r['memory']} |")
    if args.json:
        from e2eaug.utils import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
