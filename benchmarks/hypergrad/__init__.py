"""Gradient benchmark suite: Betty's hypergradient methods against exact hypergradients.

Run ``python -m benchmarks.hypergrad --help``. Modules:

- :mod:`~benchmarks.hypergrad.case`: the case API (:class:`Case`, :class:`Wiring`,
  :class:`Reference`) and helpers to build Betty problems for a case.
- :mod:`~benchmarks.hypergrad.problems`: ridge regression and the three-level quadratic chain.
- :mod:`~benchmarks.hypergrad.reference`: a generic dense implicit-function-theorem reference.
- :mod:`~benchmarks.hypergrad.methods`: the methods and knob settings measured.
- :mod:`~benchmarks.hypergrad.measure`: hypergradient through Betty, accuracy, time, memory.
- :mod:`~benchmarks.hypergrad.suite`: profiles, the case registry and the measuring loop.
- :mod:`~benchmarks.hypergrad.report`: CSV, markdown tables and plots.
"""

from benchmarks.hypergrad.case import Case, Reference, Wiring

__all__ = ["Case", "Reference", "Wiring"]
