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
  allocation), not the machine's core count.

libgomp reads these variables once, when torch loads it: setting them after ``import torch``
changes nothing, so a program that imports torch before seqconv keeps torch's defaults.
"""

from __future__ import annotations

import os

#: the variables that decide how idle OpenMP workers wait; any of them set = the user's choice
WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), else ``os.cpu_count()``, at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


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
