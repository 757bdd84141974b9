"""benchmarks/_machine.py: every benchmark records the machine and the load it saw, never a fixed claim."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

from _machine import NOT_RECORDED, machine_record, machine_text, runs_summary  # noqa: E402

#: scripts that are not benchmarks (a data generator) or that another owner edits this round
NOT_BENCHMARKS = {"_machine.py", "_baseline.py", "koo2019_synthetic.py", "train_speed.py"}
#: the fixed sentences issue 13 item 6 removes: a claim about the load written whatever the load was
FIXED_CLAIMS = [r"shared with up to \d+ other jobs", r"cores were shared", r"the machine is shared",
                r"cores \(shared\)", r"shared CPU\b", r"cores shared with other jobs", r"cores are shared"]


def test_record_before_and_after():
    start = machine_record({"torch": 2})
    assert start["threads"]["torch"] == 2 and start["cores"] == os.cpu_count()
    assert len(start["load_before"]) == 3 and start["load_after"] is None
    assert all(abs(a - b) < 5 for a, b in zip(start["load_before"], os.getloadavg()))
    end = machine_record({"torch": 2}, since=start)
    assert end["load_before"] == start["load_before"] and len(end["load_after"]) == 3
    assert end["started"] == start["started"] and end["finished"]
    assert json.loads(json.dumps(end)) == end
    assert machine_record(3)["threads"]["torch"] == 3


def test_text_reads_sharing_off_the_figures():
    base = {"cpu": "Some CPU", "cores": 2, "usable_cores": 2, "threads": {"torch": 1}}
    busy = machine_text({**base, "load_before": [3.2, 2.0, 1.0], "load_after": [3.9, 2.5, 1.1]})
    assert "before 3.20/2.00/1.00, after 3.90/2.50/1.10" in busy and "other work shared the 2 cores" in busy
    assert "Some CPU, 2 logical CPUs visible (2 usable); threads: torch 1" in busy
    quiet = machine_text({**base, "load_before": [0.4, 0.3, 0.2], "load_after": [1.1, 0.5, 0.3]})
    assert "shared" not in quiet and "within the run's own 1 thread(s)" in quiet
    assert "within the run's own 2" in machine_text({**base, "load_before": [2.3], "load_after": [2.4]},
                                                    own_threads=2)
    assert NOT_RECORDED in machine_text(None) and NOT_RECORDED in machine_text({"cpu": "X", "cores": 2})


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py") if p.name not in NOT_BENCHMARKS))
def test_every_benchmark_records_its_machine(script):
    text = (BENCH / script).read_text()
    assert "machine_record(" in text and "since=" in text, f"{script} does not record the load before and after"
    assert "getloadavg" not in text, f"{script} reads the load itself instead of through _machine"
    for claim in FIXED_CLAIMS:
        assert not re.search(claim, text), f"{script} writes a fixed claim: {claim}"


def test_results_carry_no_fixed_load_claim():
    for path in sorted((BENCH / "results").glob("*.md")):
        text = path.read_text()
        for claim in FIXED_CLAIMS:
            assert not re.search(claim, text), f"{path.name}: {claim}"


def test_runs_summary_counts_recorded_and_unrecorded_runs():
    rec = {"cpu": "Some CPU", "cores": 2, "threads": {"torch": 1}}
    runs = [None, {**rec, "load_before": [0.5, 0, 0], "load_after": [1.5, 0, 0]},
            {**rec, "load_before": [2.5, 0, 0], "load_after": [3.0, 0, 0]}]
    text = runs_summary(runs)
    assert "Some CPU (2 logical CPUs); threads: torch 1" in text and "2 of 3 runs recorded" in text
    assert "before 0.50-2.50, after 1.50-3.00" in text and f"for the other 1, {NOT_RECORDED}" in text
    assert NOT_RECORDED in runs_summary([None, None])
