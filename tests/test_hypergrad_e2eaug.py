"""The tiny e2eaug case of the hypergradient suite (benchmarks/hypergrad/e2eaug_case.py).

The lower problems are neural nets a few steps into training, not at an optimum: the reference
is the implicit-function-theorem formula at the current weights and batches, with dense
float64 Hessians that are indefinite. So a many-iteration Neumann series cannot converge to it
(it diverges along the negative eigenvalues); instead, Betty's ``neumann`` after K iterations
is checked against the same dense Hessians' K-term partial sum, and the partial sums are shown
to move away from the reference as K grows.
"""

import pytest
import torch

from benchmarks.hypergrad import measure, methods, suite
from benchmarks.hypergrad.e2eaug_case import E2EAugCase, E2EAugSmoothCase, configure
from benchmarks.hypergrad.reference import SpectralSolve

NEUMANN_ALPHA = 0.01


@pytest.fixture(scope="module")
def smooth():
    """The smooth width-1 case as the quick profile measures it, wired for darts."""
    case = E2EAugSmoothCase(1)
    wiring = suite.prepare(case, methods.method("darts", alpha=1e-3), "cpu")
    return case, wiring


def test_darts_matches_the_identity_form_on_the_smooth_case(smooth):
    case, wiring = smooth
    configure(wiring.engine, methods.method("darts", alpha=1e-3).config)
    estimate = measure.hypergradient(wiring.upper)
    identity = case.identity(wiring)
    assert identity.norm() > 0
    assert measure.cosine(estimate, identity) >= 0.99
    assert measure.relative_error(estimate, identity) < 0.05


def _neumann_sum(iterations):
    """Betty's neumann after ``iterations`` steps: ``a sum_{i=0..K} (1 - a lambda)^i``."""
    def f(lam):
        ratio = 1 - NEUMANN_ALPHA * lam
        return NEUMANN_ALPHA * sum(ratio**i for i in range(iterations + 1))
    return f


def test_dense_reference_gives_betty_neumann_partial_sums_which_diverge(smooth):
    case, wiring = smooth
    solve = SpectralSolve()
    exact = case.spectral(wiring, solve)
    seg, gan = solve.spectra["seg"], solve.spectra["aug"]
    # not a minimum: both Hessians indefinite, none exactly singular (smooth pieces)
    assert seg.negative > 0 and gan.negative > 0 and seg.null == gan.null == 0
    assert NEUMANN_ALPHA * max(seg.highest, gan.highest) < 2  # alpha small enough for lambda > 0

    configure(wiring.engine, methods.method("neumann", iterations=3, alpha=NEUMANN_ALPHA).config)
    betty = measure.hypergradient(wiring.upper)  # float32, Hessian-vector products
    partial = case.spectral(wiring, solve.with_function(_neumann_sum(3)))  # float64, dense
    assert measure.relative_error(betty, partial) < 1e-3

    # the partial sums grow like (1 + alpha |lambda_min|)^K instead of approaching `exact`
    errors = [measure.relative_error(
        case.spectral(wiring, solve.with_function(_neumann_sum(k))), exact)
        for k in (100, 1000)]
    assert errors[0] > 0.5 and errors[1] > 1e3 * errors[0]


def test_darts_crosses_kinks_on_the_pix2pix_case_until_alpha_is_tiny():
    case = E2EAugCase(1, dtype=torch.float64)
    wiring = suite.prepare(case, methods.method("darts", alpha=0.01), "cpu")
    identity = case.identity(wiring)
    restore = measure.snapshot(wiring.lower_parameters())
    errors = {}
    for alpha in (1e-2, 1e-7):
        restore()  # Betty's darts restores the weights only up to rounding
        configure(wiring.engine, methods.method("darts", alpha=alpha).config)
        errors[alpha] = measure.relative_error(measure.hypergradient(wiring.upper), identity)
    # at e2eaug's darts_alpha the perturbation crosses kinks: an O(1) error ...
    assert errors[1e-2] > 0.5
    # ... and (in float64) exact once it crosses none; the threshold is 1e-4 to 1e-6 here
    assert errors[1e-7] < 1e-5
