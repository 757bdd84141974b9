"""Shared pieces of the CLI: the group, error handling, logging to stderr."""

from __future__ import annotations

import functools
import sys

import click

from seqconv import __version__
from seqconv.errors import InputError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"seqconv: error: {exc}", err=True)
            ctx.exit(2)
        except FileNotFoundError as exc:
            click.echo(f"seqconv: error: file not found: {exc.filename or exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seqconv")
def main():
    """seqconv: predict where transcription factors bind DNA.

    \b
    Typical run:
      seqconv prepare --peaks peaks.narrowPeak --genome genome.fa --out ds.parquet
      seqconv train --data ds.parquet --arch basset --out model/
      seqconv predict --model model/ input.fa
    """


def log(message: str, *, quiet: bool = False) -> None:
    """Print a progress/log line on stderr unless ``quiet``."""
    if not quiet:
        click.echo(message, err=True)


def quiet_option(f):
    """The ``--quiet`` flag every long-running command takes."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar or log lines on stderr.")(f)


def user_errors(f):
    """Decorator: turn ValueError from the API into exit code 2 with a clear message."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except InputError:
            raise
        except ValueError as exc:
            click.echo(f"seqconv: error: {exc}", err=True)
            sys.exit(2)

    return wrapper
