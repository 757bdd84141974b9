"""Progress on stderr that suits a terminal and a log file alike.

On a terminal, a tqdm bar.  Anywhere else (a Snakemake or SLURM log, a pipe) a bar's thousands of
carriage-return refreshes would flood the file, so progress is a plain line now and then instead:
every ``every`` units when that is given (``scored 150000/240331 windows (62.4%), 3105 windows/s,
ETA 0:00:28``), else at most one line per ``interval`` seconds, and one last line at the end.

Every command's progress goes through :func:`progress_bar` (a tqdm-like object: ``update``, ``close``,
a context manager) or :func:`progress_iter`; a step of known length but no inner count is one
:func:`step_line`.  :func:`uncompiled_kernels` tells whether a numba module will compile on first use,
so a command can say so before a silent pause.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

#: Seconds between plain progress lines when no ``every`` is given.
DEFAULT_INTERVAL = 30.0


def on_terminal(stream=None) -> bool:
    """Whether ``stream`` (default ``sys.stderr``) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (as tqdm prints it)."""
    s = max(0, int(round(seconds)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _amount(n: float, unit_scale: bool) -> str:
    if not unit_scale:
        return f"{int(n)}" if float(n).is_integer() else f"{n:.3g}"
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.2f}{prefix}"
    return f"{int(n)}"


def _rate(rate: float, unit_scale: bool) -> str:
    if unit_scale and rate >= 1e3:
        return _amount(rate, True)
    return f"{rate:.0f}" if rate >= 100 else f"{rate:.3g}"


class LineProgress:
    """Progress as plain lines (no carriage returns): the non-terminal half of :func:`progress_bar`.

    Parameters
    ----------
    total : int, optional
        Units expected (gives a percentage and an ETA).
    desc : str
        The line's first word(s), e.g. ``"scored"``.
    unit : str
        Name of a unit, e.g. ``"windows"``.
    every : int, optional
        A line each time the count passes a multiple of this; default: time-based (``interval``).
    interval : float
        Seconds between lines when ``every`` is not given.
    unit_scale : bool
        Print counts as 1.25M, 50.0k.
    stream : file, optional
        Default ``sys.stderr``.
    clock : callable, optional
        Seconds (default ``time.perf_counter``; tests pass a fake clock).
    """

    def __init__(self, total: int | None = None, *, desc: str = "", unit: str = "it", every: int | None = None,
                 interval: float = DEFAULT_INTERVAL, unit_scale: bool = False, stream=None, clock=None):
        self.total = total if total else None
        self.desc, self.unit, self.unit_scale = desc, unit, unit_scale
        self.every = max(1, int(every)) if every else None
        self.interval = float(interval)
        self.stream = sys.stderr if stream is None else stream
        self._clock = clock or time.perf_counter
        self.n = 0
        self._t0 = self._clock()
        self._last_line_t = self._t0
        self._printed_at = 0          # count shown by the last line
        self._next = self.every       # count-based: the next count that prints
        self.closed = False

    def update(self, k: int = 1) -> None:
        """Add ``k`` units; print a line when one is due."""
        self.n += k
        if self.every is not None:
            if self.n >= self._next:
                self._line()
                self._next = (self.n // self.every + 1) * self.every
        elif self._clock() - self._last_line_t >= self.interval:
            self._line()

    def line(self) -> str:
        """The progress line for the current count."""
        elapsed = max(self._clock() - self._t0, 1e-9)
        rate = self.n / elapsed
        head = f"{self.desc} " if self.desc else ""
        amount = _amount(self.n, self.unit_scale)
        if self.total:
            text = (f"{head}{amount}/{_amount(self.total, self.unit_scale)} {self.unit} "
                    f"({100 * self.n / self.total:.1f}%)")
        else:
            text = f"{head}{amount} {self.unit}"
        text += f", {_rate(rate, self.unit_scale)} {self.unit}/s"
        text += f", {format_duration(elapsed)} elapsed"
        if self.total and self.n < self.total and rate > 0:
            text += f", ETA {format_duration((self.total - self.n) / rate)}"
        return text

    def _line(self) -> None:
        print(self.line(), file=self.stream, flush=True)
        self._printed_at = self.n
        self._last_line_t = self._clock()

    def close(self) -> None:
        """Print the final count unless the last line already showed it."""
        if not self.closed and self.n and self.n != self._printed_at:
            self._line()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Silent:
    """The disabled progress: counts, prints nothing."""

    def __init__(self):
        self.n = 0

    def update(self, k: int = 1) -> None:
        self.n += k

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress_bar(total: int | None = None, *, desc: str = "", unit: str = "it", enabled: bool = True,
                 every: int | None = None, interval: float = DEFAULT_INTERVAL, unit_scale: bool = False,
                 leave: bool = False, stream=None):
    """A progress counter: a tqdm bar on a terminal, :class:`LineProgress` lines elsewhere, nothing if disabled.

    Parameters as in :class:`LineProgress`; ``leave`` keeps the terminal bar after it finishes.

    Returns
    -------
    object with ``update(k)``, ``close()`` and ``n``; usable as a context manager.
    """
    if not enabled:
        return _Silent()
    stream = sys.stderr if stream is None else stream
    if on_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc or None, unit=f" {unit}" if not unit_scale else unit,
                    unit_scale=unit_scale, leave=leave, mininterval=0.5, file=stream)
    return LineProgress(total, desc=desc, unit=unit, every=every, interval=interval, unit_scale=unit_scale,
                        stream=stream)


def progress_iter(iterable: Iterable, total: int | None = None, **kwargs) -> Iterator:
    """Iterate over ``iterable``, counting one unit per item with :func:`progress_bar` (same keywords)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    bar = progress_bar(total, **kwargs)
    try:
        for item in iterable:
            yield item
            bar.update(1)
    finally:
        bar.close()


def step_line(message: str, *, enabled: bool = True, stream=None) -> None:
    """One line for one step of a command (``drawing the summary sheet of 32 motifs``)."""
    if enabled:
        print(message, file=sys.stderr if stream is None else stream, flush=True)


def uncompiled_kernels(module, names=None) -> list[str]:
    """Names of ``module``'s cached numba functions (``@njit(cache=True)``) with no usable on-disk cache.

    ``names`` limits the check to the functions every run calls (a kernel used only by some options, or
    only inlined into others, is compiled or cached only when it is used).

    Non-empty means the first call compiles them (seconds to a minute, once per install or source change),
    so a command says so before that pause.  Uses numba's cache index (the same check numba makes: an index
    written for another version of the source does not count); returns ``[]`` if numba's cache layout is
    not the one expected (a message is then merely skipped).
    """
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:
        return []
    missing = []
    for name, obj in vars(module).items():
        if not isinstance(obj, CPUDispatcher) or (names is not None and name not in names):
            continue
        cache = getattr(obj, "_cache", None)
        cache_file = getattr(cache, "_cache_file", None)
        if cache_file is None:  # NullCache: not cached to disk, nothing to say
            continue
        try:
            if not cache_file._load_index():
                missing.append(name)
        except Exception:  # numba internals differ: say nothing rather than fail a scan
            return []
    return missing
