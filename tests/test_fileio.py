"""Atomic writes: outputs appear whole or not at all, with the permissions a plain open() gives."""

import gzip
import os
import stat

import pytest

from seqconv.fileio import atomic_open, atomic_path, open_text


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
