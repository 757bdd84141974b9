"""The ``seqconv`` command line: a thin layer over the Python API.

Each command lives in its own module in this package and registers itself on
:data:`main`.  User mistakes (:class:`seqconv.errors.InputError`, missing files)
print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import importlib

from seqconv.threads import apply_cli_policy

apply_cli_policy()  # before the command modules import torch (see seqconv.threads)

from seqconv.cli._common import main  # noqa: E402

# command modules, imported for their @main.command registrations
_COMMANDS = ["prepare", "train", "finetune", "predict", "evaluate", "describe", "models", "scan", "motifs",
             "report", "ensemble", "workflow"]

for _name in _COMMANDS:
    importlib.import_module(f"seqconv.cli.{_name}")

__all__ = ["main"]
