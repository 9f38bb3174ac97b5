"""Wire e2eaug's problems into an engine, as the Betty graph in DESIGN.md prescribes."""

from __future__ import annotations

from typing import Any, Optional

from e2eaug.config import RunConfig
from e2eaug.problems import ArchitectureProblem, SegmentationProblem
from e2eaug.registry import AUGMENTERS
from e2eaug.rundir import RunDir
from e2eaug.utils import seed_everything

from .e2eaug_engine import E2EAugEngine


def build_engine(cfg: RunConfig, data: Any, run_dir: Optional[RunDir] = None) -> E2EAugEngine:
    """Build the augmenter, segmentation and (if the augmenter has alpha) architecture levels.

    With alpha the graph is three-level::

        u2l = {arch: [gan, seg]}          # alpha enters the GAN loss and, through G, the seg loss
        l2u = {gan: [seg], seg: [arch]}   # seg's loss uses G; arch's loss uses W

    ``gan`` is the only leaf, so a global step runs gan, then seg, then arch, and Betty builds the
    hypergradient paths arch -> seg -> arch and arch -> seg -> gan -> arch. Without alpha (a
    fixed augmenter) it is the two problems ``l2u = {gan: [seg]}`` with no hypergradient.
    """
    seed_everything(cfg.seed)
    augmenter = AUGMENTERS.get(cfg.augmenter.name).from_config(cfg.augmenter, data, cfg.seed)
    seg = SegmentationProblem.from_config(cfg.seg, data, cfg.seed)
    problems = [augmenter, seg]
    dependencies = {"u2l": {}, "l2u": {augmenter: [seg]}}
    alpha_module = augmenter.arch_parameters()
    if alpha_module is not None:
        arch = ArchitectureProblem.from_config(cfg.arch, alpha_module, data, cfg.seed, cfg.seg.loss)
        problems.append(arch)
        dependencies = {"u2l": {arch: [augmenter, seg]}, "l2u": {augmenter: [seg], seg: [arch]}}
    return E2EAugEngine(
        problems,
        dependencies,
        settings=cfg.engine,
        val_data=data.val,
        run_dir=run_dir,
        pretrain_steps=getattr(cfg.augmenter, "pretrain_steps", 0),
        plateau=(cfg.seg.plateau_patience, cfg.seg.plateau_factor),
    )
