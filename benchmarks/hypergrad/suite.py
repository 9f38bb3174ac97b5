"""Profiles (which cases, sizes and knobs) and the loop that measures every method on them."""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple, Type

import torch
from betty.logging.logger_base import get_logger

from benchmarks.hypergrad import measure, methods
from benchmarks.hypergrad.case import Case, Reference, Wiring
from benchmarks.hypergrad.e2eaug_case import E2EAugCase, E2EAugSmoothCase, sweep_methods
from benchmarks.hypergrad.methods import Method
from benchmarks.hypergrad.problems import ChainCase, RidgeCase

CASES: Dict[str, Type[Case]] = {"ridge": RidgeCase, "chain": ChainCase, "e2eaug": E2EAugCase,
                                "e2eaug_smooth": E2EAugSmoothCase}
"""Case families by name; each class is constructed as ``cls(size, seed=seed)``."""

EXACT, IDENTITY = "exact", "identity_form"  # reference rows; "identity" is the registered method
"""Rows that are not Betty methods: the reference, and its identity-inverse-Hessian form."""


@dataclass(frozen=True)
class Profile:
    """What one run measures.

    Attributes:
        name: profile name (recorded in the outputs).
        sweep: ``(case family, size)`` instances on which every knob setting runs, or
            ``(case family, size, settings)`` to run ``settings`` instead.
        scaling: ``(case family, sizes)`` on which one setting per method runs.
        sweep_methods: the knob settings of the sweep.
        scaling_methods: the settings of the scaling study.
        repeats: timed calls per measurement (the median is kept).
        warmup: untimed calls before them.
    """

    name: str
    sweep: Tuple[tuple, ...]
    scaling: Tuple[Tuple[str, Tuple[int, ...]], ...]
    sweep_methods: Tuple[Method, ...]
    scaling_methods: Tuple[Method, ...]
    repeats: int
    warmup: int


PROFILES = {
    "smoke": Profile("smoke", (("ridge", 8), ("chain", 4)), (("ridge", (8, 16)),),
                     methods.representatives(), methods.representatives(), repeats=1, warmup=0),
    "quick": Profile("quick", (("ridge", 1000), ("ridge", 10000), ("chain", 100), ("chain", 1000),
                               ("e2eaug", 1, sweep_methods()),
                               ("e2eaug_smooth", 1, sweep_methods())),
                     (("ridge", (10, 100, 1000, 10000)), ("chain", (10, 100, 1000))),
                     methods.knob_sweep(), methods.representatives(), repeats=11, warmup=3),
    "full": Profile("full", tuple(("ridge", d) for d in (10, 100, 1000, 10000))
                    + tuple(("chain", m) for m in (10, 100, 1000))
                    + tuple((family, width, sweep_methods())
                            for family in ("e2eaug", "e2eaug_smooth") for width in (1, 2)),
                    (("ridge", (10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)),
                     ("chain", (10, 30, 100, 300, 1000, 2000))),
                    methods.knob_sweep(), methods.representatives(), repeats=20, warmup=3),
}


def run(profile: Profile, seed: int, device: str,
        progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> List[dict]:
    """Measure a profile; one row (a dict, see :func:`measure_case`) per case and method.

    Each case is built as ``CASES[family](size, seed=seed)`` and must be deterministic given
    its seed.
    """
    get_logger().setLevel(logging.WARNING)  # Betty logs every Engine build at INFO level
    studies = [("sweep", family, size, settings[0] if settings else profile.sweep_methods)
               for family, size, *settings in profile.sweep]
    studies += [("scaling", family, size, profile.scaling_methods)
                for family, sizes in profile.scaling for size in sizes]
    rows = []
    for study, family, size, settings in studies:
        start = time.perf_counter()
        case = CASES[family](size, seed=seed)
        rows += [dict(study=study, **row)
                 for row in measure_case(case, settings, device, profile.repeats, profile.warmup)]
        progress(f"{study:8s} {family}-{size}: {len(settings)} settings in "
                 f"{time.perf_counter() - start:.1f} s")
    return rows


def measure_case(case: Case, settings: Tuple[Method, ...], device: str, repeats: int,
                 warmup: int) -> List[dict]:
    """Accuracy and cost of the exact reference, its identity form and each method on ``case``.

    A case with a true ``costly_reference`` attribute (the dense e2eaug reference takes
    seconds) has its reference timed once, by ``case.exact(wiring, cached=False)``, instead of
    over ``repeats`` calls, and its peak memory measured on CUDA only (the CPU tracker would
    take minutes through thousands of Hessian rows); its ``exact`` may cache references by
    state across wirings.

    Returns:
        Rows with keys ``case, size, n_lower, method, knobs, series, cosine, rel_error,
        fd_error`` (darts' error against the identity form), ``time_ms, time_x_floor,
        peak_kib, mem_x_floor, floor_ms, floor_kib``.
    """
    wiring = prepare(case, methods.method("darts", alpha=0.01), device)  # any method: only the lowers are run
    floor_s, floor_b = _cost(lambda: measure.plain_gradients(wiring.lowers), lambda: None,
                             device, repeats, warmup)
    reference = case.exact(wiring)
    if getattr(case, "costly_reference", False):  # e.g. dense Hessians: one uncached call
        exact_s = measure.median_time(lambda: case.exact(wiring, cached=False), lambda: None,
                                      device, 1, 0)
        exact_b = (measure.peak_memory(lambda: case.exact(wiring, cached=False), device)
                   if device == "cuda" else math.nan)
    else:
        exact_s, exact_b = _cost(lambda: case.exact(wiring), lambda: None, device, repeats,
                                 warmup)
    n_lower = sum(p.numel() for p in wiring.lower_parameters())
    base = dict(case=case.name, size=case.size, n_lower=n_lower, floor_ms=1e3 * floor_s,
                floor_kib=floor_b / 1024)
    rows = [_row(base, EXACT, "reference", reference.exact, reference, exact_s, exact_b)]
    if reference.identity is not None:
        rows.append(_row(base, IDENTITY, "H^-1 = I, no finite difference", reference.identity,
                         reference, math.nan, math.nan))
    for method in settings:
        wiring = prepare(case, method, device)
        reference = case.exact(wiring)
        restore = measure.snapshot(wiring.lower_parameters())
        estimate = measure.hypergradient(wiring.upper)
        seconds, peak = _cost(lambda: measure.hypergradient(wiring.upper), restore, device,
                              repeats, warmup)
        row = _row(base, method.name, method.label, estimate, reference, seconds, peak)
        row["series"] = method.series
        rows.append(row)
    return rows


def prepare(case: Case, method: Method, device: str) -> Wiring:
    """A fresh wiring of ``case`` for ``method``, lower optimizers warmed up, batches loaded.

    Call ``case.exact(wiring)`` next to place the lower problems at their optimum.
    """
    wiring = case.build(method.config, method.optimizer, device)
    for _ in range(method.warmup_steps):
        for problem in wiring.lowers:
            problem.one_step_descent()
    wiring.load_batches()
    return wiring


def _cost(fn, reset, device: str, repeats: int, warmup: int) -> Tuple[float, float]:
    seconds = measure.median_time(fn, reset, device, repeats, warmup)
    reset()
    return seconds, measure.peak_memory(fn, device)


def _row(base: dict, method: str, knobs: str, estimate: torch.Tensor, reference: Reference,
         seconds: float, peak: float) -> dict:
    identity = reference.identity
    fd_error = (measure.relative_error(estimate, identity)
                if method == "darts" and identity is not None else math.nan)
    return dict(
        base, method=method, knobs=knobs, series=method,
        cosine=measure.cosine(estimate, reference.exact),
        rel_error=measure.relative_error(estimate, reference.exact), fd_error=fd_error,
        time_ms=1e3 * seconds, time_x_floor=seconds / (base["floor_ms"] / 1e3),
        peak_kib=peak / 1024,
        mem_x_floor=peak / 1024 / base["floor_kib"] if base["floor_kib"] > 0 else math.nan,
    )
