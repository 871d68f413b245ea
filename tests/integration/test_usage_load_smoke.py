"""The Usage page load benchmark (``benchmarks.usage_load``), small, on SQLite and PostgreSQL: it
still runs end to end, the calls of both kinds were answered in both phases, and the page was
loaded from its own process while they ran.

The figures (1,000,000 rows, the p99 the page moves) are in BENCHMARKS.md; on this shared
machine a test checks the run, never a time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.timeout(300)
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_small_usage_load_run_loads_the_page_while_calls_are_answered(db: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.usage_load", "--db", db, "--rows", "3000", "--seconds", "2",
         "--rounds", "1", "--rate", "20", "--page-client", "process"],
        capture_output=True, text=True, timeout=280, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["db"] == db and report["rows"] == 3000 and report["pageClient"] == "process"
    assert report["pageLoads"] > 0 and report["pageLoadP50Ms"] > 0
    for kind in ("v1", "mitm"):
        # 20 calls a second of each kind for 2 s, in the quiet phase and with the page
        assert report[kind]["quiet"]["calls"] >= 30 and report[kind]["usagePage"]["calls"] >= 30, report[kind]
        assert isinstance(report[kind]["p99MovedMs"], float)
        assert report[kind]["p99MovedInterval90Ms"] is None  # one round: nothing to draw from
    gc_per_s = report["gcCollectionsPerSecond"]  # the calls' instance, by generation
    assert len(gc_per_s) == 3 and all(rate >= 0 for rate in gc_per_s)
    for loop in report["callsLoop"].values():  # the calls' loop ran for them, in both phases
        assert loop["ranMsPerS"] > 0 and loop["waitedForCpuMsPerS"] >= 0, report["callsLoop"]


@pytest.mark.timeout(300)
def test_a_control_run_has_the_same_phases_without_the_page_timed_in_real_time() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.usage_load", "--rows", "3000", "--seconds", "1", "--rounds", "2",
         "--rate", "20", "--page-client", "process", "--control", "--callers-rt"],
        capture_output=True, text=True, timeout=280, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["control"] is True and report["pageLoads"] == 0 and report["callersRealTime"] is True
    for kind in ("v1", "mitm"):
        assert report[kind]["usagePage"]["calls"] >= 30, report
        low, high = report[kind]["p99MovedInterval90Ms"]
        assert low <= high
