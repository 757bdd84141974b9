"""The ``seqconv`` command line: a thin layer over the Python API.

Each command lives in its own module in this package and registers itself on
:data:`main`; a command's module is imported when the command is first looked up
(:data:`seqconv.cli._common.COMMAND_MODULES`), so ``seqconv scan`` never imports torch.
User mistakes (:class:`seqconv.errors.InputError`, missing files) print one line on
stderr and exit with code 2.
"""

from __future__ import annotations

from seqconv.threads import apply_cli_policy

apply_cli_policy()  # before a command module imports torch (see seqconv.threads)

from seqconv.cli._common import main  # noqa: E402

__all__ = ["main"]
