"""seqconv.scan.jit and seqconv.scan.warmup: the compile notice, and a warm cache that leaves nothing to compile.

The slow test simulates a fresh install with an empty ``NUMBA_CACHE_DIR``: the warm-up compiles (and
says so once), then a scan of other sequences, other motifs and other settings compiles no seqconv
kernel at all (counted with numba's compile events) and prints no notice.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import numba as nb
import pytest

from seqconv.scan import jit
from seqconv.scan.jit import NOTICE, compile_notice

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FA = ROOT / "data" / "example_yeast_reb1_test.fa"


def test_notice_once_and_only_for_seqconv_kernels(monkeypatch):
    monkeypatch.setattr(jit._Notice, "shown", False)

    def probe(x):
        return x + 1

    def other(x):
        return x - 1

    probe.__module__ = "seqconv.scan._probe"      # looks like one of ours
    other.__module__ = "somebody_else"
    ours, theirs = nb.njit(probe), nb.njit(other)
    buf = io.StringIO()
    with compile_notice(buf):
        theirs(1)
        assert buf.getvalue() == ""               # another package's kernel: no notice
        ours(1)
        ours(2.0)                                 # a second specialisation: no second notice
    assert buf.getvalue() == NOTICE + "\n"
    ours(3j)                                      # outside the block: nothing
    assert buf.getvalue() == NOTICE + "\n"


_COUNT_COMPILES = """
import sys
from numba.core import event
seen = []
class L(event.Listener):
    def on_start(self, ev):
        seen.append(ev.data["dispatcher"].py_func.__module__ + "." + ev.data["dispatcher"].py_func.__name__)
    def on_end(self, ev):
        pass
event.register("numba:compile", L())
from seqconv.motifs import jaspar_collection
from seqconv.scan import ScanOptions, scan, scan_to_file
motifs = jaspar_collection()[::7]
fa, out = sys.argv[1], sys.argv[2]
for fmt, kw in [("tsv", {}), ("gff", {"strands": "-"}), ("bed", {"background": "uniform", "threshold": 1e-5}),
                ("tsv", {"bin_size": 0.05})]:
    scan_to_file(fa, motifs, out, format=fmt, options=ScanOptions(**kw))
scan(fa, motifs, threshold=1e-3)
print("COMPILED", sorted({s for s in seen if s.startswith("seqconv")}))
"""


@pytest.mark.slow
def test_warm_cache_leaves_nothing_to_compile(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    # the scan kernels only: the check below scans (motif comparison's kernels add ~45 CPU s of compiling)
    warm = subprocess.run([sys.executable, "-m", "seqconv.scan.warmup", "--scan-only"], env=env, capture_output=True,
                          text=True)
    assert warm.returncode == 0, warm.stderr
    assert warm.stderr.count(NOTICE) == 1           # the empty cache: compiled, said once
    assert any((tmp_path / "cache").rglob("*.nbi"))
    run = subprocess.run([sys.executable, "-c", _COUNT_COMPILES, str(EXAMPLE_FA), str(tmp_path / "hits")],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "COMPILED []" in run.stdout, run.stdout
    assert NOTICE not in run.stderr


def test_scan_only_and_compare_only_exclude_each_other(capsys):
    from seqconv.scan import warmup

    with pytest.raises(SystemExit) as exc:
        warmup.main(["--scan-only", "--compare-only"])
    assert exc.value.code == 2 and "exclude each other" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_only_is_the_parallel_helpers_part():
    # the default cache (other tests have compiled the comparison kernels into it by now): a few seconds
    run = subprocess.run([sys.executable, "-m", "seqconv.scan.warmup", "--compare-only"],
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "comparison kernels done" in run.stderr and "scan --format" not in run.stderr


def _fake_python(tmp_path, body):
    exe = tmp_path / "python"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(0o755)
    return str(exe)


def test_parallel_warm_up_reports_a_failed_helper(tmp_path, monkeypatch):
    from seqconv.scan import warmup

    monkeypatch.setattr(warmup, "_scan_kernels_warm_up", lambda say: None)
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "echo 'no numba here' >&2; exit 3"))
    with pytest.raises(RuntimeError, match=r"exit 3\): no numba here"):
        warmup.warm_up(verbose=False, parallel=True)


def test_parallel_warm_up_stops_its_helper_when_its_own_part_fails(tmp_path, monkeypatch):
    import time

    from seqconv.scan import warmup

    started = tmp_path / "started"

    def fail(say):
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:   # the helper is running
            time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(warmup, "_scan_kernels_warm_up", fail)
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, f"touch {started}; exec sleep 60"))
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        warmup.warm_up(verbose=False, parallel=True)
    assert started.exists() and time.monotonic() - t0 < 20   # killed, not waited for
