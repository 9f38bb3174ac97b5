"""The e2eaug problem itself at tiny size, with a dense second-order reference.

:class:`E2EAugCase` builds the real three problems through :func:`e2eaug.engines.build_engine`
from the default preset shrunk to 16 px and 8 training pairs: ``arch`` (alpha, top), ``seg``
(the segmenter W) and ``aug`` (the generator G, leaf), wired ``u2l = {arch: [aug, seg]}``,
``l2u = {aug: [seg], seg: [arch]}``. It runs :data:`PRE_STEPS` real global steps (with ``darts``
at ``darts_alpha = 0.01``, whatever method is measured, so every method sees the same weights
and batches), then sets the measured method's Betty ``Config`` fields on ``seg`` and ``aug``.

Reference. The lower problems are neural nets after a few steps, not at an optimum, so there is
no closed form and no best response to differentiate. The reference is the implicit-function-
theorem formula *at the current parameters and batches*::

    d L_arch / d alpha = - v^T H_W^{-1} d^2 L_seg / dW dalpha
                         + v^T H_W^{-1} d^2 L_seg / dW dG  H_G^{-1} d^2 L_gan / dG dalpha,

``v = d L_arch / dW``, with the dense Hessians ``H_W``, ``H_G`` computed by double backward in
float64 (the problems are cast to float64 for the computation and back) and applied through
their eigendecomposition (:class:`~benchmarks.hypergrad.reference.SpectralSolve`): the exact
inverse on every non-zero eigenvalue, whatever its sign, and zero on exactly-null directions
(``|lambda| <= 1e-12 max|lambda|``: dead ReLU units of the generator). These Hessians are
indefinite (about half their eigenvalues are negative) with non-zero eigenvalues down to
``|lambda| ~ 1e-6`` (condition numbers 1e5 to 1e10), so the reference is dominated by a few
near-null directions; :attr:`E2EAugCase.spectra` holds the
spectrum of each Hessian of the last reference. Neumann series diverge on such Hessians and
conjugate gradients stop at the first negative curvature: neither can be iterated to
convergence, which is why the reference is dense. The ``identity`` form (every inverse Hessian
replaced by the identity: what ``darts`` estimates and what ``reference_alpha_grad(engine,
"darts")`` in ``tests/test_core_engine.py`` computes) is always well defined.

:class:`E2EAugSmoothCase` replaces pix2pix's kinked pieces (ReLU/LeakyReLU, max-pool, L1) by
SiLU, average pooling and Huber, as ``tests.core_helpers.SMOOTH`` does. ``darts``' central
differences converge to autograd's second derivatives only where the losses are twice
differentiable: on the kinked defaults, every gradient jump at a kink the perturbation crosses
enters ``(g(w + eps v) - g(w - eps v)) / 2 eps`` divided by ``2 eps``, an O(1) or larger error,
until ``darts_alpha`` is so small (1e-4 to 1e-6 at these sizes) that no kink is crossed; see
:func:`darts_table` and docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from typing import Dict, Iterator, List, Tuple, Type

import torch
from betty.configs import Config
from betty.hypergradient import jvp_fn_mapping

from benchmarks.hypergrad import measure, methods
from benchmarks.hypergrad.case import Case, Reference, Wiring
from benchmarks.hypergrad.methods import Method
from benchmarks.hypergrad.reference import SpectralSolve, Spectrum, ift_dense
from e2eaug.run_config import load_config
from e2eaug.data import build_data
from e2eaug.engines import build_engine
from e2eaug.problems import Draw, names

PRE_STEPS = 4
"""Real global steps (aug, then seg, then arch) run before any measurement."""

IMAGE_SIZE = 16
"""Image side in pixels (the generator and the segmenter have depth 2: a multiple of 4)."""

METHOD_FIELDS = ("type", "darts_alpha", "darts_multitask", "neumann_iterations", "neumann_alpha",
                 "cg_iterations", "cg_alpha", "sama_adam_alpha", "sama_multitask")
"""Betty ``Config`` fields read when a hypergradient is computed; the others (``unroll_steps``,
``first_order``, precision, ...) are compiled into the problems when the Engine is built."""


def sweep_methods() -> Tuple[Method, ...]:
    """Knob settings measured on e2eaug: every method, fewer iterations than on the quadratics.

    darts' ``alpha`` goes down to 1e-6, where the perturbation stops crossing ReLU/max-pool/L1
    kinks on the pix2pix variant. One Hessian-vector product costs 20 to 40 ms here, whatever
    the width (small convolutions are overhead-bound), and the CPU peak-memory tracker of
    :mod:`~benchmarks.hypergrad.measure` slows a 10-iteration Neumann call to about 20 s, so
    long Neumann/CG runs are left out; they diverge or stop early on these indefinite Hessians
    anyway. Neumann's ``alpha = 0.01`` is below ``2 / lambda_max`` of both Hessians
    (``lambda_max`` up to about 100), so only the negative eigenvalues make Neumann diverge.
    """
    return (
        *(methods.method("darts", alpha=a) for a in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)),
        methods.method("darts_shared", alpha=0.01),
        *(methods.method("neumann", iterations=k, alpha=0.01) for k in (1, 3, 10)),
        methods.method("cg", iterations=1), methods.method("cg", iterations=3),
        methods.method("cg_fixed", iterations=1), methods.method("cg_fixed", iterations=20),
        methods.method("sama", adam_alpha=0.01), methods.method("sama", adam_alpha=1.0),
    )


class E2EAugCase(Case):
    """e2eaug's arch/seg/aug problems at tiny size, pix2pix pieces (ReLU, max-pool, L1).

    Args:
        size: base width (channels at full resolution) of the generator, the discriminator
            and the segmenter; 1 gives about 1400 lower parameters, 2 about 5000.
        seed: the run seed (model initialisation, data, batch order, mask augmentation).
        dtype: dtype of the Betty problems (modules and data); the reference is always
            computed in float64.
        image_size: image side in pixels.
        pre_steps: real global steps before measuring.

    Attributes:
        spectra: the spectrum of ``seg``'s and ``aug``'s Hessian at the last reference computed.
        costly_reference: tells the suite to time the reference once, uncached (it takes
            seconds), instead of over the profile's repeats.
    """

    name = "e2eaug"
    smooth = False
    costly_reference = True

    def __init__(self, size: int, seed: int = 0, dtype: torch.dtype = torch.float32,
                 image_size: int = IMAGE_SIZE, pre_steps: int = PRE_STEPS) -> None:
        self.size, self.seed, self.dtype = size, seed, dtype
        self.image_size, self.pre_steps = image_size, pre_steps
        self.spectra: Dict[str, Spectrum] = {}
        self._cache: Dict[str, Tuple[Reference, Dict[str, Spectrum]]] = {}

    def overrides(self, device: str) -> List[str]:
        """Config overrides of the ``skin_synthetic`` preset for this instance."""
        width = self.size
        act = ", activation: silu" if self.smooth else ""
        pool = ", pool: avg" if self.smooth else ""
        return [
            f"seed={self.seed}",
            f"data.image_size={self.image_size}", "data.n_train=8", "data.n_val=4",
            "data.n_test=4",
            f"augmenter.generator.kwargs={{depth: 2, base_width: {width}{act}}}",
            f"augmenter.discriminator.kwargs={{base_width: {width}, n_layers: 1, "
            f"norm: instance{act}}}",
            f"augmenter.reconstruction={'smooth_l1' if self.smooth else 'l1'}",
            "augmenter.batch_size=4", "augmenter.pretrain_steps=0",
            *(f"{section}.hypergrad.{key}" for section in ("augmenter", "seg")
              for key in ("type=darts", "alpha=0.01")),
            f"seg.segmenter.kwargs={{depth: 2, base_width: {width}, norm: group{act}{pool}}}",
            "seg.batch_size=4", "arch.batch_size=4",
            f"engine.train_iters={max(self.pre_steps, 1)}", "engine.valid_every=1",
            f"engine.device={device}", "engine.progress=false",
        ]

    def build(self, config: Config, optimizer: Type[torch.optim.Optimizer], device: str) -> Wiring:
        """Build the engine, run :data:`PRE_STEPS` global steps, then select ``config``.

        ``optimizer`` is not used: ``seg`` and ``aug`` keep e2eaug's own Adam optimizers (with
        the state of the pre-steps), which is what ``sama`` needs and what e2eaug trains with.
        """
        del optimizer
        cfg = load_config("skin_synthetic", self.overrides(device))
        engine = build_engine(cfg, build_data(cfg.data))
        arch, seg, aug = (getattr(engine, name) for name in names.ALL)
        if self.dtype != torch.float32:
            cast(engine, self.dtype)
        engine.train()
        for _ in range(self.pre_steps):
            engine.global_step += 1
            engine.train_step()
        configure(engine, config)
        return Wiring(engine=engine, upper=arch, lowers=[aug, seg])

    def exact(self, wiring: Wiring, cached: bool = True) -> Reference:
        """The dense IFT reference at the current parameters and batches (nothing is moved).

        References are cached by a hash of every parameter, discriminator weight and loaded
        batch (the suite builds one wiring per method, all in the same state); ``cached=False``
        recomputes. :attr:`spectra` is set to the Hessian spectra of the returned reference.
        """
        key = _fingerprint(wiring)
        if cached and key in self._cache:
            reference, self.spectra = self._cache[key]
            return reference
        solve = SpectralSolve()
        reference = Reference(exact=self.spectral(wiring, solve), identity=self.identity(wiring))
        self.spectra = dict(solve.spectra)
        self._cache[key] = (reference, self.spectra)
        return reference

    @staticmethod
    def spectral(wiring: Wiring, solve: SpectralSolve) -> torch.Tensor:
        """The IFT formula in float64 with each ``H^{-1}`` applied by ``solve``: the reference
        for the default :class:`SpectralSolve`, e.g. Neumann partial sums for another ``f``."""
        with _float64(wiring):
            return ift_dense(wiring.upper, solve=solve)

    @staticmethod
    def identity(wiring: Wiring) -> torch.Tensor:
        """The identity form in float64 (cheap: no Hessian), what ``darts`` estimates."""
        with _float64(wiring):
            return ift_dense(wiring.upper, identity=True)


class E2EAugSmoothCase(E2EAugCase):
    """:class:`E2EAugCase` with SiLU, average pooling and Huber reconstruction (twice
    differentiable everywhere), as ``tests.core_helpers.SMOOTH``."""

    name = "e2eaug_smooth"
    smooth = True


def configure(engine, config: Config) -> None:
    """Give ``seg`` and ``aug`` the method and knobs of ``config`` (:data:`METHOD_FIELDS`).

    Betty reads these fields from ``curr.config`` each time a hypergradient is computed, so
    replacing the problems' ``Config`` after the Engine is built takes effect at the next one.

    Raises:
        ValueError: unknown method, or ``unroll_steps``/``first_order`` differing from the
            built problems' (those are compiled when the Engine is built).
    """
    if config.type not in jvp_fn_mapping:
        raise ValueError(f"unknown hypergradient method {config.type!r}")
    for name in (names.SEG, names.AUG):
        problem = getattr(engine, name)
        for field in ("unroll_steps", "first_order"):
            if getattr(config, field) != getattr(problem.config, field):
                raise ValueError(f"{name}: config.{field}={getattr(config, field)!r} differs "
                                 f"from the built problem's {getattr(problem.config, field)!r}")
        problem._config = dataclasses.replace(
            problem.config, **{field: getattr(config, field) for field in METHOD_FIELDS})


def cast(engine, dtype: torch.dtype) -> None:
    """Run a freshly built e2eaug engine in ``dtype``: every module the three losses read and
    every batch the problems load (float64 makes finite differences CPU-independent)."""
    problems = [getattr(engine, name) for name in names.ALL]
    for problem in problems:
        problem.get_batch = _cast_batches(problem.get_batch, dtype)
    for module in _modules(*problems):
        module.to(dtype)


def _cast(batch: tuple, dtype: torch.dtype) -> tuple:
    """``batch`` (tensors and draws) with its floating tensors in ``dtype``."""

    def one(t: torch.Tensor) -> torch.Tensor:
        return t.to(dtype) if t.is_floating_point() else t

    return tuple(t.map(one) if isinstance(t, Draw) else one(t) for t in batch)


def _cast_batches(get_batch, dtype: torch.dtype):
    """``get_batch`` returning its floating tensors in ``dtype`` (seg's mask augmentation
    makes float32 masks whatever the data's dtype)."""
    return lambda: _cast(get_batch(), dtype)


def _modules(arch, seg, aug) -> List[torch.nn.Module]:
    """Every module the three losses read: alpha's, the segmenter, generator, discriminator."""
    return [arch.module, seg.module, aug.module, aug.discriminator]


@contextlib.contextmanager
def _float64(wiring: Wiring) -> Iterator[None]:
    """Cast the modules and loaded batches to float64, and back on exit (exactly: float32
    and float16 values are float64 values); parameters stay the same objects."""
    arch, aug, seg = wiring.upper, *wiring.lowers
    modules = _modules(arch, seg, aug)
    dtypes = [next(m.parameters()).dtype for m in modules]
    batches = {problem: problem.cur_batch for problem in wiring.problems}
    try:
        for module in modules:
            module.double()
        for problem, batch in batches.items():
            problem.cur_batch = _cast(batch, torch.float64)
        yield
    finally:
        for module, dtype in zip(modules, dtypes):
            module.to(dtype)
        for problem, batch in batches.items():
            problem.cur_batch = batch


def _fingerprint(wiring: Wiring) -> str:
    """Hash of every tensor the reference depends on."""
    arch, aug, seg = wiring.upper, *wiring.lowers
    digest = hashlib.sha256()
    tensors = [t for m in _modules(arch, seg, aug) for t in m.state_dict().values()]
    for problem in wiring.problems:
        tensors += [t for x in problem.cur_batch for t in (x.tensors() if isinstance(x, Draw) else [x])]
    for tensor in tensors:
        digest.update(str((tensor.dtype, tuple(tensor.shape))).encode())
        raw = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        digest.update(raw.numpy().tobytes())
    return digest.hexdigest()


DARTS_ALPHAS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
"""``darts_alpha`` values of :func:`darts_table`."""


def darts_table(size: int = 1, seed: int = 0, device: str = "cpu") -> str:
    """Markdown: cosine of ``darts`` with the float64 identity form against ``darts_alpha``,
    for both variants in float32 and float64, plus the Hessian spectra of the reference.

    Run it with ``python -m benchmarks.hypergrad.e2eaug_case [size] [seed]`` (about a minute).
    """
    alphas = " | ".join(f"{a:g}" for a in DARTS_ALPHAS)
    lines = [f"| case | dtype | {alphas} |", "|---|---|" + "---|" * len(DARTS_ALPHAS)]
    spectra = []
    for cls in (E2EAugCase, E2EAugSmoothCase):
        for dtype in (torch.float32, torch.float64):
            case = cls(size, seed=seed, dtype=dtype)
            wiring = case.build(methods.method("darts", alpha=0.01).config, torch.optim.Adam, device)
            wiring.load_batches()
            identity = case.identity(wiring)
            restore = measure.snapshot(wiring.lower_parameters())
            cells = []
            for alpha in DARTS_ALPHAS:
                restore()  # Betty's darts restores the weights only up to rounding
                configure(wiring.engine, methods.method("darts", alpha=alpha).config)
                estimate = measure.hypergradient(wiring.upper)
                cells.append(f"{measure.cosine(estimate, identity):.3f}")
            lines.append(f"| {case.name}-{size} | {str(dtype)[6:]} | {' | '.join(cells)} |")
            if dtype == torch.float32:
                case.exact(wiring)
                spectra += [f"- {case.name}-{size} `{name}`: {spectrum}"
                            for name, spectrum in case.spectra.items()]
    return "\n".join(lines + [""] + spectra) + "\n"


if __name__ == "__main__":
    import logging
    import sys

    from betty.logging.logger_base import get_logger

    torch.set_num_threads(1)
    get_logger().setLevel(logging.WARNING)
    print(darts_table(*(int(arg) for arg in sys.argv[1:3])))
