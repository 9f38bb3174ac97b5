"""Betty engines of e2eaug (installed as ``e2eaug.engines``)."""

from .build import build_engine
from .e2eaug_engine import E2EAugEngine, EngineSettings, NonFiniteStepWarning, TrainingDiverged, check_device, check_precision

__all__ = [
    "E2EAugEngine",
    "EngineSettings",
    "NonFiniteStepWarning",
    "TrainingDiverged",
    "build_engine",
    "check_device",
    "check_precision",
]
