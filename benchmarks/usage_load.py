"""Does the Usage page stall model calls? ``python -m benchmarks.usage_load``.

A real ``omniroute run --demo`` over a database holding ``--rows`` usage rows (spread over 90
days, as months of traffic leave them). Concurrent clients call ``/v1/chat/completions`` (the
in-process demo provider, so the figure is OmniRoute's own) while, in alternate phases, one
more client loads the Usage page's queries in a loop (``call-logs``, ``analytics``, ``charts``). The
report: the p50/p99 of the model calls in quiet phases and in Usage phases, and how far the
p99 moved. Bounded in time: ``--seconds`` per phase, ``--rounds`` quiet/Usage pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from omniroute.db.database import Database
from omniroute.db.tables import UsageLog, cost_units
from omniroute.engine.usage_sums import add_to_hours
from tests.support.harness import OmniRouteProcess

BATCH = 20_000
MODELS = ("demo/echo", "openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-pro")
COST_UNITS = cost_units(Decimal("0.0001"))
CHAT = {"model": "demo/echo", "messages": [{"role": "user", "content": "hello"}]}


def fill(url: str, rows: int, seed: int = 7) -> float:
    """Insert ``rows`` usage rows, oldest first as the usage writer appends them, with their
    hourly sums (as the writer keeps them); seconds taken."""
    rng = random.Random(seed)
    db = Database(url)
    db.migrate()
    now = datetime.now(UTC)
    ages = sorted((rng.uniform(0, 90 * 86400) for _ in range(rows)), reverse=True)
    started = time.perf_counter()
    table = UsageLog.__table__  # type: ignore[attr-defined]
    for offset in range(0, rows, BATCH):
        batch = []
        for i in range(offset, min(rows, offset + BATCH)):
            model = MODELS[i % len(MODELS)]
            batch.append({
                "request_id": f"bench{i:012x}",
                "created_at": now - timedelta(seconds=ages[i]),
                "source": "api" if i % 3 else "agent-bridge",
                "agent": None if i % 3 else "claude-code",
                "api_key_id": None,
                "client_format": "openai-chat",
                "model_requested": model,
                "model_used": model,
                "provider": model.partition("/")[0],
                "tokens_in": 100 + i % 400,
                "tokens_out": 20 + i % 300,
                "tokens_cached": 0,
                "cost": "0.0001",
                "cost_units": COST_UNITS,
                "latency_ms": 12.5,
                "status": 200 if i % 50 else 429,
            })
        with db.session() as session:
            session.execute(table.insert(), batch)
            add_to_hours(session, batch)
            session.commit()
    db.dispose()
    return time.perf_counter() - started


async def _model_calls(client: httpx.AsyncClient, until: float, out: list[float]) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        reply = await client.post("/v1/chat/completions", json=CHAT)
        reply.raise_for_status()
        out.append((time.perf_counter() - started) * 1000)


# What the Usage page asks for when it opens and when the period changes.
PAGE = (
    ("/api/usage/call-logs", {"limit": 50}),
    ("/api/usage/analytics", {"period": "day"}),
    ("/api/usage/analytics", {"period": "week"}),
    ("/api/usage/charts", {"period": "week", "by": "model"}),
    ("/api/usage/charts", {"period": "month", "by": "agent"}),
)


async def _usage_page(client: httpx.AsyncClient, until: float, out: list[float]) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        for path, params in PAGE:
            (await client.get(path, params=params)).raise_for_status()
        out.append((time.perf_counter() - started) * 1000)


async def phase(url: str, clients: int, seconds: float, usage: bool) -> tuple[list[float], list[float]]:
    calls: list[float] = []
    pages: list[float] = []
    limits = httpx.Limits(max_connections=clients + 1)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, trust_env=False) as client:
        until = time.perf_counter() + seconds
        tasks = [_model_calls(client, until, calls) for _ in range(clients)]
        if usage:
            tasks.append(_usage_page(client, until, pages))
        await asyncio.gather(*tasks)
    return calls, pages


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    return round(statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0], 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="omniroute-usage-bench-") as tmp:
        home = Path(tmp)
        pg = None
        if args.db == "postgresql":
            from tests.support.servers import PostgresServer

            pg = PostgresServer().start()
            url = pg.url
        else:
            url = f"sqlite:///{home / 'omniroute.db'}"
        try:
            fill_s = fill(url, args.rows)
            env = {"DATABASE_URL": url}
            with OmniRouteProcess(home, demo=True, proxy=False, bridge=False, env=env) as omni:
                # Warm up: connections, the demo transport, the first queries' plans.
                asyncio.run(phase(omni.api_url, args.clients, 2.0, usage=True))
                quiet: list[float] = []
                busy: list[float] = []
                pages: list[float] = []
                for _ in range(args.rounds):
                    calls, _ = asyncio.run(phase(omni.api_url, args.clients, args.seconds, usage=False))
                    quiet += calls
                    calls, loads = asyncio.run(phase(omni.api_url, args.clients, args.seconds, usage=True))
                    busy += calls
                    pages += loads
        finally:
            if pg is not None:
                pg.stop()
    return {
        "db": args.db, "rows": args.rows, "fillSeconds": round(fill_s, 1), "clients": args.clients,
        "quiet": {"calls": len(quiet), "p50Ms": _pct(quiet, 50), "p99Ms": _pct(quiet, 99)},
        "usagePage": {"calls": len(busy), "p50Ms": _pct(busy, 50), "p99Ms": _pct(busy, 99),
                      "pageLoads": len(pages), "pageLoadP50Ms": _pct(pages, 50)},
        "p99MovedMs": round((_pct(busy, 99) or 0) - (_pct(quiet, 99) or 0), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    print(json.dumps(run(parser.parse_args()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
