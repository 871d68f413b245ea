"""The Usage page's charts, aggregated by the database: series over time, latency percentiles,
errors. No usage row is read: the charts read the sums, latency counts and error counts the
usage writer keeps per hour, and the sums and latency counts per day for a period of whole days
(`engine/usage_sums.py`). Periods start on a whole bucket, and buckets are whole hours.

- ``series``: per time bucket and per name (model, agent or provider) the requests, errors,
  tokens and cost (summed exactly as integer ``cost_units``, sent as a number for the chart).
  Calls with no known price are counted (``unpriced``) rather than added as 0.
- ``latency``: p50 / p90 / p99 of total latency per name over answered calls, nearest rank,
  from the counts per latency bucket (within 2.5 % of the exact value).
- ``errors``: the most frequent failures (status and message), from the failures counted per
  hour, status and message (`usage_errors`), the newest first among equals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, cast, func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from omniroute.db.latency_buckets import percentiles
from omniroute.db.tables import (
    UsageDaily,
    UsageErrors,
    UsageHourly,
    UsageLatency,
    UsageLatencyDaily,
    units_cost,
)

By = Literal["model", "agent", "provider"]
PERCENTILES = (50, 90, 99)


DAY = 86400


def _epoch(session: Session, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    # date_part is a double; EXTRACT a numeric, several times slower to compute per row.
    return cast(func.date_part("epoch", column), Integer)


def _whole_days(since: datetime, bucket_s: int = DAY) -> bool:
    """Whether the period is made of whole UTC days: then the daily sums hold the same counts."""
    return since.timestamp() % DAY == 0 and bucket_s % DAY == 0


def series(session: Session, since: datetime, bucket_s: int, by: By) -> list[dict[str, Any]]:
    table: Any = UsageDaily if _whole_days(since, bucket_s) else UsageHourly
    start = col(table.day if table is UsageDaily else table.hour)
    epoch = _epoch(session, start)
    bucket = (epoch - epoch % bucket_s).label("bucket")  # % is integer in SQLite and PostgreSQL alike
    name = col(getattr(table, by)).label("name")
    statement = (
        select(
            bucket, name, func.sum(col(table.requests)).label("requests"),
            func.sum(col(table.errors)).label("errors"),
            func.sum(col(table.tokens_in)).label("tokens_in"),
            func.sum(col(table.tokens_out)).label("tokens_out"),
            func.sum(col(table.cost_units)).label("cost_units"),
            func.sum(col(table.unpriced)).label("unpriced"),
        )
        .where(start >= since)
        .group_by(bucket, name)
        .order_by(bucket, name)
    )
    return [
        {"bucket": int(r.bucket), "name": r.name, "requests": int(r.requests), "errors": int(r.errors or 0),
         "tokensIn": int(r.tokens_in or 0), "tokensOut": int(r.tokens_out or 0),
         "cost": float(units_cost(int(r.cost_units or 0))), "unpriced": int(r.unpriced or 0)}
        for r in session.exec(statement).all()  # type: ignore[call-overload]
    ]


def latency(session: Session, since: datetime, by: By) -> list[dict[str, Any]]:
    table: Any = UsageLatencyDaily if _whole_days(since) else UsageLatency
    start = col(table.day if table is UsageLatencyDaily else table.hour)
    name = col(getattr(table, by))
    statement = (
        select(name, col(table.bucket), func.sum(col(table.calls)))
        .where(start >= since)
        .group_by(name, col(table.bucket))
    )
    counts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for series_name, bucket, calls in session.exec(statement).all():  # type: ignore[call-overload]
        counts[series_name].append((int(bucket), int(calls)))
    out = []
    for series_name in sorted(counts):
        values = percentiles(counts[series_name], PERCENTILES)
        out.append({"name": series_name, "n": sum(c for _, c in counts[series_name]),
                    **{f"p{p}": values[p] for p in PERCENTILES}})
    return out


def errors(session: Session, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    calls = func.sum(col(UsageErrors.calls)).label("count")
    last = func.max(col(UsageErrors.last)).label("last")
    statement = (
        select(col(UsageErrors.status), col(UsageErrors.error), calls, last)
        .where(col(UsageErrors.hour) >= since)
        .group_by(col(UsageErrors.status), col(UsageErrors.error))
        .order_by(calls.desc(), last.desc())
        .limit(limit)
    )
    return [{"status": r.status, "error": r.error, "count": int(r.count), "last": _iso(r.last)}
            for r in session.exec(statement).all()]  # type: ignore[call-overload]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.isoformat() if value.tzinfo else value.isoformat() + "+00:00"
