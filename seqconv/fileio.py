"""File helpers shared by every reader and writer.

Writing
    :func:`atomic_path` / :func:`atomic_open` (one file) and :func:`atomic_dir` (a folder of files)
    build the output under a temporary name and rename it into place only when the block succeeds,
    so a failed or interrupted run leaves nothing behind (temporary files and folders it created
    included).  An output that is one of the run's inputs (same inode) is refused; a symlink is
    written through (its target is replaced, the link stays); a character device or a pipe is
    written into, never replaced; ``-`` is standard output.  Full disks, read-only folders and
    permission problems become one :class:`~seqconv.errors.EnvError` naming the path.
    :class:`StreamWriter` writes a large file front to back keeping the page cache it fills bounded.

Reading
    :func:`open_text` reads plain or gzip text from a file, a pipe, process substitution
    (``<(zcat x.gz)``) or ``-`` (standard input); a truncated or corrupt gzip stream, bytes that are
    not UTF-8 and binary data (NUL bytes) raise :class:`~seqconv.errors.InputError` naming the file
    and line.

Input guard
    Within :func:`output_guard` (the CLI enters it for every command), every file read through
    :func:`open_text` or registered with :func:`note_input` is remembered, and writing any of them
    is refused.  Outside it (library use) only the ``inputs=`` given to the writers are checked,
    so a script may still read a file and deliberately rewrite it.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import errno
import functools
import gzip
import io
import os
import shutil
import stat
import sys
import tempfile
import zlib
from pathlib import Path

from seqconv.errors import EnvError, InputError

#: errno values that mean "the environment", reported as :class:`EnvError` (exit 2).
ENV_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
    errno.ENOTDIR: "a path component is not a folder",
    errno.EISDIR: "is a folder",
    errno.ENAMETOOLONG: "file name too long",
    errno.EIO: "input/output error",
}

STDIO = "-"

_inputs: contextvars.ContextVar = contextvars.ContextVar("seqconv_inputs", default=None)
_live_temps: set = set()
_display_names: dict = {}  # spooled copy of a stream -> the name the user gave ("<stdin>", "/dev/fd/63")


# ------------------------------------------------------------------ input guard

@contextlib.contextmanager
def output_guard():
    """Within this block every input read is remembered and refused as an output (see module docstring)."""
    token = _inputs.set({})
    try:
        yield
    finally:
        _inputs.reset(token)


def _file_id(path):
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None  # devices and pipes may be read and written (e.g. /dev/stdin, /dev/stdout)
    return (st.st_dev, st.st_ino)


def note_input(path) -> None:
    """Remember ``path`` as an input of the current run (inside :func:`output_guard`; else a no-op)."""
    reg = _inputs.get()
    if reg is None or path is None or str(path) == STDIO:
        return
    fid = _file_id(path)
    if fid is not None:
        reg.setdefault(fid, str(path))


def check_not_input(out, inputs=()) -> None:
    """Raise :class:`InputError` when ``out`` is the same file (inode) as a registered or given input."""
    if str(out) == STDIO:
        return
    fid = _file_id(out)
    if fid is None:
        return
    known = dict(_inputs.get() or {})
    for p in inputs or ():
        if p is not None and str(p) != STDIO:
            i = _file_id(p)
            if i is not None:
                known.setdefault(i, str(p))
    if fid in known:
        raise InputError(f"the output is the input file {known[fid]}; it would be overwritten: "
                         "choose another output path", path=out)


# ------------------------------------------------------------------ environment errors

def env_error(exc: OSError, path=None, *, action: str = "write") -> EnvError | None:
    """An :class:`EnvError` for an OSError caused by the environment (disk full, read-only ...), else None."""
    if not isinstance(exc, OSError) or exc.errno not in ENV_ERRNOS:
        return None
    target = exc.filename or path
    what = ENV_ERRNOS[exc.errno]
    hint = {errno.ENOSPC: "; free some space or write elsewhere",
            errno.EDQUOT: "; free some space or write elsewhere",
            errno.EROFS: "; write to another folder",
            errno.EACCES: "; check the permissions or write to another folder"}.get(exc.errno, "")
    return EnvError(f"cannot {action}: {what}{hint}", path=target)


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask sets it process-wide)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created (innermost last), to remove on failure."""
    made = []
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            _remove_dirs(made)
            raise (env_error(exc, d, action="create the output folder") or exc) from None
        made.append(d)
    return made


def _remove_dirs(made: list[Path]) -> None:
    for d in reversed(made):
        with contextlib.suppress(OSError):
            d.rmdir()


def _register(tmp) -> None:
    _live_temps.add(str(tmp))


def _unregister(tmp) -> None:
    _live_temps.discard(str(tmp))


def _new_temp(tmp_dir, prefix: str, suffix: str, *, folder: bool = False) -> str:
    """Create a fresh temporary file (``folder=False``, mode 0600) or folder (0700) and register it.

    The name is registered *before* the file exists, so a signal at any point of the creation leaves
    nothing the backstop (:func:`remove_live_temps`) does not know about (``tempfile.mkstemp`` creates the file
    and only then returns its name to Python code that a signal handler could interrupt).
    """
    tmp_dir = os.path.abspath(tmp_dir if tmp_dir is not None else tempfile.gettempdir())
    for _ in range(100):
        name = os.path.join(tmp_dir, f"{prefix}{os.urandom(5).hex()}{suffix}")
        _register(name)
        try:
            if folder:
                os.mkdir(name, 0o700)
                return name
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                return name
            finally:
                os.close(fd)
        except FileExistsError:
            _unregister(name)
        except BaseException:  # a signal may land after the creation: remove what may exist
            with contextlib.suppress(OSError):
                os.rmdir(name) if folder else os.unlink(name)
            _unregister(name)
            raise
    raise FileExistsError(errno.EEXIST, "no free temporary name", os.path.join(tmp_dir, prefix))


@contextlib.contextmanager
def scratch_file(tmp_dir, prefix: str, suffix: str):
    """Yield the name of a fresh, registered temporary file (mode 0600) in ``tmp_dir`` (None: the system's
    temporary folder); whatever lies at that name is removed when the block ends, normally or by an
    exception or signal (the signal backstop knows the name from before the file exists).  A block may
    rename the file away (``os.replace``) or delete it and let another program create it there.
    """
    tmp = _new_temp(tmp_dir, prefix, suffix)
    try:
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _unregister(tmp)


def remove_live_temps() -> list[str]:
    """Remove every temporary file/folder a writer of this process still holds (signal backstop)."""
    removed = []
    for p in sorted(_live_temps, reverse=True):
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(p)
        removed.append(p)
        _live_temps.discard(p)
    return removed


def output_kind(path) -> str:
    """How ``path`` would be written: ``"stdout"``, ``"stream"`` (device, pipe, socket) or ``"file"``."""
    if str(path) == STDIO:
        return "stdout"
    try:
        st = os.stat(path)  # follows symlinks
    except OSError:
        return "file"
    if stat.S_ISDIR(st.st_mode):
        raise InputError("the output is a folder, not a file", path=path)
    return "file" if stat.S_ISREG(st.st_mode) else "stream"


# ------------------------------------------------------------------ writers

@functools.cache
def _libc(name: str, *argtypes):
    """The C library's function ``name`` (returning int), looked up on first use, or None where it has none
    (not Linux, or an older C library)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)   # the process's own symbols: libc's included
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = list(argtypes), ctypes.c_int
    return fn


def _sync_file_range():
    return _libc("sync_file_range", ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)


def _fallocate():
    return _libc("fallocate", ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)


_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 1, 2
_SFR_WAIT_BEFORE, _SFR_WRITE, _SFR_WAIT_AFTER = 1, 2, 4


class StreamWriter:
    """Writes a binary file front to back (``write``, ``tell``) keeping the page cache it fills bounded.

    Every :attr:`WINDOW` bytes written, the writeback of that stretch is started and the stretch
    before it, once on disk, is dropped from the page cache (Linux ``sync_file_range`` +
    ``posix_fadvise(DONTNEED)``: the pattern of streaming writers such as ``dd oflag=nocache``).
    A genome-scale output (a 250 Mb scan writes ~3 GB of TSV) then holds ~2 windows of cache instead
    of growing it by gigabytes: on a memory-limited cluster job the cache counts against the job's
    limit, and on virtual machines that hand freed memory back to the host every new cache page
    costs a fault to the host (measured here: 2 GiB written in 8 MB calls, 6.1 CPU s plain, 0.8 with
    32 MB windows).  Elsewhere (not Linux, not a regular file, or the calls refused) it is a plain
    buffered write; the advice never changes what is written.
    """

    WINDOW = 32 << 20
    #: the most bytes handed to one write() call: larger calls cost the kernel 1.5-3x more CPU per byte here
    #: (300 MB in 8 MB calls 0.17-0.35 sys s, in 1 MB calls 0.11-0.15; the source no longer fits the CPU caches)
    CALL = 1 << 20

    def __init__(self, fh):
        self.fh = fh
        try:                            # a file object without a descriptor (io.BytesIO): plain writes
            self.fd = fh.fileno()
            regular = stat.S_ISREG(os.fstat(self.fd).st_mode)
            self.pos = fh.tell() if regular else 0
        except (OSError, AttributeError):
            self.fd, regular, self.pos = None, False, 0
        self.done = self.pos - self.pos % self.WINDOW     # stretches before this one are left as they are
        self.sync = _sync_file_range() if regular else None
        self.active = self.sync is not None

    def tell(self) -> int:
        return self.pos

    def write(self, data) -> int:
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        for at in range(0, view.nbytes, self.CALL):
            part = view[at:at + self.CALL]
            while part.nbytes:        # a raw file may take part of a call: the rest, in turn
                n = self.fh.write(part)
                if not n:
                    raise OSError(f"{getattr(self.fh, 'name', 'a file')}: a write took no bytes")
                part = part[n:]
                self.pos += n
            if self.active and self.pos - self.done >= self.WINDOW:
                self._advance()
        return view.nbytes

    def _advance(self) -> None:
        self.fh.flush()
        W = self.WINDOW
        while self.active and self.pos - self.done >= W:
            if self.sync(self.fd, self.done, W, _SFR_WRITE) != 0:
                self.active = False                 # refused (e.g. a file system without it): plain writes
                break
            if self.done >= W:
                self.sync(self.fd, self.done - W, W, _SFR_WAIT_BEFORE | _SFR_WRITE | _SFR_WAIT_AFTER)
                self.drop(self.done - W, W)
            self.done += W

    def drop(self, offset: int, size: int) -> None:
        """Drop ``size`` bytes from ``offset`` from the page cache (where active)."""
        if self.active:
            self.active = drop_page_cache(self.fd, offset, size)


def prefetch(fd: int, offset: int, size: int) -> None:
    """Advise the kernel to read bytes ``offset .. offset + size`` of the open file ``fd`` ahead
    (``posix_fadvise(WILLNEED)``, asynchronous); nothing where the advice is not available."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, size, os.POSIX_FADV_WILLNEED)


def release_range(fd: int, offset: int, size: int) -> bool:
    """Free the disk space (and cached pages) of bytes ``offset .. offset + size`` of the open file
    ``fd``, which then read as zeros (``fallocate(PUNCH_HOLE)``: a temporary file read once gives its
    space back as it is read); False where the file system or platform does not support it."""
    fallocate = _fallocate()
    if fallocate is None or size <= 0:
        return False
    return fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, size) == 0


def drop_page_cache(fd: int, offset: int, size: int) -> bool:
    """Advise the kernel to drop bytes ``offset .. offset + size`` of the open file ``fd`` from the page
    cache (``posix_fadvise(DONTNEED)``: data on disk stays, clean cached pages are freed); False where
    the advice is not available or refused."""
    if not hasattr(os, "posix_fadvise"):
        return False
    try:
        os.posix_fadvise(fd, offset, size, os.POSIX_FADV_DONTNEED)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def atomic_path(path, *, suffix: str | None = None, inputs=()):
    """Yield a temporary path; on success its content becomes ``path``.

    * a regular file (or a new path): the temporary file lies next to ``path`` and is renamed onto it;
    * a symlink: written through, the link's target is replaced and the link stays;
    * a character device, pipe or socket (``/dev/stdout``, ``/dev/null``, a FIFO): the content is
      copied into it at the end, the device is never replaced;
    * ``-``: the content is copied to standard output at the end.

    On any exception (signals included, see :class:`~seqconv.errors.Interrupted`) the temporary file
    and any folder created for the output are removed and ``path`` is untouched.  ``path`` being one
    of ``inputs`` (or of the inputs noted in an :func:`output_guard`) is refused before and after the
    block.  Environment errors (disk full, read-only folder ...) become :class:`EnvError`.
    """
    kind = output_kind(path)
    check_not_input(path, inputs)
    made: list[Path] = []
    if kind == "file":
        target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
        made = _make_parents(target.parent)
        tmp_dir, prefix = target.parent, f".{target.name}."
    else:
        target = Path(path)
        tmp_dir, prefix = None, "seqconv-out-"
    try:
        tmp = _new_temp(tmp_dir, prefix, suffix or ".tmp")
    except OSError as exc:
        _remove_dirs(made)
        raise (env_error(exc, target.parent, action="create a file in the output folder") or exc) from None
    try:
        yield Path(tmp)
        check_not_input(path, inputs)
        if kind == "file":
            # the temporary file is created 0600; give the output the mode a plain open() would (0666 & ~umask)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        elif kind == "stdout":
            sys.stdout.flush()
            with open(tmp, "rb") as src:
                shutil.copyfileobj(src, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with open(tmp, "rb") as src, open(target, "ab") as dst:
                shutil.copyfileobj(src, dst)
    except OSError as exc:
        _cleanup(tmp, made)
        err = env_error(exc, path)
        if err is None:
            raise
        raise err from None
    except BaseException:
        _cleanup(tmp, made)
        raise
    finally:
        _unregister(tmp)
        with contextlib.suppress(OSError):
            if kind != "file":
                os.unlink(tmp)


def _cleanup(tmp, made) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    _remove_dirs(made)


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", *, inputs=(), **kwargs):
    """Open a temporary file for writing; it becomes ``path`` only if the block succeeds (see :func:`atomic_path`)."""
    with atomic_path(path, inputs=inputs) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh


@contextlib.contextmanager
def atomic_dir(path, *, inputs=()):
    """Yield a temporary folder; on success its files appear in ``path`` together.

    A new ``path`` is one rename of the finished folder.  An existing folder keeps the files it
    has that the run does not write (a user's files are never deleted); each written file replaces
    its old version by a rename, after every file has been completed.  On failure the temporary
    folder (and any parent folder created for it) is removed.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("the output must be a folder, but a file of that name exists", path=path)
    check_not_input(path, inputs)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    made = _make_parents(target.parent)
    try:
        tmp = Path(_new_temp(target.parent, f".{target.name}.", ".tmp", folder=True))
    except OSError as exc:
        _remove_dirs(made)
        raise (env_error(exc, target.parent, action="create the output folder") or exc) from None
    try:
        yield tmp
        for p in tmp.rglob("*"):
            check_not_input(target / p.relative_to(tmp), inputs)
        mode = 0o777 & ~_umask()
        os.chmod(tmp, mode)
        if not target.exists():
            os.rename(tmp, target)
        else:
            _merge_into(tmp, target)
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_dirs(made)
        err = env_error(exc, path)
        if err is None:
            raise
        raise err from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_dirs(made)
        raise
    finally:
        _unregister(tmp)


def _merge_into(src: Path, dst: Path) -> None:
    for p in sorted(src.iterdir()):
        q = dst / p.name
        if p.is_dir() and q.is_dir():
            _merge_into(p, q)
        else:
            if q.is_dir() and not q.is_symlink():
                raise InputError("a folder is in the way of an output file", path=q)
            os.replace(p, q)


# ------------------------------------------------------------------ readers

class TextReader:
    """Lines of a (gzipped) text stream; decoding and gzip errors become :class:`InputError` naming the line.

    Iterate over it (lines keep their ``\\n``; ``\\r\\n`` and ``\\r`` are read as ``\\n``), or call
    :meth:`read`.  A context manager.
    """

    def __init__(self, raw, name: str, *, close_raw: bool = True):
        self.name = name
        self._raw = raw
        self._close_raw = close_raw
        buf = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
        try:
            magic = buf.peek(2)[:2]
        except OSError as exc:
            raise (env_error(exc, name, action="read") or exc) from None
        self.gzipped = magic == b"\x1f\x8b"
        self._bin = gzip.GzipFile(fileobj=buf, mode="rb") if self.gzipped else buf
        self.line = 0

    def __iter__(self):
        it = iter(self._bin)
        while True:
            try:
                raw = next(it)
            except StopIteration:
                return
            except Exception as exc:  # gzip / read errors, named below
                raise self._error(exc) from None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._error(exc) from None
            if "\r" in text:  # universal newlines: \r\n and lone \r end a line
                text = text.replace("\r\n", "\n")
                if "\r" in text:
                    for part in text.replace("\r", "\n").splitlines(keepends=True):
                        yield self._checked(part)
                    continue
            yield self._checked(text)

    def _checked(self, line: str) -> str:
        self.line += 1
        if "\x00" in line:
            raise InputError("binary data (a NUL byte): this is not a text file", path=self.name, line=self.line)
        return line

    def read(self) -> str:
        return "".join(self)

    def _error(self, exc) -> Exception:
        where = self.line + 1
        if isinstance(exc, UnicodeDecodeError):
            bad = exc.object[exc.start:exc.start + 1]
            return InputError(f"not UTF-8 text (byte 0x{bad.hex() if bad else '??'} at column {exc.start + 1}); "
                              "is this a binary file, or text in another encoding? Convert it to UTF-8",
                              path=self.name, line=where)
        if isinstance(exc, EOFError):
            return InputError("truncated gzip file: the compressed stream ends early (incomplete download "
                              "or copy?)", path=self.name, line=where)
        if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
            return InputError(f"corrupt gzip data ({exc})", path=self.name, line=where)
        if isinstance(exc, OSError):
            return env_error(exc, self.name, action="read") or InputError(f"cannot read ({exc})", path=self.name,
                                                                          line=where)
        return exc

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.gzipped:
                self._bin.close()  # closes the GzipFile only, not the file object under it
            if self._close_raw:
                self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def open_binary(path, *, what: str = "file"):
    """Open ``path`` (``-``: standard input) for binary reading; missing/unreadable -> :class:`InputError`."""
    if str(path) == STDIO:
        return sys.stdin.buffer, False
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"no such {what}", path=path) from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {what}", path=path) from None
    except OSError as exc:
        raise (env_error(exc, path, action="read") or InputError(f"cannot read ({exc})", path=path)) from None
    note_input(path)
    return fh, True


def open_text(path, *, what: str = "file") -> TextReader:
    """Open a text file for reading, transparently gunzipping gzip/bgzip data (see :class:`TextReader`).

    ``path`` may be a file, ``-`` (standard input), a pipe or a process substitution.
    """
    raw, close = open_binary(path, what=what)
    name = "<stdin>" if str(path) == STDIO else _display_names.get(str(path), str(path))
    try:
        return TextReader(raw, name, close_raw=close)
    except BaseException:
        if close:
            raw.close()
        raise


def display_name(path) -> str:
    """The name to show for ``path``: ``<stdin>`` for ``-`` or its spooled copy, the user's name for a spooled pipe."""
    return "<stdin>" if str(path) == STDIO else _display_names.get(str(path), str(path))


def with_display_names(text: str) -> str:
    """``text`` with the paths of spooled stream copies replaced by the names the user gave."""
    for spooled, shown in _display_names.items():
        text = text.replace(spooled, shown)
    return text


def is_stream(path) -> bool:
    """``-``, a pipe, a character device or a socket: readable once, no random access."""
    if str(path) == STDIO:
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def spool(path, folder, *, name: str | None = None) -> Path:
    """Copy a stream (``-``, pipe, device) into a regular file in ``folder``; returns the file."""
    raw, close = open_binary(path)
    dst = Path(folder) / (name or ("stdin" if str(path) == STDIO else Path(str(path)).name or "input"))
    try:
        with open(dst, "wb") as out:
            shutil.copyfileobj(raw, out, 1 << 20)
    except OSError as exc:
        raise (env_error(exc, dst, action="copy the input stream") or exc) from None
    finally:
        if close:
            raw.close()
    _display_names[str(dst)] = "<stdin>" if str(path) == STDIO else str(path)
    return dst
