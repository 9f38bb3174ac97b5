"""Export a run's trained segmenter, with a JSON file of its input contract (``e2eaug export``).

Formats (:data:`FORMATS`):

- ``state_dict``: ``torch.save`` of the segmenter's weights; rebuild the model with
  ``e2eaug.registry.SEGMENTERS.build(name, in_channels=C, num_classes=1, **kwargs)`` from the
  contract's ``model`` entry and ``load_state_dict`` it.
- ``torchscript``: a traced module, ``torch.jit.load(path)``. It is traced
  (``torch.jit.trace``), not scripted: ``torch.jit.script`` cannot compile the Python input
  checks every e2eaug segmenter runs (:mod:`e2eaug.models.layers`: a comprehension with ``if``,
  messages built from shapes), making them TorchScript would constrain every model and every
  user's plug-in segmenter, and the segmenters have no data-dependent control flow in eval
  mode, so the trace records the whole computation. The trace is taken at the training size;
  the input checks ran at trace time and are not in the file. (PyTorch marks TorchScript
  deprecated; ONNX is the lasting format.)
- ``onnx``: PyTorch's ``torch.export``-based ONNX exporter, with a dynamic batch dimension
  (input ``image``, output ``logits``). Needs the ``onnx`` extra (``pip install 'e2eaug[onnx]'``:
  ``onnx``, ``onnxscript``; ``onnxruntime`` to run it).

Every format is exported from a CPU copy of the model in eval mode, so the files load anywhere.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch

from e2eaug.jobs import load_run
from e2eaug.metrics import THRESHOLD
from e2eaug.problems import names
from e2eaug.rundir import RunDir
from e2eaug.utils import atomic_torch_save, atomic_write, atomic_write_text, json_text

FORMATS = ("state_dict", "torchscript", "onnx")
_SUFFIXES = {"state_dict": "_state_dict.pt", "torchscript": "_torchscript.pt", "onnx": ".onnx"}


def default_path(run: RunDir, which: str, fmt: str) -> Path:
    """``RUN/export/segmenter_<which><suffix>`` (``_state_dict.pt``, ``_torchscript.pt``, ``.onnx``)."""
    return run.path / "export" / f"segmenter_{which}{_SUFFIXES[fmt]}"


def contract_path(model_path: Path) -> Path:
    """The contract JSON beside an exported model: its path with the suffix ``.json``."""
    return Path(model_path).with_suffix(".json")


def input_contract(cfg: Any, channels: int) -> Dict[str, Any]:
    """The input the segmenter expects: images as e2eaug's data loaders make them."""
    data = cfg.data
    size = data.image_size
    if data.source == "folder":
        depth = f"{data.bit_depth}" if data.bit_depth else "the smallest holding the folder's largest value"
        scaling = f"8-bit images divided by 255; 16/32-bit ones by 2**bits - 1 (bits: {depth})"
    else:
        scaling = f"synthetic {data.task} images, made in [0, 1]; image files as 8-bit / 255 (e2eaug predict)"
    return {
        "layout": "NCHW",
        "dtype": "float32",
        "channels": channels,
        "height": size,
        "width": size,
        "colour": "RGB" if channels == 3 else "grey (ITU-R 601 luminance of RGB files)",
        "resize": f"bicubic to {size}x{size} (PIL); masks nearest",
        "range": [0.0, 1.0],
        "scaling": scaling,
        "normalisation": "none (no mean or std subtracted)",
    }


def _check_onnx() -> None:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"--format onnx needs {' and '.join(missing)}: pip install 'e2eaug[onnx]'")


def _write_model(model: torch.nn.Module, example: torch.Tensor, fmt: str, path: Path) -> None:
    if fmt == "state_dict":
        atomic_torch_save(model.state_dict(), path)
        return
    with warnings.catch_warnings():  # the input checks' shape tests; torch's deprecation notes
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        if fmt == "torchscript":
            traced = torch.jit.trace(model, example)
            atomic_write(path, lambda tmp: traced.save(tmp))
            return
        program = torch.onnx.export(
            model,
            (example,),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"image": {0: torch.export.Dim("batch")}},
            dynamo=True,
            verbose=False,
        )
        atomic_write(path, lambda tmp: program.save(tmp))


def export_segmenter(
    run: RunDir,
    which: str = "best",
    fmt: str = "torchscript",
    out: Optional[Path] = None,
    trust_plugins: bool = False,
) -> Tuple[Path, Path]:
    """Write the segmenter of checkpoint ``which`` in format ``fmt`` and its contract JSON.

    Args:
        run: the run folder.
        which: ``best`` or ``last``.
        fmt: one of :data:`FORMATS` (see the module docstring).
        out: the model file (default :func:`default_path`); the contract goes to
            :func:`contract_path` of it.
        trust_plugins: import the plugins the run's config names.

    Returns:
        The model file and the contract file.

    Raises:
        ValueError: an unknown format, ``out`` ending in ``.json``, or ``onnx`` without its extra.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "onnx":
        _check_onnx()
    path = Path(out) if out is not None else default_path(run, which, fmt)
    if path.suffix == ".json":
        raise ValueError(f"--out {path}: the contract is written as <out>.json; give the model file a different suffix")
    cfg, engine, data = load_run(run, which, trust_plugins)
    model = copy.deepcopy(getattr(engine, names.SEG).module).cpu().eval()
    example = data.val.images[:2].cpu()
    _write_model(model, example, fmt, path)
    contract = {
        "format": fmt,
        "file": path.name,
        "run": str(run.path),
        "checkpoint": which,
        "step": engine.global_step,
        "model": {
            "name": cfg.seg.segmenter.name,
            "kwargs": cfg.seg.segmenter.kwargs,
            "in_channels": data.channels,
            "num_classes": 1,
        },
        "input": input_contract(cfg, data.channels),
        "output": {
            "layout": "NCHW",
            "channels": 1,
            "values": "logits",
            "foreground": f"sigmoid(logits) > {THRESHOLD}",
            "threshold": THRESHOLD,
        },
        "versions": {"e2eaug": importlib.metadata.version("e2eaug"), "torch": torch.__version__},
    }
    written = contract_path(path)
    atomic_write_text(written, json_text(contract, indent=2) + "\n")
    return path, written
