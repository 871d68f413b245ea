"""The Usage page's charts, aggregated by the database: series over time, latency percentiles,
errors. Each function takes a session and runs one statement; no row is loaded into Python.

- ``series``: per time bucket and per name (model, agent or provider) the requests, errors,
  tokens and cost (summed exactly as integer ``cost_units``, sent as a number for the chart).
  Calls with no known price are counted (``unpriced``) rather than added as 0.
- ``latency``: p50 / p90 / p99 of total latency per name over answered calls, by rank within
  each name (window functions, in SQLite and PostgreSQL alike).
- ``errors``: the most frequent failures (status and message).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, and_, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from omniroute.db.tables import UsageLog, units_cost

By = Literal["model", "agent", "provider"]
PERCENTILES = (50, 90, 99)


def name_of(by: By) -> ColumnElement[Any]:
    """The series name: the model used (else asked), the agent (else how it came in), the provider."""
    if by == "model":
        return func.coalesce(func.nullif(col(UsageLog.model_used), ""), col(UsageLog.model_requested))
    if by == "agent":
        return func.coalesce(col(UsageLog.agent), col(UsageLog.source))
    return func.coalesce(col(UsageLog.provider), literal("none"))


def _epoch(session: Session) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", col(UsageLog.created_at)), Integer)
    return cast(func.extract("epoch", col(UsageLog.created_at)), Integer)


def series(session: Session, since: datetime, bucket_s: int, by: By) -> list[dict[str, Any]]:
    epoch = _epoch(session)
    bucket = (epoch - epoch % bucket_s).label("bucket")  # % is integer in SQLite and PostgreSQL alike
    name = name_of(by).label("name")
    failed = col(UsageLog.status) >= 400
    statement = (
        select(
            bucket, name, func.count().label("requests"),
            func.sum(case((failed, 1), else_=0)).label("errors"),
            func.sum(col(UsageLog.tokens_in)).label("tokens_in"),
            func.sum(col(UsageLog.tokens_out)).label("tokens_out"),
            func.sum(col(UsageLog.cost_units)).label("cost_units"),
            func.sum(case((col(UsageLog.cost).is_(None), 1), else_=0)).label("unpriced"),
        )
        .where(col(UsageLog.created_at) >= since)
        .group_by(bucket, name)
        .order_by(bucket, name)
    )
    return [
        {"bucket": int(r.bucket), "name": r.name, "requests": r.requests, "errors": int(r.errors or 0),
         "tokensIn": int(r.tokens_in or 0), "tokensOut": int(r.tokens_out or 0),
         "cost": float(units_cost(int(r.cost_units or 0))), "unpriced": int(r.unpriced or 0)}
        for r in session.exec(statement).all()  # type: ignore[call-overload]
    ]


def latency(session: Session, since: datetime, by: By) -> list[dict[str, Any]]:
    name = name_of(by)
    ranked = (
        select(
            name.label("name"), col(UsageLog.latency_ms).label("ms"),
            func.row_number().over(partition_by=name, order_by=col(UsageLog.latency_ms)).label("rank"),
            func.count().over(partition_by=name).label("n"),
        )
        .where(and_(col(UsageLog.created_at) >= since, col(UsageLog.status) < 400))
        .subquery()
    )
    # The p-th percentile is the value at rank ceil(p/100 * n) (nearest-rank method).
    picks = [
        func.min(case((ranked.c.rank * 100 >= ranked.c.n * p, ranked.c.ms))).label(f"p{p}") for p in PERCENTILES
    ]
    statement = select(ranked.c.name, func.max(ranked.c.n).label("n"), *picks).group_by(ranked.c.name)
    rows = session.exec(statement.order_by(ranked.c.name)).all()  # type: ignore[call-overload]
    return [{"name": r.name, "n": int(r.n), **{f"p{p}": float(getattr(r, f"p{p}")) for p in PERCENTILES}} for r in rows]


def errors(session: Session, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    statement = (
        select(col(UsageLog.status), col(UsageLog.error), func.count().label("count"),
               func.max(col(UsageLog.created_at)).label("last"))
        .where(and_(col(UsageLog.created_at) >= since, col(UsageLog.status) >= 400))
        .group_by(col(UsageLog.status), col(UsageLog.error))
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [{"status": r.status, "error": r.error, "count": r.count, "last": _iso(r.last)}
            for r in session.exec(statement).all()]  # type: ignore[call-overload]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.isoformat() if value.tzinfo else value.isoformat() + "+00:00"
