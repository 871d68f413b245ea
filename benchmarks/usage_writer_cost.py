"""What the usage writer's transaction costs per batch, this tree against a git ref of it:
``python -m benchmarks.usage_writer_cost --baseline REF [--db sqlite|postgresql]``.

The writer keeps sums and counts beside the rows in the same transaction; this measures what
that costs it. Each tree writes the same batches (12 rows, one call in 50 failed: what 120
calls a second leave per 0.1 s linger) through its own ``_write_usage`` into its own fresh
database, in a process of its own, rounds alternating; the figure is the CPU of that process
and, on PostgreSQL, of its server backend, per batch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks import targets as t

ROOT = Path(__file__).resolve().parents[1]
BATCH_ROWS = 12


def measure(url: str, batches: int) -> dict[str, float]:
    """In the tree's own process: write ``batches`` batches; CPU ms per batch."""
    from omniroute.db.database import Database
    from omniroute.engine.usage import UsageRecord, _write_usage

    db = Database(url)
    db.migrate()
    rng = random.Random(1)
    now = datetime.now(UTC)
    work = [[UsageRecord(request_id=f"w{b}-{i}", source="api", agent=rng.choice((None, "codex")),
                         client_format="openai-chat", model_requested=rng.choice(("a", "b", "c")), provider="p",
                         tokens_in=10, tokens_out=5, cost=Decimal("0.001"), latency_ms=rng.uniform(1, 500),
                         status=429 if rng.random() < 0.02 else 200, error=None,
                         created_at=now + timedelta(seconds=b / 10)) for i in range(BATCH_ROWS)]
            for b in range(batches)]
    with db.session() as session:
        backend = (session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                   if db.dialect == "postgresql" else None)
        server, ours = t.cpu_seconds(backend) if backend else 0.0, time.process_time()
        for batch in work:
            _write_usage(session, batch)
            session.commit()
        ours, server = time.process_time() - ours, (t.cpu_seconds(backend) - server) if backend else 0.0
    db.dispose()
    return {"pythonMs": 1000 * ours / batches, "serverMs": 1000 * server / batches}


def _in_tree(src: Path | None, url: str, batches: int) -> dict[str, float]:
    code = ("import json, sys; from benchmarks.usage_writer_cost import measure; "
            "print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (src, ROOT) if p)}
    # Run from the tree itself: "-c" puts the working directory first on sys.path.
    done = subprocess.run([sys.executable, "-c", code, url, str(batches)], env=env, cwd=src or ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="omniroute-writer-cost-"))
    trees: dict[str, Path | None] = {args.baseline: t.baseline_tree(args.baseline, work), "this tree": None}
    totals = {name: {"pythonMs": 0.0, "serverMs": 0.0} for name in trees}
    pg = None
    try:
        if args.db == "postgresql":
            from tests.support.servers import PostgresServer

            pg = PostgresServer().start()
        for round_no in range(args.rounds):
            names = list(trees) if round_no % 2 == 0 else list(trees)[::-1]
            for name in names:
                url = _fresh(work, pg, f"w{round_no}_{names.index(name)}")
                for key, value in _in_tree(trees[name], url, args.batches).items():
                    totals[name][key] += value / args.rounds
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"db": args.db, "batches": args.batches, "rowsPerBatch": BATCH_ROWS, "rounds": args.rounds,
            **{name: {k: round(v, 2) for k, v in cost.items()} for name, cost in totals.items()}}


def _fresh(work: Path, pg: Any, name: str) -> str:
    if pg is None:
        return f"sqlite:///{work / name}.db"
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/{name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, metavar="REF")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    print(json.dumps(run(parser.parse_args()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
