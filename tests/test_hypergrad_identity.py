"""The ``identity`` method: the identity-form hypergradient by exact second derivatives.

Compared with the double-backward reference in float64 at the float32 weights: on the default
pieces (ReLU, max-pooling, L1) where ``darts`` at its usual radius points elsewhere.
"""

import pytest
import torch

from benchmarks.hypergrad import measure
from benchmarks.hypergrad.case import Wiring
from benchmarks.hypergrad.e2eaug_case import E2EAugCase
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import names
from tests.core_helpers import tiny_config


def _wired(method=None):
    """The tiny engine after 3 steps, with ``method`` at both levels (``None``: the preset's)."""
    levels = ("seg", "augmenter")
    cfg = tiny_config([f"{level}.hypergrad={{type: {method}}}" for level in levels] if method else [])
    engine = build_engine(cfg, build_data(cfg.data))
    arch, seg, aug = (getattr(engine, n) for n in names.ALL)
    engine.train()
    for _ in range(3):
        engine.global_step += 1
        engine.train_step()
    return engine, Wiring(engine=engine, upper=arch, lowers=[aug, seg])


def test_the_default_matches_the_float64_reference_on_the_default_pieces():
    engine, wiring = _wired()
    assert {getattr(engine, level).config.type for level in (names.SEG, names.AUG)} == {"identity"}
    estimate = measure.hypergradient(wiring.upper)  # float32, as in training
    reference = E2EAugCase.identity(wiring)  # float64 double backward at the same weights
    assert reference.norm() > 0
    assert measure.cosine(estimate, reference) > 0.9999
    assert measure.relative_error(estimate, reference) < 1e-3


def test_identity_evaluates_the_seg_hop_once_for_both_paths():
    engine, wiring = _wired("identity")
    seg = getattr(engine, names.SEG)
    calls = {"n": 0}
    original = seg.training_step

    def counted(batch):
        calls["n"] += 1
        return original(batch)

    seg.training_step = counted
    measure.hypergradient(wiring.upper)
    assert calls["n"] == 1  # plain per-path evaluation would take 2


@pytest.mark.parametrize("method", ["darts_shared", "identity"])
def test_shared_results_are_not_reused_after_the_weights_move(method):
    engine, wiring = _wired(method)
    first = measure.hypergradient(wiring.upper)
    seg = getattr(engine, names.SEG)
    with torch.no_grad():
        for p in seg.trainable_parameters():
            p.mul_(1.01)
    second = measure.hypergradient(wiring.upper)
    assert not torch.equal(first, second)
