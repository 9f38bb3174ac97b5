"""Experiments: e2eaug against every baseline over data, training sizes, segmenters and seeds.

``e2eaug experiment --config experiments/<name>.yaml [--profile P] [--jobs N]`` runs the grid
(:mod:`.spec`), one ordinary run folder per cell (:mod:`.runner`), and writes ``results.csv``,
``results.md`` and figures (:mod:`.report`).
"""

from .report import compare_table, write_reports
from .runner import run_experiment
from .spec import Cell, ExperimentSpec, load_experiment

__all__ = ["Cell", "ExperimentSpec", "compare_table", "load_experiment", "run_experiment", "write_reports"]
