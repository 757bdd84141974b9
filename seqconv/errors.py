"""Errors raised for user mistakes (bad files, bad options).

The CLI turns :class:`InputError` into a one-line message on stderr and exit
code 2, never a traceback.  Library callers can catch it as a ``ValueError``.
"""

from __future__ import annotations


class InputError(ValueError):
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
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)
