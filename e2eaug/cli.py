"""The ``e2eaug`` command line (also ``python -m e2eaug``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import List, Optional

from e2eaug import __version__

DEFAULT_CONFIG = "skin_synthetic"  # = e2eaug.run_config.DEFAULT_PRESET (not imported: fast --help)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is (as Ctrl-C raises ``KeyboardInterrupt``) with the
    message ``terminated``, so that a run cleans up the same way (``RunDir.session``)."""


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        default=None,
        help=f"preset name or YAML path (default: {DEFAULT_CONFIG}; `e2eaug presets` lists presets)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set augmenter.name=combine (repeatable; value parsed as YAML)",
    )


def _add_trust_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-plugins",
        action="store_true",
        help="import the plugins the run folder's config.yaml names (this runs their code)",
    )


def _cmd_train(args: argparse.Namespace, then_evaluate: bool) -> int:
    from e2eaug import jobs
    from e2eaug.config import ConfigError, flatten, to_dict
    from e2eaug.run_config import load_config, read_run_config
    from e2eaug.rundir import RunDir

    run = None
    config = args.config or DEFAULT_CONFIG
    if args.resume:
        if args.resume == "latest":
            named = load_config(config, args.overrides)
            run = RunDir.latest(named.out_dir, named.name)
        else:
            run = RunDir.open(args.resume)
        cfg = read_run_config(run, args.overrides, trust_plugins=args.trust_plugins)
        if args.config is not None and args.resume != "latest":
            given, saved = flatten(to_dict(load_config(args.config, args.overrides))), flatten(to_dict(cfg))
            changed = sorted(key for key in given.keys() | saved.keys() if given.get(key) != saved.get(key))
            if changed:
                raise ConfigError(
                    f"--config {args.config} differs from {run.config_path} at {', '.join(changed[:3])}"
                    f"{' and more' if len(changed) > 3 else ''}: a resumed run keeps its own config; "
                    "change its values with --set"
                )
    else:
        cfg = load_config(config, args.overrides)
    run, best = jobs.train(cfg, run, resume=bool(args.resume))
    if run is None:  # a rank other than 0 of a distributed run: rank 0 reports and evaluates
        return 0
    print(f"best validation Dice {best['dice']:.4f} at step {best['step']}")
    if then_evaluate:
        results = jobs.evaluate(run, "best", trust_plugins=True)  # the plugins training imported
        print(jobs.format_results(results))
    figures = "samples.png, curves.png" + (", alpha.png" if run.alpha_path.is_file() else "")
    print(f"outputs: {run.path} (config.yaml, run_info.json, metrics.jsonl, steps.jsonl, TensorBoard "
          f"events, best.pt, last.pt, {figures}" + (", results.json, per_image.csv)" if then_evaluate else ")"))
    return 0


NSD_TOLERANCE = 2.0  # = e2eaug.metrics.NSD_TOLERANCE (not imported: fast --help)


def _test_set(text: str):
    """``NAME=DIR`` or ``NAME:LAYOUT=DIR`` (``evaluate --test``) as a test-set config."""
    from e2eaug.config import TestSetConfig

    label, sep, root = text.partition("=")
    name, _, layout = label.partition(":")
    if not (sep and name and root):
        raise argparse.ArgumentTypeError(f"expected NAME=DIR or NAME:LAYOUT=DIR, got {text!r}")
    return TestSetConfig(name, root, layout or "generic")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from e2eaug import jobs
    from e2eaug.rundir import RunDir

    run = RunDir.open(args.run)
    results = jobs.evaluate(run, args.checkpoint, args.trust_plugins, args.tests, args.nsd_tolerance)
    print(jobs.format_results(results))
    print(f"wrote {run.results_file(args.checkpoint)} and {run.per_image_file(args.checkpoint)}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from e2eaug import jobs
    from e2eaug.rundir import RunDir

    out = jobs.generate(RunDir.open(args.run), Path(args.out), args.n, args.checkpoint, args.trust_plugins)
    print(f"wrote {args.n} generated pairs to {out}/images and {out}/masks")
    return 0


def _cmd_derive(args: argparse.Namespace) -> int:
    import yaml

    from e2eaug import jobs
    from e2eaug.rundir import RunDir

    run = RunDir.open(args.run)
    genotype = jobs.derive(run, args.checkpoint, args.trust_plugins)
    print(yaml.safe_dump(genotype, sort_keys=False).rstrip())
    print(f"wrote {run.genotype_path}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from e2eaug.export import export_segmenter
    from e2eaug.rundir import RunDir

    out = Path(args.out) if args.out else None
    model, contract = export_segmenter(RunDir.open(args.run), args.checkpoint, args.format, out, args.trust_plugins)
    print(f"wrote {model} and {contract}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from e2eaug.predict import predict_folder
    from e2eaug.rundir import RunDir

    n = predict_folder(RunDir.open(args.run), Path(args.images), Path(args.out), args.checkpoint, args.trust_plugins)
    print(f"wrote {n} masks to {Path(args.out) / 'masks'} and overlays to {Path(args.out) / 'overlays'}")
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    from e2eaug.experiment import load_experiment, run_experiment

    spec = load_experiment(args.config, args.profile)
    failed = run_experiment(spec, jobs=args.jobs)
    if not failed:
        return 0
    print(f"e2eaug: error: {len(failed)} of the experiment's cells failed: {', '.join(failed)} (each cell's "
          "error.txt has its traceback; the same command retries them)", file=sys.stderr)
    return 1


def _cmd_compare(args: argparse.Namespace) -> int:
    from e2eaug.experiment import compare_table

    print(compare_table(args.runs))
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from e2eaug.data.preview import save_preview

    out = save_preview(args.out, task=args.task, domain=args.domain, n=args.n, size=args.size, seed=args.seed)
    print(f"wrote {out}")
    return 0


def _cmd_presets(args: argparse.Namespace) -> int:
    from e2eaug.run_config import PRESETS_DIR, preset_names

    for name in preset_names():
        print(f"{name:<18} {PRESETS_DIR / (name + '.yaml')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="e2eaug",
        description="End-to-end GAN augmentation for medical image segmentation on Betty.",
    )
    parser.add_argument("--version", action="version", version=f"e2eaug {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, helptext in (
        ("run", "train on a config, then evaluate the best checkpoint on every test set (make run)"),
        ("train", "train the segmenter with the configured augmenter (e2eaug: three levels)"),
    ):
        p = sub.add_parser(name, help=helptext, description=helptext)
        _add_config_args(p)
        p.add_argument(
            "--resume",
            nargs="?",
            const="latest",
            default=None,
            metavar="RUN_DIR",
            help="continue a run from its last.pt (default: the latest run of the config's name with one)",
        )
        _add_trust_arg(p)
        p.set_defaults(func=lambda a, ev=(name == "run"): _cmd_train(a, ev))

    p = sub.add_parser("evaluate", help="Dice/Jaccard/HD95/NSD of a run on every test set -> results.json")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument(
        "--checkpoint", choices=["best", "last"], default="best",
        help="best -> results.json + per_image.csv; last -> results_last.json + per_image_last.csv",
    )
    p.add_argument(
        "--test", dest="tests", action="append", default=[], type=_test_set, metavar="NAME[:LAYOUT]=DIR",
        help="also evaluate on the image-mask folder DIR (layout generic unless given), as test set NAME (repeatable)",
    )
    p.add_argument(
        "--nsd-tolerance", type=float, default=NSD_TOLERANCE, metavar="PX",
        help=f"tolerance of the normalised surface Dice, in pixels (default {NSD_TOLERANCE:g})",
    )
    _add_trust_arg(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("generate", help="write generated image-mask pairs as files")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--out", required=True, help="output folder (gets images/ and masks/)")
    p.add_argument("--n", type=int, default=16, help="number of pairs (default 16)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    _add_trust_arg(p)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("derive", help="the chosen operator per generator cell -> genotype.yaml")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    _add_trust_arg(p)
    p.set_defaults(func=_cmd_derive)

    p = sub.add_parser("export", help="write the trained segmenter and a JSON of its input contract")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    p.add_argument(
        "--format", choices=["state_dict", "torchscript", "onnx"], default="torchscript",
        help="torchscript (default; torch.jit.load), state_dict, or onnx (needs pip install 'e2eaug[onnx]')",
    )
    p.add_argument("--out", default=None, help="model file (default RUN/export/segmenter_<checkpoint>...); contract: <out>.json")
    _add_trust_arg(p)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("predict", help="masks and overlays for new images, at each image's own size")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--images", required=True, help="folder of image files")
    p.add_argument("--out", required=True, help="output folder (gets masks/ and overlays/)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    _add_trust_arg(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "experiment",
        help="run a grid of runs (data x sizes x segmenters x augmenters x seeds) -> results.csv/md, figures",
    )
    p.add_argument("--config", required=True, help="experiment YAML (e.g. experiments/jsrt.yaml)")
    p.add_argument("--profile", default=None, help="a profile of the file (e.g. quick, paper)")
    p.add_argument("--jobs", type=int, default=1, help="cells run in parallel processes (default 1)")
    p.set_defaults(func=_cmd_experiment)

    p = sub.add_parser("compare", help="one table of test scores across run or experiment folders")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders or experiment folders")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("data", help="dataset tools")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    q = data_sub.add_parser("preview", help="grid of synthetic images with mask outlines")
    q.add_argument("--task", default="skin", help="synthetic task: skin | lung")
    q.add_argument("--domain", default="id", help="domain: id | ood (and other shifted domains)")
    q.add_argument("--out", default="preview.png", help="output PNG (default preview.png)")
    q.add_argument("--n", type=int, default=16, help="number of images")
    q.add_argument("--size", type=int, default=64, help="image size in pixels")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_preview)

    p = sub.add_parser("presets", help="list the shipped config presets")
    p.set_defaults(func=_cmd_presets)
    return parser


def _message(err: BaseException) -> str:
    """The one-line text of an error main reports."""
    if isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    elif isinstance(err, OSError) and err.filename and err.strerror:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = str(err)
    return " ".join(text.split())


def _out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` says memory ran out: NumPy's and Python's ``MemoryError``, torch's CPU
    allocator and its CUDA ``OutOfMemoryError`` (both ``RuntimeError``)."""
    text = str(err)
    return isinstance(err, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"e2eaug: warning: {_message(message)}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``e2eaug`` console script.

    Errors of the input, the files and the run are one line ``e2eaug: error: ...`` on stderr
    and exit code 2 (Ctrl-C: 130, SIGTERM: 143); an experiment that ran to its end with some
    cells failed exits with 1. Warnings are one line ``e2eaug: warning: ...``.
    """
    args = build_parser().parse_args(argv)
    from e2eaug import distributed
    from e2eaug.config import ConfigError
    from e2eaug.engines import TrainingDiverged
    from e2eaug.rundir import CheckpointError

    def terminate(signum: int, frame: object) -> None:
        raise Terminated("terminated")

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminate) if main_thread else None
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.func(args)
        except KeyboardInterrupt as err:
            terminated = isinstance(err, Terminated)
            print(f"e2eaug: error: {_message(err) or 'interrupted'}", file=sys.stderr)
            return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
        except (ConfigError, CheckpointError, TrainingDiverged, OSError, KeyError, ValueError) as err:
            print(f"e2eaug: error: {_message(err)}", file=sys.stderr)
            return 2
        except (MemoryError, RuntimeError) as err:
            if not _out_of_memory(err):
                raise
            print(f"e2eaug: error: out of memory ({_message(err)}); lower data.image_size, the batch sizes "
                  "or the model widths", file=sys.stderr)
            return 2
        finally:
            distributed.cleanup()
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
