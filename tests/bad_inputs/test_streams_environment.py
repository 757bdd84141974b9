"""What awkward-but-valid inputs and hostile environments get: streams read, links written through, full and
read-only disks reported with exit 2 and nothing left, signals on a real subprocess clean up (exit 128 + N)."""

from __future__ import annotations

import gc
import gzip
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _resources import ROOT, YEAST_GENOME, YEAST_REB1, build, can_mount_tmpfs, private_tempdir
from click.testing import CliRunner

from seqconv import fileio
from seqconv.cli import main
from seqconv.dataset import read_dataset
from seqconv.genome import Genome


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return build(tmp_path_factory.mktemp("stream_resources"))


def run(args, stdin=None):
    r = CliRunner().invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=False)
    return r


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ---------------------------------------------------------------- streams and links

def test_predict_stdin_dash_symlink_and_default_stdout_agree(res, tmp_path):
    ref = run(["predict", "--model", res.model, res.fasta, "-q"])
    assert ref.exit_code == 0
    dash = run(["predict", "--model", res.model, res.fasta, "--out", "-", "-q"])
    piped = run(["predict", "--model", res.model, "-", "-q"], stdin=Path(res.fasta).read_bytes())
    assert dash.stdout == ref.stdout == piped.stdout and ref.stdout.count("\n") == 41
    target = tmp_path / "real" / "scores.tsv"
    target.parent.mkdir()
    link = tmp_path / "latest.tsv"
    link.symlink_to(target)
    r = run(["predict", "--model", res.model, res.fasta, "--out", link, "-q"])
    assert r.exit_code == 0 and link.is_symlink() and target.read_text() == ref.stdout


@pytest.mark.slow
def test_process_substitution_and_dev_stdout_on_a_real_shell(res, tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    gz = tmp_path / "in.fa.gz"
    gz.write_bytes(gzip.compress(Path(res.fasta).read_bytes()))
    cmd = (f"{sys.executable} -c 'from seqconv.cli import main; main()' predict --model {res.model} "
           f"<(zcat {gz}) -q --out /dev/stdout")
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    ref = run(["predict", "--model", res.model, res.fasta, "-q"]).stdout
    assert p.stdout == ref
    assert sorted(os.listdir(tmp_path)) == ["in.fa.gz"]


def test_scan_reads_stdin_like_a_file(res):
    a = run(["scan", "--motifs", res.meme, "--fasta", res.fasta, "--thresh", "1e-3", "-q"])
    b = run(["scan", "--motifs", res.meme, "--fasta", "-", "--thresh", "1e-3", "-q"],
            stdin=Path(res.fasta).read_bytes())
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout and a.stdout.count("\n") > 5


def test_prepare_peaks_from_stdin_and_chrom_alias_auto(res, tmp_path):
    bed = gzip.decompress(YEAST_REB1.read_bytes())
    out1, out2 = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert run(["prepare", "--peaks", YEAST_REB1, "--genome", YEAST_GENOME, "--out", out1, "-q",
                "--names", "Reb1"]).exit_code == 0
    assert run(["prepare", "--peaks", "-", "--genome", YEAST_GENOME, "--out", out2, "-q", "--names", "Reb1"],
               stdin=bed).exit_code == 0
    assert read_dataset(out1).table.equals(read_dataset(out2).table)
    # peaks on 'chr1' against a genome naming it '1': refused with a hint, accepted with --chrom-alias auto
    p = tmp_path / "p.bed"
    p.write_text("".join(f"chr1\t{10000 + 700 * i}\t{10100 + 700 * i}\tp{i}\n" for i in range(60)))
    out3 = tmp_path / "c.parquet"
    r = run(["prepare", "--peaks", p, "--genome", res.nochr, "--out", out3, "--test-chroms", "MT",
             "--valid-chroms", "", "--chrom-alias", "auto"])
    assert r.exit_code == 0, r.stderr
    ds = read_dataset(out3)
    assert set(ds.table["chrom"]) <= {"1", "MT"} and ds.meta["chrom_alias"] == {"chr1": "1"}
    assert "chromosome aliases: chr1->1" in r.stderr and "window policy:" in r.stderr
    assert ds.table.loc[ds.table["kind"] == "positive", "label:p"].sum() == 60


# ---------------------------------------------------------------- genome index without a writable folder

def test_genome_index_falls_back_to_cache_temp_then_memory(res, tmp_path, monkeypatch):
    fa = tmp_path / "ro" / "g.fa"
    fa.parent.mkdir()
    shutil.copy(res.chr1, fa)
    real_access = os.access

    def no_write(path, mode, *a, **kw):  # the genome folder (and, below, the cache) is read-only
        if mode & os.W_OK and str(path).startswith((str(fa.parent), str(tmp_path / "rocache"))):
            return False
        return real_access(path, mode, *a, **kw)

    monkeypatch.setattr(os, "access", no_write)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    g = Genome(fa)
    assert g.index_location.startswith(str(tmp_path / "cache")) and not (fa.parent / "g.fa.fai").exists()
    seq = g.fetch("chr1", 1000, 1100)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "rocache"))   # a cache that cannot be written
    g = Genome(fa)
    assert g.index_location == "temporary" and g.fetch("chr1", 1000, 1100) == seq
    assert not any("seqconv-" in t and t.endswith(".fai") for t in fileio._live_temps)  # scratch name released
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no_such_tmp"))   # no temporary folder either
    g = Genome(fa)
    assert g.index_location == "memory" and g.fetch("chr1", 1000, 1100) == seq
    assert sorted(os.listdir(fa.parent)) == ["g.fa"]


# ---------------------------------------------------------------- a real full / read-only tmpfs

@pytest.fixture
def tmpfs(tmp_path):
    if not can_mount_tmpfs():
        pytest.skip("cannot mount a tmpfs here (needs root on Linux); the patched-write cases cover this")
    mounts = []

    def make(size="48k", ro=False, fill=None):
        d = tmp_path / f"mnt{len(mounts)}"
        d.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], check=True)
        mounts.append(d)
        for name, src in (fill or {}).items():
            shutil.copy(src, d / name)
        if ro:
            subprocess.run(["mount", "-o", "remount,ro", str(d)], check=True)
        return d

    yield make
    gc.collect()  # a file object of a failed writer may still hold the mount
    for d in mounts:
        if subprocess.run(["umount", str(d)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(d)], check=False)


def test_full_disk_for_prepare_predict_scan(res, tmpfs, tmp_path, monkeypatch):
    d = tmpfs("48k")
    systmp = private_tempdir(monkeypatch, tmp_path / "systmp")
    filler = d / "filler"
    with open(filler, "wb") as fh:
        try:
            fh.write(b"x" * (46 * 1024))
        except OSError:
            pass
    cases = [
        ["prepare", "--peaks", YEAST_REB1, "--genome", YEAST_GENOME, "--out", d / "new" / "ds.parquet", "-q"],
        ["predict", "--model", res.model, res.fasta, "--out", d / "p.tsv", "-q"],
        ["scan", "--motifs", res.meme, "--fasta", res.fasta, "--thresh", "1e-2", "--out", d / "s.tsv", "-q"],
    ]
    for args in cases:
        r = run(args)
        assert r.exit_code == 2, r.output
        assert "no space left on device" in r.stderr and "Traceback" not in r.output
        assert sorted(os.listdir(d)) == ["filler"], args[0]
        assert list(systmp.iterdir()) == []


def test_read_only_output_folder_and_read_only_genome_folder(res, tmpfs, tmp_path, monkeypatch):
    ro = tmpfs("1m", ro=True, fill={"g.fa": res.chr1})
    r = run(["predict", "--model", res.model, res.fasta, "--out", ro / "p.tsv", "-q"])
    assert r.exit_code == 2 and "read-only file system" in r.stderr and "write to another folder" in r.stderr
    # the genome there has no .fai and no folder can take one: the genome is read into memory, the run works
    monkeypatch.setenv("XDG_CACHE_HOME", str(ro / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(ro))
    p = tmp_path / "p.bed"
    p.write_text("chr1\t10000\t10100\tp\n")
    r = run(["predict", "--model", res.model, "--bed", p, "--genome", ro / "g.fa", "-q", "--out", tmp_path / "o.tsv"])
    assert r.exit_code == 0, r.stderr
    assert sorted(os.listdir(ro)) == ["g.fa"] and (tmp_path / "o.tsv").read_text().count("\n") == 2


# ---------------------------------------------------------------- signals on a real subprocess

def _wait_for(pred, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.05)
    return False


def _catches(pid: int, sig) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (the SigCgt mask of /proc/PID/status; a loaded
    machine can take seconds to import the CLI, and a signal before that kills it the default way)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            mask = next(int(line.split()[1], 16) for line in fh if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(mask & (1 << (int(sig) - 1)))


@pytest.mark.slow
@pytest.mark.parametrize("sig,cmd", [
    (signal.SIGTERM, "predict"),
    (signal.SIGHUP, "predict"),
    (signal.SIGTERM, "scan"),
    (signal.SIGTERM, "prepare"),
])
def test_signal_removes_every_temporary_file(res, tmp_path, sig, cmd):
    out = tmp_path / "out"
    out.mkdir()
    genome = str(YEAST_GENOME)
    args = {
        "predict": ["predict", "--model", "yeast_chexmix", "--genome", genome, "--region", "chr7", "--stride", "2",
                    "--out", str(out / "p.tsv"), "--bedgraph", str(out / "bg"), "-q"],
        "scan": ["scan", "--motifs", "jaspar", "--fasta", genome, "--thresh", "1e-2", "--out", str(out / "s.tsv"),
                 "-q", "--engine", "torch"],
        "prepare": ["prepare", "--peaks", str(YEAST_REB1), "--genome", genome, "--ratio", "400",
                    "--out", str(out / "d.parquet"), "-q"],
    }[cmd]
    code = "import sys; from seqconv.cli import main; sys.argv[0] = 'seqconv'; main()"
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=dict(_env(), TMPDIR=str(systmp)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if cmd == "prepare":  # its only file appears at the end; interrupt mid-run, once its handlers are set
            assert _wait_for(lambda: _catches(proc.pid, sig)), "the signal handler was never installed"
            time.sleep(1.0)
        else:
            assert _wait_for(lambda: any(p.name.startswith(".") for p in out.iterdir())), "no temp file appeared"
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + int(sig), stderr
    assert f"interrupted by {signal.Signals(sig).name}" in stderr and "Traceback" not in stderr
    assert list(out.iterdir()) == []
    assert list(systmp.iterdir()) == []
    assert stat.S_ISDIR(os.stat(out).st_mode)
