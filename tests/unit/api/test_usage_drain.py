"""The Usage page's reads wait for the calls answered before them (`api.usage.drain`): on a
database slow enough that a write takes a second, the row is there when the read goes on, the
event loop keeps serving meanwhile, and a database that stays away only delays the read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from omniroute.api import usage as usage_api
from omniroute.db.database import Database
from omniroute.db.tables import UsageLog
from omniroute.engine.usage import UsageRecord, UsageRecorder


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'usage.db'}")
    database.migrate()
    yield database
    database.dispose()


def slow_statements(db: Database, seconds: float) -> None:
    """Every statement of the writer's thread takes ``seconds`` longer: a loaded database."""
    def pause(*_: Any) -> None:
        time.sleep(seconds)
    event.listen(db.engine, "before_cursor_execute", pause)


def stored(db: Database) -> list[str]:
    with db.session() as session:
        return [row.request_id for row in session.exec(select(UsageLog))]


async def drain_while_ticking(recorder: UsageRecorder) -> int:
    """Run `drain` beside a task that ticks every 10 ms; how often it ticked."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    await usage_api.drain(recorder)
    ticker.cancel()
    return ticks


def test_a_read_sees_a_call_whose_row_takes_a_second_to_write(db: Database) -> None:
    recorder = UsageRecorder(db, linger=0.01)
    slow_statements(db, 0.4)  # three statements per batch: rows, hourly sums, latency buckets
    recorder.record(UsageRecord(request_id="req-slow", source="api", client_format="openai-chat",
                                model_requested="m", status=200))
    ticks = asyncio.run(drain_while_ticking(recorder))
    assert stored(db) == ["req-slow"]
    assert ticks >= 20  # the loop ran on while the row was written: no thread was waited on
    recorder.close()


def test_a_database_that_stays_away_delays_a_read_by_the_bound_only(db: Database,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_api, "WRITTEN_WAIT_S", 0.2)
    recorder = UsageRecorder(db, linger=0.01)
    slow_statements(db, 1.0)
    recorder.record(UsageRecord(request_id="req-late", source="api", client_format="openai-chat",
                                model_requested="m", status=200))
    asyncio.run(drain_while_ticking(recorder))
    assert stored(db) == []  # the read went on with what was written
    recorder.close()
    assert stored(db) == ["req-late"]  # and the row was not lost
