"""Benchmark cases with a closed-form hypergradient: ridge regression and a 3-level chain.

Data are drawn in float64 from ``seed``; the Betty problems hold a copy in ``dtype``. Exact
answers are computed in float64 on the CPU.
"""

from __future__ import annotations

import math
from typing import Type

import torch
from betty.configs import Config

from benchmarks.hypergrad.case import Case, FullBatchProblem, Point, Reference, Wiring, make_engine

LOWER_LR = 0.01
"""Learning rate of the lower problems' optimizers (only stepped to warm up ``sama``)."""

UPPER_CONFIG = dict(retain_graph=True)
"""Betty differentiates the upper loss directly and once per path: its graph must be kept."""


class _RidgeInner(FullBatchProblem):
    """Training loss ``|X w - y|^2 / 2n + sum_i exp(theta_i) w_i^2 / 2``."""

    def training_step(self, batch):
        w, data = self.module.value, self.module
        lam = self.outer.module.value.exp()
        return 0.5 * (data.x @ w - data.y).pow(2).mean() + 0.5 * (lam * w.pow(2)).sum()


class _RidgeOuter(FullBatchProblem):
    """Validation loss ``|X_val w - y_val|^2 / 2n_val`` of the inner solution."""

    def training_step(self, batch):
        data = self.module
        return 0.5 * (data.x @ self.inner.module.value - data.y).pow(2).mean()


class RidgeCase(Case):
    """Ridge regression with one log-L2 hyperparameter per feature (bilevel).

    Inner: ``w*(theta) = argmin |X w - y|^2 / 2n + sum_i e^theta_i w_i^2 / 2``; outer: the
    validation loss of ``w*``. Features are scaled so the data Hessian's spectrum stays within
    about ``[0, 4]`` at every size, with ``lambda`` in ``[0.05, 0.5]``; solves use the Woodbury
    identity, so 10^4 features cost only an ``n_train``-sized solve.

    Args:
        n_features: number of features (= inner parameters = hyperparameters).
        n_train: training samples.
        n_val: validation samples.
        seed: data seed.
        dtype: dtype of the Betty problems.
    """

    name = "ridge"

    def __init__(self, n_features: int, n_train: int = 200, n_val: int = 100, seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> None:
        self.size, self.dtype = n_features, dtype
        gen = torch.Generator().manual_seed(seed)
        scale = math.sqrt(min(1.0, n_train / n_features))
        w_true = _normal(gen, n_features) / (scale * math.sqrt(n_features))

        def sample(n):
            x = scale * _normal(gen, n, n_features)
            return x, x @ w_true + 0.1 * _normal(gen, n)

        self.x, self.y = sample(n_train)
        self.x_val, self.y_val = sample(n_val)
        low, high = math.log(0.05), math.log(0.5)
        self.theta = low + (high - low) * torch.rand(n_features, generator=gen, dtype=torch.float64)

    def build(self, config: Config, optimizer: Type[torch.optim.Optimizer], device: str) -> Wiring:
        """Problems ``outer`` (theta) over ``inner`` (w); ``inner`` uses ``config``."""
        inner_module = Point(torch.zeros_like(self.theta), x=self.x, y=self.y).to(self.dtype)
        outer_module = Point(self.theta, x=self.x_val, y=self.y_val).to(self.dtype)
        inner = _RidgeInner("inner", config, inner_module,
                            optimizer(inner_module.parameters(), lr=LOWER_LR))
        outer = _RidgeOuter("outer", Config(**UPPER_CONFIG), outer_module,
                            torch.optim.SGD(outer_module.parameters(), lr=LOWER_LR))
        engine = make_engine([outer, inner], {"u2l": {outer: [inner]}, "l2u": {inner: [outer]}},
                             device)
        return Wiring(engine=engine, upper=outer, lowers=[inner])

    def exact(self, wiring: Wiring) -> Reference:
        """Closed form: ``dF/dtheta = -lambda * w* * H^{-1} g`` with ``g`` the outer gradient."""
        theta = _value64(wiring.upper)
        lam = theta.exp()
        w = self.solve_inner(theta)
        grad_outer = self.x_val.T @ (self.x_val @ w - self.y_val) / len(self.y_val)
        with torch.no_grad():
            wiring.lowers[0].module.value.copy_(w)
        return Reference(exact=-lam * w * self._solve_hessian(lam, grad_outer),
                         identity=-lam * w * grad_outer)

    def solve_inner(self, theta: torch.Tensor) -> torch.Tensor:
        """The inner optimum ``w*(theta)`` (float64)."""
        lam = theta.exp()
        return self._solve_hessian(lam, self.x.T @ self.y / len(self.y))

    def objective(self, theta: torch.Tensor) -> float:
        """The true outer objective ``F(w*(theta))``."""
        w = self.solve_inner(theta)
        return 0.5 * (self.x_val @ w - self.y_val).pow(2).mean().item()

    def _solve_hessian(self, lam: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
        """``(X^T X / n + diag(lam))^{-1} rhs`` by the Woodbury identity."""
        a = self.x / math.sqrt(len(self.y))
        scaled = rhs / lam
        small = torch.eye(len(self.y), dtype=a.dtype) + (a / lam) @ a.T
        return scaled - (a.T @ torch.linalg.solve(small, a @ scaled)) / lam


class _ChainGan(FullBatchProblem):
    """``gan``: ``g^T A g / 2 - g^T (B x + a)``, with ``x`` the ``arch`` variable."""

    def training_step(self, batch):
        g, d, x = self.module.value, self.module, self.arch.module.value
        return 0.5 * g @ (d.quad @ g) - g @ (d.cross @ x + d.shift)


class _ChainSeg(FullBatchProblem):
    """``seg``: ``s^T C s / 2 - s^T (D g + E x + c)``, reading ``g`` and ``x``."""

    def training_step(self, batch):
        s, d = self.module.value, self.module
        drive = d.from_gan @ self.gan.module.value + d.from_arch @ self.arch.module.value
        return 0.5 * s @ (d.quad @ s) - s @ (drive + d.shift)


class _ChainArch(FullBatchProblem):
    """``arch``: ``|M s - t|^2 / 2 + rho |x|^2 / 2``, reading ``seg``'s ``s``."""

    def training_step(self, batch):
        x, d = self.module.value, self.module
        fit = d.readout @ self.seg.module.value - d.target
        return 0.5 * fit.pow(2).sum() + 0.5 * d.rho * x.pow(2).sum()


class ChainCase(Case):
    """Three-level quadratic chain wired like e2eaug: ``arch`` over ``seg`` over ``gan``.

    Betty graph ``u2l = {arch: [gan, seg]}``, ``l2u = {gan: [seg], seg: [arch]}``, so Betty
    sums the paths arch->seg->arch and arch->seg->gan->arch. With ``g* = A^{-1}(B x + a)``
    and ``s* = C^{-1}(D g* + E x + c)`` the exact total derivative is
    ``rho x + (E + D A^{-1} B)^T C^{-1} M^T (M s* - t)``. ``A`` and ``C`` are SPD with
    eigenvalues in ``[0.5, 2]``.

    Args:
        size: dimension of each of ``x``, ``g`` and ``s``.
        seed: data seed.
        dtype: dtype of the Betty problems.
    """

    name = "chain"
    rho = 0.1

    def __init__(self, size: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        self.size, self.dtype = size, dtype
        gen = torch.Generator().manual_seed(seed)
        self.a_mat, self.c_mat = _spd(size, gen), _spd(size, gen)
        self.b_mat, self.d_mat, self.e_mat, self.m_mat = (
            _normal(gen, size, size) / math.sqrt(size) for _ in range(4))
        self.a_vec, self.c_vec, self.target, self.x = (_normal(gen, size) for _ in range(4))

    def build(self, config: Config, optimizer: Type[torch.optim.Optimizer], device: str) -> Wiring:
        """Problems ``arch``, ``seg`` and ``gan``; ``seg`` and ``gan`` use ``config``."""
        zeros, dtype = torch.zeros(self.size, dtype=self.dtype), self.dtype
        gan_m = Point(zeros, quad=self.a_mat, cross=self.b_mat, shift=self.a_vec).to(dtype)
        seg_m = Point(zeros, quad=self.c_mat, from_gan=self.d_mat, from_arch=self.e_mat,
                      shift=self.c_vec).to(dtype)
        arch_m = Point(self.x, readout=self.m_mat, target=self.target,
                       rho=torch.tensor(self.rho)).to(dtype)
        gan = _ChainGan("gan", config, gan_m, optimizer(gan_m.parameters(), lr=LOWER_LR))
        seg = _ChainSeg("seg", config, seg_m, optimizer(seg_m.parameters(), lr=LOWER_LR))
        arch = _ChainArch("arch", Config(**UPPER_CONFIG), arch_m,
                          torch.optim.SGD(arch_m.parameters(), lr=LOWER_LR))
        dependencies = {"u2l": {arch: [gan, seg]}, "l2u": {gan: [seg], seg: [arch]}}
        engine = make_engine([arch, gan, seg], dependencies, device)
        return Wiring(engine=engine, upper=arch, lowers=[gan, seg])

    def exact(self, wiring: Wiring) -> Reference:
        """Closed form by linear solves with ``A`` and ``C`` (see the class docstring)."""
        x = _value64(wiring.upper)
        g, s = self.solve_lower(x)
        fit = self.m_mat.T @ (self.m_mat @ s - self.target)
        through_seg = torch.linalg.solve(self.c_mat, fit)
        through_gan = torch.linalg.solve(self.a_mat, self.d_mat.T @ through_seg)
        gan, seg = wiring.lowers
        with torch.no_grad():
            gan.module.value.copy_(g)
            seg.module.value.copy_(s)
        direct = self.rho * x
        return Reference(
            exact=direct + self.e_mat.T @ through_seg + self.b_mat.T @ through_gan,
            identity=direct + self.e_mat.T @ fit + self.b_mat.T @ (self.d_mat.T @ fit))

    def solve_lower(self, x: torch.Tensor):
        """The lower optima ``(g*(x), s*(x))`` (float64)."""
        g = torch.linalg.solve(self.a_mat, self.b_mat @ x + self.a_vec)
        s = torch.linalg.solve(self.c_mat, self.d_mat @ g + self.e_mat @ x + self.c_vec)
        return g, s

    def objective(self, x: torch.Tensor) -> float:
        """The true top-level objective with both lower problems solved exactly."""
        _, s = self.solve_lower(x)
        fit = self.m_mat @ s - self.target
        return (0.5 * fit.pow(2).sum() + 0.5 * self.rho * x.pow(2).sum()).item()


def _value64(problem) -> torch.Tensor:
    """A ``Point`` problem's current parameter vector, as float64 on the CPU."""
    return problem.module.value.detach().to("cpu", torch.float64)


def _normal(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """Standard normal float64 samples."""
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _spd(size: int, gen: torch.Generator) -> torch.Tensor:
    """A random symmetric matrix with eigenvalues uniform in ``[0.5, 2]``."""
    q, _ = torch.linalg.qr(_normal(gen, size, size))
    eig = 0.5 + 1.5 * torch.rand(size, generator=gen, dtype=torch.float64)
    return (q * eig) @ q.T
