"""The jobs behind the CLI: train, evaluate, generate, derive."""

from __future__ import annotations

import contextlib
import copy
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from e2eaug import distributed
from e2eaug.config import read_yaml, to_dict
from e2eaug.data import build_data
from e2eaug.data.build import TestSetConfig, load_test_sets
from e2eaug.evaluation import evaluate_segmenter
from e2eaug.plots import save_alpha, save_curves, save_samples
from e2eaug.provenance import session_info
from e2eaug.problems import names
from e2eaug.run_config import read_run_config
from e2eaug.rundir import CheckpointError, RunDir
from e2eaug.samples import augmented_batches, sample_rows
from e2eaug.tracking import write_test_scores
from e2eaug.utils import atomic_write, atomic_write_text, csv_text, first_lines, json_text


def _engine(cfg: Any):
    """The engine and data of ``cfg``; with ``engine.strategy: distributed`` this process first
    joins torchrun's process group and trains on its rank's device."""
    from e2eaug.engines import build_engine, check_device, check_precision

    check_device(cfg.engine.device)  # before the data is read
    check_precision(cfg.engine.precision)
    device = distributed.setup(cfg.engine.strategy, cfg.engine.device)
    if device != cfg.engine.device:  # the saved config keeps what the user wrote
        cfg = copy.deepcopy(cfg)
        cfg.engine.device = device
    if cfg.engine.num_threads > 0:
        torch.set_num_threads(cfg.engine.num_threads)
    data = build_data(cfg.data)
    return build_engine(cfg, data), data


def _load(engine: Any, run: RunDir, which: str) -> None:
    """Load ``run``'s checkpoint ``which`` into ``engine``; one that does not fit is one clear error."""
    state = run.load_checkpoint(which)
    try:
        engine.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as err:
        path = run.checkpoint_path(which)
        raise CheckpointError(f"{path} does not fit this config: {first_lines(err)}") from err


def _optimizers(engine: Any) -> Dict[str, torch.optim.Optimizer]:
    """The run's optimizers by the config key of their settings (``seg.optimizer``, ...)."""
    sections = {names.SEG: "seg", names.AUG: "augmenter", names.ARCH: "arch"}
    found = {f"{sections[p.name]}.optimizer": p.optimizer for p in engine.problems}
    disc = getattr(engine.augmenter, "disc_optimizer", None)
    if disc is not None:
        found["augmenter.disc_optimizer"] = disc
    return found


def _lookup(tree: Dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def _apply_changed_lrs(engine: Any, saved: Dict[str, Any], resumed: Dict[str, Any]) -> None:
    """A learning rate the resumed config changes (``--set seg.optimizer.lr=...`` on
    ``--resume``) replaces the checkpoint's; the others keep the checkpoint's, which a plateau
    schedule may have lowered."""
    for key, optimizer in _optimizers(engine).items():
        old, new = _lookup(saved, f"{key}.lr"), _lookup(resumed, f"{key}.lr")
        if new is None or new == old:
            continue
        was = optimizer.param_groups[0]["lr"]
        for group in optimizer.param_groups:
            group["lr"] = new
        if distributed.is_main():
            print(f"{key}.lr is now {new:g} (the checkpoint's optimizer had {was:g})")


def train(
    cfg: Any, run: Optional[RunDir] = None, resume: bool = False
) -> Tuple[Optional[RunDir], Dict[str, Any]]:
    """Train a run (a new folder unless ``run`` is given); returns the folder and best record.

    Nothing is written before the config and the data have built an engine and, with
    ``resume``, ``run``'s ``last.pt`` has loaded into it (a learning rate the resumed config
    changes then replaces the checkpoint's); the folder, locked meanwhile, then runs the
    session (:meth:`RunDir.session`: records after the checkpoint dropped, a new folder removed
    again if training stops before its first checkpoint, Ctrl-C and SIGTERM re-raised saying
    how to continue). In a run of several processes only rank 0 writes (and returns the
    folder); the other ranks return ``None`` for it.
    """
    engine, _ = _engine(cfg)
    with contextlib.ExitStack() as held:
        if run is not None and distributed.is_main():
            held.enter_context(run.lock())  # before anything is read from or written to it
        if resume:
            _load(engine, run, "last")
            _apply_changed_lrs(engine, read_yaml(run.config_path), to_dict(cfg))
        if not distributed.is_main():
            return None, engine.run()
        new = run is None
        if new:
            run = RunDir.create(cfg.out_dir, cfg.name)
            held.enter_context(run.lock())
            print(f"run folder: {run.path}")
        elif resume:
            print(f"resuming {run.path} from step {engine.global_step}")
        engine.run_dir = run
        info = session_info(engine.device, engine.global_step)
        with run.session(cfg, info, new, engine.global_step if resume else None):
            best = engine.run()  # the engine saved last.pt (and best.pt) at its final validation
            write_figures(run, engine)
        if collapsed(run):
            hint = " (seg.loss=bce_dice also trains on Dice)" if cfg.seg.loss == "bce" else ""
            warnings.warn(
                f"{run.path}: no validation predicted a foreground pixel: the segmenter collapsed to "
                f"background, and its scores say nothing of the augmenter{hint}"
            )
        return run, best


def collapsed(run: RunDir) -> bool:
    """Whether every validation of ``run`` so far predicted background everywhere."""
    records = run.read_metrics()
    return bool(records) and all(r.get("val_foreground", 1.0) == 0 for r in records)


def write_figures(run: RunDir, engine: Any) -> None:
    """``curves.png`` from the records, ``alpha.png`` for a searched augmenter, and
    ``samples.png`` (the augmenter's pairs and the segmenter's validation predictions)."""
    records, steps = run.read_metrics(), run.read_steps()
    if records and steps:
        save_curves(run.curves_path, records, steps)
    if any("alpha" in s.get("arch", {}) for s in steps):
        save_alpha(run.alpha_path, steps)
    save_samples(run.samples_path, sample_rows(engine))


def load_run(run: RunDir, which: str = "best", trust_plugins: bool = False):
    """The run's engine (problems built from its config) with a checkpoint loaded.

    A checkpoint with a non-finite value is refused; so is a config naming ``plugins``
    unless ``trust_plugins`` (:meth:`RunDir.read_config`).
    """
    cfg = read_run_config(run, trust_plugins=trust_plugins)
    engine, data = _engine(cfg)
    _load(engine, run, which)
    return cfg, engine, data


def evaluate(
    run: RunDir,
    which: str = "best",
    trust_plugins: bool = False,
    extra_tests: Optional[List[TestSetConfig]] = None,
    nsd_tolerance: Optional[float] = None,
) -> Dict[str, Any]:
    """Dice, Jaccard, HD95 and NSD of the checkpoint's segmenter on every test set ->
    ``results.json``, and per image -> ``per_image.csv`` (test_set, image, dice, jaccard, hd95,
    nsd); ``last.pt``'s go to ``results_last.json`` and ``per_image_last.csv``.

    ``extra_tests`` are folder test sets evaluated beside the config's (``evaluate --test``),
    read as :func:`~e2eaug.data.build.load_test_sets` reads ``data.extra_tests``, before
    anything is written. ``nsd_tolerance`` is in pixels (``None``: 2, :mod:`e2eaug.boundary`).
    Folder sets are scored at each image's own size (``scored_at: own size``); synthetic ones,
    made at the training size, there.
    """
    cfg, engine, data = load_run(run, which, trust_plugins)
    sets = dict(data.tests)
    sets.update(load_test_sets(cfg.data, extra_tests or [], data.channels, list(sets), "--test"))
    seg = getattr(engine, names.SEG)
    tests = {
        name: evaluate_segmenter(
            seg.module, ds, seg.device, per_image=True, boundary=True, nsd_tolerance=nsd_tolerance, own_size=True
        )
        for name, ds in sets.items()
    }
    rows = [{"test_set": name, **row} for name, r in tests.items() for row in r.pop("per_image")]
    atomic_write_text(run.per_image_file(which), csv_text(list(rows[0]), (row.values() for row in rows)))
    results = {"checkpoint": which, "step": engine.global_step, "best_val": engine.best,
               "val_collapsed": collapsed(run), "tests": tests}
    atomic_write_text(run.results_file(which), json_text(results, indent=2) + "\n")
    if cfg.engine.tensorboard:
        write_test_scores(run, results)
    return results


def format_results(results: Dict[str, Any]) -> str:
    """A plain-text table of test results (HD95 in pixels of the size each set was scored at,
    NSD at its tolerance, when present)."""
    tests = results["tests"]
    boundary = all("hd95" in r for r in tests.values())
    lines = [f"{'test set':<16}{'n':>6}{'Dice':>10}{'Jaccard':>10}"]
    if boundary:
        tolerance = next(iter(tests.values()))["nsd_tolerance"]
        lines[0] += f"{'HD95':>10}{f'NSD@{tolerance:g}':>10}"
    lines[0] += "  scored at"
    for name, r in tests.items():
        line = f"{name:<16}{r['n']:>6}{r['dice']:>10.4f}{r['jaccard']:>10.4f}"
        line += f"{r['hd95']:>10.2f}{r['nsd']:>10.4f}" if boundary else ""
        lines.append(f"{line}  {r.get('scored_at', '')}")
    return "\n".join(lines)


#: The most pairs one ``generate`` writes (each a PNG pair; more would fill a disk, not a data set).
MAX_GENERATED = 100_000


def generate(run: RunDir, out: Path, n: int = 16, which: str = "best", trust_plugins: bool = False) -> Path:
    """Write ``n`` augmented pairs as ``out/images/*.png`` + ``out/masks/*.png`` (generic layout)."""
    from PIL import Image

    if not 1 <= n <= MAX_GENERATED:
        raise ValueError(f"the number of pairs (--n) must be between 1 and {MAX_GENERATED}, got {n}")
    _, engine, _ = load_run(run, which, trust_plugins)
    engine.eval()
    out = Path(out)
    written = 0
    for _, images, masks in augmented_batches(engine):
        if written == n:
            break
        for image, mask in zip(images, masks):
            if written == n:
                break
            stem = f"gen_{written:05d}"
            array = (image.clamp(0, 1) * 255).round().byte().cpu()
            array = array[0].numpy() if array.shape[0] == 1 else array.permute(1, 2, 0).numpy()
            mask_array = (mask[0] * 255).round().byte().cpu().numpy()
            for folder, pixels in (("images", array), ("masks", mask_array)):
                target = out / folder / f"{stem}.png"
                atomic_write(target, lambda tmp, p=pixels: Image.fromarray(p).save(tmp, format="PNG"))
            written += 1
    return out


def derive(run: RunDir, which: str = "best", trust_plugins: bool = False) -> Dict[str, List[str]]:
    """The architecture the augmenter chose (e2eaug: the operator per cell) -> ``genotype.yaml``."""
    _, engine, _ = load_run(run, which, trust_plugins)
    try:
        genotype = engine.augmenter.derive()
    except ValueError as err:
        raise ValueError(f"{run.path}: {err}") from None
    genotype.save(run.genotype_path)
    return genotype.to_dict()
