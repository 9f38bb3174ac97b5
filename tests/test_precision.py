"""``engine.precision``: bf16 autocast on the forwards of real steps, float32 everywhere else.

Run on the CPU (torch's CPU autocast has the same bf16 rounding as CUDA's); a GPU session
measures the speed (``benchmarks/gpu_precision.sh``).
"""

import importlib

import pytest
import torch

from benchmarks.hypergrad import measure
from benchmarks.hypergrad.case import Wiring
from benchmarks.hypergrad.e2eaug_case import E2EAugCase
from e2eaug.cli import main
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import names
from tests.core_helpers import tiny_config

identity_method = importlib.import_module("e2eaug.hypergrad.identity")  # the package exports a function of that name


def _engine(precision, extra=()):
    cfg = tiny_config([f"engine.precision={precision}", *extra])
    return build_engine(cfg, build_data(cfg.data))


def _record_dtypes(module, seen):
    """Append the output dtype of ``module``'s first convolution at every forward."""
    conv = next(m for m in module.modules() if isinstance(m, torch.nn.Conv2d))
    return conv.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))


def test_bf16_runs_real_forwards_in_bf16_and_keeps_weights_and_hypergradient_passes_fp32(monkeypatch):
    engine = _engine("bf16", ["augmenter.pretrain_steps=2"])
    seg, aug = getattr(engine, names.SEG), getattr(engine, names.AUG)
    real, hops = [], []
    _record_dtypes(seg.module, real)
    second_derivative = identity_method._mixed_second_derivative

    def recorded(vector, curr, params):  # the default method's re-evaluation of a lower loss
        hook = _record_dtypes(curr.module, hops)
        try:
            return second_derivative(vector, curr, params)
        finally:
            hook.remove()

    monkeypatch.setattr(identity_method, "_mixed_second_derivative", recorded)
    engine.run()
    assert torch.bfloat16 in real, "no real-step forward ran in bf16"
    assert hops and set(hops) == {torch.float32}, f"hypergradient re-evaluations ran in {set(hops)}"
    for problem in engine.problems:
        assert all(p.dtype == torch.float32 for p in problem.module.parameters()), problem.name
        assert torch.isfinite(torch.tensor(problem.last_loss)), problem.name
    assert all(p.dtype == torch.float32 for p in aug.discriminator.parameters())


def test_fp32_runs_no_bf16():
    engine = _engine("fp32")
    seen = []
    _record_dtypes(getattr(engine, names.SEG).module, seen)
    engine.run()
    assert seen and set(seen) == {torch.float32}


def test_the_bf16_hypergradient_points_where_the_fp32_reference_does():
    """bf16 forwards (float32 re-evaluations) against the float64 reference: the default
    ``identity`` method keeps its direction; the bound leaves room for any CPU's kernels."""
    engine = _engine("bf16")
    arch, seg, aug = (getattr(engine, n) for n in names.ALL)
    engine.train()
    for _ in range(3):
        engine.global_step += 1
        engine.train_step()
    wiring = Wiring(engine=engine, upper=arch, lowers=[aug, seg])
    restore = measure.snapshot(wiring.lower_parameters())
    estimate = measure.hypergradient(arch)
    restore()
    reference = E2EAugCase.identity(wiring)
    assert reference.norm() > 0
    assert measure.cosine(estimate, reference) > 0.99
    assert 0.8 < (estimate.norm() / reference.norm()).item() < 1.25


@pytest.mark.parametrize("value", ["fp16", "bfloat16"])
def test_an_unknown_precision_is_one_line_naming_the_key(tiny_yaml, capsys, value):
    assert main(["train", "--config", str(tiny_yaml), "--set", f"engine.precision={value}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0] == f"e2eaug: error: engine.precision must be one of ['bf16', 'fp32'], got '{value}'"
