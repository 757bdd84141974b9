"""seqconv.threads: passive OpenMP waiting and the CLI's thread default, set before torch loads libgomp."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqconv import threads
from seqconv.threads import WAIT_VARS, apply_cli_policy, apply_wait_policy, available_cores, cpu_quota

ROOT = Path(__file__).resolve().parents[1]


def test_wait_policy_is_passive_unless_the_user_chose_one():
    env = {}
    assert apply_wait_policy(env) is True and env == {"OMP_WAIT_POLICY": "PASSIVE"}
    for var, value in (("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "300000")):
        env = {var: value}
        assert apply_wait_policy(env) is False and env == {var: value}  # the user's setting stands, nothing added


def test_cli_policy_threads_default_to_the_cores_this_process_may_use():
    env = {}
    apply_cli_policy(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(available_cores())}
    quota = cpu_quota()
    assert available_cores() == min(len(os.sched_getaffinity(0)), 10 ** 6 if quota is None else -(-quota // 1))
    env = {"OMP_NUM_THREADS": "3", "GOMP_SPINCOUNT": "1000"}
    apply_cli_policy(env)
    assert env == {"OMP_NUM_THREADS": "3", "GOMP_SPINCOUNT": "1000"}


def _python(code: str, env_extra=None, prefix=()):
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARS + ("OMP_NUM_THREADS",)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_extra or {})
    r = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_policy_is_in_place_before_torch_is_imported():
    # `import seqconv` must not import torch (else libgomp would read its environment before the policy)
    out = _python("import os, sys, seqconv; print('torch' in sys.modules, os.environ['OMP_WAIT_POLICY'])")
    assert out == ["False", "PASSIVE"]
    out = _python("import os, sys, seqconv.cli, torch; print(os.environ['OMP_WAIT_POLICY'], "
                  "os.environ['OMP_NUM_THREADS'], torch.get_num_threads())", {"OMP_WAIT_POLICY": "active"})
    assert out == ["active", str(available_cores()), str(available_cores())]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores to restrict the affinity to 1")
def test_cli_threads_follow_the_cpu_affinity():
    """Under `taskset -c K` (one core allowed, as a Slurm/cgroup allocation does) torch gets 1 thread, not all cores."""
    import shutil

    if shutil.which("taskset") is None:
        pytest.skip("taskset not installed")
    core = str(sorted(os.sched_getaffinity(0))[0])
    out = _python("import seqconv.cli, torch; print(torch.get_num_threads())", prefix=("taskset", "-c", core))
    assert out == ["1"]


def _cgroup(tmp_path, proc, files):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "proc").write_text(proc)
    return str(tmp_path), str(tmp_path / "proc")


def test_cpu_quota_reads_cgroup_v2_and_v1_and_takes_the_smallest_on_the_path(tmp_path):
    # v2: a container started with --cpus 1.5 under a parent without a limit
    root, proc = _cgroup(tmp_path / "v2", "0::/job/step\n", {"job/cpu.max": "max 100000\n",
                                                             "job/step/cpu.max": "150000 100000\n"})
    assert cpu_quota(root, proc) == 1.5
    # v2: the parent's limit (3 cores) is tighter than the child's (4)
    root, proc = _cgroup(tmp_path / "v2b", "0::/a/b\n", {"a/cpu.max": "300000 100000", "a/b/cpu.max": "400000 100000"})
    assert cpu_quota(root, proc) == 3.0
    # v1: the cpu,cpuacct controller's folder, quota 2 cores; -1 elsewhere (no limit)
    ctl = "cpu,cpuacct"
    root, proc = _cgroup(tmp_path / "v1", f"4:memory:/x\n2:{ctl}:/docker/abc\n",
                         {f"{ctl}/docker/abc/cpu.cfs_quota_us": "200000",
                          f"{ctl}/docker/abc/cpu.cfs_period_us": "100000",
                          f"{ctl}/cpu.cfs_quota_us": "-1", f"{ctl}/cpu.cfs_period_us": "100000"})
    assert cpu_quota(root, proc) == 2.0
    # no limit anywhere, unreadable files, no cgroup file at all
    root, proc = _cgroup(tmp_path / "none", "0::/\n", {"cpu.max": "max 100000"})
    assert cpu_quota(root, proc) is None
    root, proc = _cgroup(tmp_path / "bad", "0::/\n", {"cpu.max": "garbage"})
    assert cpu_quota(root, proc) is None
    assert cpu_quota(str(tmp_path), str(tmp_path / "missing")) is None


def test_available_cores_is_capped_by_the_quota(monkeypatch):
    n = len(os.sched_getaffinity(0))
    monkeypatch.setattr(threads, "cpu_quota", lambda: 0.5)
    assert available_cores() == 1                        # half a core: one thread, never 0
    monkeypatch.setattr(threads, "cpu_quota", lambda: n + 7.0)
    assert available_cores() == n                        # a quota above the affinity changes nothing
    if n >= 2:
        monkeypatch.setattr(threads, "cpu_quota", lambda: 1.2)
        assert available_cores() == 2                    # rounded up
