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
from functools import cache
from typing import Any, Literal

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from omniroute.db.latency_buckets import percentiles
from omniroute.db.tables import (
    UsageDaily,
    UsageErrors,
    UsageHourly,
    UsageLatency,
    UsageLatencyDaily,
    core_table,
    units_cost,
)

By = Literal["model", "agent", "provider"]
PERCENTILES = (50, 90, 99)
DAY = 86400
_SINCE = bindparam("since")
# (table, its time column) per rollup; Core tables, not ORM entities: the page needs tuples.
_HOURS = (core_table(UsageHourly), "hour")
_DAYS = (core_table(UsageDaily), "day")
_LATENCY_HOURS = (core_table(UsageLatency), "hour")
_LATENCY_DAYS = (core_table(UsageLatencyDaily), "day")
_ERRORS = core_table(UsageErrors)


def _epoch(dialect: str, column: Any) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return sql_cast(func.strftime("%s", column), Integer)
    # date_part is a double; EXTRACT a numeric, several times slower to compute per row.
    return sql_cast(func.date_part("epoch", column), Integer)


def _whole_days(since: datetime, bucket_s: int = DAY) -> bool:
    """Whether the period is made of whole UTC days: then the daily sums hold the same counts."""
    return since.timestamp() % DAY == 0 and bucket_s % DAY == 0


# Each statement is built once and run with the period's start bound: building a select and
# its cache key on every page load costs more than running it.
@cache
def _series_statement(dialect: str, daily: bool, bucket_s: int, by: By) -> Select[Any]:
    table, start = _DAYS if daily else _HOURS
    epoch = _epoch(dialect, table.c[start])
    bucket = (epoch - epoch % bucket_s).label("bucket")  # % is integer in SQLite and PostgreSQL alike
    name = table.c[by].label("name")
    return (
        select(bucket, name, *(func.sum(table.c[m]).label(m) for m in
                               ("requests", "errors", "tokens_in", "tokens_out", "cost_units", "unpriced")))
        .where(table.c[start] >= _SINCE)
        .group_by(bucket, name)
        .order_by(bucket, name)
    )


def series(session: Session, since: datetime, bucket_s: int, by: By) -> list[dict[str, Any]]:
    statement = _series_statement(session.get_bind().dialect.name, _whole_days(since, bucket_s), bucket_s, by)
    return [
        {"bucket": int(r.bucket), "name": r.name, "requests": int(r.requests), "errors": int(r.errors or 0),
         "tokensIn": int(r.tokens_in or 0), "tokensOut": int(r.tokens_out or 0),
         "cost": float(units_cost(int(r.cost_units or 0))), "unpriced": int(r.unpriced or 0)}
        for r in session.execute(statement, {"since": since})
    ]


@cache
def _latency_statement(daily: bool, by: By) -> Select[Any]:
    table, start = _LATENCY_DAYS if daily else _LATENCY_HOURS
    return (
        select(table.c[by], table.c.bucket, func.sum(table.c.calls))
        .where(table.c[start] >= _SINCE)
        .group_by(table.c[by], table.c.bucket)
    )


def latency(session: Session, since: datetime, by: By) -> list[dict[str, Any]]:
    counts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for series_name, bucket, calls in session.execute(_latency_statement(_whole_days(since), by), {"since": since}):
        counts[series_name].append((int(bucket), int(calls)))
    out = []
    for series_name in sorted(counts):
        values = percentiles(counts[series_name], PERCENTILES)
        out.append({"name": series_name, "n": sum(c for _, c in counts[series_name]),
                    **{f"p{p}": values[p] for p in PERCENTILES}})
    return out


_CALLS = func.sum(_ERRORS.c.calls).label("count")
_LAST = func.max(_ERRORS.c.last).label("last")
_ERRORS_STATEMENT = (
    select(_ERRORS.c.status, _ERRORS.c.error, _CALLS, _LAST)
    .where(_ERRORS.c.hour >= _SINCE)
    .group_by(_ERRORS.c.status, _ERRORS.c.error)
    .order_by(_CALLS.desc(), _LAST.desc())
    .limit(bindparam("limit"))
)


def errors(session: Session, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    return [{"status": r.status, "error": r.error, "count": int(r.count), "last": _iso(r.last)}
            for r in session.execute(_ERRORS_STATEMENT, {"since": since, "limit": limit})]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.isoformat() if value.tzinfo else value.isoformat() + "+00:00"
