"""Self-supervised pretraining with style-GAN augmentation, as a pipeline and as a two-level
Betty problem (``gen`` over ``ssl``).

Importing the package registers the SSL methods ``simclr`` and ``byol`` in
:data:`e2eaug.ssl.methods.SSL_METHODS`.
"""

from e2eaug.ssl.backbone import SmallResNet18
from e2eaug.ssl.byol import BYOL, cosine_tau, ema_update
from e2eaug.ssl.config import ExperimentConfig, build_config
from e2eaug.ssl.methods import SSL_METHODS, SSLMethod, build_method
from e2eaug.ssl.probe import ProbeResult, extract_features, linear_probe
from e2eaug.ssl.problems import GEN, SSL, GeneratorProblem, SSLProblem, TwoLevelEngine
from e2eaug.ssl.simclr import SimCLR, nt_xent_loss
from e2eaug.ssl.style_gan import Discriminator, StyleGenerator, mix_styles
from e2eaug.ssl.views import ViewConfig, apply_view, sample_view_params

__all__ = [
    "BYOL",
    "Discriminator",
    "ExperimentConfig",
    "GEN",
    "GeneratorProblem",
    "ProbeResult",
    "SSL",
    "SSLMethod",
    "SSLProblem",
    "SSL_METHODS",
    "SimCLR",
    "SmallResNet18",
    "StyleGenerator",
    "TwoLevelEngine",
    "ViewConfig",
    "apply_view",
    "build_config",
    "build_method",
    "cosine_tau",
    "ema_update",
    "extract_features",
    "linear_probe",
    "mix_styles",
    "nt_xent_loss",
    "sample_view_params",
]
