"""The Usage charts' queries (`engine/usage_charts.py`) on SQLite and on a real PostgreSQL: the
same buckets, sums, percentiles and error groups from the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omniroute.db.database import Database
from omniroute.engine import usage_charts
from omniroute.engine.usage import UsageRecord, _write_usage
from tests.integration.conftest_pg import database_url, db, postgres_server  # noqa: F401

HOUR = 3600



def test_series_latency_and_errors(db: Database) -> None:
    base = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) // HOUR * HOUR - 2 * HOUR, UTC)

    def rec(i: int, model: str, at: datetime, ms: float, cost: Decimal | None = Decimal("0.25"),
            status: int = 200, error: str | None = None) -> UsageRecord:
        return UsageRecord(request_id=f"r{i}", source="api", client_format="openai-chat", model_requested=model,
                           model_used=model, provider="p", tokens_in=10, tokens_out=5, cost=cost,
                           latency_ms=ms, status=status, error=error, created_at=at)

    records = [rec(i, "a", base + timedelta(minutes=5 + i), float(10 * (i + 1))) for i in range(10)]
    records += [rec(20, "b", base + timedelta(hours=1, minutes=1), 7.0, cost=None),
                rec(21, "b", base + timedelta(hours=1, minutes=2), 9.0, status=503, error="overloaded"),
                rec(22, "b", base + timedelta(hours=1, minutes=3), 9.0, status=503, error="overloaded"),
                rec(23, "a", base - timedelta(days=3), 1.0)]  # before the period
    with db.session() as s:  # as the usage writer writes them: rows, hourly sums, latency counts
        _write_usage(s, records)
        s.commit()
    since = base
    with db.session() as s:
        series = usage_charts.series(s, since, HOUR, "model")
        latency = usage_charts.latency(s, since, "model")
        errors = usage_charts.errors(s, since)
        by_agent = usage_charts.series(s, since, HOUR, "agent")
    start = int(base.timestamp())
    assert [(p["bucket"] - start, p["name"], p["requests"], p["errors"], p["unpriced"]) for p in series] == [
        (0, "a", 10, 0, 0), (HOUR, "b", 3, 2, 1)]
    assert series[0]["cost"] == pytest.approx(2.5) and series[0]["tokensIn"] == 100
    assert series[1]["cost"] == pytest.approx(0.5)  # the unpriced call adds nothing
    # Nearest rank: p50 of 10..100 is the 5th value, p90 the 9th, p99 the 10th; read back from
    # latency buckets, each within 2.5 % of it.
    exact = [{"name": "a", "n": 10, "p50": 50.0, "p90": 90.0, "p99": 100.0},
             {"name": "b", "n": 1, "p50": 7.0, "p90": 7.0, "p99": 7.0}]
    assert [(r["name"], r["n"]) for r in latency] == [(r["name"], r["n"]) for r in exact]
    for got, want in zip(latency, exact, strict=True):
        for p in ("p50", "p90", "p99"):
            assert got[p] == pytest.approx(want[p], rel=0.025)
    assert [(e["status"], e["error"], e["count"]) for e in errors] == [(503, "overloaded", 2)]
    assert {p["name"] for p in by_agent} == {"api"}


def test_migration_0008_counts_existing_rows_as_the_writer_does(db: Database) -> None:
    """Rows written before 0008 get the same latency counts and unpriced sums the writer keeps."""
    now = datetime.now(UTC)
    records = [
        UsageRecord(request_id=f"m{i}", source="api", client_format="openai-chat", model_requested=f"m{i % 3}",
                    provider="p", latency_ms=5.0 + 37 * i, status=200 if i % 7 else 502,
                    cost=None if i % 4 == 0 else Decimal("0.001"), created_at=now - timedelta(minutes=13 * i))
        for i in range(120)
    ]
    with db.session() as s:
        _write_usage(s, records)
        s.commit()
    since = datetime.fromtimestamp(int((now - timedelta(days=2)).timestamp()) // HOUR * HOUR, UTC)

    def charts() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        with db.session() as s:
            return usage_charts.series(s, since, HOUR, "model"), usage_charts.latency(s, since, "model")

    before = charts()
    assert sum(p["unpriced"] for p in before[0]) == 30 and before[1]
    db.downgrade("0007")
    db.migrate()
    assert charts() == before
