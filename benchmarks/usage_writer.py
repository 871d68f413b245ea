"""CPU the usage writer spends per batch: the rows, their hourly sums and latency counts, one commit.

``python -m benchmarks.usage_writer [--batches 200] [--sizes 1 8 32] [--baseline DIR]``

Every `/v1` and mapped agent call queues one usage row; the writer thread commits them in batches
(one per linger interval, so a batch holds the calls of that interval: a handful at low rates,
dozens under load). Its CPU is taken from the same cores as the calls, so it counts in a call's
CPU. Measured in-process on a fresh SQLite database, CPU time (``time.process_time``) per batch,
median of ``--batches``. ``--baseline DIR`` (another source tree, e.g. ``git worktree add DIR
<rev>``) measures it too, in its own interpreter, and the table shows both side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def measure(batches: int, sizes: list[int]) -> dict[str, float]:
    """Median CPU ms per batch, by batch size, in this interpreter's tree."""
    from omniroute.db.database import Database
    from omniroute.engine import usage

    with tempfile.TemporaryDirectory(prefix="usage-writer-") as tmp:
        db = Database(f"sqlite:///{tmp}/usage.db")
        db.migrate()
        sequence = 0

        def record() -> Any:
            nonlocal sequence
            sequence += 1
            return usage.UsageRecord(
                request_id=f"req-{sequence}", source="api", client_format="openai-chat",
                model_requested="bench/bench-model", model_used="bench-model", provider="bench", tokens_in=10,
                tokens_out=20, cost=None, latency_ms=5.0, upstream_latency_ms=4.0, status=200)

        out: dict[str, float] = {}
        for size in sizes:
            spent = []
            for _ in range(batches):
                batch = [record() for _ in range(size)]
                began = time.process_time()
                with db.session() as session:
                    usage._write_usage(session, batch)
                    session.commit()
                spent.append(time.process_time() - began)
            out[str(size)] = statistics.median(spent) * 1000
        db.dispose()
    return out


def _measure_in(tree: Path, batches: int, sizes: list[int]) -> dict[str, float]:
    code = ("import json, sys; from benchmarks.usage_writer import measure; "
            "print(json.dumps(measure(int(sys.argv[1]), [int(s) for s in sys.argv[2:]])))")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # cwd too: `python -c` puts the working directory ahead of PYTHONPATH
    done = subprocess.run([sys.executable, "-c", code, str(batches), *map(str, sizes)], cwd=tree, env=env,
                          capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="another source tree, measured beside this one")
    args = parser.parse_args(argv)
    trees = {"this tree": REPO_ROOT, **({str(args.baseline): args.baseline.resolve()} if args.baseline else {})}
    results = {name: _measure_in(tree, args.batches, args.sizes) for name, tree in trees.items()}
    print(f"\n`python -m benchmarks.usage_writer {' '.join(sys.argv[1:] if argv is None else argv)}`\n")
    print("| tree | " + " | ".join(f"batch of {s}: ms / batch (ms / row)" for s in args.sizes) + " |")
    print("|---|" + "---:|" * len(args.sizes))
    for name, result in results.items():
        cells = [f"{result[str(s)]:.3f} ({result[str(s)] / s:.3f})" for s in args.sizes]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
