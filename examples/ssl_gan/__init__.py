"""Self-supervised pretraining with style-GAN augmentation, as a pipeline and as a two-level
Betty problem (``aug`` over ``ssl``): an example built on e2eaug's config loader, registry,
problem base, batcher, folder reader and run folder. ``run.py`` is its command line.

Importing the package registers the SSL methods ``simclr`` and ``byol`` in
:data:`examples.ssl_gan.methods.SSL_METHODS`.
"""

from examples.ssl_gan import byol, simclr

__all__ = ["byol", "simclr"]
