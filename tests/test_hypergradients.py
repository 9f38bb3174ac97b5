"""The plugin's hypergradient methods (e2eaug.hypergrad) on a bilevel quadratic."""

import pytest
import torch
from betty.configs import Config, EngineConfig
from betty.engine import Engine
from betty.hypergradient import jvp_fn_mapping
from betty.problems import ImplicitProblem

from e2eaug.hypergrad import cg_fixed, conjugate_gradient

SIZE = 12


class _Vector(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = torch.nn.Parameter(value)


class _Inner(ImplicitProblem):
    """``w^T A w / 2 - w^T (B lam + c)``: ``w* = A^{-1} (B lam + c)``."""

    def training_step(self, batch):
        w, q = self.module.value, self.quadratic
        return 0.5 * w @ (q["A"] @ w) - w @ (q["B"] @ self.outer.module.value + q["c"])

    def get_batch(self):
        return None


class _Outer(ImplicitProblem):
    """``|w - t|^2 / 2``."""

    def training_step(self, batch):
        return 0.5 * (self.inner.module.value - self.quadratic["t"]).pow(2).sum()

    def get_batch(self):
        return None


@pytest.fixture
def quadratic():
    """Matrices of an ill-conditioned bilevel quadratic (float64) and its exact hypergradient."""
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(SIZE, SIZE, generator=gen, dtype=torch.float64))
    data = dict(A=(q * torch.logspace(-1, 1, SIZE, dtype=torch.float64)) @ q.T,
                B=torch.randn(SIZE, SIZE, generator=gen, dtype=torch.float64),
                c=torch.randn(SIZE, generator=gen, dtype=torch.float64),
                t=torch.randn(SIZE, generator=gen, dtype=torch.float64),
                lam=torch.randn(SIZE, generator=gen, dtype=torch.float64))
    data["w"] = torch.linalg.solve(data["A"], data["B"] @ data["lam"] + data["c"])
    data["exact"] = data["B"].T @ torch.linalg.solve(data["A"], data["w"] - data["t"])
    return data


def _wire(data, config):
    """Betty problems at the inner optimum; returns (outer, inner)."""
    inner = _Inner("inner", config, _Vector(data["w"].clone()))
    outer = _Outer("outer", Config(retain_graph=True), _Vector(data["lam"].clone()))
    for problem in (inner, outer):
        problem.quadratic = data
        problem.optimizer = torch.optim.SGD(problem.module.parameters(), lr=0.1)
    Engine([outer, inner], EngineConfig(strategy="cpu"),
           {"u2l": {outer: [inner]}, "l2u": {inner: [outer]}})
    return outer, inner


def _hypergradient(outer):
    """Betty's upper backward, as in ``one_step_descent``, without the optimizer step."""
    loss = outer.training_step(None)
    outer.backward(loss, outer.trainable_parameters(), outer.paths, retain_graph=True)
    grad = outer.module.value.grad.detach().clone()
    outer.zero_grad()
    return grad


def _relative_error(estimate, exact):
    return ((estimate - exact).norm() / exact.norm()).item()


def test_cg_fixed_is_registered_in_betty():
    assert jvp_fn_mapping["cg_fixed"] is cg_fixed
    assert jvp_fn_mapping["cg"] is not cg_fixed


def test_cg_fixed_matches_exact_where_betty_cg_does_not(quadratic):
    fixed = _hypergradient(_wire(quadratic, Config(type="cg_fixed", cg_iterations=3 * SIZE))[0])
    betty = _hypergradient(_wire(quadratic, Config(type="cg", cg_iterations=3 * SIZE))[0])
    assert _relative_error(fixed, quadratic["exact"]) < 1e-5
    assert _relative_error(betty, quadratic["exact"]) > 1e-2


def test_cg_fixed_zero_vector_gives_zeros_where_betty_cg_gives_nan(quadratic):
    outer, inner = _wire(quadratic, Config(type="cg_fixed", cg_iterations=5))
    zero = [torch.zeros(SIZE, dtype=torch.float64)]
    (fixed,) = cg_fixed(zero, inner, outer, sync=False)
    (betty,) = jvp_fn_mapping["cg"](zero, inner, outer, sync=False)
    assert torch.equal(fixed, torch.zeros(SIZE, dtype=torch.float64))
    assert torch.isnan(betty).all()


def test_cg_fixed_sync_accumulates_the_same_gradient(quadratic):
    outer, inner = _wire(quadratic, Config(type="cg_fixed", cg_iterations=4))
    vector = [quadratic["t"].clone()]
    (returned,) = cg_fixed(vector, inner, outer, sync=False)
    assert cg_fixed(vector, inner, outer, sync=True) is None
    torch.testing.assert_close(outer.module.value.grad, returned)


def test_conjugate_gradient_solves_in_size_steps(quadratic):
    a, b = quadratic["A"], quadratic["t"]
    (x,) = conjugate_gradient(lambda p: [a @ p[0]], [b], iterations=3 * SIZE)
    torch.testing.assert_close(x, torch.linalg.solve(a, b))
