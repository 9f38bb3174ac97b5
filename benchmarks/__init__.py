"""Benchmarks of e2eaug, run as modules from the repository root.

e.g. ``python -m benchmarks.hypergrad --quick``.
"""
