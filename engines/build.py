"""Wire e2eaug's problems into an engine: as many levels as the augmenter needs."""

from __future__ import annotations

from typing import Any, Optional

from e2eaug.problems import ArchitectureProblem, SegmentationProblem
from e2eaug.registry import AUGMENTERS
from e2eaug.rundir import RunDir
from e2eaug.utils import seed_everything

from .e2eaug_engine import E2EAugEngine


def build_engine(cfg: Any, data: Any, run_dir: Optional[RunDir] = None) -> E2EAugEngine:
    """Build the segmentation level and the levels the augmenter ``cfg.augmenter`` needs.

    - An augmenter with no weights trained in the loop (``none``, the classical ones, a
      frozen ``pix2pix``): ``seg`` alone, the augmenter outside Betty's graph.
    - Weights but no architecture (``gan_joint``): ``l2u = {aug: [seg]}``, no hypergradient.
    - An architecture (``e2eaug``), the three levels::

        u2l = {arch: [aug, seg]}          # alpha enters the augmenter's loss and, through it, seg's
        l2u = {aug: [seg], seg: [arch]}   # seg's loss uses the augmenter; arch's loss uses W

      ``aug`` is the only leaf, so a global step runs aug, then seg, then arch, and Betty
      builds the hypergradient paths arch -> seg -> arch and arch -> seg -> aug -> arch.

    Args:
        cfg: a :class:`~e2eaug.run_config.RunConfig`.
        data: the run's data bundle (:func:`e2eaug.data.build_data`).
        run_dir: where the engine writes metrics and checkpoints; ``None`` writes nothing.
    """
    seed_everything(cfg.seed)
    augmenter = AUGMENTERS.get(cfg.augmenter.name).from_config(cfg.augmenter, data, cfg.seed)
    seg = SegmentationProblem.from_config(cfg.seg, data, cfg.seed, augmenter)
    problems, dependencies = [seg], {"u2l": {}, "l2u": {}}
    if augmenter.trains_jointly:
        problems.insert(0, augmenter)
        dependencies["l2u"] = {augmenter: [seg]}
        alpha_module = augmenter.arch_parameters()
        if alpha_module is not None:
            arch = ArchitectureProblem.from_config(cfg.arch, alpha_module, data, cfg.seed, cfg.seg.loss)
            problems.append(arch)
            dependencies = {"u2l": {arch: [augmenter, seg]}, "l2u": {augmenter: [seg], seg: [arch]}}
    return E2EAugEngine(
        problems,
        dependencies,
        augmenter=augmenter,
        settings=cfg.engine,
        val_data=data.val,
        run_dir=run_dir,
        pretrain_steps=cfg.augmenter.pretrain_steps,
        plateau=(cfg.seg.plateau_patience, cfg.seg.plateau_factor),
    )
