"""Self-supervised pretraining with style-GAN augmentation: pipeline vs. two-level (Betty).

Modes:
  pipeline   train the GAN on the unlabelled pool, generate N images, pretrain --method on real
             (+ generated) images, linear-probe; with the no-pretraining baseline.
  two-level  Betty: generator (upper: adversarial + beta * SSL loss on held-out real images) over
             the SSL encoder (lower: real + live generated images), hypergradient darts|neumann.
  benchmark  the results table (no pretraining; SimCLR, BYOL without/with GAN; two-level
             --method at --beta and at beta = 0) and the pool-size x generated-count grid for
             --method.

Writes to --out (default: a new folder runs/ssl_gan/<mode>-<timestamp> per run): config.yaml
(the resolved config), run_info.json (arguments, versions, git commit, device, threads),
command.txt, results.json, results.md, samples.png (rows:
real, pipeline GAN, two-level GAN), encoders/<row>.pt (each row's backbone state dict) and
gans/<name>.pt (each trained GAN's generator and discriminator).

Examples:
  python examples/ssl_gan/run.py --mode pipeline --profile test
  python examples/ssl_gan/run.py --mode two-level --method byol --hypergradient neumann
  python examples/ssl_gan/run.py --mode benchmark --profile quick --data real \\
      --out benchmarks/results/ssl
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch
from torchvision.utils import save_image

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from e2eaug.config import ConfigError
from e2eaug.provenance import session_info
from e2eaug.rundir import RunDir
from e2eaug.utils import atomic_write, atomic_write_text, default_device
from examples.ssl_gan.config import build_config, profile_names
from examples.ssl_gan.pipeline import run


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["pipeline", "two-level", "benchmark"], default="pipeline",
                   help="what to run (default: pipeline)")
    p.add_argument("--profile", default="quick", metavar="|".join(profile_names()) + "|PATH",
                   help="sizes and schedules (profiles/*.yaml, or a YAML file of your own): test "
                        "(seconds), quick (CPU, 32 px), full (64 px), paper (256 px, GPU) "
                        "(default: quick)")
    p.add_argument("--method", choices=["simclr", "byol"], default="simclr",
                   help="SSL method of pipeline/two-level and of the benchmark's two-level row "
                        "and grid (default: simclr)")
    p.add_argument("--data", choices=["synthetic", "real"], default="synthetic",
                   help="synthetic lesions (no files) or real folders (default: synthetic)")
    p.add_argument("--probe", choices=["ph2", "ham10000"], default="ph2",
                   help="labelled probe set of --data real: ph2, or HAM10000's labelled images split "
                        "by lesion id (default: ph2)")
    p.add_argument("--data-root", default=None,
                   help="folder holding ham10000_unlabelled/images and ph2/ "
                        "(default: <repo>/../shared/data)")
    p.add_argument("--hypergradient", choices=["darts", "neumann"], default=None,
                   help="best-response method of the two-level run (default: profile's, darts)")
    p.add_argument("--beta", type=float, default=None,
                   help="weight of the held-out SSL loss in the generator's loss")
    p.add_argument("--out", default=None,
                   help="output folder (default: a new runs/ssl_gan/<mode>-<timestamp>)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, models and probes")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set ssl.steps=50 (repeatable)")
    return p.parse_args(argv)


def overrides_from_args(args: argparse.Namespace) -> List[str]:
    """Turn the dedicated options into config overrides (explicit --set wins)."""
    out = [f"seed={args.seed}", f"data.seed={args.seed}", f"data.source={args.data}",
           f"data.probe_set={args.probe}"]
    if args.data_root:
        out.append(f"data.root={json.dumps(str(Path(args.data_root).resolve()))}")
    if args.hypergradient:
        out.append(f"two_level.hypergradient={args.hypergradient}")
    if args.beta is not None:
        out.append(f"two_level.beta={args.beta}")
    return out + list(args.overrides)


def fmt_acc(row: Dict) -> str:
    return f"{row['probe']['mean']:.3f} ± {row['probe']['std']:.3f}"


def fmt_balanced(row: Dict) -> str:
    return f"{row['probe']['balanced_mean']:.3f} ± {row['probe']['balanced_std']:.3f}"


def fmt_validation(row: Dict) -> str:
    p = row["probe"]
    if "val_mean" not in p:
        return "-"
    return f"{p['val_mean']:.3f} / {p['val_balanced_mean']:.3f}"


def results_markdown(results: Dict, header: str) -> str:
    """The table and the grid as Markdown."""
    notes: List[str] = []
    lines = [header, "", "| pretraining | real pool | generated | probe accuracy (mean ± std) "
             "| balanced accuracy | validation accuracy / balanced | per seed | time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["table"]:
        seeds = ", ".join(f"{a:.3f}" for a in r["probe"]["accuracies"])
        lines.append(f"| {r['name']} | {r['pool']} | {r['generated']} | {fmt_acc(r)} | {fmt_balanced(r)} "
                     f"| {fmt_validation(r)} | {seeds} | {r['seconds']:.0f} |")
    if results["table"]:
        notes.append(f"Majority-class rate (always answering the training split's largest class) on "
                     f"the test splits: {results['table'][0]['probe']['majority_rate']:.3f}.")
    notes += [f"{r['name']}: {r['generator_steps']} generator steps, {r['discriminator_steps']} "
              f"discriminator steps, generator parameter change (L2) {r['generator_param_change']:.3f}; "
              f"per SSL batch {r['real_per_batch']} real + {r['generated_per_batch']} generated."
              for r in results["table"] if "generator_steps" in r]
    if results["grid"]:
        pools = sorted({r["pool"] for r in results["grid"]})
        gens = sorted({r["generated"] for r in results["grid"]})
        cell = {(r["pool"], r["generated"]): fmt_acc(r) for r in results["grid"]}
        method = results["grid"][0]["method"]
        lines += ["", f"Augmentation-ratio grid ({method}; rows: real pool size, columns: "
                  "generated images; linear-probe accuracy mean ± std)", "",
                  "| real pool | " + " | ".join(f"+{g} generated" for g in gens) + " |",
                  "|---|" + "---|" * len(gens)]
        for p in pools:
            lines.append(f"| {p} | " + " | ".join(cell.get((p, g), "") for g in gens) + " |")
    rows = results["table"] + [r for r in results["grid"] if r not in results["table"]]
    epochs = sorted({int(e) for r in rows for e in r["probe"]["mean_accuracy_by_epoch"]})
    if epochs:
        lines += ["", "Probe convergence (mean test accuracy after E epochs; last column = final; "
                  "final training loss, mean over seeds)", "",
                  "| row | real pool | generated | " + " | ".join(f"E={e}" for e in epochs)
                  + " | final | train loss |", "|---|---|---|" + "---|" * (len(epochs) + 2)]
        for r in rows:
            curve = {int(e): a for e, a in r["probe"]["mean_accuracy_by_epoch"].items()}
            losses = r["probe"]["final_train_losses"]
            lines.append(f"| {r['name']} | {r['pool']} | {r['generated']} | "
                         + " | ".join(f"{curve.get(e, float('nan')):.3f}" for e in epochs)
                         + f" | {r['probe']['mean']:.3f} | {sum(losses) / len(losses):.3f} |")
    if notes:
        lines += [""] + notes
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run the command line ``argv``; returns the results written to ``results.json``."""
    args = parse_args(argv)
    cfg = build_config(args.profile, overrides_from_args(args))
    device = default_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out:
        run_dir = RunDir(args.out)
        run_dir.path.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = RunDir.create("runs/ssl_gan", args.mode)
    out = run_dir.path
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])])
    atomic_write_text(out / "command.txt", command + "\n")
    run_dir.write_config(cfg)
    run_dir.record_session({**session_info(device, 0), "args": vars(args)})
    print(f"{args.mode} | profile {args.profile} | {args.data} data | device {device} | "
          f"threads {torch.get_num_threads()} | out {out}", flush=True)

    start = time.time()
    results, exp = run(cfg, args.mode, args.method, device, save_dir=out)
    wall = time.time() - start
    results.update({"mode": args.mode, "profile": args.profile, "method": args.method,
                    "data": args.data, "classes": list(exp.data.probe.classes),
                    "wall_seconds": round(wall, 1), "command": command})
    atomic_write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    header = (f"# SSL with style-GAN augmentation: {args.mode}, profile {args.profile}, "
              f"{args.data} data, {cfg.data.image_size} px\n\nLinear probe: frozen encoder, "
              f"one linear layer, Adam lr {cfg.probe.lr:g}, {cfg.probe.epochs} epochs, "
              f"{cfg.probe.train_fraction:.0%} train / rest test, seeds {cfg.probe.seeds}. "
              f"SSL: {cfg.ssl.steps} steps of {cfg.ssl.batch_size} images; GAN: "
              f"{cfg.gan.steps} steps. Wall time {wall / 60:.1f} min; a row's time includes "
              f"training the GAN when that row first needs it.\n\nCommand: `{command}`")
    atomic_write_text(out / "results.md", results_markdown(results, header))
    samples = exp.samples()
    atomic_write(out / "samples.png", lambda tmp: save_image(samples, tmp, nrow=8, format="png"))
    print(results_markdown(results, f"done in {wall / 60:.1f} min"), flush=True)
    return results


def cli() -> None:
    """:func:`main` with bad input as one line ``run.py: error: ...`` and exit code 2."""
    try:
        main()
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"run.py: error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
