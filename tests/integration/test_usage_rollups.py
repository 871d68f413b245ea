"""The Usage page's charts read what the usage writer keeps beside the rows: failures counted
per hour, status and message (`usage_errors`), and the hourly sums and latency counts summed per
day (`usage_daily`, `usage_latency_daily`). On SQLite and on a real PostgreSQL they match the
rows and the hourly tables, after the writer's batches and after the migration's backfill."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text

from omniroute.db.database import Database
from omniroute.db.tables import cost_units
from omniroute.engine import usage_charts
from omniroute.engine.usage import UsageRecord, _write_usage
from omniroute.engine.usage_sums import period_sums
from tests.integration.conftest_pg import database_url, db, postgres_server  # noqa: F401

HOUR = 3600
GROUP_COLUMNS = ("model", "provider", "agent", "api_key")
SUMS = ("requests", "errors", "tokens_in", "tokens_out", "tokens_cached", "cost_units", "unpriced")
# None and "" are different messages; one is longer than PostgreSQL lets an index key be.
MESSAGES = (None, "", "overloaded", "rate limited: retry in 20s", "é" * 3000)



def _records(now: datetime) -> list[UsageRecord]:
    rng = random.Random(16)
    return [
        UsageRecord(request_id=f"e{i}", source="api", agent=rng.choice((None, "codex")), client_format="openai-chat",
                    model_requested=rng.choice(("m1", "m2")), provider="p", tokens_in=i, tokens_out=2 * i,
                    cost=rng.choice((None, Decimal("0.001"))), latency_ms=rng.uniform(1, 900),
                    status=rng.choice((200, 200, 429, 500, 503)), error=rng.choice(MESSAGES),
                    created_at=now - timedelta(seconds=rng.uniform(0, 3 * 86400)))
        for i in range(600)
    ]


def _write(db: Database, records: list[UsageRecord]) -> None:
    """In batches out of time order: a later batch adds to the hours and days of earlier ones,
    and an older failure must not replace a newer one as the latest."""
    for start in range(0, len(records), 70):
        with db.session() as s:
            _write_usage(s, records[start:start + 70])
            s.commit()


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
    _write(db, records)
    for since in _sinces(now):
        errors = _errors(db, since)
        got = sorted(((e["status"], e["error"], e["count"], e["last"]) for e in errors), key=_by_message)
        assert got == _expected(records, since)
        order = [(e["count"], e["last"]) for e in errors]
        assert order == sorted(order, reverse=True)  # the most frequent first, then the newest
    assert len(_errors(db, _sinces(now)[-1])) == 3 * len(MESSAGES)


def test_migration_0010_counts_existing_rows_as_the_writer_does(db: Database) -> None:
    now = datetime.now(UTC)
    records = _records(now)
    with db.session() as s:
        _write_usage(s, records)
        s.commit()
    before = [_errors(db, since) for since in _sinces(now)], _per_day(db)
    db.downgrade("0009")
    db.migrate()
    assert ([_errors(db, since) for since in _sinces(now)], _per_day(db)) == before
    assert before[0][-1] and before[0][0] != before[0][-1]


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


ROLLUPS = (("usage_hourly", "usage_daily", (), SUMS),
           ("usage_latency", "usage_latency_daily", ("bucket",), ("calls",)))


def _per_day(db: Database) -> list[dict[tuple[Any, ...], int]]:
    """Each hourly table summed per day in Python, then its daily table: they must agree."""
    out = []
    with db.session() as s:
        for hourly, daily, keys, measures in ROLLUPS:
            for table, start in ((hourly, "hour"), (daily, "day")):
                counts: dict[tuple[Any, ...], int] = defaultdict(int)
                columns = ", ".join((start, *GROUP_COLUMNS, *keys, *measures))
                for row in s.connection().execute(text(f"SELECT {columns} FROM {table}")).mappings():
                    day = str(row[start])[:10]  # a datetime on PostgreSQL, its text on SQLite
                    for measure in measures:
                        counts[(day, *(row[k] for k in (*GROUP_COLUMNS, *keys)), measure)] += int(row[measure])
                out.append(dict(counts))
    return out


def test_daily_sums_match_the_hourly_ones(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    _write(db, _records(now))
    hourly_sums, daily_sums, hourly_latency, daily_latency = _per_day(db)
    assert hourly_sums == daily_sums and len(daily_sums) > 4
    assert hourly_latency == daily_latency
    midnight = datetime.fromtimestamp(int(now.timestamp()) // 86400 * 86400 - 2 * 86400, UTC)

    def charts() -> list[Any]:
        with db.session() as s:
            return [(usage_charts.series(s, midnight, 86400, by), usage_charts.latency(s, midnight, by))
                    for by in ("model", "agent", "provider")]

    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    by_day = charts()
    assert all("_daily" in sql for sql in statements) and len(statements) == 6
    monkeypatch.setattr(usage_charts, "_whole_days", lambda *_: False)  # the same charts from the hours
    statements.clear()
    assert charts() == by_day
    assert not [sql for sql in statements if "_daily" in sql]


def test_period_sums_count_unpriced_calls_apart(db: Database) -> None:
    """The Usage page's sums keep the calls of no known price apart from the priced sum, from
    the rows at a period's edges, the hours and the days alike: the page shows them as
    "unknown", never as $0."""
    now = datetime.now(UTC)
    records = _records(now)
    _write(db, records)
    for since in (now - timedelta(minutes=20), now - timedelta(hours=5, minutes=7), now - timedelta(days=3)):
        with db.session() as s:
            total, sums = period_sums(s, since, now)
        rows = [r for r in records if r.created_at >= since]
        unpriced = [r for r in rows if r.cost is None]
        assert (total.requests, total.unpriced) == (len(rows), len(unpriced)) and unpriced
        assert total.cost_units == sum(cost_units(r.cost) for r in rows if r.cost is not None)
        by_model = {model: (group.requests, group.unpriced) for model, group in sums["byModel"].items()}
        assert by_model == {model: (sum(r.model_requested == model for r in rows),
                                    sum(r.model_requested == model for r in unpriced))
                            for model in {r.model_requested for r in rows}}
