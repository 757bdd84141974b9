"""Shared pieces of the CLI: the group, THE mapping of errors to exit codes, signals, option types.

Exit codes (the only place they are decided, :meth:`_Group.invoke`):

* 0 success;
* 2 a user or environment problem (:class:`~seqconv.errors.InputError`, :class:`~seqconv.errors.EnvError`,
  a full disk / read-only folder / permission error, a missing file, a bad option value);
* 1 an internal error (a bug): a short "please report" message, the traceback only under
  ``seqconv --debug`` (or ``SEQCONV_DEBUG=1``);
* 128 + N after signal N (SIGTERM 143, SIGHUP 129, SIGINT 130): temporary files are removed first;
* 141 when standard output is closed early (``seqconv predict ... | head``), silently.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import importlib
import io
import math
import os
import signal
import sys
import tempfile
import traceback
import zlib
from collections.abc import MutableMapping
from pathlib import Path

import click

from seqconv import __version__
from seqconv.errors import InputError, InternalError, Interrupted
from seqconv.fileio import (
    STDIO,
    check_not_input,
    env_error,
    is_stream,
    note_input,
    output_guard,
    remove_live_temps,
    spool,
    with_display_names,
)

#: Transitional (until these modules raise InputError themselves): a ValueError/TypeError raised directly by
#: the option/config validation of these modules is a user error (exit 2), and so is any ValueError, TypeError
#: or RuntimeError raised while a model is built from a user's configuration (``--arch-option``,
#: ``describe --length``: torch reports an impossible layer size).  Any other such error is a bug (exit 1).
_VALIDATING_MODULES = ("seqconv.models.architectures", "seqconv.models.heads", "seqconv.models.blocks",
                       "seqconv.train", "seqconv.encode", "seqconv.motifs.core")
_MODEL_BUILDERS = ("build_model", "get_config", "config_from_dict")

_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


def _frames(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _config_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from validating options or building a model from a user's configuration."""
    frames = list(_frames(exc))
    if not frames:
        return False
    last = frames[-1]
    if isinstance(exc, (ValueError, TypeError)) and last.f_globals.get("__name__", "") in _VALIDATING_MODULES:
        return True
    return isinstance(exc, (ValueError, TypeError, RuntimeError)) and any(
        f.f_globals.get("__name__", "").startswith("seqconv.models") and f.f_code.co_name in _MODEL_BUILDERS
        for f in frames)


def _damaged_input(exc: BaseException) -> str | None:
    """A message for a truncated/corrupt gzip or undecodable input met by a reader that does not name it
    (readers going through :func:`seqconv.fileio.open_text` raise InputError themselves)."""
    if isinstance(exc, EOFError):
        what = "truncated gzip input: the compressed stream ends early (incomplete download or copy?)"
    elif isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        what = f"corrupt gzip input ({exc})"
    elif isinstance(exc, UnicodeDecodeError):
        what = f"input is not UTF-8 text ({exc.reason} at byte {exc.start})"
    else:
        return None
    for frame in reversed(list(_frames(exc))):  # name the file the failing reader had open
        for key in ("path", "source", "filename"):
            value = frame.f_locals.get(key)
            if isinstance(value, (str, os.PathLike)) and os.path.exists(value):
                return f"{os.fspath(value)}: {what}"
    return what


def classify(exc: BaseException) -> tuple[int, str]:
    """``(exit code, message)`` for an exception escaping a command (see the module docstring)."""
    code, message = _classify(exc)
    return code, with_display_names(message)


def _classify(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, InputError):
        return 2, str(exc)
    damaged = _damaged_input(exc)
    if damaged is not None:
        return 2, damaged
    if isinstance(exc, FileNotFoundError):
        return 2, f"{exc.filename or exc}: no such file or folder"
    if isinstance(exc, OSError):
        err = env_error(exc)
        if err is not None:
            return 2, str(err)
    if isinstance(exc, MemoryError):
        return 2, "out of memory; use a smaller --batch-size or a smaller input"
    if _config_error(exc):
        return 2, f"invalid model configuration: {exc}"
    what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, InternalError) else str(exc)
    return 1, (f"internal error: {what}\nThis is a bug in seqconv {__version__}, not a problem with your input; "
               "please report it with the command line (rerun as `seqconv --debug ...` for the traceback).")


def _debug_wanted(ctx) -> bool:
    return bool((ctx.obj or {}).get("debug")) or os.environ.get("SEQCONV_DEBUG", "") not in ("", "0")


@contextlib.contextmanager
def _signals_raise():
    """SIGTERM/SIGHUP raise :class:`Interrupted` in the main thread, so cleanups run; restored afterwards."""
    def handler(signum, frame):
        for s in _SIGNALS:  # a second signal must not interrupt the cleanup
            with contextlib.suppress(ValueError, OSError):
                signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    old = {}
    for s in _SIGNALS:
        try:
            old[s] = signal.signal(s, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for s, h in old.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(s, h)


#: Each command's module (imported for its ``@main.command`` registration when the command is first looked up).
COMMAND_MODULES = {"prepare": "prepare", "train": "train", "finetune": "finetune", "predict": "predict",
                   "merge-tracks": "predict", "evaluate": "evaluate", "describe": "describe", "models": "models",
                   "scan": "scan", "motifs": "motifs", "report": "report", "ensemble": "ensemble",
                   "workflow": "workflow"}


class _LazyCommands(MutableMapping):
    """The group's commands, each command's module imported the first time its name is looked up.

    ``seqconv scan`` then imports the scan command only (not torch, which ``train`` needs: ~2 s of
    start-up); listing the commands (``seqconv --help``, iterating) imports them all.
    """

    def __init__(self, modules: dict[str, str]):
        self._modules = dict(modules)
        self._commands: dict[str, click.Command] = {}

    def _load(self, name: str) -> None:
        module = self._modules.get(name)
        if module is not None and name not in self._commands:
            importlib.import_module(f"seqconv.cli.{module}")

    def _load_all(self) -> None:
        for name in self._modules:
            self._load(name)

    def __getitem__(self, name: str) -> click.Command:
        self._load(name)
        return self._commands[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        self._modules.pop(name, None)
        del self._commands[name]

    def __contains__(self, name) -> bool:
        self._load(name)
        return name in self._commands

    def __iter__(self):
        self._load_all()
        return iter(self._commands)

    def __len__(self) -> int:
        self._load_all()
        return len(self._commands)


class _Group(click.Group):
    def invoke(self, ctx):
        ctx.ensure_object(dict)
        with output_guard(), _signals_raise():
            try:
                return super().invoke(ctx)
            except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
                raise
            except BrokenPipeError:
                remove_live_temps()
                with contextlib.suppress(OSError):
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                ctx.exit(141)
            except (Interrupted, KeyboardInterrupt) as exc:
                signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
                name = exc.name if isinstance(exc, Interrupted) else "SIGINT"
                removed = remove_live_temps()
                click.echo(f"seqconv: interrupted by {name}; no output was written"
                           + (f" ({len(removed)} temporary file(s) removed)" if removed else ""), err=True)
                ctx.exit(128 + int(signum))
            except Exception as exc:
                remove_live_temps()
                code, message = classify(exc)
                if code == 1 and _debug_wanted(ctx):
                    click.echo("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), err=True)
                click.echo(f"seqconv: error: {message}", err=True)
                ctx.exit(code)


@click.group(cls=_Group, commands=_LazyCommands(COMMAND_MODULES),
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seqconv")
@click.option("--debug", is_flag=True, help="On an internal error, print the full traceback.")
@click.pass_context
def main(ctx, debug):
    """seqconv: predict where transcription factors bind DNA.

    \b
    Typical run (on the yeast excerpt in a clone's data/):
      seqconv prepare --peaks data/yeast/Reb1_CX.bed.gz --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz \\
          --width 101 --out reb1.parquet
      seqconv train --data reb1.parquet --arch basset --batch-size 32 --out reb1_model
      seqconv predict --model reb1_model data/example_yeast_reb1_test.fa

    Exit codes: 0 success, 2 bad input or environment (disk full, read-only
    folder ...), 1 internal error (please report), 128+N after signal N.
    """
    ctx.ensure_object(dict)["debug"] = debug


def log(message: str, *, quiet: bool = False) -> None:
    """Print a progress/log line on stderr unless ``quiet``."""
    if not quiet:
        click.echo(message, err=True)


def quiet_option(f):
    """The ``--quiet`` flag every long-running command takes."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar or log lines on stderr.")(f)


def user_errors(f):
    """Kept for the commands' decorators; errors are mapped to exit codes in :class:`_Group` alone."""
    return f


# ------------------------------------------------------------------ option types and callbacks


class InputFile(click.ParamType):
    """A file read by a command: ``-`` or a pipe/process substitution is accepted.

    Parameters
    ----------
    what : str
        What the file is, for messages ("BED file", "genome FASTA file" ...).
    spool : bool
        Copy a stream (``-``, pipe, device) into a temporary regular file removed when the command
        ends, for consumers that need random access or a real file (genome FASTA, ``scan``).
        Without it the path is passed on as given (the parsers read streams directly).

    The file is registered as an input of the run, so no output may overwrite it.
    """

    name = "file"

    def __init__(self, *, spool: bool = False, what: str = "file"):
        self.spool = spool
        self.what = what

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, Path) and not str(value):
            return value
        text = os.fspath(value)
        if text != STDIO and os.path.isdir(text):
            self.fail(f"{text!r} is a folder, not a {self.what}", param, ctx)
        if text != STDIO and not os.path.exists(text):
            self.fail(f"{text}: no such {self.what}", param, ctx)
        if self.spool and is_stream(text):
            folder = _run_tempdir(ctx)
            base = "stdin" if text == STDIO else (Path(text).name or "input")
            n = len(os.listdir(folder))
            return str(spool(text, folder, name=f"{n}-{base}"))
        note_input(text)
        if ctx is not None:
            for out in ctx.find_root().ensure_object(dict).get("outputs", ()):
                try:
                    check_not_input(out, [text])
                except InputError as exc:
                    self.fail(str(exc), param, ctx)
        return text


class OutputFile(click.ParamType):
    """A file written by a command.

    Parameters
    ----------
    stdout_ok : bool
        ``-`` (and ``/dev/stdout`` or any path that is this process's standard output) becomes
        ``None``, the command's "write to standard output".
    """

    name = "file"

    def __init__(self, *, stdout_ok: bool = False):
        self.stdout_ok = stdout_ok

    def convert(self, value, param, ctx):
        if value is None:
            return None
        text = os.fspath(value)
        if self.stdout_ok and (text == STDIO or _is_stdout(text)):
            return None
        if text == STDIO:
            self.fail("this output cannot be standard output ('-'); give a file name", param, ctx)
        if os.path.isdir(text):
            self.fail(f"{text!r} is a folder; give a file name", param, ctx)
        try:
            check_not_input(text)
        except InputError as exc:
            self.fail(str(exc), param, ctx)
        if ctx is not None:
            ctx.find_root().ensure_object(dict).setdefault("outputs", []).append(text)
        return text


def _is_stdout(path: str) -> bool:
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


def _run_tempdir(ctx) -> str:
    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if "tempdir" not in obj:
        try:
            tmp = tempfile.TemporaryDirectory(prefix="seqconv-in-", ignore_cleanup_errors=True)
        except OSError as exc:
            raise (env_error(exc, tempfile.gettempdir(), action="create a temporary folder") or exc) from None
        obj["tempdir"] = tmp
        root.call_on_close(tmp.cleanup)
        from seqconv import fileio

        fileio._register(tmp.name)
    return obj["tempdir"].name


class FiniteFloat(click.ParamType):
    """A finite float (no NaN/inf) in ``[min, max]`` (bounds optional; ``min_open``/``max_open`` exclude them)."""

    name = "float"

    def __init__(self, min=None, max=None, *, min_open=False, max_open=False):
        self.min, self.max, self.min_open, self.max_open = min, max, min_open, max_open

    def _range(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f"{'>' if self.min_open else '>='} {self.min:g}")
        if self.max is not None:
            parts.append(f"{'<' if self.max_open else '<='} {self.max:g}")
        return "a finite number" + (" " + " and ".join(parts) if parts else "")

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value) and self._ok(value):
            return value
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number; expected {self._range()}", param, ctx)
        if not math.isfinite(v) or not self._ok(v):
            self.fail(f"{value!r} is not allowed; expected {self._range()}", param, ctx)
        return v

    def _ok(self, v: float) -> bool:
        if self.min is not None and (v <= self.min if self.min_open else v < self.min):
            return False
        if self.max is not None and (v >= self.max if self.max_open else v > self.max):
            return False
        return True


def check_device(ctx, param, value):
    """Click callback for ``--device``: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and it must exist."""
    if value is None:
        return None
    import re

    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", value.strip()):
        raise click.BadParameter(f"{value!r} is not a device; use cpu, cuda, cuda:N or mps", ctx=ctx, param=param)
    import torch

    value = value.strip()
    if value.startswith("cuda"):
        if not torch.cuda.is_available():
            raise click.BadParameter(f"{value!r}: no CUDA device is present; use --device cpu", ctx=ctx, param=param)
        if ":" in value and int(value.split(":")[1]) >= torch.cuda.device_count():
            raise click.BadParameter(f"{value!r}: only {torch.cuda.device_count()} CUDA device(s) "
                                     f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})", ctx=ctx, param=param)
    if value == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise click.BadParameter("'mps': MPS is not available; use --device cpu", ctx=ctx, param=param)
    return value


_POSITIVE_KEYS = ("filters", "kernel", "widths", "dilations", "n_tasks", "input_length")


def check_arch_options(ctx, param, values):
    """Click callback for ``--arch-option KEY=VALUE``: the form, finite numbers, sizes >= 1 (0 where a
    size may be switched off, e.g. ``pool_size``), dropout in [0, 1).  The architecture checks the keys."""
    import json

    for pair in values or ():
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE, e.g. filters=[32,64,64]", ctx=ctx, param=param)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a string value (e.g. global_pool=avg), checked by the architecture
        items = value if isinstance(value, list) else [value]
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                if isinstance(v, (list, dict)) or v is None:
                    raise click.BadParameter(f"{pair!r}: expected a number or a list of numbers",
                                             ctx=ctx, param=param)
                continue
            if not math.isfinite(v):
                raise click.BadParameter(f"{pair!r}: {v} is not a finite number", ctx=ctx, param=param)
            if "dropout" in key:
                if not 0 <= v < 1:
                    raise click.BadParameter(f"{pair!r}: a dropout rate must be in [0, 1)", ctx=ctx, param=param)
            elif isinstance(v, float) and not v.is_integer():
                raise click.BadParameter(f"{pair!r}: {key} takes whole numbers", ctx=ctx, param=param)
            elif v < (1 if any(k in key for k in _POSITIVE_KEYS) else 0):
                low = 1 if any(k in key for k in _POSITIVE_KEYS) else 0
                raise click.BadParameter(f"{pair!r}: {key} must be >= {low}", ctx=ctx, param=param)
    return values


def chrom_alias_option(f):
    """``--chrom-alias`` for commands that read a genome (see :func:`seqconv.genome.parse_chrom_alias`)."""
    return click.option(
        "--chrom-alias", "chrom_alias", default=None, metavar="auto|FILE|A=B,...",
        help="Map chromosome names of the intervals to the genome's: 'auto' (add/drop a 'chr' prefix, "
             "chrM<->MT), a two-column file (name in the intervals, name in the genome) or A=B pairs.")(f)


# ------------------------------------------------------------------ the shared vocabulary of options


class AliasOption(click.Option):
    """A click option that also accepts older spellings (``hidden_aliases``) without showing them in ``--help``.

    Old command lines keep working (``--thresh 1e-5`` is ``--threshold 1e-5``); the help, and the
    consistency test (tests/test_cli_consistency.py), see only :attr:`visible_opts`.
    """

    def __init__(self, param_decls=None, *, hidden_aliases=(), **kwargs):
        self.hidden_aliases = tuple(hidden_aliases)
        super().__init__(list(param_decls or ()) + list(self.hidden_aliases), **kwargs)

    @property
    def visible_opts(self) -> list[str]:
        """The option strings shown in ``--help`` (every spelling but the hidden aliases)."""
        return [o for o in self.opts + self.secondary_opts if o not in self.hidden_aliases]

    def get_help_record(self, ctx):
        opts = self.opts
        self.opts = [o for o in opts if o not in self.hidden_aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


class ConfigOption(AliasOption):
    """An :class:`AliasOption` whose default is a field of a config dataclass, read when first needed.

    ``config`` is ``"module:Class.field"``; the module is imported only when the command runs or its
    ``--help`` is shown, so ``seqconv --help`` and the other commands do not pay for its imports.
    """

    def __init__(self, param_decls=None, *, config: str, **kwargs):
        self.config = config
        super().__init__(param_decls, **kwargs)

    def config_default(self):
        """The field's default in the config dataclass."""
        import dataclasses
        import importlib

        module, _, attr = self.config.partition(":")
        cls_name, _, field = attr.partition(".")
        cls = getattr(importlib.import_module(module), cls_name)
        return {f.name: f.default for f in dataclasses.fields(cls)}[field]

    def get_default(self, ctx, call=True):
        return self.config_default()


def option(*param_decls, aliases=(), config: str | None = None, **kwargs):
    """``click.option`` whose ``aliases`` (old spellings that shipped) are accepted but hidden from ``--help``.

    ``config="module:Class.field"``: the default is that config dataclass field's (see :class:`ConfigOption`).
    """
    if config is not None:
        return click.option(*param_decls, cls=ConfigOption, hidden_aliases=aliases, config=config, **kwargs)
    return click.option(*param_decls, cls=AliasOption, hidden_aliases=aliases, **kwargs)


def out_option(*, help: str, **kwargs):
    """``-o/--out``, the one name of every command's output (file, folder or prefix: see ``help``)."""
    return click.option("--out", "-o", "out", help=help, **kwargs)


DEVICE_HELP = "Torch device: cpu, cuda, cuda:N or mps (default: cpu, also when a GPU is present)."
THREADS_HELP = ("CPU threads for torch (default: $OMP_NUM_THREADS, else the cores this process may run on, e.g. "
                "its taskset/Slurm allocation). Idle threads sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE "
                "unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set), so runs sharing the cores do not burn each "
                "other's CPU time. Results can differ in the last digits between thread counts.")


def _device_cpu_default(ctx, param, value):
    """:func:`check_device`, with no ``--device`` meaning the CPU (for APIs whose own default is the GPU)."""
    return check_device(ctx, param, value) or "cpu"


def device_option(*, help: str = DEVICE_HELP, cpu_when_unset: bool = False):
    """``--device`` (default None: the CPU) checked by :func:`check_device`.

    ``cpu_when_unset`` passes ``"cpu"`` on when the option is not given, for commands whose Python API
    picks CUDA by itself when the option is None (``seqconv scan``).
    """
    return click.option("--device", default=None, help=help,
                        callback=_device_cpu_default if cpu_when_unset else check_device)


def threads_option(*, help: str = THREADS_HELP):
    """``--threads N`` (default None: ``OMP_NUM_THREADS``, which the CLI sets to the available cores; see
    :mod:`seqconv.threads`)."""
    return click.option("--threads", default=None, type=click.IntRange(min=1), help=help)


def fasta_input(*, type, help: str):
    """The input FASTA of ``predict`` and ``scan``: a positional ``[FASTA]`` or ``--fasta FILE`` (not both).

    Both reach the command as its ``fasta`` parameter.
    """
    def deco(f):
        @functools.wraps(f)
        def command(*args, fasta_arg=None, **kwargs):
            if fasta_arg is not None:
                if kwargs.get("fasta") is not None:
                    raise click.UsageError("give the FASTA file once: as an argument or with --fasta, not both")
                kwargs["fasta"] = fasta_arg
            return f(*args, **kwargs)

        command = click.option("--fasta", "fasta", default=None, type=type, help=help)(command)
        return click.argument("fasta_arg", metavar="[FASTA]", required=False, type=type)(command)
    return deco


__all__ = ["main", "log", "quiet_option", "user_errors", "InputFile", "OutputFile", "FiniteFloat", "check_device",
           "check_arch_options",
           "chrom_alias_option", "classify", "AliasOption", "option", "out_option", "device_option",
           "threads_option", "fasta_input", "ConfigOption", "DEVICE_HELP", "THREADS_HELP"]
