"""Hypergradient methods: one module per method, each a dataclass of its own knobs.

A level's ``hypergrad:`` section names a method by ``type`` and sets its knobs, e.g.
``{type: neumann, iterations: 3, alpha: 0.1}``; :meth:`HypergradConfig.betty_config` turns it
into Betty's ``Config``. Betty's own methods (``darts``, ``neumann``, ``cg``, ``sama``) are
registered with their knobs; the plugin adds ``darts_shared``, ``identity`` and ``cg_fixed``, whose functions
it puts in Betty's table (``betty.hypergradient.jvp_fn_mapping``) under those new names.
A new method is a module like these: its function (Betty's signature ``fn(vector, curr, prev,
sync)``) and its dataclass, ``@register("name", fn)``. :data:`METHODS` lists them all (the
benchmark suite reads it).
"""

from .base import METHODS, HypergradConfig, register
from .cg import CGConfig
from .cg_fixed import CGFixedConfig, cg_fixed, conjugate_gradient
from .darts import DartsConfig
from .darts_shared import DartsSharedConfig, darts_shared
from .identity import IdentityConfig, identity
from .neumann import NeumannConfig
from .sama import SamaConfig

__all__ = [
    "METHODS",
    "CGConfig",
    "CGFixedConfig",
    "DartsConfig",
    "DartsSharedConfig",
    "HypergradConfig",
    "IdentityConfig",
    "NeumannConfig",
    "SamaConfig",
    "cg_fixed",
    "conjugate_gradient",
    "darts_shared",
    "identity",
    "register",
]
