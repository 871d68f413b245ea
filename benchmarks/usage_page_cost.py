"""What one Usage page load costs in CPU: ``python -m benchmarks.usage_load --page-cost N``.

A real ``omniroute run --demo`` over the benchmark's filled database (``benchmarks.usage_page``),
no model traffic: each of the page's requests is loaded ``N`` times per round, and the CPU
(utime + stime from ``/proc``) of the OmniRoute processes (``omnirouteMs``), of its main process
alone (``mainProcessMs``: what the event loop that carries the calls spends; the reader process
does the rest) and, on PostgreSQL, of the server's processes is divided by the loads: per
endpoint and for the whole page.

``--baseline REF`` compares with a git ref of this tree in the same run: the database is filled
by the baseline's code (its schema and sums), copied, and each instance serves its own copy;
this tree's instance migrates its copy as it starts (its start-up time is reported). Rounds
alternate the instances, so the machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import targets as t
from benchmarks.usage_page import PAGE, analyse, fill
from omniroute.db.database import Database
from tests.support.harness import OmniRouteProcess

ROOT = Path(__file__).resolve().parents[1]
THIS_TREE = "this tree"


def _label(path: str, params: dict[str, Any]) -> str:
    return path.rsplit("/", 1)[1] + "".join(f" {v}" for v in params.values())


def _fill_with(baseline: Path, url: str, rows: int) -> float:
    """Fill with the baseline's code: its migrations and its hourly sums."""
    code = "import sys; from benchmarks.usage_page import fill; print(fill(sys.argv[1], int(sys.argv[2])))"
    env = {**os.environ, "PYTHONPATH": f"{baseline}{os.pathsep}{ROOT}"}
    # Run from the baseline tree: "-c" puts the working directory first on sys.path.
    done = subprocess.run([sys.executable, "-c", code, url, str(rows)], env=env, cwd=baseline,
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def _copy(url: str, name: str, work: Path, pg: Any) -> str:
    """A second database holding the same rows."""
    if pg is None:
        target = work / f"{name}.db"
        with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        return f"sqlite:///{target}"
    db = Database(url)
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'CREATE DATABASE "{name}" TEMPLATE "{pg.database}"')
    db.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def _server_pid(pg: Any) -> int | None:
    return None if pg is None else int((pg.data_dir / "postmaster.pid").read_text().split()[0])


def _server_cpu(pid: int) -> float:
    """CPU seconds of the server's processes, with what their exited children used: an
    autovacuum worker that ends between two readings would otherwise take its time away."""
    total = 0
    for p in t._tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / t.TICKS


def _own_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` alone: the process whose event loop carries the calls, without
    its reader process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / t.TICKS


def _load(proc: OmniRouteProcess, server: int | None, loads: int, cost: dict[str, list[float]]) -> None:
    """Each of the page's requests ``loads`` times; CPU seconds added to ``cost[label]``: the
    OmniRoute process tree, its main process alone, the database server."""
    pid = proc.process.pid  # type: ignore[union-attr]
    with httpx.Client(base_url=proc.api_url, timeout=60, trust_env=False) as client:
        for path, params in PAGE:
            ours, main, theirs = t.cpu_seconds(pid), _own_cpu(pid), _server_cpu(server) if server else 0.0
            for _ in range(loads):
                client.get(path, params=params).raise_for_status()
            totals = cost.setdefault(_label(path, params), [0.0, 0.0, 0.0])
            totals[0] += t.cpu_seconds(pid) - ours
            totals[1] += _own_cpu(pid) - main
            totals[2] += (_server_cpu(server) - theirs) if server else 0.0


def _report(cost: dict[str, list[float]], loads: int, postgres: bool) -> dict[str, Any]:
    def ms(seconds: float) -> float:
        return round(1000 * seconds / loads, 2)

    def row(ours: float, main: float, theirs: float) -> dict[str, float]:
        return {"omnirouteMs": ms(ours), "mainProcessMs": ms(main), **({"postgresMs": ms(theirs)} if postgres else {})}

    out: dict[str, Any] = {label: row(*totals) for label, totals in cost.items()}
    out["page"] = row(*(sum(c[i] for c in cost.values()) for i in range(3)))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="omniroute-page-cost-"))
    pg = None
    procs: dict[str, OmniRouteProcess] = {}
    try:
        if args.db == "postgresql":
            from tests.support.servers import PostgresServer

            pg = PostgresServer().start()
            url = pg.url
        else:
            url = f"sqlite:///{work / 'omniroute.db'}"
        urls = {THIS_TREE: url}
        env: dict[str, dict[str, str]] = {THIS_TREE: {}}
        if args.baseline:
            tree = t.baseline_tree(args.baseline, work)
            fill_s = _fill_with(tree, url, args.rows)
            urls = {args.baseline: url, THIS_TREE: _copy(url, "omniroute_this", work, pg)}
            env = {args.baseline: {"PYTHONPATH": str(tree)}, THIS_TREE: {}}
        else:
            fill_s = fill(url, args.rows)
        started: dict[str, float] = {}
        for name, db_url in urls.items():
            clock = time.perf_counter()
            proc = procs[name] = OmniRouteProcess(work / name.replace(" ", "-"), demo=True, proxy=False, bridge=False,
                                                  env={"DATABASE_URL": db_url, "OMNIROUTE_LOG_LEVEL": "warning",
                                                       **env[name]})
            # Started outside the checkout: a baseline's reader process, started with ``python -m``
            # (the working directory first on its path), would otherwise import this tree's code.
            proc.cwd = work
            proc.start(600)
            started[name] = round(time.perf_counter() - clock, 1)
            db = Database(db_url)
            analyse(db)  # the tables a migration just made or filled, as autovacuum would
            db.dispose()
        server = _server_pid(pg)
        cost: dict[str, dict[str, list[float]]] = {name: {} for name in procs}
        for proc in procs.values():
            _load(proc, None, 2, {})  # warm up: connections, plans, caches
        names = list(procs)
        for round_no in range(args.rounds):
            for name in names if round_no % 2 == 0 else names[::-1]:
                _load(procs[name], server, args.page_cost, cost[name])
        loads = args.page_cost * args.rounds
        return {"db": args.db, "rows": args.rows, "fillSeconds": round(fill_s, 1), "loadsPerEndpoint": loads,
                "startSeconds": started,
                **{name: _report(cost[name], loads, pg is not None) for name in procs}}
    finally:
        for proc in procs.values():
            proc.close()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
