"""The Usage page's most frequent errors come from `usage_errors`, the failures the usage
writer counts per hour, status and message: on SQLite and on a real PostgreSQL, they match the
failed rows themselves, after the writer's batches and after the migration's backfill."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from omniroute.db.database import Database
from omniroute.engine import usage_charts
from omniroute.engine.usage import UsageRecord, _write_usage
from tests.integration.conftest_pg import database_url, postgres_server  # noqa: F401

HOUR = 3600
# None and "" are different messages; one is longer than PostgreSQL lets an index key be.
MESSAGES = (None, "", "overloaded", "rate limited: retry in 20s", "é" * 3000)


@pytest.fixture()
def db(database_url: str) -> Iterator[Database]:  # noqa: F811
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def _records(now: datetime) -> list[UsageRecord]:
    rng = random.Random(16)
    return [
        UsageRecord(request_id=f"e{i}", source="api", client_format="openai-chat", model_requested="m",
                    status=rng.choice((200, 200, 429, 500, 503)), error=rng.choice(MESSAGES),
                    created_at=now - timedelta(seconds=rng.uniform(0, 3 * 86400)))
        for i in range(600)
    ]


def _expected(records: list[UsageRecord], since: datetime) -> list[tuple[Any, ...]]:
    """The failed rows since ``since`` grouped by status and message: count, newest."""
    groups: dict[tuple[int, str | None], list[datetime]] = defaultdict(list)
    for r in records:
        if r.status >= 400 and r.created_at >= since:
            groups[(r.status, r.error)].append(r.created_at)
    return sorted(((status, error, len(at), max(at).isoformat()) for (status, error), at in groups.items()),
                  key=_by_message)


def _by_message(group: tuple[Any, ...]) -> tuple[Any, ...]:
    status, error = group[:2]
    return status, error is not None, error or ""


def _errors(db: Database, since: datetime) -> list[dict[str, Any]]:
    with db.session() as s:
        return usage_charts.errors(s, since, limit=100)


def _sinces(now: datetime) -> list[datetime]:
    """Periods start on a whole hour, as the charts' buckets do."""
    floor = int(now.timestamp()) // HOUR * HOUR
    return [datetime.fromtimestamp(floor - hours * HOUR, UTC) for hours in (0, 5, 30, 80)]


def test_error_counts_match_the_failed_rows(db: Database) -> None:
    now = datetime.now(UTC)
    records = _records(now)
    # Written in batches out of time order: a later batch adds to the hours of earlier ones,
    # and an older failure must not replace a newer one as the latest.
    for start in range(0, len(records), 70):
        with db.session() as s:
            _write_usage(s, records[start:start + 70])
            s.commit()
    for since in _sinces(now):
        errors = _errors(db, since)
        got = sorted(((e["status"], e["error"], e["count"], e["last"]) for e in errors), key=_by_message)
        assert got == _expected(records, since)
        order = [(e["count"], e["last"]) for e in errors]
        assert order == sorted(order, reverse=True)  # the most frequent first, then the newest
    assert len(_errors(db, _sinces(now)[-1])) == 3 * len(MESSAGES)


def test_migration_0010_counts_existing_failures_as_the_writer_does(db: Database) -> None:
    now = datetime.now(UTC)
    records = _records(now)
    with db.session() as s:
        _write_usage(s, records)
        s.commit()
    before = [_errors(db, since) for since in _sinces(now)]
    db.downgrade("0009")
    db.migrate()
    assert [_errors(db, since) for since in _sinces(now)] == before
    assert before[-1] and before[0] != before[-1]


def test_the_charts_read_no_usage_row(db: Database) -> None:
    """Series, percentiles and errors all come from the counts the writer keeps: a month of
    rows is never scanned on a page load."""
    now = datetime.now(UTC)
    with db.session() as s:
        _write_usage(s, _records(now))
        s.commit()
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    since = _sinces(now)[-1]
    with db.session() as s:
        charts = (usage_charts.series(s, since, HOUR, "model"), usage_charts.latency(s, since, "agent"),
                  usage_charts.errors(s, since))
    assert all(charts) and len(statements) == 3
    assert not [sql for sql in statements if "usage_logs" in sql]
