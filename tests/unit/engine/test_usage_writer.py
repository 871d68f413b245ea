"""Usage rows through the background writer, on a real SQLite file and a real PostgreSQL:
batched into one transaction, written exactly, flushed on demand, drained on close, kept while
the database is locked, and a row the database refuses does not hold back the others."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlmodel import select

from omniroute.db.database import Database
from omniroute.db.tables import UsageLog
from omniroute.db.writer import BackgroundWriter
from omniroute.engine.usage import UsageRecord, UsageRecorder
from tests.integration.conftest_pg import database_url, db, postgres_server  # noqa: F401


@pytest.fixture()
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'usage.db'}")
    database.migrate()
    yield database
    database.dispose()


def commits(db: Database) -> list[float]:
    seen: list[float] = []
    event.listen(db.engine, "commit", lambda _conn: seen.append(time.monotonic()))
    return seen


def record(i: int, **fields: object) -> UsageRecord:
    fields.setdefault("request_id", f"req-{i}")
    fields.setdefault("model_requested", "alpha/m")
    return UsageRecord(source="api", client_format="openai-chat", **fields)  # type: ignore[arg-type]


def rows(db: Database) -> list[UsageLog]:
    with db.session() as session:
        return list(session.exec(select(UsageLog).order_by(UsageLog.id)))  # type: ignore[arg-type]


def test_rows_written_exactly_in_one_transaction_when_flushed(db: Database) -> None:
    seen = commits(db)
    recorder = UsageRecorder(db, linger=30.0)  # only flush() ends this linger
    full = record(0, agent="codex", api_key_id="key-1", model_used="m", provider="openai",
                  connection_id="conn-1", tokens_in=12, tokens_out=34, tokens_cached=5,
                  cost=Decimal("0.000085"), latency_ms=12.5, upstream_latency_ms=7.25,
                  fallback_attempts=1, status=200)
    recorder.record(full)
    for i in range(1, 50):
        recorder.record(record(i, status=502, error="upstream broke"))
    started = time.monotonic()
    assert recorder.flush(10.0)
    assert time.monotonic() - started < 5.0
    assert len(seen) == 1
    stored = rows(db)
    assert [row.request_id for row in stored] == [f"req-{i}" for i in range(50)]
    first = stored[0]
    assert (first.agent, first.api_key_id, first.model_used, first.provider, first.connection_id) == (
        "codex", "key-1", "m", "openai", "conn-1")
    assert (first.tokens_in, first.tokens_out, first.tokens_cached) == (12, 34, 5)
    assert Decimal(first.cost) == Decimal("0.000085") and first.cost == "0.000085"
    assert (first.latency_ms, first.upstream_latency_ms, first.fallback_attempts, first.status) == (
        12.5, 7.25, 1, 200)
    assert first.created_at.replace(tzinfo=UTC) == full.created_at  # when the request ended
    assert (stored[1].status, stored[1].error, stored[1].cost, stored[1].model_used) == (
        502, "upstream broke", "0", None)
    recorder.close()


def test_rows_arriving_together_share_a_transaction_without_flush(db: Database) -> None:
    seen = commits(db)
    recorder = UsageRecorder(db, linger=0.5)
    for i in range(20):
        recorder.record(record(i))
    deadline = time.monotonic() + 10.0
    while len(rows(db)) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rows(db)) == 20 and len(seen) == 1
    recorder.close()


def test_a_read_with_every_row_written_leaves_the_next_batch_whole(sqlite_db: Database) -> None:
    """The Usage page waits for rows not yet written (`written()`); with none pending it goes on
    at once, and does not cut the linger of the rows that come after it short."""
    seen = commits(sqlite_db)
    recorder = UsageRecorder(sqlite_db, linger=1.0)
    assert asyncio.run(recorder.written(5.0))  # nothing pending
    recorder.record(record(0))
    time.sleep(0.2)  # within the first row's linger
    recorder.record(record(1))
    deadline = time.monotonic() + 10.0
    while len(rows(sqlite_db)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [row.request_id for row in rows(sqlite_db)] == ["req-0", "req-1"]
    assert len(seen) == 1  # one transaction for both
    recorder.close()


def test_a_read_waits_for_the_rows_put_before_it(sqlite_db: Database) -> None:
    recorder = UsageRecorder(sqlite_db, linger=0.3)
    recorder.record(record(0))
    assert asyncio.run(recorder.written(10.0))
    assert [row.request_id for row in rows(sqlite_db)] == ["req-0"]
    assert asyncio.run(recorder.written(0.01))  # written now: at once
    recorder.close()


def test_a_read_does_not_cut_the_linger_short(sqlite_db: Database) -> None:
    """The Usage page polled in a loop must not make the writer write a batch per request: a
    read waits for the batch in progress, and a row put during its linger joins that batch."""
    seen = commits(sqlite_db)
    recorder = UsageRecorder(sqlite_db, linger=1.0)

    async def read_while_a_row_comes() -> bool:
        recorder.record(record(0))
        read = asyncio.create_task(recorder.written(10.0))
        await asyncio.sleep(0.3)  # within the first row's linger
        recorder.record(record(1))
        return await read

    assert asyncio.run(read_while_a_row_comes())
    assert [row.request_id for row in rows(sqlite_db)] == ["req-0", "req-1"]
    assert len(seen) == 1  # one transaction for both
    recorder.close()


def test_close_drains_the_queue_and_stops_the_thread(db: Database) -> None:
    recorder = UsageRecorder(db, linger=30.0)
    for i in range(10):
        recorder.record(record(i))
    recorder.close(10.0)
    assert len(rows(db)) == 10
    assert "omniroute-usage" not in {thread.name for thread in threading.enumerate()}
    assert recorder.flush(0.1)  # closed and empty: nothing to wait for


def test_locked_database_keeps_rows_until_the_lock_goes(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    recorder = UsageRecorder(db, linger=0.01, retry_delay=0.05)
    lock = sqlite3.connect(tmp_path / "usage.db", timeout=10, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        for i in range(30):
            recorder.record(record(i))
        assert time.monotonic() - started < 0.5, "record() must not wait for the database"
        assert not recorder.flush(1.0)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert recorder.flush(15.0)
    assert [row.request_id for row in rows(db)] == [f"req-{i}" for i in range(30)]
    recorder.close()


def test_a_refused_row_is_dropped_alone_and_nul_text_is_kept(db: Database) -> None:
    recorder = UsageRecorder(db, linger=30.0, retry_delay=0.05)
    recorder.record(record(0))
    recorder.record(record(1, request_id=None))  # NOT NULL: no retry ever writes it
    recorder.record(record(2, status=400, error="mk answered 400: bad \x00 request"))
    recorder.record(record(3))
    assert recorder.flush(15.0)
    stored = rows(db)
    assert [row.request_id for row in stored] == ["req-0", "req-2", "req-3"]
    assert stored[1].error == "mk answered 400: bad \ufffd request"  # PostgreSQL text refuses NUL
    recorder.close()
    assert recorder.stats() == {"repaired": 0, "dropped": 1}  # NUL is cleaned before writing


def test_rows_the_driver_refuses_are_repaired_and_counted(db: Database) -> None:
    """An unpaired surrogate (JSON's "\\ud800") has no UTF-8 form and a token count past 32
    bits fits no INTEGER: retried as they are, they would hold back every row behind them."""
    recorder = UsageRecorder(db, linger=30.0, retry_delay=0.05)
    recorder.record(record(0))
    recorder.record(record(1, model_requested="m/\ud800", status=400))
    recorder.record(record(2, tokens_in=10**30))
    recorder.record(record(3))
    assert recorder.flush(15.0)
    stored = {row.request_id: row for row in rows(db)}
    assert sorted(stored) == ["req-0", "req-1", "req-2", "req-3"]
    assert stored["req-1"].model_requested == "m/\ufffd"
    assert stored["req-2"].tokens_in == 2**31 - 1
    assert recorder.stats() == {"repaired": 2, "dropped": 0}
    recorder.close()


def test_a_row_no_repair_fixes_is_dropped_alone_and_counted(sqlite_db: Database) -> None:
    """Any error that does not say "database unavailable" is the row's own: it is dropped
    after one repair, never retried forever."""
    def write(session: Any, batch: list[int]) -> None:
        for item in batch:
            if item < 0:
                raise ValueError("a value no driver takes")
        session.execute(insert(UsageLog.__table__), [  # type: ignore[attr-defined]
            record(item).row() for item in batch])

    tried: list[int] = []

    def repair(item: int) -> int | None:
        tried.append(item)
        return item - 1 if item == -1 else None  # still refused: dropped

    writer: BackgroundWriter[int] = BackgroundWriter(sqlite_db, write, name="test", linger=30.0,
                                                     retry_delay=0.05, repair=repair)
    for item in (1, -1, 2, -5, 3):
        writer.put(item)
    assert writer.flush(15.0)
    assert [row.request_id for row in rows(sqlite_db)] == ["req-1", "req-2", "req-3"]
    assert tried == [-1, -5]
    assert (writer.repaired, writer.dropped) == (0, 2)
    writer.close()
