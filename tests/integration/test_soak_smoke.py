"""The soak script, small and with a high fault rate, as a test: its checks hold and it says so.

The full run (50,000 requests, 5 % faults; results in docs/RELIABILITY.md) takes ~12 minutes;
this one proves in ~20 s that the script still works end to end and that every request is
answered or failed in its format with one usage row each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.timeout(240)
def test_a_small_soak_with_20_percent_faults_passes_every_check(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--requests", "400", "--fault-rate", "0.2",
         "--concurrency", "8", "--sample-every", "100", "--max-seconds", "150", "--home", str(tmp_path / "home")],
        capture_output=True, text=True, timeout=220, check=False,
    )
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert done.returncode == 0, json.dumps(report["checks"]) + done.stderr[-2000:]
    assert all(report["checks"].values()) and report["bad_examples"] == []
    assert report["requests"] == report["usage_rows"] == 400
    faults = sum(n for outcome, n in report["outcomes"].items() if outcome.endswith("-fault"))
    assert faults >= 40, report["outcomes"]  # the faults were really injected
    assert report["outcomes"].get("failed-fault", 0) > 0 and set(report["statuses"]) > {"200"}
