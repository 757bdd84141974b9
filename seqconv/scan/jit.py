"""The one-time numba compile of seqconv's kernels: a notice on stderr while it happens.

numba compiles each kernel the first time it runs with new argument types and
caches the machine code (``cache=True``: in ``__pycache__`` next to the source,
or under ``NUMBA_CACHE_DIR``).  ``install.sh`` fills that cache with
``python -m seqconv.scan.warmup``; when it is empty (another install route, a
numba upgrade, a new cache folder) the first scan compiles for ~25 s of one
core, and :func:`compile_notice` says so once, on stderr, when numba starts
compiling one of seqconv's kernels (numba fires the ``numba:compile`` event only
for a cache miss, never for a cache load).
"""

from __future__ import annotations

import contextlib
import sys

from numba.core import event

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
