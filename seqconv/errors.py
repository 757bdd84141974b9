"""Error types of seqconv, and which exit code each gets on the command line.

======================  =========  ============================================
type                    exit code  meaning
======================  =========  ============================================
:class:`InputError`     2          a user mistake: bad file, record, option
:class:`EnvError`       2          the environment: disk full, read-only or
                                   unreadable folder, a stream where a file is
                                   needed (subclass of InputError)
:class:`Interrupted`    128 + sig  SIGTERM / SIGHUP / SIGINT during a run;
                                   partial outputs are removed
:class:`InternalError`  1          a bug in seqconv: "please report", the
                                   traceback only under ``seqconv --debug``
any other exception     1          treated as an internal error
======================  =========  ============================================

The mapping to exit codes lives in one place, :mod:`seqconv.cli._common`.
Library callers can catch :class:`InputError` as a ``ValueError``.
"""

from __future__ import annotations


class SeqconvError(Exception):
    """Base class of every error seqconv raises on purpose."""


class InputError(SeqconvError, ValueError):
    """A problem with user input: names the file, record/line and position.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str, optional
        The file concerned.
    line : int, optional
        1-based line number in ``path``.
    """

    def __init__(self, message: str, *, path=None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.message = message
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


class EnvError(InputError):
    """The environment stops the run (disk full, permission denied, read-only file system ...)."""


class InternalError(SeqconvError, RuntimeError):
    """A bug in seqconv (an invariant broken); exit code 1 with a request to report it."""


class Interrupted(BaseException):
    """Raised from a SIGTERM/SIGHUP/SIGINT handler so that every ``finally``/context manager cleans up.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int):
        import signal

        self.signum = int(signum)
        try:
            self.name = signal.Signals(signum).name
        except ValueError:
            self.name = f"signal {signum}"
        super().__init__(f"interrupted by {self.name}")
