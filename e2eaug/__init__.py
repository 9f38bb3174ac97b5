"""e2eaug: end-to-end GAN data augmentation for medical image segmentation, on Betty.

The Python API (:mod:`e2eaug.api`, imported on first use so the command line starts fast)::

    import e2eaug

    cfg = e2eaug.load_config("skin_synthetic", {"engine.train_iters": 50})
    run = e2eaug.train(cfg)  # a new folder under runs/, best checkpoint loaded
    run.segmenter, run.augmenter, run.config, run.path
    results = e2eaug.evaluate(run)  # every test set -> results.json
    again = e2eaug.load_run(run.path)
"""

from importlib import metadata

try:
    __version__ = metadata.version("e2eaug")
except metadata.PackageNotFoundError:  # the source tree, not installed
    __version__ = "0+unknown"

__all__ = ["Run", "evaluate", "load_config", "load_run", "train", "__version__"]


def __getattr__(name: str):
    if name in __all__:
        from e2eaug import api

        return getattr(api, name)
    raise AttributeError(f"module 'e2eaug' has no attribute {name!r}")
