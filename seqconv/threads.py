"""CPU thread policy, applied before torch is imported (``import seqconv`` and the ``seqconv`` command).

torch runs its CPU kernels on an OpenMP thread pool (GNU libgomp).  By default an idle
libgomp worker *spins* for ~300,000 iterations (a few ms) waiting for the next parallel
region before it sleeps.  Training steps of small CNNs are many short parallel regions, so on
a machine whose cores are shared with other jobs the spinning workers burn the CPU time the
other threads need: ``benchmarks/train_speed.py`` measured basset on 2 threads next to other
jobs at 38-54 CPU-s per epoch with the default, 5-6 CPU-s with passive waiting
(``benchmarks/results/train_speed.md``).

The policy, each part only when the user has not set the variable:

* ``OMP_WAIT_POLICY=PASSIVE`` (idle OpenMP workers sleep at once) unless ``OMP_WAIT_POLICY`` or
  ``GOMP_SPINCOUNT`` is set;
* for the ``seqconv`` command only (:func:`apply_cli_policy`): ``OMP_NUM_THREADS`` = the number
  of cores this process may run on (``os.sched_getaffinity``: a ``taskset`` / cgroup / Slurm
  allocation; fewer where its cgroup has a CPU quota, as a container started with ``--cpus`` has),
  not the machine's core count.

libgomp reads these variables once, when torch loads it: setting them after ``import torch``
changes nothing, so a program that imports torch before seqconv keeps torch's defaults.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: the variables that decide how idle OpenMP workers wait; any of them set = the user's choice
WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def cpu_quota(root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup") -> float | None:
    """The CPU quota of this process's cgroup, in cores (the smallest along its path up to the root),
    or None when there is none or it cannot be read.

    cgroup v2: ``cpu.max`` (``"200000 100000"`` = 2 cores, ``"max 100000"`` = none); v1: ``cpu.cfs_quota_us``
    / ``cpu.cfs_period_us`` (quota -1 = none) in the ``cpu`` controller's folder.
    """
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    root = Path(root)
    folders = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        parts = [p for p in path.strip().split("/") if p]
        if controllers == "":                                   # v2
            bases, v2 = [root], True
        elif "cpu" in controllers.split(","):                   # v1
            bases, v2 = list(dict.fromkeys([root / controllers, root / "cpu"])), False   # "cpu" alone: once
        else:
            continue
        for base in bases:
            for depth in range(len(parts), -1, -1):
                folders.append((base.joinpath(*parts[:depth]), v2))
    best = None
    for folder, v2 in folders:
        try:
            if v2:
                quota, period = (folder / "cpu.max").read_text().split()[:2]
            else:
                quota = (folder / "cpu.cfs_quota_us").read_text().strip()
                period = (folder / "cpu.cfs_period_us").read_text().strip()
            if quota in ("max", "-1") or float(period) <= 0:
                continue
            cores = float(quota) / float(period)
        except (OSError, ValueError):
            continue
        if cores > 0 and (best is None or cores < best):
            best = cores
    return best


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else ``os.cpu_count()``), no more than its
    cgroup's CPU quota rounded up (:func:`cpu_quota`), at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    quota = cpu_quota()
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)


def apply_wait_policy(environ=None) -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless a wait variable is set; True if it was set here."""
    env = os.environ if environ is None else environ
    if any(v in env for v in WAIT_VARS):
        return False
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def apply_cli_policy(environ=None) -> None:
    """The ``seqconv`` command's policy: the wait policy, and ``OMP_NUM_THREADS`` = :func:`available_cores`
    when unset (``--threads N`` still overrides it per command)."""
    env = os.environ if environ is None else environ
    apply_wait_policy(env)
    env.setdefault("OMP_NUM_THREADS", str(available_cores()))
