"""What a benchmark case is: Betty problems wired in an Engine, plus their exact hypergradient.

To add a case, subclass :class:`Case`, register the class in
:data:`benchmarks.hypergrad.suite.CASES` and list its sizes in a profile there::

    from benchmarks.hypergrad.case import Case, Reference, Wiring, make_engine
    from benchmarks.hypergrad.reference import ift_dense

    class TinyE2EAug(Case):
        name = "e2eaug"

        def __init__(self, size, seed=0):
            self.size, self.seed = size, seed

        def build(self, config, optimizer, device):
            arch, gan, seg = ...  # fresh Betty problems; gan and seg get `config`, `optimizer`
            dependencies = {"u2l": {arch: [gan, seg]}, "l2u": {gan: [seg], seg: [arch]}}
            engine = make_engine([arch, gan, seg], dependencies, device)
            return Wiring(engine=engine, upper=arch, lowers=[gan, seg])

        def exact(self, wiring):
            ...  # solve gan, then seg, to their optimum on the loaded batches, in place
            return Reference(exact=ift_dense(wiring.upper),
                             identity=ift_dense(wiring.upper, identity=True))
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Type

import torch
from betty.configs import Config, EngineConfig
from betty.engine import Engine
from betty.problems import ImplicitProblem, Problem

DEVICE_STRATEGY = {"cpu": "cpu", "cuda": "gpu"}


@dataclass
class Wiring:
    """Betty problems of one case, initialised inside an Engine.

    Attributes:
        engine: the Engine holding every problem (its dependency graph defines the paths).
        upper: the problem whose hypergradient is measured (the top level).
        lowers: the problems below it, whose parameters :meth:`Case.exact` sets to their optimum.
    """

    engine: Engine
    upper: Problem
    lowers: List[Problem]

    @property
    def problems(self) -> List[Problem]:
        """Upper then lower problems."""
        return [self.upper, *self.lowers]

    def load_batches(self) -> None:
        """Draw one batch per problem into ``cur_batch``, where Betty's methods read it."""
        for problem in self.problems:
            problem.cur_batch = problem.get_batch()

    def lower_parameters(self) -> List[torch.Tensor]:
        """Trainable parameters of all lower problems."""
        return [p for problem in self.lowers for p in problem.trainable_parameters()]


@dataclass
class Reference:
    """Exact hypergradient of a case at its lower problems' optimum.

    Attributes:
        exact: total derivative of the upper loss by the implicit function theorem, flattened
            over the upper problem's trainable parameters (float64, CPU).
        identity: the same with every lower Hessian inverse replaced by the identity: the
            quantity Betty's ``darts`` estimates by finite differences; ``None`` if unknown.
    """

    exact: torch.Tensor
    identity: Optional[torch.Tensor] = None


class Case(abc.ABC):
    """A multilevel problem with a known exact hypergradient.

    Attributes:
        name: family name shown in tables (e.g. ``"ridge"``).
        size: the size knob of the instance (e.g. number of features).
    """

    name: str = ""
    size: int = 0

    @abc.abstractmethod
    def build(self, config: Config, optimizer: Type[torch.optim.Optimizer], device: str) -> Wiring:
        """Create fresh Betty problems and their Engine.

        Args:
            config: Betty config of every lower problem; it selects the hypergradient method
                and its knobs as Betty names them (``type``, ``darts_alpha``, ``neumann_iterations``, ...).
            optimizer: optimizer class of every lower problem (Adam for ``sama``).
            device: ``"cpu"`` or ``"cuda"``.

        Returns:
            The wiring; lower parameters may be anywhere, :meth:`exact` places them.
        """

    @abc.abstractmethod
    def exact(self, wiring: Wiring) -> Reference:
        """Set the lower problems' parameters to their exact optimum and return the reference.

        Batches are already loaded (``cur_batch``) and must be the ones the optimum is for.
        """


def make_engine(problems: Sequence[Problem], dependencies: Dict[str, dict], device: str) -> Engine:
    """Initialise ``problems`` in a Betty Engine on ``device`` (``"cpu"`` or ``"cuda"``)."""
    config = EngineConfig(strategy=DEVICE_STRATEGY[device], logger_type="none")
    return Engine(problems=list(problems), config=config, dependencies=dependencies)


class FullBatchProblem(ImplicitProblem):
    """A Betty problem whose data live in its module's buffers: the batch is ``None``."""

    def get_batch(self):
        """No data loader: the loss reads its data from the module."""
        return None


class Point(torch.nn.Module):
    """One trainable vector ``value`` with constant data registered as buffers.

    Args:
        value: initial parameter value.
        **data: tensors the loss reads; they follow the module across devices.
    """

    def __init__(self, value: torch.Tensor, **data: torch.Tensor) -> None:
        super().__init__()
        self.value = torch.nn.Parameter(value.clone())
        for key, tensor in data.items():
            self.register_buffer(key, tensor.clone())
