"""seqconv.threads: passive OpenMP waiting and the CLI's thread default, set before torch loads libgomp."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqconv.threads import WAIT_VARS, apply_cli_policy, apply_wait_policy, available_cores

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
    assert available_cores() == len(os.sched_getaffinity(0))
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
