"""The hypergradient benchmark suite (benchmarks/hypergrad): references, methods, outputs."""

import math

import pytest
import torch

from benchmarks.hypergrad import measure, methods, report, suite
from benchmarks.hypergrad.__main__ import parse_args
from benchmarks.hypergrad.problems import ChainCase, RidgeCase
from benchmarks.hypergrad.reference import ift_dense
from e2eaug.hypergrad import METHODS

CASES = [RidgeCase(6, n_train=20, n_val=10, dtype=torch.float64),
         ChainCase(5, dtype=torch.float64)]
ALL_METHODS = {suite.EXACT, suite.IDENTITY, *METHODS}  # every registered method


def _upper_value(case):
    return case.theta if isinstance(case, RidgeCase) else case.x


def _wired(case, method):
    wiring = suite.prepare(case, method, "cpu")
    return wiring, case.exact(wiring)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_exact_matches_central_differences_of_the_true_objective(case):
    _, reference = _wired(case, methods.method("darts", alpha=0.01))
    value, h = _upper_value(case), 1e-5
    numeric = torch.tensor([
        (case.objective(value + h * e) - case.objective(value - h * e)) / (2 * h)
        for e in torch.eye(len(value), dtype=torch.float64)], dtype=torch.float64)
    torch.testing.assert_close(reference.exact, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_closed_forms_match_dense_ift_along_betty_paths(case):
    wiring, reference = _wired(case, methods.method("darts", alpha=0.01))
    torch.testing.assert_close(ift_dense(wiring.upper), reference.exact)
    torch.testing.assert_close(ift_dense(wiring.upper, identity=True), reference.identity)


def test_darts_with_a_good_alpha_matches_the_identity_form_on_ridge():
    wiring, reference = _wired(RidgeCase(50), methods.method("darts", alpha=0.1))
    estimate = measure.hypergradient(wiring.upper)
    assert measure.relative_error(estimate, reference.identity) < 1e-4


def test_neumann_with_many_small_steps_converges_on_ridge():
    wiring, reference = _wired(RidgeCase(20, dtype=torch.float64), methods.method("neumann", iterations=300, alpha=0.1))
    estimate = measure.hypergradient(wiring.upper)
    assert measure.relative_error(estimate, reference.exact) < 1e-6


def test_smoke_profile_has_a_row_for_every_method(tmp_path):
    rows = suite.run(suite.PROFILES["smoke"], seed=0, device="cpu", progress=lambda line: None)
    for key in {(r["study"], r["case"], r["size"]) for r in rows}:
        assert {r["method"] for r in rows if (r["study"], r["case"], r["size"]) == key} \
            == ALL_METHODS
    text = report.markdown(rows, "# smoke")
    for method in ALL_METHODS:
        assert f"| {method} |" in text
    report.write_csv(rows, tmp_path / "results.csv")
    assert len((tmp_path / "results.csv").read_text().splitlines()) == len(rows) + 1
    plots = report.plot_error_vs_cost(rows, tmp_path) + report.plot_scaling(rows, tmp_path)
    assert all(path.stat().st_size > 0 for path in plots)


def test_slope_of_a_power_law():
    assert report.slope([(10, 3e2), (100, 3e4), (1000, 3e6)]) == pytest.approx(2.0)
    assert math.isnan(report.slope([(10, 0.0), (100, 1.0)]))


def test_peak_memory_counts_new_storages_not_views():
    existing = torch.zeros(1000)
    assert measure.peak_memory(lambda: existing.view(10, 100).t().add_(1), "cpu") == 0
    assert measure.peak_memory(lambda: existing * 2, "cpu") == 4000


def test_cli_defaults():
    args = parse_args([])
    assert (args.quick, args.seed, args.device, args.threads) == (False, 0, "auto", 1)
