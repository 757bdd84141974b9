"""What every benchmark records about the machine it ran on (imported by the scripts in this folder).

One record per run, made twice: at the start (load average before) and at the end (load average after)::

    start = machine_record(threads={"torch": 2})
    ...                                   # the measured work
    machine = machine_record(threads={"torch": 2}, since=start)
    lines.append(machine_text(machine))   # next to the figures; json.dump(machine) into the raw results

The text says only what was measured: the CPU model, the logical CPUs visible and usable, the thread
counts the benchmark set, and the 1/5/15-minute load averages before and after.  Whether the cores
were shared is read off those figures (a 1-minute load above what the run itself puts on the cores),
never written as a fixed sentence.  A results file made before this record existed says
"load not recorded for this run".
"""

from __future__ import annotations

import os
import platform
import sys
import time

#: what a report says for a run made without a machine record
NOT_RECORDED = "load not recorded for this run"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what platform reports)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not available on this platform
        return []


def machine_record(threads: dict | int | None = None, *, since: dict | None = None) -> dict:
    """The machine and the load it carried: call at the start of a run, and again with ``since`` at its end.

    Parameters
    ----------
    threads : dict, int or None
        The thread counts the benchmark set, e.g. ``{"torch": 2}`` or ``{"numba": 2, "torch": 1}``
        (an int means torch threads).  The torch, OMP and numba settings in force are added.
    since : dict, optional
        The record made at the start: its load average becomes ``load_before`` and the current one
        ``load_after``.  Without it the current load is ``load_before`` and ``load_after`` is None.

    Returns
    -------
    dict (JSON-serialisable): ``cpu``, ``cores`` (logical CPUs visible), ``usable_cores`` (this
    process's affinity), ``platform``, ``python``, ``threads``, ``load_before`` and ``load_after``
    (1/5/15-minute load averages), ``started``/``finished`` (UTC, ISO 8601).
    """
    if isinstance(threads, int):
        threads = {"torch": threads}
    threads = dict(threads or {})
    torch = sys.modules.get("torch")
    if torch is not None:
        threads.setdefault("torch_in_force", torch.get_num_threads())
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            threads.setdefault(var, os.environ[var])
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rec = {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable,
           "platform": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
           "threads": threads}
    if since is None:
        rec.update(load_before=_load(), load_after=None, started=now, finished=None)
    else:
        rec.update(load_before=since.get("load_before"), load_after=_load(), started=since.get("started"),
                   finished=now)
    return rec


def _fmt(load) -> str:
    return "/".join(f"{x:.2f}" for x in load) if load else "n/a"


def machine_text(rec: dict | None, *, own_threads: int | None = None) -> str:
    """One line for a report: the machine, the thread counts and the load it carried, from a record.

    ``own_threads`` is how many cores the run itself keeps busy (default: the largest thread count in
    the record, else 1); the line says the cores were shared only when a 1-minute load average exceeds
    it, and says which figure shows it.  ``None`` or an old record without loads gives
    :data:`NOT_RECORDED`.
    """
    if not rec:
        return f"Machine: not recorded; {NOT_RECORDED}."
    threads = rec.get("threads") or {}
    if isinstance(threads, int):
        threads = {"threads": threads}
    shown = ", ".join(f"{k} {v}" for k, v in threads.items()) or "not recorded"
    usable = f" ({rec['usable_cores']} usable)" if rec.get("usable_cores") else ""
    head = f"Machine: {rec.get('cpu', 'unknown CPU')}, {rec.get('cores')} logical CPUs visible{usable}; threads: {shown}"
    before, after = rec.get("load_before"), rec.get("load_after")
    if not before and not after:
        return f"{head}; {NOT_RECORDED}."
    text = f"{head}; load average (1/5/15 min) before {_fmt(before)}, after {_fmt(after)}"
    if own_threads is None:
        counts = [int(v) for v in threads.values() if str(v).isdigit()]
        own_threads = max(counts) if counts else 1
    first = [x[0] for x in (before, after) if x]
    if first and max(first) > own_threads + 0.5:
        text += (f" (1-minute load {max(first):.2f}, above the run's own {own_threads} thread(s): other work "
                 f"shared the {rec.get('usable_cores', rec.get('cores'))} cores)")
    elif first:
        text += f" (1-minute load within the run's own {own_threads} thread(s))"
    return text + "."


def runs_summary(records, n_runs: int | None = None) -> str:
    """One line for a report over many runs, each with its own record (``None`` for runs made without one).

    Says the CPU(s) and thread counts seen, the range of the 1-minute load average before and after
    over the recorded runs, and how many runs have no record (:data:`NOT_RECORDED`).
    """
    records = list(records)
    n_runs = len(records) if n_runs is None else n_runs
    recs = [m for m in records if isinstance(m, dict)]
    if not recs:
        return f"Machine: not recorded; {NOT_RECORDED} (none of the {n_runs} runs has a machine record)."
    cpus = sorted({f"{m.get('cpu')} ({m.get('cores')} logical CPUs)" for m in recs})
    threads = sorted({", ".join(f"{k} {v}" for k, v in (m.get("threads") or {}).items()) for m in recs})
    before = [m["load_before"][0] for m in recs if m.get("load_before")]
    after = [m["load_after"][0] for m in recs if m.get("load_after")]
    span = (f"1-minute load average before {min(before):.2f}-{max(before):.2f}, after "
            f"{min(after):.2f}-{max(after):.2f}" if before and after else "no load figures")
    return (f"Machine: {'; '.join(cpus)}; threads: {' / '.join(threads) or 'not recorded'}.  {len(recs)} of {n_runs} "
            f"runs recorded their load: {span}"
            + (f"; for the other {n_runs - len(recs)}, {NOT_RECORDED}." if len(recs) < n_runs else "."))
