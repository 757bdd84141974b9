"""The one-time numba compile of seqconv's kernels: a notice on stderr while it happens.

numba compiles each kernel the first time it runs with new argument types and
caches the machine code (``cache=True``: in ``__pycache__`` next to the source,
or under ``NUMBA_CACHE_DIR``).  ``install.sh`` fills that cache with
``python -m seqconv.scan.warmup``; when it is empty (another install route, a
numba upgrade, a new cache folder) the first scan compiles for ~25 s of one
core, and :func:`compile_notice` says so once, on stderr, when numba starts
compiling one of seqconv's kernels (numba fires the ``numba:compile`` event only
for a cache miss, never for a cache load).

A process's first numba call (even a cache load) first loads numba's CPU
registries, ~0.3 CPU s, of which ~0.2 s is the ``import scipy.linalg`` of numba's
BLAS probe (``numba.np.arraymath``).  seqconv's kernels call no BLAS, so
:func:`load_numba_registries`, run by ``seqconv scan`` (a process whose only numba
code is seqconv's), loads them with the probe answered "no BLAS".
"""

from __future__ import annotations

import contextlib
import sys

from numba.core import event
from numba.core.registry import cpu_target

#: shown once per process, the first time a seqconv kernel compiles during a scan
NOTICE = ("seqconv: compiling scan kernels, once after install, ~25 s on 2 cores "
          "(`python -m seqconv.scan.warmup` does it ahead of time)")


class _Notice(event.Listener):
    """Prints :data:`NOTICE` on the first compile of a seqconv kernel."""

    shown = False  # per process: later scans in the same process compile nothing new but say it once only

    def __init__(self, stream=None):
        self.stream = stream

    def on_start(self, ev):
        dispatcher = ev.data.get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if not _Notice.shown and module.startswith("seqconv"):
            _Notice.shown = True
            print(NOTICE, file=self.stream if self.stream is not None else sys.stderr, flush=True)

    def on_end(self, ev):
        pass


@contextlib.contextmanager
def compile_notice(stream=None):
    """Within this block, the first compile of a seqconv numba kernel prints :data:`NOTICE` to ``stream``
    (default stderr), once per process."""
    with event.install_listener("numba:compile", _Notice(stream)):
        yield


#: The module numba's BLAS probe imports (``numba.np.linalg.ensure_blas``): ``import scipy.linalg`` and all it loads.
_BLAS_PROBE = "scipy.linalg.cython_blas"


def load_numba_registries() -> bool:
    """Load numba's CPU target registries now, with its BLAS probe answered "no BLAS" (``None`` in
    ``sys.modules`` makes that import fail at once), which saves ~0.2 CPU s of ``import scipy.linalg``.

    Only for processes that run no other numba code than seqconv's kernels (``seqconv scan``):
    afterwards numba's ``np.dot`` and ``np.linalg`` still find BLAS when they are compiled (they import
    scipy themselves then), but ``np.convolve`` and ``np.correlate`` take numba's plain loop.
    Does nothing when numba's registries or scipy.linalg are loaded already.  Returns whether it loaded
    them; any failure leaves the loading to numba's first call, as without this function.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules or _BLAS_PROBE in sys.modules:
        return False
    sys.modules[_BLAS_PROBE] = None
    try:
        cpu_target.target_context.refresh()
    except Exception:  # noqa: BLE001  (numba internals moved: its first call loads the registries itself)
        return False
    finally:
        if _BLAS_PROBE in sys.modules and sys.modules[_BLAS_PROBE] is None:
            del sys.modules[_BLAS_PROBE]
    return True
