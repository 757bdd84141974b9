"""seqconv.progress: plain lines (no carriage returns) off a terminal, a bar on one, nothing when disabled."""

import io
import os
import subprocess
import sys
import textwrap

import pytest

from seqconv.progress import LineProgress, format_duration, on_terminal, progress_bar, progress_iter, step_line


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_count_based_lines_with_total_rate_and_eta():
    buf, clock = io.StringIO(), _Clock()
    p = LineProgress(250, desc="scored", unit="windows", every=100, stream=buf, clock=clock)
    for _ in range(5):
        clock.t += 1.0
        p.update(50)
    p.close()
    p.close()  # closing twice prints nothing more
    lines = buf.getvalue().splitlines()
    assert lines == ["scored 100/250 windows (40.0%), 50 windows/s, 0:00:02 elapsed, ETA 0:00:03",
                     "scored 200/250 windows (80.0%), 50 windows/s, 0:00:04 elapsed, ETA 0:00:01",
                     "scored 250/250 windows (100.0%), 50 windows/s, 0:00:05 elapsed"]
    assert "\r" not in buf.getvalue()


def test_time_based_lines_without_total_and_unit_scale():
    buf, clock = io.StringIO(), _Clock()
    p = LineProgress(desc="scanned", unit="bp", interval=30, unit_scale=True, stream=buf, clock=clock)
    for _ in range(100):          # 100 updates of 25 kbp, 1 s apart: a line at 30 s, 60 s, 90 s and the end
        clock.t += 1.0
        p.update(25_000)
    p.close()
    lines = buf.getvalue().splitlines()
    assert lines == ["scanned 750.00k bp, 25.00k bp/s, 0:00:30 elapsed",
                     "scanned 1.50M bp, 25.00k bp/s, 0:01:00 elapsed",
                     "scanned 2.25M bp, 25.00k bp/s, 0:01:30 elapsed",
                     "scanned 2.50M bp, 25.00k bp/s, 0:01:40 elapsed"]


def test_last_line_not_repeated_when_the_end_was_just_printed():
    buf = io.StringIO()
    p = LineProgress(200, desc="x", unit="it", every=100, stream=buf)
    p.update(100)
    p.update(100)
    p.close()
    assert [ln.split(",")[0] for ln in buf.getvalue().splitlines()] == ["x 100/200 it (50.0%)", "x 200/200 it (100.0%)"]


def test_disabled_prints_nothing_and_terminal_gets_a_bar():
    silent = io.StringIO()
    bar = progress_bar(10, desc="x", enabled=False, stream=silent)
    bar.update(10)
    bar.close()
    assert silent.getvalue() == "" and bar.n == 10
    assert list(progress_iter(range(5), desc="x", enabled=False, stream=silent)) == [0, 1, 2, 3, 4]
    assert silent.getvalue() == ""
    tty = _Tty()
    assert on_terminal(tty) and not on_terminal(io.StringIO()) and not on_terminal(object())
    bar = progress_bar(10, desc="x", unit="windows", stream=tty)
    assert type(bar).__module__.startswith("tqdm")
    bar.update(10)
    bar.close()
    assert "\r" in tty.getvalue()           # a real refreshing bar, on a terminal only
    log = io.StringIO()
    assert list(progress_iter(range(3), desc="it", unit="items", stream=log)) == [0, 1, 2]
    assert log.getvalue().startswith("it 3/3 items (100.0%)")
    step_line("one step", stream=log)
    step_line("hidden", enabled=False, stream=log)
    assert log.getvalue().splitlines()[-1] == "one step"


def test_format_duration():
    assert [format_duration(s) for s in (0, 59.6, 61, 3725)] == ["0:00:00", "0:01:00", "0:01:01", "1:02:05"]


@pytest.mark.slow
def test_uncompiled_kernels_sees_numbas_cache(tmp_path):
    """A cached njit function: listed before its first call compiles it, not in a new process afterwards."""
    (tmp_path / "tiny_kernels.py").write_text(textwrap.dedent("""
        import numba

        @numba.njit(cache=True)
        def add_one(x):
            return x + 1

        @numba.njit
        def not_cached(x):
            return x
    """))
    code = ("import tiny_kernels as k; from seqconv.progress import uncompiled_kernels as u; "
            "print(u(k), u(k, ['not_cached'])); k.add_one(1)")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    runs = [subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["['add_one'] []", "[] []"], [r.stderr for r in runs]
