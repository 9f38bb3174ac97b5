"""The three-level optimisation: wiring, purity of training steps, hypergradient, resume."""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks.hypergrad.e2eaug_case import cast
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import names
from e2eaug.rundir import RunDir
from tests.core_helpers import SMOOTH, tiny_config


def _engine(extra=None, run=None, dtype=torch.float32):
    cfg = tiny_config(extra)
    engine = build_engine(cfg, build_data(cfg.data), run)
    if dtype != torch.float32:
        cast(engine, dtype)
    return engine, cfg


LEVELS = ("seg", "augmenter")


def _method(name):
    """Both intermediate levels on hypergradient method ``name`` with its default knobs."""
    return [f"{level}.hypergrad={{type: {name}}}" for level in LEVELS]


def _relative_error(estimate, reference):
    return ((estimate - reference).norm() / reference.norm()).item()


def _flat(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def test_problem_names_and_wiring():
    engine, _ = _engine()
    assert names.ALL == ("arch", "seg", "aug")
    arch, seg, gan = (getattr(engine, n) for n in names.ALL)
    assert [p.name for p in (arch, seg, gan)] == list(names.ALL)
    assert getattr(seg, names.AUG) is gan and getattr(arch, names.SEG) is seg
    assert engine.leaves == [gan]
    paths = sorted([p.name for p in path] for path in arch.paths)
    assert paths == [["arch", "seg", "arch"], ["arch", "seg", "aug", "arch"]]
    # alpha is owned by arch and read by the generator, not one of G's weights
    assert gan.alpha() is arch.module.alpha
    assert all(p is not arch.module.alpha for p in gan.trainable_parameters())


def _state(problem):
    tensors = [p.detach().clone() for p in problem.module.parameters()]
    tensors += [b.detach().clone() for b in problem.module.buffers()]
    disc = getattr(problem, "discriminator", None)
    if disc is not None:
        tensors += [t.detach().clone() for t in disc.state_dict().values()]
    return tensors


def test_training_steps_are_pure_and_deterministic():
    engine, _ = _engine()
    engine.train_step()  # one real step so every problem holds a current batch
    for name in names.ALL:
        problem = getattr(engine, name)
        before = _state(problem)
        first = problem.training_step(problem.cur_batch).item()
        second = problem.training_step(problem.cur_batch).item()
        assert first == second, name
        after = _state(problem)
        assert all(torch.equal(a, b) for a, b in zip(before, after)), f"{name} changed state"


@pytest.mark.parametrize("method", ["darts", "neumann"])
def test_discriminator_steps_once_per_gan_step(method):
    engine, _ = _engine(_method(method))
    gan = getattr(engine, names.AUG)
    for step in range(1, 4):
        engine.global_step += 1
        engine.train_step()
        assert gan.disc_steps == step and gan.count == step


def _vdot(xs, ys):
    return sum((x * y).sum() for x, y in zip(xs, ys))


def _neumann(grads, params, v, iterations, alpha):
    """alpha * sum_{i=0..K} (I - alpha H)^i v, with H v by double backward."""
    term, total = list(v), list(v)
    for _ in range(iterations):
        hvp = torch.autograd.grad(grads, params, grad_outputs=term, retain_graph=True)
        term = [t - alpha * h for t, h in zip(term, hvp)]
        total = [s + t for s, t in zip(total, term)]
    return [alpha * s for s in total]


def reference_alpha_grad(engine, method, iterations=0, neumann_alpha=1.0):
    """Implicit hypergradient of the validation loss w.r.t. alpha by plain double backward.

    ``-v . d2L_seg/dW dalpha + v . d2L_seg/dW dG . d2L_gan/dG dalpha`` with ``v = dL_val/dW``
    (darts: identity inverse Hessians), or with each inverse Hessian replaced by its Neumann
    series (neumann), at the problems' current parameters and batches.
    """
    arch, seg, gan = (getattr(engine, n) for n in names.ALL)
    alpha = arch.module.alpha
    w, g = seg.trainable_parameters(), gan.trainable_parameters()
    v = torch.autograd.grad(arch.training_step(arch.cur_batch), w)
    grad_w = torch.autograd.grad(seg.training_step(seg.cur_batch), w, create_graph=True)
    if method == "neumann":
        v = _neumann(grad_w, w, v, iterations, neumann_alpha)
    inner = _vdot(grad_w, v)
    direct = torch.autograd.grad(inner, alpha, retain_graph=True)[0]
    u = torch.autograd.grad(inner, g)
    grad_g = torch.autograd.grad(gan.training_step(gan.cur_batch), g, create_graph=True)
    if method == "neumann":
        u = _neumann(grad_g, g, u, iterations, neumann_alpha)
    through_gan = torch.autograd.grad(_vdot(grad_g, u), alpha)[0]
    return -direct + through_gan


# Both sides in float64, so the comparison does not depend on the CPU's float32 kernels
# (finite differences divide rounding by 2 eps). darts at 1e-5 on smooth pieces: the
# finite-difference truncation is ~1e-9 of the norm (at 1e-3 it is ~3e-2, in float32 and
# float64 alike). Neumann uses exact Hessian-vector products.
@pytest.mark.parametrize(
    "method,extra",
    [
        ("darts", SMOOTH + [f"{level}.hypergrad={{type: darts, alpha: 1e-5}}" for level in LEVELS]),
        ("neumann", [f"{level}.hypergrad={{type: neumann, iterations: 3, alpha: 0.1}}" for level in LEVELS]),
    ],
)
def test_applied_alpha_gradient_matches_double_backward_reference(method, extra):
    engine, cfg = _engine(extra, dtype=torch.float64)
    arch = getattr(engine, names.ARCH)
    seen = []

    def capture():
        applied = arch.module.alpha.grad.detach().clone()
        ref = reference_alpha_grad(
            engine, method, getattr(cfg.seg.hypergrad, "iterations", 0), cfg.seg.hypergrad.alpha
        )
        seen.append((applied, ref.detach()))

    arch.grad_callback = capture  # Betty calls it right after the hypergradient is computed
    for _ in range(3):
        engine.global_step += 1
        engine.train_step()
    assert len(seen) == 3
    for applied, ref in seen:
        assert applied.dtype == torch.float64 and ref.norm() > 0
        error = _relative_error(applied, ref)
        print(f"{method}: norm-relative error {error:.2e} |ref| {ref.norm().item():.3e}")
        assert error < 1e-5


@pytest.mark.parametrize("method", ["darts", "neumann"])
def test_short_run_moves_alpha_and_scores_finite(method):
    engine, _ = _engine(_method(method))
    alpha0 = getattr(engine, names.ARCH).module.alpha.detach().clone()
    best = engine.run()
    alpha1 = getattr(engine, names.ARCH).module.alpha.detach()
    assert not torch.allclose(alpha0, alpha1)
    assert math.isfinite(best["dice"]) and 0.0 <= best["dice"] <= 1.0


def test_resume_gives_the_same_next_steps_as_an_uninterrupted_run(tmp_path):
    straight, _ = _engine(["engine.train_iters=4"])
    straight.run()

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    first, _ = _engine(["engine.train_iters=2"], run)
    first.run()
    resumed, _ = _engine(["engine.train_iters=4"], run)
    resumed.load_state_dict(run.load_checkpoint("last"))
    assert resumed.global_step == 2
    resumed.run()

    for name in names.ALL:
        a, b = getattr(straight, name), getattr(resumed, name)
        assert torch.equal(_flat(a.trainable_parameters()), _flat(b.trainable_parameters())), name
        assert a.count == b.count and a.draws == b.draws
    assert getattr(straight, names.AUG).disc_steps == getattr(resumed, names.AUG).disc_steps == 4
    assert straight.best == resumed.best


def test_darts_shared_equals_darts_with_half_the_seg_evaluations():
    """Equal up to rounding (darts restores the weights by subtraction, darts_shared by copy),
    so compared in float64, by norm; in float32 the norm-relative difference is ~1e-5."""
    grads, calls = {}, {}
    for method in ("darts", "darts_shared"):
        engine, _ = _engine(SMOOTH + [f"seg.hypergrad={{type: {method}}}"], dtype=torch.float64)
        arch, seg = getattr(engine, names.ARCH), getattr(engine, names.SEG)
        seen = []
        arch.grad_callback = lambda: seen.append(arch.module.alpha.grad.detach().clone())
        counter = {"n": 0}
        original = seg.training_step

        def counted(batch, original=original, counter=counter):
            counter["n"] += 1
            return original(batch)

        seg.training_step = counted
        for _ in range(2):
            engine.global_step += 1
            engine.train_step()
        grads[method], calls[method] = torch.stack(seen), counter["n"]
    error = _relative_error(grads["darts_shared"], grads["darts"])
    print(f"darts_shared vs darts: norm-relative difference {error:.2e}")
    assert error < 1e-8
    # per global step: 1 real step + 4 (darts) or 2 (darts_shared) finite-difference re-runs
    assert calls == {"darts": 2 * 5, "darts_shared": 2 * 3}
