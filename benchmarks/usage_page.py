"""The Usage page's benchmark data, requests and client: ``fill`` writes a database of usage
rows as months of traffic leave them; ``PAGE`` is what the page asks for when it opens;
``load_page`` and ``PageClient`` load it in a loop, from the caller's event loop or from a
process of its own.

Shared by ``benchmarks.usage_load`` (does the page stall model calls?) and
``benchmarks.usage_page_cost`` (what one page load costs in CPU). ``fill`` uses only the
usage writer's public pieces, so a baseline tree on ``PYTHONPATH`` fills a database with its
own schema and hourly sums.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Self

import httpx

from omniroute.db.database import Database
from omniroute.db.tables import UsageLog, cost_units
from omniroute.engine.usage_sums import add_to_hours

BATCH = 20_000
MODELS = ("demo/echo", "openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-pro")
COST_UNITS = cost_units(Decimal("0.0001"))
# One call in 50 fails, with one of a few messages, as an upstream's limits and outages leave them.
FAILURES = ((429, "rate limited by the upstream"), (429, None), (502, "upstream connection refused"),
            (500, "upstream error: internal server error"))

# What the Usage page asks for when it opens and when the period changes.
PAGE = (
    ("/api/usage/call-logs", {"limit": 50}),
    ("/api/usage/analytics", {"period": "day"}),
    ("/api/usage/analytics", {"period": "week"}),
    ("/api/usage/charts", {"period": "week", "by": "model"}),
    ("/api/usage/charts", {"period": "month", "by": "agent"}),
)


def fill(url: str, rows: int, seed: int = 7) -> float:
    """Insert ``rows`` usage rows spread over 90 days, oldest first as the usage writer appends
    them, with their hourly sums (as the writer keeps them), then analyse; seconds taken."""
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
            status, error = FAILURES[(i // 50) % len(FAILURES)] if i % 50 == 0 else (200, None)
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
                "status": status,
                "error": error,
            })
        with db.session() as session:
            session.execute(table.insert(), batch)
            add_to_hours(session, batch)
            session.commit()
    analyse(db)
    db.dispose()
    return time.perf_counter() - started


def analyse(db: Database) -> None:
    """What autovacuum does after such inserts: a table the planner has never seen measures
    its guesses, not our queries."""
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


async def load_page(client: httpx.AsyncClient, until: float, out: list[float], rate: float = 0) -> None:
    """The page's requests in a loop; with ``rate``, a load starts at most ``rate`` times a
    second (when due, or when the one before it ends)."""
    next_start = time.perf_counter()
    while True:
        await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
        started = time.perf_counter()
        if started >= until:
            return
        for path, params in PAGE:
            (await client.get(path, params=params)).raise_for_status()
        out.append((time.perf_counter() - started) * 1000)
        next_start = started + (1 / rate if rate else 0)


def _page_process(base_url: str, nice: int, rate: float, conn: Connection) -> None:
    """The page's client, in a process of its own as a browser is: told when each phase ends,
    it answers with its page loads (ms)."""
    os.nice(nice)

    async def serve() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False) as client:
            while (until := conn.recv()) is not None:  # the clock is the machine's (CLOCK_MONOTONIC)
                loads: list[float] = []
                await load_page(client, until, loads, rate)
                conn.send(loads)

    asyncio.run(serve())


class PageClient:
    """The Usage page loaded in a loop from another process (``--page-client process``), so the
    page's requests and responses take nothing from the loop that times the calls."""

    def __init__(self, base_url: str, nice: int, rate: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, theirs = context.Pipe()
        self._process = context.Process(target=_page_process, args=(base_url, nice, rate, theirs), daemon=True)
        self._process.start()

    async def load(self, until: float, out: list[float]) -> None:
        self._conn.send(until)
        out += await asyncio.to_thread(self._conn.recv)  # a thread parked on the pipe, holding no GIL

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._conn.send(None)
        self._process.join(10)
