"""Start-up of this tree against a git ref of it, side by side in one run.

``python -m benchmarks.startup --baseline main --starts 5``

Each round starts every arm twice: on a fresh home (CA and database created) and on the home
the arm's first start left (existing CA and database). A start is timed from the spawn of
``omniroute run`` (all listeners on) until ``/health`` reports every listener running; the
CPU figure is the process's utime+stime at that moment, which the shared machine's load
inflates far less than the wall time. Both trees' byte code is written first (as
``scripts/setup`` does), the arms alternate within each round, and one unmeasured start per arm
comes first (it makes the existing home).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import targets as t
from tests.support.harness import REPO_ROOT, OmniRouteProcess

KINDS = ("fresh", "existing")


def timed_start(home: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds from spawn to ready of one `omniroute run`; the process is stopped
    again (a fresh home is removed, a given one kept)."""
    began = time.perf_counter()
    proc = OmniRouteProcess(home=home, env=env).start(timeout=180)
    try:
        wall = time.perf_counter() - began
        cpu = t.cpu_seconds(proc.process.pid)  # type: ignore[union-attr]
    finally:
        proc.stop() if home else proc.close()
    return wall, cpu


def run(baseline: str | None, starts: int) -> dict[str, dict[str, list[tuple[float, float]]]]:
    work = Path(tempfile.mkdtemp(prefix="omniroute-startup-"))
    t.compile_tree(REPO_ROOT)  # as the baseline's: neither arm compiles its source while starting
    arms: dict[str, dict[str, str]] = {"this tree": {}}
    if baseline:
        arms[baseline] = {"PYTHONPATH": str(t.baseline_tree(baseline, work))}
    homes = {name: work / f"home-{index}" for index, name in enumerate(arms)}
    out: dict[str, dict[str, list[tuple[float, float]]]] = {name: {kind: [] for kind in KINDS} for name in arms}
    try:
        for name, env in arms.items():  # unmeasured: the existing home made
            timed_start(homes[name], env)
        for _ in range(starts):
            for name, env in arms.items():
                out[name]["fresh"].append(timed_start(None, env))
                out[name]["existing"].append(timed_start(homes[name], env))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=None, help="a git ref to compare with (e.g. main)")
    parser.add_argument("--starts", type=int, default=5, help="measured starts per arm and kind")
    args = parser.parse_args(argv)
    figures = run(args.baseline, args.starts)
    print(f"median of {args.starts} starts; load average at the end {Path('/proc/loadavg').read_text().split()[:3]}\n")
    print("| tree | home | wall s | CPU s | CPU s, each start |\n|---|---|---|---|---|")
    for name, kinds in figures.items():
        for kind, samples in kinds.items():
            walls, cpus = zip(*samples, strict=True)
            each = " ".join(f"{cpu:.2f}" for cpu in cpus)
            print(f"| {name} | {kind} | {statistics.median(walls):.2f} | {statistics.median(cpus):.2f} | {each} |")
    if args.baseline:  # the arms of one round ran side by side: their difference drifts least
        moved = {kind: statistics.median(ours[1] - theirs[1] for ours, theirs in
                                         zip(figures["this tree"][kind], figures[args.baseline][kind], strict=True))
                 for kind in KINDS}
        print(f"\nCPU s, this tree minus {args.baseline}, median of the rounds' differences: "
              + ", ".join(f"{kind} {value:+.2f}" for kind, value in moved.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
