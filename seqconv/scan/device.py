"""Where a scan runs, decided without importing torch when no GPU can be present.

Importing torch costs ~2 s of start-up; the CPU engine (numba) never needs it.  With
``device=None`` a CUDA (or ROCm) device is used when one is present: that needs torch only
when the installed torch was built for a GPU (its GPU library sits next to it); a CPU-only
build, or no torch at all, means the CPU.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path


def _gpu_build() -> bool:
    """Whether the installed torch can use a GPU (CUDA or ROCm library present), without importing it."""
    if "torch" in sys.modules:
        return True
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return any(lib.glob("*torch_cuda*")) or any(lib.glob("*torch_hip*"))


def scan_device(device=None) -> str:
    """The scan's device as a string: ``device`` itself (``"cpu"``, ``"cuda:1"``, a torch.device), or for
    ``None`` ``"cuda"`` when a CUDA device is present, else ``"cpu"``."""
    if device is not None:
        return str(device)
    if not _gpu_build():
        return "cpu"
    torch = importlib.import_module("torch")    # a GPU build: only torch can tell whether a device is present
    return "cuda" if torch.cuda.is_available() else "cpu"


def device_type(device: str) -> str:
    """``"cuda"`` of ``"cuda:1"``."""
    return device.split(":")[0]
