"""What a run was trained with: package versions, the source's git commit, device, command."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Optional

import torch

def version(package: str = "e2eaug") -> Optional[str]:
    """The installed version of ``package``, or ``None`` when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def versions() -> Dict[str, Optional[str]]:
    """e2eaug's, Betty's, torch's (with its CUDA build), torchvision's and numpy's versions."""
    import numpy
    import torchvision

    return {
        "e2eaug": version("e2eaug"),
        "betty-ml": version("betty-ml"),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
    }


def git_commit(folder: Path = Path(__file__).resolve().parent) -> Optional[Dict[str, Any]]:
    """``{"commit", "dirty"}`` of the git checkout holding ``folder`` (e2eaug's source), or
    ``None`` outside one (an installed wheel) or without git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def device_name(device: torch.device | str) -> str:
    """The GPU's name, or the CPU's model name."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def session_info(device: torch.device | str, start_step: int) -> Dict[str, Any]:
    """The record of one training session for ``run_info.json``."""
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "start_step": start_step,
        "command": sys.argv,
        "python": platform.python_version(),
        "versions": versions(),
        "git": git_commit(),
        "device": str(device),
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "host": platform.node(),
    }
