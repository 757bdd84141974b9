"""Atomic writes: outputs appear whole or not at all, with the permissions a plain open() gives."""

import errno as _errno
import gzip
import io
import os
import stat
import sys
import threading

import numpy as np
import pytest

from seqconv import fileio
from seqconv.errors import EnvError, InputError
from seqconv.fileio import (
    StreamWriter,
    atomic_dir,
    atomic_open,
    atomic_path,
    check_not_input,
    env_error,
    note_input,
    open_text,
    output_guard,
    release_range,
    remove_live_temps,
    scratch_file,
    spool,
)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_output_has_plain_open_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with open(tmp_path / "plain.txt", "w") as fh:
            fh.write("x")
        with atomic_open(tmp_path / "atomic.txt") as fh:
            fh.write("x")
        assert _mode(tmp_path / "atomic.txt") == _mode(tmp_path / "plain.txt") == 0o644
        os.umask(0o077)
        with atomic_path(tmp_path / "private.txt") as tmp:
            tmp.write_text("y")
        assert _mode(tmp_path / "private.txt") == 0o600
    finally:
        os.umask(old)


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    out = tmp_path / "out.tsv"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(out) as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv"]


def test_open_text_reads_plain_and_gzip(tmp_path):
    (tmp_path / "a.txt").write_text(">s\nACGT\n")
    with gzip.open(tmp_path / "b.fa.gz", "wt") as fh:
        fh.write(">s\nACGT\n")
    with gzip.open(tmp_path / "c.fa", "wt") as fh:   # gzip without the .gz suffix
        fh.write(">s\nACGT\n")
    for name in ("a.txt", "b.fa.gz", "c.fa"):
        with open_text(tmp_path / name) as fh:
            assert fh.read() == ">s\nACGT\n"


# ---------------------------------------------------------------- write-through, guard, folders

def test_symlink_output_is_written_through_and_kept(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "t.tsv"
    target.write_text("old\n")
    link = tmp_path / "l.tsv"
    link.symlink_to(target)
    with atomic_open(link) as fh:
        fh.write("new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["t.tsv"]  # temp file was next to the target
    dangling = tmp_path / "d.tsv"
    dangling.symlink_to(tmp_path / "real" / "new.tsv")
    with atomic_open(dangling) as fh:
        fh.write("x")
    assert dangling.is_symlink() and (tmp_path / "real" / "new.tsv").read_text() == "x"


def test_character_device_is_written_into_not_replaced():
    before = os.stat("/dev/null")
    with atomic_open("/dev/null") as fh:
        fh.write("discarded\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


def test_fifo_is_written_into(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    with atomic_open(fifo) as fh:
        fh.write("through the pipe\n")
    reader.join(10)
    assert got == ["through the pipe\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_dash_is_stdout(capfdbinary, monkeypatch):
    with atomic_open("-") as fh:
        fh.write("to stdout\n")
    assert capfdbinary.readouterr().out == b"to stdout\n"


def test_output_guard_refuses_an_input_and_only_inside_the_guard(tmp_path):
    src = tmp_path / "in.fa"
    src.write_text(">a\nACGT\n")
    hard = tmp_path / "hard.fa"
    os.link(src, hard)
    with output_guard():
        with open_text(src) as fh:
            fh.read()
        for out in (src, hard):
            with pytest.raises(InputError, match="is the input file"):
                with atomic_open(out) as fh:
                    fh.write("x")
        assert src.read_text() == ">a\nACGT\n"
        with atomic_open(tmp_path / "other.tsv") as fh:  # anything else is fine
            fh.write("ok")
    with open_text(src) as fh:   # library use: read, then rewrite on purpose
        text = fh.read()
    with atomic_open(src) as fh:
        fh.write(text.lower())
    assert src.read_text() == ">a\nacgt\n" and hard.read_text() == ">a\nACGT\n"  # a new inode; the link keeps the old
    os.link(src, tmp_path / "hard2.fa")
    with pytest.raises(InputError, match="is the input file"):
        check_not_input(tmp_path / "hard2.fa", inputs=[src])


def test_input_read_during_the_write_is_caught_at_rename(tmp_path):
    src = tmp_path / "x.tsv"
    src.write_text("a\n")
    with output_guard():
        with pytest.raises(InputError, match="is the input file"):
            with atomic_open(src) as fh:
                note_input(src)  # e.g. a streamed input opened after the output
                fh.write("b\n")
    assert src.read_text() == "a\n" and sorted(p.name for p in tmp_path.iterdir()) == ["x.tsv"]


def test_failed_write_removes_the_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "a" / "b" / "o.tsv") as fh:
            fh.write("x")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_disk_full_becomes_env_error_and_leaves_nothing(tmp_path):
    with pytest.raises(EnvError, match="o.tsv: cannot write: no space left on device"):
        with atomic_path(tmp_path / "o.tsv") as tmp:
            tmp.write_text("half")
            raise OSError(_errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EnvError, match="no space left"):
        with atomic_open("/dev/full") as fh:
            fh.write("x" * 10000)
    assert env_error(OSError(_errno.EROFS, "x"), "f").args[0].startswith("f: cannot write: read-only file system")
    assert env_error(OSError(_errno.EINVAL, "x"), "f") is None


def test_atomic_dir_new_existing_and_failed(tmp_path):
    out = tmp_path / "report"
    with atomic_dir(out) as d:
        (d / "a.tsv").write_text("1")
        (d / "sub").mkdir()
        (d / "sub" / "b.png").write_bytes(b"png")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.tsv", "sub", "sub/b.png"]
    (out / "mine.txt").write_text("user file")
    with atomic_dir(out) as d:
        (d / "a.tsv").write_text("2")
    assert (out / "a.tsv").read_text() == "2" and (out / "mine.txt").read_text() == "user file"
    assert (out / "sub" / "b.png").exists()
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as d:
            (d / "a.tsv").write_text("3")
            raise RuntimeError
    assert (out / "a.tsv").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "x" / "y") as d:
            (d / "f").write_text("x")
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_remove_live_temps_is_the_signal_backstop(tmp_path):
    cm = atomic_path(tmp_path / "o.tsv")
    tmp = cm.__enter__()
    tmp.write_text("x")
    assert tmp.exists()
    assert str(tmp) in remove_live_temps() and not tmp.exists()
    with pytest.raises(FileNotFoundError):
        cm.__exit__(None, None, None)  # the rename finds nothing: the run was interrupted



def test_scratch_file_is_known_to_the_backstop_and_gone_after_the_block(tmp_path):
    with scratch_file(tmp_path, ".c.", ".tmp") as tmp:        # a normal block: removed at its end
        assert os.path.exists(tmp) and _mode(tmp) == 0o600 and tmp in fileio._live_temps
    assert list(tmp_path.iterdir()) == [] and tmp not in fileio._live_temps
    with pytest.raises(RuntimeError), scratch_file(tmp_path, ".c.", ".tmp") as tmp:   # an error: removed too
        open(tmp, "w").write("half")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == [] and tmp not in fileio._live_temps
    with scratch_file(tmp_path, ".c.", ".tmp") as tmp:        # renamed into place: the result stays
        open(tmp, "w").write("whole")
        os.replace(tmp, tmp_path / "kept")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and (tmp_path / "kept").read_text() == "whole"
    cm = scratch_file(tmp_path, ".c.", ".tmp")                 # a signal inside the block: the backstop
    tmp = cm.__enter__()
    assert tmp in remove_live_temps() and not os.path.exists(tmp)
    cm.__exit__(None, None, None)


class _Landed(BaseException):
    """Stands for the signal handler's Interrupted, raised at one chosen bytecode."""


def _interrupt_at(k):
    """A tracer raising _Landed at the k-th bytecode run inside seqconv.fileio (what a Python signal
    handler can do: it runs between any two bytecodes); returns the tracer and a list that fills if it fired."""
    seen, fired = [0], []

    def trace(frame, event, arg):
        if frame.f_code.co_filename != fileio.__file__:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            seen[0] += 1
            if seen[0] == k:
                fired.append(frame.f_code.co_name)
                raise _Landed
        return trace
    return trace, fired


@pytest.mark.parametrize("kind", ["file", "folder", "scratch"])
def test_a_signal_at_any_bytecode_of_the_setup_leaves_nothing(tmp_path, kind):
    # the CI once kept a temporary bedGraph: the signal landed between mkstemp's creation and the
    # registration; now every bytecode of the writer's setup is tried, and the backstop finds all
    out = tmp_path / "out"
    out.mkdir()
    opener = {"file": lambda: atomic_path(out / "o.tsv"), "folder": lambda: atomic_dir(out / "d"),
              "scratch": lambda: scratch_file(out, ".s.", ".tmp")}[kind]
    k, hit = 0, 0
    while True:
        k += 1
        trace, fired = _interrupt_at(k)
        cm = opener()
        before = sys.gettrace()          # a coverage tool's or debugger's tracer, restored after each try
        sys.settrace(trace)
        try:
            cm.__enter__()
            sys.settrace(before)
            break  # past the setup: every earlier bytecode was tried
        except _Landed:
            pass
        finally:
            sys.settrace(before)
        hit += bool(fired)
        remove_live_temps()
        assert list(out.iterdir()) == [], (k, fired)
    assert hit > 20  # the tracer really walked the setup
    cm.__exit__(None, None, None)


# ---------------------------------------------------------------- reading streams and bad bytes

def test_open_text_reads_stdin_and_pipes(tmp_path, monkeypatch):
    payload = gzip.compress(b">s\r\nACGT\r\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload)))
    with open_text("-") as fh:
        assert fh.read() == ">s\nACGT\n" and fh.name == "<stdin>"
    r, w = os.pipe()
    threading.Thread(target=lambda: (os.write(w, b">p\nAC\rGT\n"), os.close(w))).start()
    with open_text(f"/dev/fd/{r}") as fh:
        assert list(fh) == [">p\n", "AC\n", "GT\n"]
    os.close(r)
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    threading.Thread(target=lambda: open(fifo, "wb").write(b">q\nA\n")).start()
    dst = spool(fifo, tmp_path, name="copy")
    assert dst.read_bytes() == b">q\nA\n"


@pytest.mark.parametrize("data,words", [
    (gzip.compress(b">a\n" + bytes(np.random.default_rng(0).choice(list(b"ACGT"), 20000)))[:3000],
     ["truncated gzip"]),
    (gzip.compress(b">a\nACGT\n")[:-8] + b"\x00\x00\x00\x00\x08\x00\x00\x00", ["corrupt gzip", "CRC"]),
    (b">a\nACGT\n>b\nAC\xffGT\n", [":4:", "not UTF-8", "0xff", "column 3"]),
    (b">a\nAC\x00GT\n", [":2:", "NUL byte"]),
])
def test_open_text_names_file_line_and_problem(tmp_path, data, words):
    p = tmp_path / "x.fa"
    p.write_bytes(data)
    with pytest.raises(InputError) as e:
        with open_text(p) as fh:
            list(fh)
    assert str(e.value).startswith(str(p))
    for w in words:
        assert w in str(e.value)


def test_open_text_missing_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such BED file"):
        open_text(tmp_path / "nope.bed", what="BED file")
    with pytest.raises(InputError, match="is a folder"):
        open_text(tmp_path)


def test_stream_writer_writes_every_byte_and_drops_each_window_once_written(tmp_path, monkeypatch):
    """Bytes equal a plain write across window edges (writes smaller and larger than a window); on
    Linux each window's writeback is started once, and the window before it waited for and dropped."""
    calls = []
    real = fileio._sync_file_range()
    if real is not None:
        def record(fd, offset, n, flags):
            calls.append(("sync", offset, n, flags))
            return real(fd, offset, n, flags)
        monkeypatch.setattr(fileio, "_sync_file_range", lambda: record)
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, o, n, advice: calls.append(("drop", o, n, advice)))
    monkeypatch.setattr(StreamWriter, "WINDOW", 1000)
    rng = np.random.default_rng(0)
    chunks = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (10, 990, 1, 2500, 499, 3000, 7)]
    with open(tmp_path / "out.bin", "wb") as fh:
        fh.write(b"head")                     # a stream opened mid-window: windows start at 0
        w = StreamWriter(fh)
        assert w.tell() == 4 and w.done == 0
        for c in chunks:
            assert w.write(memoryview(c)) == len(c)
        assert w.tell() == 4 + sum(map(len, chunks)) == 7011
    assert (tmp_path / "out.bin").read_bytes() == b"head" + b"".join(chunks)
    if real is None:
        assert not w.active and calls == []
        return
    assert w.active and w.done == 7000
    starts = [(o, n) for kind, o, n, f in calls if kind == "sync" and f == 2]
    waits = [(o, n) for kind, o, n, f in calls if kind == "sync" and f == 7]
    drops = [(o, n) for kind, o, n, _ in calls if kind == "drop"]
    assert starts == [(k * 1000, 1000) for k in range(7)]
    assert waits == drops == [(k * 1000, 1000) for k in range(6)]       # the last window stays cached


class _Partial(io.RawIOBase):
    """A raw file taking at most 300 bytes a call and recording each call's size."""

    def __init__(self):
        self.data, self.calls = bytearray(), []

    def writable(self):
        return True

    def fileno(self):
        raise OSError("no descriptor")

    def write(self, b):
        self.calls.append(len(b))
        n = min(len(b), 300)
        self.data += bytes(b[:n])
        return n


def test_stream_writer_splits_large_writes_and_finishes_partial_ones(monkeypatch):
    """Writes above CALL bytes reach the file in calls of at most CALL bytes; a raw file taking part
    of a call gets the rest in turn; numpy buffers of any item size are written as their bytes."""
    monkeypatch.setattr(StreamWriter, "CALL", 1000)
    raw = _Partial()
    w = StreamWriter(raw)
    assert not w.active                     # no descriptor: a plain write
    a = np.arange(700, dtype=np.int32)      # 2800 bytes, item size 4
    assert w.write(a) == 2800 and w.write(b"xyz") == 3
    assert bytes(raw.data) == a.tobytes() + b"xyz" and w.tell() == 2803
    assert max(raw.calls) <= 1000 and len(raw.calls) > 3


def test_stream_writer_into_a_pipe_is_a_plain_write():
    r, wfd = os.pipe()
    with open(wfd, "wb") as fh:
        w = StreamWriter(fh)
        assert not w.active
        w.write(b"x" * 100)
    with open(r, "rb") as src:
        assert src.read() == b"x" * 100


def test_release_range_frees_the_space_of_a_stretch_read_once(tmp_path):
    path = tmp_path / "spill.bin"
    data = np.random.default_rng(1).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    os.sync()
    before = os.stat(path).st_blocks
    fd = os.open(path, os.O_RDWR)
    try:
        if not release_range(fd, 0, 1 << 19):
            pytest.skip("the file system cannot punch holes")
    finally:
        os.close(fd)
    back = path.read_bytes()
    assert len(back) == len(data) and back[:1 << 19] == bytes(1 << 19) and back[1 << 19:] == data[1 << 19:]
    assert os.stat(path).st_blocks <= before - (1 << 19) // 512 + 16
